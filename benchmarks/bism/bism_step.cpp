// One bi-level score matching update of a Gaussian-Bernoulli RBM, for the side-by-side with
// PyTorch (torch_bism_step.py):
//
//   bism_step init  --visible D --hidden H --batch N --seed S --dir DIR   writes W, b, c, s (model), A, a
//                    (posterior) and the batch V and the noise E as float64 .npy files
//   bism_step grad  --dir DIR [--objective dsm|ssm] [--inner K] [--unroll N] [--lr L] [--noise-std σ]
//                    one update from those files with the given noise (DSM) or projections (SSM) in E:
//                    writes loss.npy, grad.npy (the hypergradient, params() order) and phi.npy (the
//                    posterior after the K steps)
//   bism_step time  --visible D --hidden H --batch N [--iters T] [--float]
//                    seconds per update (K = N = 5, DSM), one thread
#include <ratiomatch/estimators/bism.hpp>
#include <ratiomatch/io/npy.hpp>
#include <ratiomatch/models/gaussian_bernoulli_rbm.hpp>

#include <CLI/CLI.hpp>

#include "../../examples/command_line.hpp"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>

using namespace ratiomatch;

namespace {

struct Settings {
  std::string mode;
  Index visible = 784, hidden = 100, batch = 100, inner = 5, unroll = 5, iters = 50;
  double lr = 1e-3, noise_std = 0.05;
  std::string objective = "dsm", dir = "out/bism_step";
  std::uint64_t seed = 1;
  bool single = false;
};

BiSMOptions options_of(const Settings& s) {
  BiSMOptions o;
  o.objective = s.objective == "dsm" ? BiSMObjective::Denoising : BiSMObjective::Sliced;
  o.noise_std = s.noise_std;
  o.inner_steps = s.inner;
  o.unroll_steps = s.unroll;
  o.posterior_optimizer = {.lr = s.lr, .beta1 = 0.9, .beta2 = 0.95};
  return o;
}

int init(const Settings& s) {
  const std::filesystem::path dir(s.dir);
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(s.seed);
  GaussianBernoulliRBM<double> model(s.visible, s.hidden);
  for (Index k = 0; k < model.num_params(); ++k) model.params()(k) = 0.3 * standard_normal(rng);
  model.log_std() *= 0.3;
  save_params_npy(model, dir);
  Matrix<double> A(s.hidden, s.visible), a(s.hidden, 1), V(s.batch, s.visible), E(s.batch, s.visible);
  for (Index k = 0; k < A.size(); ++k) A.data()[k] = 0.3 * standard_normal(rng);
  for (Index k = 0; k < a.size(); ++k) a.data()[k] = 0.3 * standard_normal(rng);
  for (Index k = 0; k < V.size(); ++k) V.data()[k] = standard_normal(rng);
  for (Index k = 0; k < E.size(); ++k) E.data()[k] = s.objective == "dsm" ? standard_normal(rng)
                                                                         : (uniform_open01(rng) < 0.5 ? -1.0 : 1.0);
  save_npy(dir / "A.npy", A);
  save_npy(dir / "a.npy", a, true);
  save_npy(dir / "V.npy", V);
  save_npy(dir / "E.npy", E);
  return 0;
}

// One update from the files, with E as its draws (the noise for DSM, the projections for SSM).
int grad(const Settings& s) {
  const std::filesystem::path dir(s.dir);
  const Matrix<double> A = load_npy<double>(dir / "A.npy"), a = load_npy<double>(dir / "a.npy");
  const Matrix<double> V = load_npy<double>(dir / "V.npy"), E = load_npy<double>(dir / "E.npy");
  GaussianBernoulliRBM<double> model(V.cols(), A.rows());
  load_params_npy(model, dir);
  BiSM<double> bism(V.cols(), A.rows(), options_of(s));
  for (Index j = 0; j < A.rows(); ++j)
    for (Index i = 0; i < A.cols(); ++i) bism.posterior_params()(j * A.cols() + i) = A(j, i);
  bism.posterior_params().tail(A.rows()) = a.col(0);
  Vector<double> g;
  const double loss = bism.loss_and_gradient_with_draws(model, V, E, g);
  save_npy(dir / "loss.npy", Matrix<double>::Constant(1, 1, loss), true);
  save_npy(dir / "grad.npy", g, true);
  save_npy(dir / "phi.npy", bism.posterior_params(), true);
  return 0;
}

template <class S>
int time_updates(const Settings& s) {
  std::mt19937_64 rng(s.seed);
  GaussianBernoulliRBM<S> model(s.visible, s.hidden);
  model.initialize(rng, 0.01);
  BiSM<S> bism(s.visible, s.hidden, options_of(s));
  bism.initialize_posterior(rng);
  Matrix<S> V(s.batch, s.visible);
  for (Index k = 0; k < V.size(); ++k) V.data()[k] = static_cast<S>(uniform_open01(rng));
  Vector<S> g;
  bism.loss_and_gradient(model, V, rng, g);  // warm-up: workspaces sized
  const auto start = std::chrono::steady_clock::now();
  for (Index t = 0; t < s.iters; ++t) bism.loss_and_gradient(model, V, rng, g);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "bism-" << s.objective << " K=" << s.inner << " N=" << s.unroll << " visible=" << s.visible
            << " hidden=" << s.hidden << " batch=" << s.batch << " " << (s.single ? "float" : "double") << ": "
            << 1e3 * seconds / static_cast<double>(s.iters) << " ms per update\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"One BiSM update of a Gaussian-Bernoulli RBM, for the comparison with PyTorch"};
  app.add_option("mode", s.mode, "init, grad or time")->required()->check(CLI::IsMember({"init", "grad", "time"}));
  app.add_option("--visible", s.visible)->capture_default_str();
  app.add_option("--hidden", s.hidden)->capture_default_str();
  app.add_option("--batch", s.batch)->capture_default_str();
  app.add_option("--inner", s.inner)->capture_default_str();
  app.add_option("--unroll", s.unroll)->capture_default_str();
  app.add_option("--iters", s.iters)->capture_default_str();
  app.add_option("--lr", s.lr)->capture_default_str();
  app.add_option("--noise-std", s.noise_std)->capture_default_str();
  app.add_option("--objective", s.objective)->check(CLI::IsMember({"dsm", "ssm"}))->capture_default_str();
  app.add_option("--dir", s.dir)->capture_default_str();
  app.add_option("--seed", s.seed)->capture_default_str();
  app.add_flag("--float", s.single, "time in float (default double)");
  if (const auto code = examples::parse_command_line(app, argc, argv)) return *code;
  return examples::run_reporting_errors("bism_step", [&] {
    if (s.mode == "init") return init(s);
    if (s.mode == "grad") return grad(s);
    return s.single ? time_updates<float>(s) : time_updates<double>(s);
  });
}
