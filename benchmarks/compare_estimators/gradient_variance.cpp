// The noise that ranks the estimators: at fixed parameters and a fixed batch, the trace of the
// covariance of each estimator's gradient over repeated draws of its flips, its bias against the
// exact ratio matching gradient of the same objective, and its cost — at several points along one
// training run of the paper's recipe (MLP 32-256-256-256-1 on 2spirals, gradient-guided advanced,
// squared ratio, Adam 5e-4, weight decay 1e-4, clip 1).
//
// Usage: gradient_variance [--dim 32] [--at 0,1000,3000,5000] [--draws 200] [--seed 1] [--out FILE]
// One JSON line per (point, objective, estimator) to FILE (default: standard output).

#include <ratiomatch/ratiomatch.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_line.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

using namespace ratiomatch;

namespace {

struct Settings {
  Index dim = 32, batch = 128, flips = 10, draws = 200;
  std::vector<Index> at{0, 1000, 3000, 5000};
  std::uint64_t seed = 1;
  std::string out;
};

struct Moments {
  Vector<double> mean;
  double trace_covariance = 0;
  double seconds_per_draw = 0;
};

// Mean and trace of the covariance of `draws` gradients of `estimator` on the fixed batch X.
template <class Estimator>
Moments gradient_moments(const Estimator& estimator, const MlpEnergy<float>& model, const Matrix<float>& X,
                         Index draws, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Vector<float> g;
  Vector<double> sum = Vector<double>::Zero(model.num_params()), sum_sq = sum;
  const auto start = std::chrono::steady_clock::now();
  for (Index k = 0; k < draws; ++k) {
    estimator.loss_and_gradient(model, X, rng, g);
    const Vector<double> gd = g.cast<double>();
    sum += gd;
    sum_sq += gd.cwiseProduct(gd);
  }
  Moments m;
  m.seconds_per_draw = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
                       static_cast<double>(draws);
  m.mean = sum / static_cast<double>(draws);
  const double n = static_cast<double>(draws);
  m.trace_covariance = ((sum_sq - sum.cwiseProduct(sum) / n) / (n - 1)).sum();  // unbiased per entry
  m.trace_covariance = std::max(m.trace_covariance, 0.0);  // rounding of a deterministic estimator
  return m;
}

template <class Objective>
void measure(const MlpEnergy<float>& model, const Matrix<float>& X, Index point, const Settings& s,
             std::ostream& out) {
  // The reference: exact ratio matching of the same objective (deterministic: one draw).
  const auto exact = gradient_moments(RatioMatching<Objective>(), model, X, 2, 0);
  const double exact_norm = exact.mean.norm();
  auto report = [&](const std::string& name, const Moments& m, Index draws) {
    const double bias = (m.mean - exact.mean).norm();
    nlohmann::json row = {{"updates", point},         {"objective", Objective::name},
                          {"estimator", name},        {"draws", draws},
                          {"flips", s.flips},         {"batch", s.batch},
                          {"dim", s.dim},             {"trace_covariance", m.trace_covariance},
                          {"exact_gradient_norm", exact_norm},
                          {"bias_norm", bias},        {"relative_bias", bias / exact_norm},
                          // ‖mean − E[mean]‖ expected from the draws alone: a bias below it is noise.
                          {"monte_carlo_error_of_mean", std::sqrt(m.trace_covariance / static_cast<double>(draws))},
                          {"cosine_with_exact", m.mean.dot(exact.mean) / (m.mean.norm() * exact_norm)},
                          {"seconds_per_step", m.seconds_per_draw}};
    out << row.dump() << "\n" << std::flush;
  };
  report("rm", exact, 2);
  report("uniform", gradient_moments(UniformSampledRM<Objective>(s.flips), model, X, s.draws, 11), s.draws);
  report("gg-basic", gradient_moments(GradientGuidedRM<Objective>(s.flips, GuidedVariant::Basic), model, X, s.draws, 12),
         s.draws);
  report("gg-advanced",
         gradient_moments(GradientGuidedRM<Objective>(s.flips, GuidedVariant::Advanced), model, X, s.draws, 13), s.draws);
  report("first-order", gradient_moments(TaylorRatioMatching<Objective>(), model, X, 2, 14), 2);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"Gradient noise and bias of the ratio matching estimators along a training run"};
  app.add_option("--dim", s.dim, "bits per sample")->capture_default_str();
  app.add_option("--at", s.at, "updates at which to measure")->delimiter(',')->capture_default_str();
  app.add_option("--draws", s.draws, "repeated draws per sampled estimator")->check(CLI::Range(2, 100000))->capture_default_str();
  app.add_option("--flips", s.flips, "flips per sample s")->check(examples::positive_count())->capture_default_str();
  app.add_option("--seed", s.seed, "random seed")->capture_default_str();
  app.add_option("--out", s.out, "JSON lines output (default: standard output)");
  if (const auto code = examples::parse_command_line(app, argc, argv)) return *code;
  return examples::run_reporting_errors("gradient_variance", [&] {
    std::ofstream file;
    if (!s.out.empty()) file.open(s.out);
    std::ostream& out = s.out.empty() ? std::cout : file;
    std::mt19937_64 rng(s.seed);
    const auto encoder = GrayCodeEncoder::fit(s.dim, sample_toy2d(Toy2d::TwoSpirals, 5000, rng));
    MlpEnergy<float> model(s.dim, {256, 256, 256}, Activation::LearnableSwish);
    model.initialize(rng);
    Adam<float> adam(model.num_params(), {.lr = 5e-4, .weight_decay = 1e-4});
    const GradientGuidedRM<SquaredRatio> trainer_estimator(s.flips, GuidedVariant::Advanced);
    std::vector<Index> points = s.at;
    std::sort(points.begin(), points.end());
    Vector<float> grad;
    Index done = 0;
    for (const Index point : points) {
      for (; done < point; ++done) {
        const Matrix<float> batch = encoder.encode<float>(sample_toy2d(Toy2d::TwoSpirals, s.batch, rng));
        trainer_estimator.loss_and_gradient(model, batch, rng, grad);
        clip_gradient_norm(grad, 1.0);
        adam.step(model.params(), grad);
      }
      std::mt19937_64 batch_rng(s.seed * 1000 + static_cast<std::uint64_t>(point));
      const Matrix<float> X = encoder.encode<float>(sample_toy2d(Toy2d::TwoSpirals, s.batch, batch_rng));
      measure<SquaredRatio>(model, X, point, s, out);
      measure<HyvarinenRatio>(model, X, point, s, out);
      std::cerr << "measured at " << point << " updates\n";
    }
    return 0;
  });
}
