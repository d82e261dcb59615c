// Learns the couplings of a lattice Ising model from samples — the experiment of
// Gibbs-with-Gradients and RMwGGIS — with ratio matching (any estimator and objective, with
// an optional L1 penalty) or persistent contrastive divergence, and reports RMSE(J).
#include <ratiomatch/ratiomatch.hpp>
#include <ratiomatch/io/rgb_image.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_line.hpp"
#include "distributed.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <string>

using namespace ratiomatch;
using S = float;

namespace {

struct Settings {
  Index side = 10;
  double sigma = 0.25;
  Index samples = 2000;
  Index heldout = 200;  // further samples, never trained on: the held-out criterion's
  Index sweeps = 0;  // 0 (not given): the protocol's 1,000,000 single-site updates per chain
  std::string method = "gg-advanced";
  std::string objective = "hyvarinen";
  double l1 = 0;
  Index iters = 3000;
  Index batch = 100;
  double lr = 0.01;
  Index flips = 10;
  Index chains = 100;
  Index pcd_steps = 1;
  std::uint64_t seed = 1;
  std::string out = "out/ising";
  std::string data_file;
  double time_budget = 0;
  bool distributed = false;
  Index log_every = 50;
};

// Three panels: true J, learned J (times the objective's temperature), and their difference.
RgbImage coupling_image(const RowMajorMatrix<S>& truth, const RowMajorMatrix<S>& learned) {
  const Index D = truth.rows();
  const int cell = static_cast<int>(std::max<Index>(1, 300 / D)), size = static_cast<int>(D) * cell, gap = 10;
  const double scale = std::max<double>(truth.cwiseAbs().maxCoeff(), 1e-12);
  RgbImage image(3 * size + 2 * gap, size);
  const RowMajorMatrix<S> difference = learned - truth;
  const RowMajorMatrix<S>* panels[3] = {&truth, &learned, &difference};
  for (int p = 0; p < 3; ++p)
    for (Index i = 0; i < D; ++i)
      for (Index j = 0; j < D; ++j) {
        const int x0 = p * (size + gap) + static_cast<int>(j) * cell, y0 = static_cast<int>(i) * cell;
        image.fill_rect(x0, y0, x0 + cell, y0 + cell, diverging((*panels[p])(i, j) / scale));
      }
  return image;
}

template <class Estimator>
int train_with(const Estimator& estimator, double temperature, double evaluations_per_iteration, const Settings& s) {
  namespace fs = std::filesystem;
  const auto& process = examples::Distributed::current();
  if (process.root()) fs::create_directories(s.out);
  const auto truth = IsingModel<S>::periodic_lattice(s.side, static_cast<S>(s.sigma));
  const Index D = truth.dim();

  // The data: loaded if the file exists (so every method sees identical data), else drawn
  // with batched Gibbs chains and saved. The file's first line records how it was drawn; a
  // file drawn with other settings than the flags' is refused.
  const auto data_start = std::chrono::steady_clock::now();
  Matrix<S> data;
  const std::string data_path = s.data_file.empty() ? (fs::path(s.out) / "data.txt").string() : s.data_file;
  // The file holds the training samples, then the held-out ones.
  const IsingDataProvenance provenance{.side = s.side, .sigma = s.sigma, .samples = s.samples + s.heldout,
                                       .sweeps = s.sweeps > 0 ? s.sweeps : std::max<Index>(1, 1000000 / D),
                                       .seed = s.seed};
  // Rank 0 loads or draws the data and sends it to every other process.
  if (!process.root()) {
  } else if (!s.data_file.empty() && fs::exists(s.data_file)) {
    data = load_ising_data<S>(s.data_file, provenance);
  } else {
    std::mt19937_64 data_rng(s.seed * 1000003 + static_cast<std::uint64_t>(s.side) * 7 +
                             static_cast<std::uint64_t>(std::lround(s.sigma * 1000)));
    std::cerr << "drawing " << provenance.samples << " samples with " << provenance.sweeps << " Gibbs sweeps each\n";
    data = sample_ising_data(truth, provenance.samples, provenance.sweeps, data_rng);
    save_ising_data(data_path, data, provenance);
  }
  process.share_matrix(data, provenance.samples, D);
  const Matrix<S> heldout = data.bottomRows(s.heldout);
  data.conservativeResize(s.samples, Eigen::NoChange);
  const double data_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - data_start).count();

  IsingModel<S> model(D);  // J = 0, b = 0: the all-zero estimate to start from
  Adam<S> adam(model.num_params(), {.lr = s.lr});
  const double zero_rmse = coupling_rmse(truth.coupling(), model.coupling());
  auto rmse = [&] {
    const RowMajorMatrix<S> scaled = static_cast<S>(temperature) * model.coupling();
    return coupling_rmse(truth.coupling(), scaled);
  };

  std::ostringstream tag;
  tag << "train_ising side=" << s.side << " sigma=" << s.sigma << " method=" << s.method << " objective=" << s.objective
      << " l1=" << s.l1 << " seed=" << s.seed;
  Trainer trainer(model, estimator, adam,
                  process.options(TrainerOptions{.iterations = s.iters, .clip_norm = 0, .log_every = s.log_every,
                                                 .eval_every = s.log_every, .checkpoint_every = 0, .out_dir = s.out,
                                                 .tag = tag.str(), .max_seconds = s.time_budget}));
  // The held-out criterion, the same for every method: Besag's pseudo-likelihood of the
  // held-out samples under exp(−T·E), nats per sample. Its best logged point is the run's
  // stopping point (what a user without the true J would keep).
  struct Best {
    double pseudo_likelihood = -std::numeric_limits<double>::infinity(), rmse = 0;
    Index iteration = 0;
  } best;
  if (process.root()) trainer.set_evaluator({"rmse", "log_rmse", "heldout_pl"}, [&](Index iteration) {
    const double r = rmse();
    const double pl = pseudo_log_likelihood(model, heldout, temperature);
    if (pl > best.pseudo_likelihood) best = {pl, r, iteration};
    return std::vector<double>{r, std::log(r), pl};
  });
  std::mt19937_64 rng(s.seed * 2654435761u + 3);
  auto next_batch = [&](Matrix<S>& batch, std::mt19937_64& r) {
    batch.resize(s.batch, D);
    for (Index k = 0; k < s.batch; ++k) batch.row(k) = data.row(uniform_index(r, data.rows()));
  };
  const TrainResult result = trainer.run(next_batch, rng);
  // A diverged run still reports what it reached: its log and its held-out stopping point are valid.
  if (result.failed) std::cerr << "train_ising: " << result.message << "\n";
  if (!process.root()) return result.failed ? 1 : 0;  // rank 0 reports
  auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  double final_heldout_pl = std::numeric_limits<double>::quiet_NaN();
  try {
    final_heldout_pl = pseudo_log_likelihood(model, heldout, temperature);
  } catch (const NumericalError&) {
  }
  const RowMajorMatrix<S> learned = static_cast<S>(temperature) * model.coupling();
  coupling_image(truth.coupling(), learned).save_png((fs::path(s.out) / "coupling.png").string());
  const double final_rmse = rmse();
  nlohmann::json summary = {
      {"side", s.side},
      {"sigma", s.sigma},
      {"samples", data.rows()},
      {"method", s.method},
      {"objective", s.method.rfind("pcd", 0) == 0 ? "likelihood" : s.objective},
      {"temperature", temperature},
      {"l1", s.l1},
      {"iterations", result.iterations},
      {"out_of_time", result.out_of_time},
      {"failed", result.failed},
      {"message", result.message},
      {"final_rmse", finite_or_null(final_rmse)},
      {"final_log_rmse", finite_or_null(std::log(final_rmse))},
      {"heldout_samples", s.heldout},
      {"final_heldout_pl", finite_or_null(final_heldout_pl)},
      {"best_heldout_pl", best.pseudo_likelihood},
      {"best_heldout_iteration", best.iteration},
      {"rmse_at_best_heldout", best.rmse},
      {"log_rmse_at_best_heldout", std::log(best.rmse)},
      {"zero_rmse", zero_rmse},
      {"wall_seconds", result.wall_seconds},
      {"iterations_per_second", result.iterations_per_second},
      {"energy_evaluations", evaluations_per_iteration * static_cast<double>(result.iterations)},
      {"data_seconds", data_seconds},
  };
  write_file_atomically(fs::path(s.out) / "summary.json", summary.dump(2) + "\n", "train_ising");
  std::cout << s.method << " (" << summary["objective"].get<std::string>() << ", l1 " << s.l1 << ") side " << s.side
            << " sigma " << s.sigma << ": RMSE(J) " << final_rmse << " (log " << std::log(final_rmse)
            << "; all-zero estimate " << zero_rmse << ") after " << result.iterations << " iterations, "
            << result.wall_seconds << " s\nheld-out pseudo-likelihood: best " << best.pseudo_likelihood
            << " nats/sample at iteration " << best.iteration << " (RMSE(J) there " << best.rmse << ", log "
            << std::log(best.rmse) << ")\npicture: " << (fs::path(s.out) / "coupling.png").string() << "\n";
  return result.failed ? 1 : 0;
}

// Trains with the estimator, made data-parallel under --distributed.
template <class Estimator>
int train(const Estimator& estimator, double temperature, double evaluations_per_iteration, const Settings& s) {
  return examples::Distributed::current().with_estimator(
      estimator, [&](const auto& e) { return train_with(e, temperature, evaluations_per_iteration, s); });
}

template <class Objective>
int dispatch_ratio_matching(const Settings& s) {
  const double n = static_cast<double>(s.batch), D = static_cast<double>(s.side * s.side);
  const double T = Objective::temperature;
  const IsingCouplingL1 penalty{s.l1};
  if (s.method == "rm") return train(Penalized(RatioMatching<Objective>(), penalty), T, n * (D + 1), s);
  if (s.method == "uniform") return train(Penalized(UniformSampledRM<Objective>(s.flips), penalty), T, n * (s.flips + 1), s);
  // The batch, its input gradient and the mixed pass, each counted as one evaluation.
  if (s.method == "first-order") return train(Penalized(TaylorRatioMatching<Objective>(), penalty), T, n * 3, s);
  const auto variant = s.method == "gg-basic" ? GuidedVariant::Basic : GuidedVariant::Advanced;
  // One input gradient (counted as one evaluation) plus s flips and the batch itself.
  return train(Penalized(GradientGuidedRM<Objective>(s.flips, variant), penalty), T, n * (s.flips + 2), s);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"Learn the couplings of a periodic-lattice Ising model from samples"};
  app.add_option("--side", s.side, "lattice side (D = side² spins)")->check(CLI::Range(3, 100))->capture_default_str();
  app.add_option("--sigma", s.sigma, "coupling strength of the ground truth")
      ->check(CLI::Range(-100.0, 100.0))->capture_default_str();
  app.add_option("--samples", s.samples, "training samples")->check(examples::positive_count())->capture_default_str();
  app.add_option("--heldout", s.heldout, "held-out samples for the stopping criterion (pseudo-likelihood)")
      ->check(examples::positive_count())->capture_default_str();
  app.add_option("--sweeps", s.sweeps, "Gibbs sweeps per data sample (default: 1,000,000 / D)")
      ->check(examples::positive_count());
  app.add_option("--method", s.method, "training method")
      ->check(CLI::IsMember({"rm", "uniform", "gg-basic", "gg-advanced", "first-order", "pcd-gibbs", "pcd-gwg"}))->capture_default_str();
  app.add_option("--objective", s.objective, "ratio objective of the ratio matching methods")
      ->check(CLI::IsMember({"squared", "hyvarinen", "sqrt"}))->capture_default_str();
  app.add_option("--l1", s.l1, "L1 penalty λ·Σ_{i≠j}|J_ij|")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--iters", s.iters, "training iterations")->check(examples::positive_count())->capture_default_str();
  app.add_option("--batch", s.batch, "batch size")->check(examples::positive_count())->capture_default_str();
  app.add_option("--lr", s.lr, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--flips", s.flips, "flips per sample (sampled estimators)")->check(examples::positive_count())->capture_default_str();
  app.add_option("--chains", s.chains, "persistent chains (pcd)")->check(examples::positive_count())->capture_default_str();
  app.add_option("--pcd-steps", s.pcd_steps, "sampler steps per update (pcd: Gibbs sweeps or GWG proposals)")
      ->check(examples::positive_count())->capture_default_str();
  app.add_option("--seed", s.seed, "random seed")->capture_default_str();
  app.add_option("--out", s.out, "output folder")->capture_default_str();
  app.add_option("--data-file", s.data_file,
                 "binary data file: loaded if it exists (it must have been drawn with the same --side, --sigma, "
                 "--samples, --sweeps and --seed), else drawn and saved there");
  app.add_option("--time-budget", s.time_budget, "stop after this many seconds of training (0: none)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--log-every", s.log_every, "iterations between log rows")->check(examples::positive_count())->capture_default_str();
  app.add_flag("--distributed", s.distributed,
               "data-parallel over the MPI processes (mpirun -np P ...): each takes 1/P of every batch");
  if (const auto code = examples::parse_command_line(app, argc, argv)) return *code;
  return examples::run_distributed("train_ising", s.distributed, argc, argv, [&] {
    const double D = static_cast<double>(s.side * s.side);
    const IsingCouplingL1 penalty{s.l1};
    if (s.method == "pcd-gibbs")
      return train(Penalized(PersistentContrastiveDivergence(GibbsSampler(1.0), s.chains, s.pcd_steps), penalty), 1.0,
                   static_cast<double>(s.chains * s.pcd_steps) * D + static_cast<double>(s.batch), s);
    if (s.method == "pcd-gwg")
      return train(Penalized(PersistentContrastiveDivergence(GibbsWithGradients(1.0), s.chains, s.pcd_steps), penalty),
                   1.0, static_cast<double>(s.chains * s.pcd_steps) * 3 + static_cast<double>(s.batch), s);
    if (s.objective == "squared") return dispatch_ratio_matching<SquaredRatio>(s);
    if (s.objective == "sqrt") return dispatch_ratio_matching<SqrtRatio>(s);
    return dispatch_ratio_matching<HyvarinenRatio>(s);
  });
}
