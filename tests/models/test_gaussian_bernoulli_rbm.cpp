#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <random>

#include <ratiomatch/core/continuous_concepts.hpp>
#include <ratiomatch/core/errors.hpp>
#include <ratiomatch/core/finite_difference.hpp>
#include <ratiomatch/models/gaussian_bernoulli_rbm.hpp>
#include <ratiomatch/models/gaussian_bernoulli_rbm_ais.hpp>

#include "continuous_support.hpp"

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

using Grbm = GaussianBernoulliRBM<double>;



// F(v) = −log Σ_h exp(−E(v, h)) by enumerating every h: the oracle of the closed form.
double brute_free_energy(const Grbm& model, const Eigen::RowVectorXd& v) {
  const Index m = model.num_hidden();
  const Eigen::ArrayXd precision = (-2.0 * model.log_std().array()).exp();
  double total = 0;
  for (Index k = 0; k < (Index{1} << m); ++k) {
    Eigen::VectorXd h(m);
    for (Index j = 0; j < m; ++j) h(j) = static_cast<double>((k >> j) & 1);
    const double joint = 0.5 * ((v.transpose() - model.visible_bias()).array().square() * precision).sum() -
                         h.dot(model.hidden_bias()) - h.dot(model.weight() * v.transpose());
    total += std::exp(-joint);
  }
  return -std::log(total);
}

}  // namespace

static_assert(ContinuousEnergyModel<Grbm>);
static_assert(HasLaplacian<GaussianBernoulliRBM<float>>);
static_assert(!EnergyModel<Grbm>, "real-valued visible units: the binary estimators must reject it");

TEST_CASE("GaussianBernoulliRBM: parameter layout W, b, c, s and argument checks", "[grbm]") {
  Grbm model(3, 2);
  REQUIRE(model.num_params() == 2 * 3 + 3 + 2 + 3);
  REQUIRE(model.params().isZero());
  for (Index k = 0; k < model.num_params(); ++k) model.params()(k) = static_cast<double>(k);
  REQUIRE(model.weight()(1, 0) == 3.0);  // row-major hidden × visible
  REQUIRE(model.visible_bias()(0) == 6.0);
  REQUIRE(model.hidden_bias()(0) == 9.0);
  REQUIRE(model.log_std()(2) == 13.0);

  REQUIRE_THROWS_WITH(Grbm(0, 2), Contains("visible (0) must be positive"));
  REQUIRE_THROWS_WITH(Grbm(2, -1), Contains("hidden (-1) must be positive"));
  const Grbm small(2, 2);
  Vector<double> e;
  REQUIRE_THROWS_WITH(small.energy(Matrix<double>::Zero(3, 4), e),
                      "ratiomatch::GaussianBernoulliRBM::energy: V.cols() (4) must equal model.dim() (2)");
  REQUIRE_THROWS_AS(small.energy(Matrix<double>(0, 2), e), std::invalid_argument);
  Matrix<double> bad = Matrix<double>::Zero(2, 2);
  bad(1, 0) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_AS(small.energy(bad, e), NumericalError);
  Matrix<double> G;
  REQUIRE_THROWS_AS(small.input_gradient(bad, G), NumericalError);
  Vector<double> g = Vector<double>::Zero(small.num_params());
  REQUIRE_THROWS_WITH(small.accumulate_mixed_gradient(Matrix<double>::Zero(2, 2), Matrix<double>::Zero(3, 2), g),
                      Contains("D.rows() (3) must equal V.rows() (2)"));
  REQUIRE_THROWS_WITH(small.accumulate_param_gradient(Matrix<double>::Zero(2, 2), Vector<double>::Ones(3), g),
                      Contains("c.size() (3) must equal V.rows() (2)"));
  Matrix<double> M;
  REQUIRE_THROWS_WITH(small.visible_mean(Matrix<double>::Constant(1, 2, 0.5), M), Contains("not binary"));
  Matrix<double> V = Matrix<double>::Zero(2, 2);
  std::mt19937_64 rng(1);
  REQUIRE_THROWS_WITH(small.gibbs_steps(V, -1, rng), Contains("steps (-1) must be non-negative"));
  REQUIRE_THROWS_WITH(Grbm(1, 21).log_partition(), Contains("num_hidden() (21) must be at most 20"));
}

TEST_CASE("GaussianBernoulliRBM: the free energy sums the hidden units out", "[grbm]") {
  std::mt19937_64 rng(3);
  const Grbm model = random_grbm(4, 3, rng);
  const Matrix<double> V = random_normal(6, 4, rng, 1.5);
  Vector<double> e;
  model.energy(V, e);
  for (Index r = 0; r < V.rows(); ++r) REQUIRE(e(r) == Approx(brute_free_energy(model, V.row(r))).epsilon(1e-12));
  // float agrees with double to float rounding.
  GaussianBernoulliRBM<float> single(4, 3);
  single.params() = model.params().cast<float>();
  Vector<float> ef;
  single.energy(V.cast<float>(), ef);
  REQUIRE((ef.cast<double>() - e).cwiseAbs().maxCoeff() < 1e-5 * (1 + e.cwiseAbs().maxCoeff()));
}

TEST_CASE("GaussianBernoulliRBM: every derivative against central differences (double)", "[grbm][fd]") {
  std::mt19937_64 rng(5);
  Grbm model = random_grbm(4, 3, rng);
  const Matrix<double> V = random_normal(5, 4, rng, 1.2);
  const Matrix<double> D = random_normal(5, 4, rng);
  const Matrix<double> U = random_normal(5, 4, rng);
  const Vector<double> c = random_normal(5, 1, rng);
  constexpr double eps = 1e-5, tolerance = 1e-7;

  SECTION("input gradient ∇_v F") {
    Matrix<double> G;
    model.input_gradient(V, G);
    Matrix<double> numeric(V.rows(), V.cols());
    Vector<double> plus, minus;
    for (Index i = 0; i < V.cols(); ++i) {
      Matrix<double> Vp = V, Vm = V;
      Vp.col(i).array() += eps;
      Vm.col(i).array() -= eps;
      model.energy(Vp, plus);
      model.energy(Vm, minus);
      numeric.col(i) = (plus - minus) / (2 * eps);
    }
    REQUIRE(compare_gradients(G.reshaped(), numeric.reshaped()).passed(tolerance));
  }
  SECTION("parameter gradient of Σ_r c_r F(v_r)") {
    Vector<double> analytic = Vector<double>::Zero(model.num_params()), e;
    model.accumulate_param_gradient(V, c, analytic);
    const auto numeric = finite_difference_param_gradient(model, [&] {
      model.energy(V, e);
      return c.dot(e);
    }, eps);
    REQUIRE(compare_gradients(analytic, numeric).passed(tolerance));
  }
  SECTION("mixed gradient ∇_θ Σ_r D_rᵀ∇_v F(v_r)") {
    Vector<double> analytic = Vector<double>::Zero(model.num_params());
    model.accumulate_mixed_gradient(V, D, analytic);
    Matrix<double> G;
    const auto numeric = finite_difference_param_gradient(model, [&] {
      model.input_gradient(V, G);
      return (D.array() * G.array()).sum();
    }, eps);
    REQUIRE(compare_gradients(analytic, numeric).passed(tolerance));
  }
  SECTION("Hessian quadratic Uᵀ∇²F U and the Laplacian, from differences of ∇_v F") {
    Vector<double> q, l;
    model.hessian_quadratic(V, U, q);
    model.laplacian(V, l);
    Matrix<double> Gp, Gm;
    model.input_gradient(V + eps * U, Gp);
    model.input_gradient(V - eps * U, Gm);
    const Vector<double> numeric_q = ((Gp - Gm).array() * U.array()).rowwise().sum() / (2 * eps);
    REQUIRE(compare_gradients(q, numeric_q).passed(tolerance));
    Vector<double> numeric_l = Vector<double>::Zero(V.rows());
    for (Index i = 0; i < V.cols(); ++i) {
      Matrix<double> Vp = V, Vm = V;
      Vp.col(i).array() += eps;
      Vm.col(i).array() -= eps;
      model.input_gradient(Vp, Gp);
      model.input_gradient(Vm, Gm);
      numeric_l += (Gp.col(i) - Gm.col(i)) / (2 * eps);
    }
    REQUIRE(compare_gradients(l, numeric_l).passed(tolerance));
    // The Laplacian is the sum of the quadratic forms along the coordinate axes.
    Vector<double> along = Vector<double>::Zero(V.rows()), qi;
    for (Index i = 0; i < V.cols(); ++i) {
      Matrix<double> E = Matrix<double>::Zero(V.rows(), V.cols());
      E.col(i).setOnes();
      model.hessian_quadratic(V, E, qi);
      along += qi;
    }
    REQUIRE((along - l).cwiseAbs().maxCoeff() < 1e-12);
  }
  SECTION("parameter gradients of the Laplacian and of the Hessian quadratic") {
    Vector<double> analytic = Vector<double>::Zero(model.num_params()), l;
    model.accumulate_laplacian_gradient(V, c, analytic);
    auto numeric = finite_difference_param_gradient(model, [&] {
      model.laplacian(V, l);
      return c.dot(l);
    }, eps);
    REQUIRE(compare_gradients(analytic, numeric).passed(tolerance));
    analytic.setZero();
    model.accumulate_hessian_quadratic_gradient(V, U, c, analytic);
    numeric = finite_difference_param_gradient(model, [&] {
      model.hessian_quadratic(V, U, l);
      return c.dot(l);
    }, eps);
    REQUIRE(compare_gradients(analytic, numeric).passed(tolerance));
  }
  SECTION("the accumulating members add to g") {
    const Vector<double> start = random_normal(model.num_params(), 1, rng);
    Vector<double> fresh = Vector<double>::Zero(model.num_params()), added = start;
    model.accumulate_mixed_gradient(V, D, fresh);
    model.accumulate_mixed_gradient(V, D, added);
    REQUIRE((added - start - fresh).cwiseAbs().maxCoeff() < 1e-12);
  }
}

TEST_CASE("GaussianBernoulliRBM: exact log Z against 2-D quadrature of exp(−F)", "[grbm][exact]") {
  std::mt19937_64 rng(7);
  const Grbm model = random_grbm(2, 3, rng, 1.0);
  // Midpoint rule on [−L, L]²: spectrally accurate for a smooth, Gaussian-tailed integrand.
  constexpr double L = 30.0, h = 0.02;  // the modes lie within 10 of 0, σ ≤ e^0.5
  const Index side = static_cast<Index>(2 * L / h);
  Matrix<double> V(side, 2);
  Vector<double> e;
  double top = -std::numeric_limits<double>::infinity(), total = 0;
  for (Index a = 0; a < side; ++a) {
    for (Index b = 0; b < side; ++b) V.row(b) << -L + (a + 0.5) * h, -L + (b + 0.5) * h;
    model.energy(V, e);
    const double block_top = (-e).maxCoeff();
    if (block_top > top) {
      total *= std::exp(top - block_top);
      top = block_top;
    }
    total += (-e.array() - top).exp().sum();
  }
  const double quadrature = top + std::log(total * h * h);
  REQUIRE(model.log_partition() == Approx(quadrature).epsilon(1e-9));

  // W = 0: the independent Gaussian N(b, diag σ²) times the hidden units' own Σ_h e^{cᵀh}.
  Grbm gaussian = model;
  gaussian.weight().setZero();
  const double expected = std::log(2 * std::numbers::pi) + gaussian.log_std().sum() +
                          (gaussian.hidden_bias().array().exp() + 1).log().sum();
  REQUIRE(gaussian.log_partition() == Approx(expected).epsilon(1e-13));
}

TEST_CASE("GaussianBernoulliRBM: mean log-likelihood of the fitted Gaussian", "[grbm][exact]") {
  std::mt19937_64 rng(9);
  Matrix<double> V = random_normal(2000, 3, rng);
  V.col(0) = 2.0 * V.col(0).array() + 1.0;
  V.col(2) *= 0.5;
  Grbm model(3, 4);
  model.set_visible_from_data(V);
  // With W = 0 the model is N(mean, diag var): its average log density is −½ Σ_i (log 2π var_i + 1).
  const Eigen::RowVectorXd mean = V.colwise().mean();
  const Eigen::RowVectorXd var = (V.rowwise() - mean).array().square().colwise().mean();
  const double expected = -0.5 * (var.array().log() + std::log(2 * std::numbers::pi) + 1).sum();
  REQUIRE(model.mean_log_likelihood(V) == Approx(expected).epsilon(1e-10));
  REQUIRE_THROWS_AS(model.set_visible_from_data(V, 0.0), std::invalid_argument);
}

TEST_CASE("GaussianBernoulliRBM: conditionals and block Gibbs moments against exact ones", "[grbm][sampler]") {
  std::mt19937_64 rng(11);
  const Grbm model = random_grbm(2, 2, rng, 1.0);
  // visible_mean minimises E(v, h) over v: ∇_v E = λ ⊙ (v − b) − Wᵀh = 0 there.
  Matrix<double> H(4, 2), M;
  H << 0, 0, 1, 0, 0, 1, 1, 1;
  model.visible_mean(H, M);
  const Eigen::ArrayXd precision = (-2.0 * model.log_std().array()).exp();
  for (Index r = 0; r < 4; ++r) {
    const Eigen::VectorXd stationary =
        precision * (M.row(r).transpose() - model.visible_bias()).array() -
        (model.weight().transpose() * H.row(r).transpose()).array();
    REQUIRE(stationary.cwiseAbs().maxCoeff() < 1e-12);
  }
  // Exact moments: p(h) ∝ exp(cᵀh + Σ_i (b_i a_i + ½ σ_i² a_i²)), v | h ~ N(M_h, diag σ²).
  const Eigen::ArrayXd variance = precision.inverse();
  Eigen::Vector2d mean = Eigen::Vector2d::Zero();
  Eigen::Matrix2d second = Eigen::Matrix2d::Zero();
  double norm = 0;
  for (Index r = 0; r < 4; ++r) {
    const Eigen::VectorXd a = model.weight().transpose() * H.row(r).transpose();
    const double w = std::exp(H.row(r).dot(model.hidden_bias()) + a.dot(model.visible_bias()) +
                              0.5 * (a.array().square() * variance).sum());
    norm += w;
    mean += w * M.row(r).transpose();
    second += w * (M.row(r).transpose() * M.row(r) + Eigen::Matrix2d(variance.matrix().asDiagonal()));
  }
  mean /= norm;
  second /= norm;
  const Eigen::Matrix2d covariance = second - mean * mean.transpose();
  constexpr Index chains = 20000;
  Matrix<double> V = random_normal(chains, 2, rng);
  model.gibbs_steps(V, 30, rng);
  const Eigen::RowVector2d sample_mean = V.colwise().mean();
  for (Index i = 0; i < 2; ++i) {
    const double standard_error = std::sqrt(covariance(i, i) / chains);
    INFO("coordinate " << i << ": " << sample_mean(i) << " against " << mean(i));
    REQUIRE(std::abs(sample_mean(i) - mean(i)) < 5 * standard_error);
  }
  const Eigen::Matrix2d sample_cov =
      (V.rowwise() - sample_mean).transpose() * (V.rowwise() - sample_mean) / static_cast<double>(chains - 1);
  REQUIRE((sample_cov - covariance).cwiseAbs().maxCoeff() < 0.05 * covariance.cwiseAbs().maxCoeff());
}

TEST_CASE("GaussianBernoulliRBM: annealed importance sampling of log Z against the exact sum", "[grbm][ais]") {
  std::mt19937_64 rng(13);
  // Without weights the annealing is deterministic and exact.
  Grbm independent = random_grbm(5, 3, rng);
  independent.weight().setZero();
  const LogPartitionEstimate flat = annealed_log_partition(independent, {.runs = 4, .temperatures = 10}, rng);
  REQUIRE(flat.log_partition == Approx(independent.log_partition()).epsilon(1e-12));
  REQUIRE(flat.standard_error < 1e-12);
  // With weights: within a few standard errors of the exact value (10 visible, 12 hidden units).
  for (const double scale : {0.3, 0.8}) {
    Grbm model(10, 12);
    for (Index k = 0; k < model.num_params(); ++k) model.params()(k) = scale * (2 * uniform_open01(rng) - 1);
    model.log_std() *= 0.5;
    const double exact = model.log_partition();
    const LogPartitionEstimate ais = annealed_log_partition(model, {.runs = 200, .temperatures = 3000}, rng);
    INFO("scale " << scale << ": AIS " << ais.log_partition << " ± " << ais.standard_error << ", exact " << exact);
    REQUIRE(std::abs(ais.log_partition - exact) < 4 * ais.standard_error + 0.01);
    REQUIRE(ais.log_partition_base == Approx(12 * std::log(2.0) + 5 * std::log(2 * std::numbers::pi) +
                                              model.log_std().sum()).epsilon(1e-13));
  }
  REQUIRE_THROWS_WITH(annealed_log_partition(independent, {.runs = 0, .temperatures = 10}, rng),
                      Contains("options.runs (0) must be positive"));
}
