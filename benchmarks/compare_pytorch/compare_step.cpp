// The ratiomatch side of the speed comparison with a PyTorch implementation: wall-clock time
// of one training step of an MLP energy d → 256 → 256 → 256 → 1 (Swish), or of one Gibbs
// sampling run, printed as one JSON line.
//
//   --mode step   one timed unit = estimator.loss_and_gradient on a fixed Bernoulli(½) batch,
//                 gradient-norm clipping to 1, and an Adam step (lr 1e-4); nothing is
//                 allocated in a step once the warm-up steps have sized the workspaces.
//   --mode gibbs  one timed unit = GibbsSampler(β = 1).sample(model, chains, sweeps) from
//                 uniform random bits.
//
// The model is initialised as torch.nn.Linear does (uniform ±1/√fan_in) from
// std::mt19937_64(seed), which also draws the batch and every estimator's random flips.
// Timing stops early once the timed units have taken --max-seconds in total, after at least
// three of them. Output fields: median_ms and min_ms over the timed units; flops_per_step the
// matrix-product operations of one unit (step_flops.hpp) and gflops that count divided by the
// median time; peak_rss_mib the peak resident set; loss_first the loss of the first step
// (warm-up included, at the initial parameters) and loss_last that of the last timed step
// (null in gibbs mode); eigen_simd the SIMD instruction sets Eigen was compiled for.
#include <ratiomatch/ratiomatch.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_line.hpp"
#include "step_flops.hpp"
#include "timing.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace ratiomatch;

namespace {

struct Settings {
  std::string mode = "step";
  std::string estimator = "gg-basic";
  Index dim = 256;
  Index batch = 128;
  Index flips = 10;
  int threads = 1;
  Index steps = 20;
  Index warmup = 3;
  std::uint64_t seed = 0;
  Index chains = 4000;
  Index sweeps = 20;
  double max_seconds = 60;
};

const std::vector<Index> hidden{256, 256, 256};

MlpEnergy<float> make_model(const Settings& s, std::mt19937_64& rng) {
  MlpEnergy<float> model(s.dim, hidden, Activation::Swish);
  model.initialize(rng);
  return model;
}

struct Result {
  bench::Timings timings;
  double flops_per_step = 0;
  std::optional<double> loss_first, loss_last;
};

template <class Estimator>
Result run_steps(const Settings& s, const Estimator& estimator) {
  std::mt19937_64 rng(s.seed);
  MlpEnergy<float> model = make_model(s, rng);
  Matrix<float> X(s.batch, s.dim);
  for (Index j = 0; j < X.cols(); ++j)
    for (Index i = 0; i < X.rows(); ++i) X(i, j) = uniform_open01(rng) < 0.5 ? 0.f : 1.f;
  Adam<float> adam(model.num_params(), {.lr = 1e-4});
  Vector<float> grad(model.num_params());

  Result r;
  r.timings = bench::time_units(s.warmup, s.steps, s.max_seconds, [&] {
    const float loss = estimator.loss_and_gradient(model, X, rng, grad);
    clip_gradient_norm(grad, 1.0);
    adam.step(model.params(), grad);
    if (!r.loss_first) r.loss_first = loss;
    r.loss_last = loss;
  });
  r.flops_per_step = bench::step_flops(s.estimator, s.dim, s.batch, s.flips, hidden);
  return r;
}

Result run_gibbs(const Settings& s) {
  std::mt19937_64 rng(s.seed);
  const MlpEnergy<float> model = make_model(s, rng);
  const GibbsSampler sampler(1.0);
  Matrix<float> samples;
  Result r;
  r.timings = bench::time_units(s.warmup, s.steps, s.max_seconds, [&] { samples = sampler.sample(model, s.chains, s.sweeps, rng); });
  r.flops_per_step = static_cast<double>(s.sweeps) * bench::gibbs_sweep_flops(s.dim, s.chains, hidden);
  return r;
}

Result run(const Settings& s) {
  if (s.mode == "gibbs") return run_gibbs(s);
  if (s.estimator == "rm") return run_steps(s, RatioMatching<>());
  if (s.estimator == "uniform") return run_steps(s, UniformSampledRM<>(s.flips));
  if (s.estimator == "gg-basic") return run_steps(s, GradientGuidedRM<>(s.flips, GuidedVariant::Basic));
  return run_steps(s, GradientGuidedRM<>(s.flips, GuidedVariant::Advanced));
}

nlohmann::ordered_json report(const Settings& s, const Result& r) {
  const double median_ms = r.timings.median();
  nlohmann::ordered_json j;
  j["side"] = "ratiomatch";
  j["mode"] = s.mode;
  j["estimator"] = s.estimator;
  j["dim"] = s.dim;
  j["batch"] = s.batch;
  j["flips"] = s.flips;
  j["threads"] = s.threads;
  j["steps"] = r.timings.ms.size();
  j["median_ms"] = median_ms;
  j["min_ms"] = r.timings.min();
  j["flops_per_step"] = r.flops_per_step;
  j["gflops"] = r.flops_per_step / (median_ms * 1e-3) * 1e-9;
  j["peak_rss_mib"] = bench::peak_rss_mib();
  j["loss_first"] = r.loss_first ? nlohmann::ordered_json(*r.loss_first) : nlohmann::ordered_json(nullptr);
  j["loss_last"] = r.loss_last ? nlohmann::ordered_json(*r.loss_last) : nlohmann::ordered_json(nullptr);
  j["eigen_simd"] = Eigen::SimdInstructionSetsInUse();
  j["chains"] = s.chains;
  j["sweeps"] = s.sweeps;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"Times a ratiomatch training step or Gibbs run of an MLP energy; prints one JSON line"};
  app.add_option("--mode", s.mode, "what one timed unit is")->check(CLI::IsMember({"step", "gibbs"}))->capture_default_str();
  app.add_option("--estimator", s.estimator, "estimator (step mode)")
      ->check(CLI::IsMember({"rm", "uniform", "gg-basic", "gg-advanced"}))->capture_default_str();
  app.add_option("--dim", s.dim, "bits per sample d")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--batch", s.batch, "batch rows (step mode)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--flips", s.flips, "flips per sample s (sampled estimators)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--threads", s.threads, "threads for OpenMP and Eigen")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--steps", s.steps, "timed units")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--warmup", s.warmup, "untimed units before timing")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--seed", s.seed, "seed of the model, the batch and the estimator's draws")->capture_default_str();
  app.add_option("--chains", s.chains, "Gibbs chains (gibbs mode)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--sweeps", s.sweeps, "Gibbs sweeps per timed unit (gibbs mode)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--max-seconds", s.max_seconds, "stop timing once the timed units have taken this long (at least 3 are run)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  if (const auto code = examples::parse_command_line(app, argc, argv)) return *code;

  if (const auto code = bench::use_threads("compare_step", s.threads)) return *code;

  return examples::run_reporting_errors("compare_step", [&] {
    std::cout << report(s, run(s)).dump() << std::endl;
    return 0;
  });
}
