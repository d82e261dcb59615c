#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include <ratiomatch/core/errors.hpp>
#include <ratiomatch/core/estimator_state.hpp>
#include <ratiomatch/core/finite_difference.hpp>
#include <ratiomatch/estimators/bism.hpp>
#include <ratiomatch/estimators/denoising_score_matching.hpp>
#include <ratiomatch/models/gaussian_bernoulli_rbm.hpp>
#include <ratiomatch/optim/adam.hpp>

#include "continuous_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

using Grbm = GaussianBernoulliRBM<double>;




Vector<double> true_posterior(const Grbm& model) {
  Vector<double> phi(model.num_hidden() * (model.dim() + 1));
  phi.head(model.num_hidden() * model.dim()) = model.params().head(model.num_hidden() * model.dim());
  phi.tail(model.num_hidden()) = model.hidden_bias();
  return phi;
}

BiSMOptions options(BiSMObjective objective, Index inner, Index unroll, double lr = 0.05) {
  BiSMOptions o;
  o.objective = objective;
  o.noise_std = 0.3;
  o.inner_steps = inner;
  o.unroll_steps = unroll;
  o.posterior_optimizer.lr = lr;
  return o;
}

}  // namespace

TEST_CASE("BiSM: with the true posterior the upper objective is DSM's / SSM's, value and total gradient",
          "[bism]") {
  std::mt19937_64 rng(1);
  const Grbm model = random_grbm(3, 2, rng);
  const Matrix<double> V = random_normal(7, 3, rng);
  const Vector<double> phi = true_posterior(model);
  const Index W_size = 2 * 3, c_offset = 2 * 3 + 3;
  // The total derivative through φ*(θ) = (W, c): ∂J/∂θ plus ∂J/∂A on W and ∂J/∂a on c.
  auto total = [&](Vector<double> d_theta, const Vector<double>& d_phi) {
    d_theta.head(W_size) += d_phi.head(W_size);
    d_theta.segment(c_offset, 2) += d_phi.tail(2);
    return d_theta;
  };
  Matrix<double> G;
  Vector<double> d_theta, d_phi;
  SECTION("denoising") {
    const Matrix<double> noise = random_normal(7, 3, rng);
    constexpr double sigma = 0.3;
    const Matrix<double> x = V + sigma * noise, target = -noise / sigma;
    BiSM<double> bism(3, 2, options(BiSMObjective::Denoising, 0, 0));
    const double J = bism.upper_objective(model, x, target, phi, d_theta, d_phi);
    model.input_gradient(x, G);
    const Matrix<double> residual = G - noise / sigma;
    REQUIRE(J == Approx(0.5 * residual.squaredNorm() / 7).epsilon(1e-13));
    Vector<double> dsm_gradient = Vector<double>::Zero(model.num_params());
    model.accumulate_mixed_gradient(x, residual / 7.0, dsm_gradient);
    REQUIRE((total(d_theta, d_phi) - dsm_gradient).cwiseAbs().maxCoeff() < 1e-12);
    // The partial gradient alone is not DSM's: the posterior's path matters.
    REQUIRE((d_theta - dsm_gradient).cwiseAbs().maxCoeff() > 1e-3);
  }
  SECTION("sliced") {
    const Matrix<double> U = rademacher(7, 3, rng);
    BiSM<double> bism(3, 2, options(BiSMObjective::Sliced, 0, 0));
    const double J = bism.upper_objective(model, V, U, phi, d_theta, d_phi);
    model.input_gradient(V, G);
    Vector<double> q;
    model.hessian_quadratic(V, U, q);
    const Vector<double> p = (U.array() * G.array()).rowwise().sum();
    REQUIRE(J == Approx((0.5 * p.squaredNorm() - q.sum()) / 7).epsilon(1e-13));
    Vector<double> ssm_gradient = Vector<double>::Zero(model.num_params());
    model.accumulate_mixed_gradient(V, (U.array().colwise() * p.array()).matrix() / 7.0, ssm_gradient);
    model.accumulate_hessian_quadratic_gradient(V, U, Vector<double>::Constant(7, -1.0 / 7), ssm_gradient);
    REQUIRE((total(d_theta, d_phi) - ssm_gradient).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("BiSM: the upper objective's partial derivatives against central differences", "[bism][fd]") {
  std::mt19937_64 rng(3);
  Grbm model = random_grbm(3, 2, rng);
  const Matrix<double> x = random_normal(6, 3, rng);
  Vector<double> phi = random_normal(8, 1, rng, 0.7);
  for (const auto objective : {BiSMObjective::Denoising, BiSMObjective::Sliced}) {
    INFO((objective == BiSMObjective::Denoising ? "denoising" : "sliced"));
    const Matrix<double> r = objective == BiSMObjective::Denoising ? random_normal(6, 3, rng) : rademacher(6, 3, rng);
    BiSM<double> bism(3, 2, options(objective, 0, 0));
    Vector<double> d_theta, d_phi, unused_theta, unused_phi;
    bism.upper_objective(model, x, r, phi, d_theta, d_phi);
    const auto numeric_theta = finite_difference_param_gradient(model, [&] {
      return bism.upper_objective(model, x, r, phi, unused_theta, unused_phi);
    }, 1e-6);
    REQUIRE(compare_gradients(d_theta, numeric_theta).passed(1e-7));
    Vector<double> numeric_phi(phi.size());
    for (Index k = 0; k < phi.size(); ++k) {
      Vector<double> plus = phi, minus = phi;
      plus(k) += 1e-6;
      minus(k) -= 1e-6;
      numeric_phi(k) = (bism.upper_objective(model, x, r, plus, unused_theta, unused_phi) -
                        bism.upper_objective(model, x, r, minus, unused_theta, unused_phi)) /
                       2e-6;
    }
    REQUIRE(compare_gradients(d_phi, numeric_phi).passed(1e-7));
  }
}

TEST_CASE("BiSM: the hypergradient through N unrolled Adam steps against central differences", "[bism][fd]") {
  std::mt19937_64 rng(5);
  Grbm model = random_grbm(3, 2, rng);
  const Matrix<double> V = random_normal(8, 3, rng);
  for (const auto objective : {BiSMObjective::Denoising, BiSMObjective::Sliced})
    for (const Index unroll : {1, 3, 6}) {
      INFO((objective == BiSMObjective::Denoising ? "denoising" : "sliced") << ", N = " << unroll);
      // A posterior away from the truth, and an optimizer state with history (3 ordinary steps).
      BiSM<double> warm(3, 2, options(objective, 3, 0));
      std::mt19937_64 init(7);
      warm.initialize_posterior(init);
      Vector<double> g;
      std::mt19937_64 warm_draws(9);
      warm.loss_and_gradient(model, V, warm_draws, g);
      REQUIRE(warm.posterior_optimizer().step_count() == 3);
      warm.set_options(options(objective, 0, unroll));  // K = 0: the update leaves the state as it is
      Vector<double> analytic;
      std::mt19937_64 draws(11);
      warm.loss_and_gradient(model, V, draws, analytic);
      const auto numeric = finite_difference_param_gradient(model, [&] {
        std::mt19937_64 same(11);
        Vector<double> unused;
        return warm.loss_and_gradient(model, V, same, unused);
      }, 1e-6);
      const GradientCheck check = compare_gradients(analytic, numeric);
      INFO("relative error " << check.relative_error);
      REQUIRE(check.passed(1e-6));
      // The unrolled path is really there: it moves c, which J sees only through the posterior.
      REQUIRE(analytic.segment(2 * 3 + 3, 2).cwiseAbs().maxCoeff() > 1e-6);
    }
}

TEST_CASE("BiSM: K steps persist, the unroll is undone, and a failed update changes nothing", "[bism]") {
  std::mt19937_64 rng(13);
  const Grbm model = random_grbm(3, 2, rng);
  const Matrix<double> V = random_normal(8, 3, rng);
  BiSM<double> with_unroll(3, 2, options(BiSMObjective::Denoising, 2, 5));
  std::mt19937_64 init(3);
  with_unroll.initialize_posterior(init);
  BiSM<double> without_unroll(3, 2, options(BiSMObjective::Denoising, 2, 0));
  without_unroll.posterior_params() = with_unroll.posterior_params();
  const Vector<double> start = with_unroll.posterior_params();
  Vector<double> g;
  std::mt19937_64 a(17), b(17);
  with_unroll.loss_and_gradient(model, V, a, g);
  without_unroll.loss_and_gradient(model, V, b, g);
  REQUIRE(with_unroll.posterior_params() == without_unroll.posterior_params());  // bit for bit
  REQUIRE((with_unroll.posterior_params() - start).cwiseAbs().maxCoeff() > 1e-4);
  REQUIRE(with_unroll.posterior_optimizer().step_count() == 2);
  REQUIRE(with_unroll.posterior_optimizer().first_moment() == without_unroll.posterior_optimizer().first_moment());

  Grbm broken = model;
  broken.log_std()(1) = std::numeric_limits<double>::quiet_NaN();
  const Vector<double> before = with_unroll.posterior_params();
  REQUIRE_THROWS_AS(with_unroll.loss_and_gradient(broken, V, a, g), NumericalError);
  REQUIRE(with_unroll.posterior_params() == before);
  REQUIRE(with_unroll.posterior_optimizer().step_count() == 2);
}

TEST_CASE("BiSM: argument checks", "[bism]") {
  REQUIRE_THROWS_WITH(BiSM<double>(0, 2), Contains("visible (0) must be positive"));
  REQUIRE_THROWS_WITH(BiSM<double>(2, 2, options(BiSMObjective::Denoising, -1, 0)),
                      Contains("options.inner_steps (-1) must be non-negative"));
  REQUIRE_THROWS_WITH(BiSM<double>(2, 2, options(BiSMObjective::Sliced, 0, -2)),
                      Contains("options.unroll_steps (-2) must be non-negative"));
  BiSMOptions no_noise = options(BiSMObjective::Denoising, 1, 1);
  no_noise.noise_std = 0;
  REQUIRE_THROWS_WITH(BiSM<double>(2, 2, no_noise), Contains("options.noise_std (0) must be positive"));
  BiSMOptions decayed = options(BiSMObjective::Denoising, 1, 1);
  decayed.posterior_optimizer.weight_decay = 1e-4;
  REQUIRE_THROWS_WITH(BiSM<double>(2, 2, decayed), Contains("weight_decay (0.0001) must be 0"));
  BiSM<double> bism(2, 2);
  std::mt19937_64 rng(1);
  Vector<double> g;
  REQUIRE_THROWS_WITH(bism.loss_and_gradient(Grbm(2, 3), Matrix<double>::Zero(4, 2), rng, g),
                      Contains("model.num_hidden() (3) must equal the estimator's hidden units (2)"));
  REQUIRE_THROWS_WITH(bism.loss_and_gradient(Grbm(2, 2), Matrix<double>::Zero(4, 5), rng, g),
                      Contains("V.cols() (5) must equal model.dim() (2)"));
  // The unrolled steps must be the optimizer's steps, whose options are fixed at construction.
  BiSMOptions other_optimizer = bism.options();
  other_optimizer.posterior_optimizer.lr = -5;
  REQUIRE_THROWS_WITH(bism.set_options(other_optimizer), Contains("options.posterior_optimizer differs"));
  other_optimizer.posterior_optimizer.lr = bism.options().posterior_optimizer.lr * 2;
  REQUIRE_THROWS_WITH(bism.set_options(other_optimizer), Contains("options.posterior_optimizer differs"));
  BiSMOptions more_steps = bism.options();
  more_steps.unroll_steps += 3;
  bism.set_options(more_steps);
  CHECK(bism.options().unroll_steps == more_steps.unroll_steps);
}

TEST_CASE("BiSM learns a known Gaussian-Bernoulli RBM like DSM does", "[bism][consistency]") {
  // The two-component model of the score matching recovery test; bi-level DSM (K = N = 5) from
  // a random posterior, judged by KL(truth ‖ fit) with exact log Z.
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
  Grbm model = truth;
  std::mt19937_64 perturb(11);
  for (Index k = 0; k < model.num_params(); ++k) model.params()(k) += 0.4 * (2 * uniform_open01(perturb) - 1);
  const double start_kl = truth_log_likelihood - model.mean_log_likelihood(T);
  BiSMOptions o;
  o.noise_std = 0.05;
  o.posterior_optimizer.lr = 0.02;
  BiSM<double> bism(2, 1, o);
  std::mt19937_64 init(5);
  bism.initialize_posterior(init);
  Adam<double> coarse(model.num_params(), AdamOptions{.lr = 0.02}), fine(model.num_params(), AdamOptions{.lr = 0.002});
  Vector<double> g;
  std::mt19937_64 draws(13);
  for (int t = 0; t < 1500; ++t) {
    bism.loss_and_gradient(model, V, draws, g);
    (t < 1000 ? coarse : fine).step(model.params(), g);
  }
  const double kl = truth_log_likelihood - model.mean_log_likelihood(T);
  INFO("KL from the truth: start " << start_kl << ", after BiSM " << kl);
  REQUIRE(start_kl > 0.3);
  REQUIRE(kl < 0.02);
}

TEST_CASE("BiSM: the posterior and its optimizer round-trip through the estimator state", "[bism][state]") {
  static_assert(StatefulEstimator<BiSM<double>>);
  std::mt19937_64 rng(19);
  const Grbm model = random_grbm(3, 2, rng);
  const Matrix<double> V = random_normal(8, 3, rng);
  BiSM<double> trained(3, 2, options(BiSMObjective::Sliced, 3, 2));
  Vector<double> g;
  trained.loss_and_gradient(model, V, rng, g);
  const EstimatorState state = trained.state_buffers();
  REQUIRE(state.twice.size() == 4);
  REQUIRE(state.single.empty());
  BiSM<double> fresh(3, 2, options(BiSMObjective::Sliced, 3, 2));
  fresh.restore_state(state);
  REQUIRE(fresh.posterior_params() == trained.posterior_params());
  REQUIRE(fresh.posterior_optimizer().step_count() == 3);
  // The next updates agree bit for bit.
  std::mt19937_64 a(23), b(23);
  Vector<double> ga, gb;
  REQUIRE(trained.loss_and_gradient(model, V, a, ga) == fresh.loss_and_gradient(model, V, b, gb));
  REQUIRE(ga == gb);

  BiSM<double> other_size(3, 3);
  const Vector<double> before = other_size.posterior_params();
  REQUIRE_THROWS_WITH(other_size.restore_state(state), Contains("state matrix 0 is 8 × 1; the posterior needs 12 × 1"));
  REQUIRE(other_size.posterior_params() == before);
  EstimatorState wrong_type;
  wrong_type.single = {Matrix<float>::Zero(8, 1)};
  REQUIRE_THROWS_WITH(fresh.check_state(wrong_type), Contains("must hold 4 matrices"));
  EstimatorState fractional = state;
  fractional.twice[3](0, 0) = 2.5;
  REQUIRE_THROWS_WITH(fresh.check_state(fractional), Contains("step count"));
}
