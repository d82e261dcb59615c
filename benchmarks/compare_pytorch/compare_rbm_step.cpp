// The ratiomatch side of the speed comparison on a Bernoulli RBM at 784 bits (torch_rbm_step.py
// is the PyTorch side; both accept the same flags and print the same one-line JSON record).
//
//   --mode step  one timed unit = estimator.loss_and_gradient on a fixed binary batch, gradient
//                norm clipped to 1, an Adam step (lr 1e-3). Ratio matching uses Hyvärinen's
//                objective; cd and pcd use block Gibbs (--cd-steps).
//   --mode ais   one timed unit = annealed_log_partition with --ais-runs runs and
//                --ais-temperatures distributions (base rate: the visible biases), in double.
//
// The model starts as BernoulliRBM::initialize does (W ~ N(0, 0.01²), c = 0, b = 0) and the
// batch is Bernoulli(0.3), from std::mt19937_64(seed); with --weights DIR, W, b, c and the batch
// x are read from the .npy files torch_rbm_step.py --save-weights wrote, so that the first
// loss of exact ratio matching (deterministic) can be compared with PyTorch's.
#include <ratiomatch/ratiomatch.hpp>
#include <ratiomatch/io/npy.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_line.hpp"
#include "timing.hpp"

#include <cstdint>
#include <iostream>
#include <random>
#include <string>

using namespace ratiomatch;

namespace {

struct Settings {
  std::string mode = "step";
  std::string estimator = "gg-basic";
  Index visible = 784;
  Index hidden = 500;
  Index batch = 100;
  Index flips = 10;
  Index cd_steps = 1;
  Index ais_runs = 100;
  Index ais_temperatures = 1000;
  int threads = 1;
  Index steps = 20;
  Index warmup = 2;
  double max_seconds = 60;
  std::uint64_t seed = 0;
  std::string weights;
};

struct Result {
  bench::Timings timings;
  double value_first = 0, value_last = 0;
};

// The model and the batch: from --weights, or drawn from the seed.
void make_model_and_batch(const Settings& s, std::mt19937_64& rng, BernoulliRBM<float>& rbm, Matrix<float>& X) {
  if (!s.weights.empty()) {
    load_params_npy(rbm, s.weights);
    X = load_npy<float>(std::filesystem::path(s.weights) / "x.npy");
    if (X.cols() != s.visible) throw std::invalid_argument("x.npy does not have --visible columns");
    return;
  }
  rbm.initialize(rng);
  X.resize(s.batch, s.visible);
  for (Index j = 0; j < X.cols(); ++j)
    for (Index i = 0; i < X.rows(); ++i) X(i, j) = uniform_open01(rng) < 0.3 ? 1.f : 0.f;
}

template <class Estimator>
Result run_steps(const Settings& s, const Estimator& estimator) {
  std::mt19937_64 rng(s.seed);
  BernoulliRBM<float> rbm(s.visible, s.hidden);
  Matrix<float> X;
  make_model_and_batch(s, rng, rbm, X);
  Adam<float> adam(rbm.num_params(), {.lr = 1e-3});
  Vector<float> grad(rbm.num_params());
  Result r;
  bool first = true;
  r.timings = bench::time_units(s.warmup, s.steps, s.max_seconds, [&] {
    const float loss = estimator.loss_and_gradient(rbm, X, rng, grad);
    clip_gradient_norm(grad, 1.0);
    adam.step(rbm.params(), grad);
    if (first) r.value_first = loss, first = false;
    r.value_last = loss;
  });
  return r;
}

Result run_ais(const Settings& s) {
  std::mt19937_64 rng(s.seed);
  BernoulliRBM<float> rbm(s.visible, s.hidden);
  Matrix<float> X;
  make_model_and_batch(s, rng, rbm, X);
  const Vector<float> base = rbm.visible_bias();
  Result r;
  bool first = true;
  r.timings = bench::time_units(s.warmup, s.steps, s.max_seconds, [&] {
    const double log_z =
        annealed_log_partition(rbm, base, {.runs = s.ais_runs, .temperatures = s.ais_temperatures}, rng).log_partition;
    if (first) r.value_first = log_z, first = false;
    r.value_last = log_z;
  });
  return r;
}

Result run(const Settings& s) {
  using Objective = HyvarinenRatio;
  if (s.mode == "ais") return run_ais(s);
  if (s.estimator == "rm") return run_steps(s, RatioMatching<Objective>());
  if (s.estimator == "uniform") return run_steps(s, UniformSampledRM<Objective>(s.flips));
  if (s.estimator == "gg-basic") return run_steps(s, GradientGuidedRM<Objective>(s.flips, GuidedVariant::Basic));
  if (s.estimator == "gg-advanced") return run_steps(s, GradientGuidedRM<Objective>(s.flips, GuidedVariant::Advanced));
  if (s.estimator == "cd") return run_steps(s, ContrastiveDivergence(BlockGibbsSampler(), s.cd_steps));
  return run_steps(s, PersistentContrastiveDivergence(BlockGibbsSampler(), s.batch, s.cd_steps));
}

nlohmann::ordered_json report(const Settings& s, const Result& r) {
  nlohmann::ordered_json j;
  j["side"] = "ratiomatch";
  j["mode"] = s.mode;
  j["estimator"] = s.mode == "ais" ? "ais" : s.estimator;
  j["visible"] = s.visible;
  j["hidden"] = s.hidden;
  j["batch"] = s.batch;
  j["flips"] = s.flips;
  j["threads"] = s.threads;
  j["steps"] = r.timings.ms.size();
  j["median_ms"] = r.timings.median();
  j["min_ms"] = r.timings.min();
  j["peak_rss_mib"] = bench::peak_rss_mib();
  j["value_first"] = r.value_first;
  j["value_last"] = r.value_last;
  j["eigen_simd"] = Eigen::SimdInstructionSetsInUse();
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"Times a ratiomatch training step or AIS run of a Bernoulli RBM; prints one JSON line"};
  app.add_option("--mode", s.mode, "what one timed unit is")->check(CLI::IsMember({"step", "ais"}))->capture_default_str();
  app.add_option("--estimator", s.estimator, "estimator (step mode)")
      ->check(CLI::IsMember({"rm", "uniform", "gg-basic", "gg-advanced", "cd", "pcd"}))->capture_default_str();
  app.add_option("--visible", s.visible, "visible units")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--hidden", s.hidden, "hidden units")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--batch", s.batch, "batch rows")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--flips", s.flips, "flips per row (sampled estimators)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--cd-steps", s.cd_steps, "block Gibbs steps (cd, pcd)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--ais-runs", s.ais_runs, "AIS runs (ais mode)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--ais-temperatures", s.ais_temperatures, "AIS distributions (ais mode)")
      ->check(CLI::Range(Index{3}, Index{10000000}))->capture_default_str();
  app.add_option("--threads", s.threads, "threads for OpenMP and Eigen")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--steps", s.steps, "timed units")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--warmup", s.warmup, "untimed units first")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--max-seconds", s.max_seconds, "stop timing after this long (3 units at least)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--seed", s.seed, "seed of the model, the batch and the draws")->capture_default_str();
  app.add_option("--weights", s.weights, "read W, b, c and x from .npy files in this folder");
  if (const auto code = examples::parse_command_line(app, argc, argv)) return *code;
  if (const auto code = bench::use_threads("compare_rbm_step", s.threads)) return *code;
  return examples::run_reporting_errors("compare_rbm_step", [&] {
    std::cout << report(s, run(s)).dump() << std::endl;
    return 0;
  });
}
