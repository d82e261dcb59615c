#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <tuple>

#include <ratiomatch/core/errors.hpp>
#include <ratiomatch/core/finite_difference.hpp>
#include <ratiomatch/estimators/denoising_score_matching.hpp>
#include <ratiomatch/estimators/gaussian_rbm_contrastive_divergence.hpp>
#include <ratiomatch/estimators/score_matching.hpp>
#include <ratiomatch/estimators/sliced_score_matching.hpp>
#include <ratiomatch/models/gaussian_bernoulli_rbm.hpp>
#include <ratiomatch/optim/adam.hpp>

#include "continuous_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

using Grbm = GaussianBernoulliRBM<double>;



// The loss's own central differences in the parameters, every evaluation with the same draws.
template <class Estimator>
void check_gradient_under_fixed_randomness(const Estimator& estimator, Grbm model, const Matrix<double>& V) {
  std::mt19937_64 rng(2024);
  Vector<double> analytic;
  const double loss = estimator.loss_and_gradient(model, V, rng, analytic);
  std::mt19937_64 same(2024);
  REQUIRE(estimator.loss(model, V, same) == loss);
  const auto numeric = finite_difference_param_gradient(model, [&] {
    std::mt19937_64 fixed(2024);
    return estimator.loss(model, V, fixed);
  }, 1e-5);
  const GradientCheck check = compare_gradients(analytic, numeric);
  INFO("relative error " << check.relative_error);
  REQUIRE(check.passed(1e-7));
}

}  // namespace

TEST_CASE("Score matching estimators: gradients against central differences of their losses", "[score][fd]") {
  std::mt19937_64 rng(1);
  const Grbm model = random_grbm(3, 2, rng);
  const Matrix<double> V = random_normal(8, 3, rng);
  SECTION("exact") { check_gradient_under_fixed_randomness(ScoreMatching{}, model, V); }
  SECTION("denoising") { check_gradient_under_fixed_randomness(DenoisingScoreMatching(0.3), model, V); }
  SECTION("sliced, one projection") { check_gradient_under_fixed_randomness(SlicedScoreMatching(), model, V); }
  SECTION("sliced, three projections") { check_gradient_under_fixed_randomness(SlicedScoreMatching(3), model, V); }
}

TEST_CASE("Score matching estimators: argument checks", "[score]") {
  REQUIRE_THROWS_WITH(DenoisingScoreMatching(0.0), Contains("noise_std (0) must be positive and finite"));
  REQUIRE_THROWS_AS(DenoisingScoreMatching(std::numeric_limits<double>::infinity()), std::invalid_argument);
  REQUIRE_THROWS_WITH(SlicedScoreMatching(0), Contains("num_projections (0) must be positive"));
  const Grbm model(2, 1);
  std::mt19937_64 rng(1);
  Vector<double> g;
  REQUIRE_THROWS_WITH(ScoreMatching{}.loss_and_gradient(model, Matrix<double>::Zero(4, 3), rng, g),
                      Contains("ratiomatch::ScoreMatching::loss_and_gradient: V.cols() (3) must equal model.dim() (2)"));
  Matrix<double> bad = Matrix<double>::Zero(2, 2);
  bad(0, 1) = std::numeric_limits<double>::infinity();
  REQUIRE_THROWS_AS(DenoisingScoreMatching(0.1).loss(model, bad, rng), NumericalError);
  REQUIRE_THROWS_AS(SlicedScoreMatching().loss(model, Matrix<double>(0, 2), rng), std::invalid_argument);
  // Non-finite parameters surface as NumericalError naming the loss, not as a silent NaN step.
  Grbm broken(2, 1);
  broken.weight()(0, 0) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_WITH(ScoreMatching{}.loss_and_gradient(broken, Matrix<double>::Zero(2, 2), rng, g),
                      Contains("not finite"));
  REQUIRE_THROWS_AS(SlicedScoreMatching().loss_and_gradient(broken, Matrix<double>::Zero(2, 2), rng, g),
                    NumericalError);
}

TEST_CASE("SlicedScoreMatching's expectation is exact score matching, loss and gradient", "[score][statistics]") {
  std::mt19937_64 rng(3);
  const Grbm model = random_grbm(4, 3, rng);
  const Matrix<double> V = random_normal(6, 4, rng);
  Vector<double> exact_gradient;
  const double exact_loss = ScoreMatching{}.loss_and_gradient(model, V, rng, exact_gradient);
  const SlicedScoreMatching sliced;
  constexpr Index draws = 4000;
  double sum = 0, sum_sq = 0;
  Vector<double> mean = Vector<double>::Zero(model.num_params()), mean_sq = mean, g;
  for (Index t = 0; t < draws; ++t) {
    const double loss = sliced.loss_and_gradient(model, V, rng, g);
    sum += loss;
    sum_sq += loss * loss;
    mean += g;
    mean_sq += g.cwiseAbs2();
  }
  const double loss_mean = sum / draws, loss_se = std::sqrt((sum_sq / draws - loss_mean * loss_mean) / draws);
  INFO("sliced " << loss_mean << " ± " << loss_se << ", exact " << exact_loss);
  REQUIRE(std::abs(loss_mean - exact_loss) < 5 * loss_se);
  mean /= draws;
  const Vector<double> se = ((mean_sq / draws - mean.cwiseAbs2()).cwiseMax(0.0) / draws).cwiseSqrt();
  for (Index k = 0; k < model.num_params(); ++k) {
    INFO("parameter " << k << ": " << mean(k) << " ± " << se(k) << " against " << exact_gradient(k));
    REQUIRE(std::abs(mean(k) - exact_gradient(k)) < 5 * se(k) + 1e-12);
  }
}

TEST_CASE("DenoisingScoreMatching on Gaussian data: stationary at the data's moments plus the noise variance",
          "[score][statistics]") {
  // Within the Gaussian models (W = 0), denoising score matching fits the noisy data's moments:
  // mean = the sample mean, variance = the sample variance + σ². The expected gradient in b and s
  // vanishes there, and not at the noise-free fit.
  std::mt19937_64 rng(5);
  Matrix<double> V = random_normal(400, 2, rng);
  V.col(0) = 1.5 * V.col(0).array() + 0.5;
  constexpr double noise_std = 0.5;
  const DenoisingScoreMatching dsm(noise_std);
  Grbm model(2, 1);
  model.set_visible_from_data(V);
  const Vector<double> fitted_log_std = model.log_std();
  auto mean_gradient = [&](Index draws) {
    Vector<double> mean = Vector<double>::Zero(model.num_params()), mean_sq = mean, g;
    for (Index t = 0; t < draws; ++t) {
      dsm.loss_and_gradient(model, V, rng, g);
      mean += g;
      mean_sq += g.cwiseAbs2();
    }
    mean /= static_cast<double>(draws);
    const Vector<double> se = ((mean_sq / draws - mean.cwiseAbs2()).cwiseMax(0.0) / draws).cwiseSqrt();
    return std::make_pair(mean, se);
  };
  model.log_std() = (0.5 * ((2.0 * fitted_log_std.array()).exp() + noise_std * noise_std).log()).matrix();
  const auto [at_noisy, se_noisy] = mean_gradient(2000);
  for (const Index k : {2, 3, 5, 6}) {  // b and s (W occupies 0 and 1, c is 4)
    INFO("parameter " << k << ": " << at_noisy(k) << " ± " << se_noisy(k));
    REQUIRE(std::abs(at_noisy(k)) < 5 * se_noisy(k));
  }
  model.log_std() = fitted_log_std;
  const auto [at_clean, se_clean] = mean_gradient(2000);
  REQUIRE(std::abs(at_clean(5)) > 20 * se_clean(5));
}

TEST_CASE("Each score matching estimator recovers a known Gaussian-Bernoulli RBM from its samples",
          "[score][consistency]") {
  // Two well-separated, balanced components; the fit is judged by KL(truth ‖ fit), exact up to
  // the Monte Carlo average over 20,000 fresh samples (log Z in closed form on both sides).
  Grbm truth(2, 1);
  truth.weight() << 2.5, -2.0;
  truth.visible_bias() << 0.2, -0.3;
  truth.hidden_bias() << -5.5;
  truth.log_std() << std::log(0.8), std::log(1.1);
  std::mt19937_64 rng(7);
  Matrix<double> V = random_normal(10000, 2, rng), T = random_normal(20000, 2, rng);
  truth.gibbs_steps(V, 100, rng);
  truth.gibbs_steps(T, 100, rng);
  const double truth_log_likelihood = truth.mean_log_likelihood(T);
  auto kl_from_truth = [&](const Grbm& model) { return truth_log_likelihood - model.mean_log_likelihood(T); };
  Grbm start = truth;
  std::mt19937_64 perturb(11);
  for (Index k = 0; k < start.num_params(); ++k) start.params()(k) += 0.4 * (2 * uniform_open01(perturb) - 1);
  REQUIRE(kl_from_truth(start) > 0.3);
  auto fit = [&](const auto& estimator) {
    Grbm model = start;
    // 1000 full-batch Adam steps at 0.02, then 500 at 0.002 to settle the stochastic estimators.
    Adam<double> coarse(model.num_params(), AdamOptions{.lr = 0.02}), fine(model.num_params(), AdamOptions{.lr = 0.002});
    Vector<double> g;
    std::mt19937_64 draws(13);
    for (int t = 0; t < 1500; ++t) {
      estimator.loss_and_gradient(model, V, draws, g);
      (t < 1000 ? coarse : fine).step(model.params(), g);
    }
    return model;
  };
  // Measured: 0.0005 (exact), 0.0007 (sliced), 0.005 (denoising, whose optimum is the data
  // convolved with the noise).
  SECTION("exact") { REQUIRE(kl_from_truth(fit(ScoreMatching{})) < 0.005); }
  SECTION("sliced") { REQUIRE(kl_from_truth(fit(SlicedScoreMatching())) < 0.005); }
  SECTION("denoising, small noise") { REQUIRE(kl_from_truth(fit(DenoisingScoreMatching(0.05))) < 0.02); }
}

TEST_CASE("Gaussian-Bernoulli RBM contrastive divergence: long chains give the exact likelihood gradient",
          "[score][cd][statistics]") {
  // The negative log-likelihood's gradient, (1/n) Σ ∇_θ F(v_r) + ∇_θ log Z, with ∇_θ log Z by
  // central differences of the closed-form log Z; CD-30 from 20,000 rows is near equilibrium.
  std::mt19937_64 rng(21);
  Grbm model = random_grbm(2, 3, rng);
  const Matrix<double> V = random_normal(20000, 2, rng);
  Vector<double> exact = Vector<double>::Zero(model.num_params());
  model.accumulate_param_gradient(V, Vector<double>::Constant(V.rows(), 1.0 / V.rows()), exact);
  exact += finite_difference_param_gradient(model, [&] { return model.log_partition(); }, 1e-6);
  GaussianRBMContrastiveDivergence<double> cd(30, false);
  constexpr int repeats = 8;
  Vector<double> mean = Vector<double>::Zero(model.num_params()), mean_sq = mean, g;
  for (int t = 0; t < repeats; ++t) {
    cd.loss_and_gradient(model, V, rng, g);
    mean += g / repeats;
    mean_sq += g.cwiseAbs2() / repeats;
  }
  const Vector<double> se = ((mean_sq - mean.cwiseAbs2()).cwiseMax(0.0) / (repeats - 1)).cwiseSqrt();
  for (Index k = 0; k < model.num_params(); ++k) {
    INFO("parameter " << k << ": " << mean(k) << " ± " << se(k) << " against " << exact(k));
    REQUIRE(std::abs(mean(k) - exact(k)) < 6 * se(k) + 1e-3);
  }
  REQUIRE(cd.chains().size() == 0);  // CD keeps nothing
}

TEST_CASE("Gaussian-Bernoulli RBM PCD keeps its chains between calls", "[score][cd]") {
  std::mt19937_64 rng(23);
  const Grbm model = random_grbm(2, 2, rng);
  const Matrix<double> first = random_normal(16, 2, rng), second = random_normal(8, 2, rng);
  GaussianRBMContrastiveDivergence<double> pcd(3, true);
  Vector<double> g;
  pcd.loss_and_gradient(model, first, rng, g);
  REQUIRE(pcd.chains().rows() == 16);  // started at the first batch, whatever the later batch sizes
  const Matrix<double> after_first = pcd.chains();
  pcd.loss_and_gradient(model, second, rng, g);
  REQUIRE(pcd.chains().rows() == 16);
  REQUIRE(pcd.chains() != after_first);
  REQUIRE_THROWS_WITH(GaussianRBMContrastiveDivergence<double>(0, true), Contains("steps (0) must be positive"));
  REQUIRE_THROWS_WITH(pcd.loss_and_gradient(Grbm(3, 2), Matrix<double>::Zero(4, 3), rng, g),
                      Contains("chains().cols() (2) must equal model.dim() (3)"));
  Grbm broken = model;
  broken.weight()(0, 0) = std::numeric_limits<double>::quiet_NaN();
  const Matrix<double> kept = pcd.chains();
  REQUIRE_THROWS_AS(pcd.loss_and_gradient(broken, second, rng, g), NumericalError);
  REQUIRE(pcd.chains() == kept);
}
