// Statistical properties: the basic and uniform estimators are unbiased (seeded, many draws,
// tolerance from the sample variance); the consistent objectives recover the data
// distribution by exact minimisation over all states; the gradient-guided proposal lowers
// the variance on a trained model.
#include <catch2/catch.hpp>

#include <iostream>
#include <random>

#include <ratiomatch/estimators/gradient_guided_rm.hpp>
#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/estimators/uniform_sampled_rm.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/models/mlp_energy.hpp>

#include "estimators/estimator_test_models.hpp"
#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;

namespace {

MlpEnergy<double> scaled_mlp(Index d, std::uint64_t seed, double scale) {
  MlpEnergy<double> model(d, {8, 6}, Activation::Swish);
  std::mt19937_64 rng(seed);
  model.initialize(rng);
  model.params() *= scale;
  return model;
}

// Running mean and variance (Welford) of a vector-valued sample.
struct Moments {
  Index count = 0;
  Eigen::VectorXd mean, m2;
  void add(const Eigen::VectorXd& x) {
    if (count == 0) mean = m2 = Eigen::VectorXd::Zero(x.size());
    ++count;
    const Eigen::VectorXd delta = x - mean;
    mean += delta / static_cast<double>(count);
    m2 += (delta.array() * (x - mean).array()).matrix();
  }
  Eigen::VectorXd variance() const { return m2 / static_cast<double>(count - 1); }
  Eigen::VectorXd standard_error() const { return (variance() / static_cast<double>(count)).cwiseSqrt(); }
};

// Draws the estimator `draws` times; returns moments of (loss, gradient...) stacked.
template <class Estimator, class M>
Moments sample_estimator(const Estimator& estimator, const M& model, const Matrix<double>& X, int draws,
                         std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Moments moments;
  Vector<double> grad;
  Eigen::VectorXd stacked(model.num_params() + 1);
  for (int k = 0; k < draws; ++k) {
    stacked(0) = estimator.loss_and_gradient(model, X, rng, grad);
    stacked.tail(model.num_params()) = grad;
    moments.add(stacked);
  }
  return moments;
}

// Largest |mean − exact| in units of the standard error (exact agreement where the sample has no variance).
double worst_z_score(const Moments& m, const Eigen::VectorXd& exact) {
  const Eigen::VectorXd se = m.standard_error();
  double worst = 0;
  for (Index k = 0; k < exact.size(); ++k) {
    const double error = std::abs(m.mean(k) - exact(k));
    const double floor = 1e-12 * (1 + std::abs(exact(k)));
    worst = std::max(worst, error <= floor ? 0.0 : error / std::max(se(k), 1e-300));
  }
  return worst;
}

template <class O, class M>
Eigen::VectorXd exact_stacked(const M& model, const Matrix<double>& X) {
  std::mt19937_64 unused(0);
  Vector<double> grad;
  Eigen::VectorXd stacked(model.num_params() + 1);
  stacked(0) = RatioMatching<O>().loss_and_gradient(model, X, unused, grad);
  stacked.tail(model.num_params()) = grad;
  return stacked;
}

}  // namespace

TEMPLATE_TEST_CASE("basic and uniform estimators are unbiased for the loss and its gradient", "[estimators][unbiased]",
                   SquaredRatio, HyvarinenRatio, SqrtRatio) {
  std::mt19937_64 rng(61);
  const Index d = 8;
  const auto X = random_binary<double>(4, d, rng);
  const auto mlp = scaled_mlp(d, 62, 2.0);
  const auto exact = exact_stacked<TestType>(mlp, X);
  const int draws = 4000;
  // Every one of the 1 + 133 components must lie within 5 standard errors of the exact value.
  const auto uniform = sample_estimator(UniformSampledRM<TestType>(3), mlp, X, draws, 63);
  const auto basic = sample_estimator(GradientGuidedRM<TestType>(3, GuidedVariant::Basic), mlp, X, draws, 64);
  INFO("uniform worst z " << worst_z_score(uniform, exact) << ", basic worst z " << worst_z_score(basic, exact));
  CHECK(worst_z_score(uniform, exact) < 5);
  CHECK(worst_z_score(basic, exact) < 5);
  // The advanced estimator sums s < d distinct terms: it is biased low, and the same test sees it.
  const auto advanced = sample_estimator(GradientGuidedRM<TestType>(3, GuidedVariant::Advanced), mlp, X, draws, 65);
  CHECK(advanced.mean(0) < exact(0));
  CHECK((exact(0) - advanced.mean(0)) / advanced.standard_error()(0) > 5);
}

TEST_CASE("basic and uniform estimators are unbiased on an Ising model", "[estimators][unbiased]") {
  std::mt19937_64 rng(66);
  const Index d = 9;
  IsingModel<double> ising(d);
  for (Index k = 0; k < ising.num_params(); ++k) ising.params()(k) = 0.8 * (uniform_open01(rng) - 0.5);
  const auto X = random_binary<double>(5, d, rng);
  const auto exact = exact_stacked<SquaredRatio>(ising, X);
  const auto uniform = sample_estimator(UniformSampledRM<>(2), ising, X, 4000, 67);
  const auto basic = sample_estimator(GradientGuidedRM<>(2, GuidedVariant::Basic), ising, X, 4000, 68);
  CHECK(worst_z_score(uniform, exact) < 5);
  CHECK(worst_z_score(basic, exact) < 5);
}

namespace {

// Population objective Σ_x p(x) J(x) over all states of a TableEnergy, and its gradient.
template <class O>
double population_gradient(const TableEnergy& model, const Matrix<double>& states, const Eigen::VectorXd& p,
                           Vector<double>& grad) {
  const RatioMatching<O> rm;
  std::mt19937_64 unused(0);
  Vector<double> g;
  grad.setZero(model.num_params());
  double loss = 0;
  for (Index k = 0; k < states.rows(); ++k) {
    const Matrix<double> x = states.row(k);
    loss += p(k) * rm.loss_and_gradient(model, x, unused, g);
    grad += p(k) * g;
  }
  return loss;
}

Eigen::VectorXd centred(const Eigen::VectorXd& v) { return v.array() - v.mean(); }

template <class O>
void check_fixed_point(const Eigen::VectorXd& p, const Matrix<double>& states) {
  TableEnergy model(states.cols());
  Vector<double> grad;
  // At E = −log p / T the population gradient vanishes.
  model.theta = -p.array().log() / O::temperature;
  population_gradient<O>(model, states, p, grad);
  CHECK(grad.cwiseAbs().maxCoeff() < 1e-12);
  // Gradient descent with backtracking from E = 0 finds that point (energies are defined
  // up to a constant).
  model.theta.setZero();
  Vector<double> trial_grad;
  double rate = 1;
  for (int step = 0; step < 5000; ++step) {
    const double loss = population_gradient<O>(model, states, p, grad);
    if (grad.norm() < 1e-13) break;
    const Eigen::VectorXd start = model.theta;
    for (;;) {
      model.theta = start - rate * grad;
      if (population_gradient<O>(model, states, p, trial_grad) <= loss - 0.25 * rate * grad.squaredNorm()) break;
      rate *= 0.5;
    }
    rate *= 2;
  }
  const Eigen::VectorXd learned_log_p = centred(-O::temperature * model.theta);
  INFO(O::name << ": max |T·E_learned − E_data| = " << (learned_log_p - centred(p.array().log())).cwiseAbs().maxCoeff());
  CHECK((learned_log_p - centred(p.array().log())).cwiseAbs().maxCoeff() < 1e-6);
}

}  // namespace

TEST_CASE("by exact minimisation, the consistent objectives recover p and the squared ratio recovers p^(1/4)",
          "[estimators][consistency]") {
  const Index d = 3;
  const Matrix<double> states = all_states<double>(d);
  std::mt19937_64 rng(69);
  Eigen::VectorXd p(states.rows());
  for (Index k = 0; k < p.size(); ++k) p(k) = 0.05 + uniform_open01(rng);
  p /= p.sum();
  check_fixed_point<SquaredRatio>(p, states);
  check_fixed_point<HyvarinenRatio>(p, states);
  check_fixed_point<SqrtRatio>(p, states);
  // The squared ratio's minimum is not at the data distribution itself (T = 1).
  TableEnergy at_data(d);
  at_data.theta = -p.array().log();
  Vector<double> grad;
  population_gradient<SquaredRatio>(at_data, states, p, grad);
  CHECK(grad.cwiseAbs().maxCoeff() > 1e-2);
}

TEST_CASE("on a trained MLP the gradient-guided proposal has lower variance than uniform sampling",
          "[estimators][variance]") {
  // Data: two prototypes over 16 bits with 5% of the bits flipped at random.
  const Index d = 16, n = 64;
  std::mt19937_64 rng(70);
  const auto prototypes = random_binary<double>(2, d, rng);
  auto draw_data = [&](Index rows) {
    Matrix<double> X(rows, d);
    for (Index r = 0; r < rows; ++r) {
      X.row(r) = prototypes.row(uniform_open01(rng) < 0.5 ? 0 : 1);
      for (Index i = 0; i < d; ++i)
        if (uniform_open01(rng) < 0.05) X(r, i) = 1 - X(r, i);
    }
    return X;
  };
  MlpEnergy<double> model(d, {32, 32}, Activation::Swish);
  model.initialize(rng);
  // 300 steps of exact ratio matching with norm-clipped gradient descent.
  const RatioMatching<> rm;
  Vector<double> grad;
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 300; ++step) {
    const double loss = rm.loss_and_gradient(model, draw_data(n), rng, grad);
    if (step == 0) first_loss = loss;
    last_loss = loss;
    model.params() -= 0.05 * grad / std::max(1.0, grad.norm());
  }
  REQUIRE(last_loss < 0.5 * first_loss);

  const auto X = draw_data(n);
  const int draws = 1000;
  const Index s = 4;
  const auto uniform = sample_estimator(UniformSampledRM<>(s), model, X, draws, 71);
  const auto basic = sample_estimator(GradientGuidedRM<>(s, GuidedVariant::Basic), model, X, draws, 72);
  const double loss_ratio = uniform.variance()(0) / basic.variance()(0);
  const double grad_ratio = uniform.variance().tail(model.num_params()).sum() / basic.variance().tail(model.num_params()).sum();
  std::cout << "trained MLP (exact RM loss " << first_loss << " -> " << last_loss << "), s = " << s
            << ": variance uniform / basic = " << loss_ratio << " (loss), " << grad_ratio << " (gradient, trace)\n";
  // The size of the effect, not only its sign: measured 1366 (loss) and 4.93 (gradient trace) with
  // this seed; a proposal missing its factor 2 (softmax((2x−1)⊙∇E)) gives 6.5 and 3.08.
  CHECK(loss_ratio > 200);
  CHECK(grad_ratio > 4);
}
