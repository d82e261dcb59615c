#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include <ratiomatch/core/required_only.hpp>
#include <ratiomatch/metrics/exact.hpp>
#include <ratiomatch/metrics/ising_rmse.hpp>
#include <ratiomatch/metrics/mmd.hpp>
#include <ratiomatch/metrics/pseudo_likelihood.hpp>
#include <ratiomatch/models/ising_model.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------------------------
// MMD oracles

// The U-statistic (or, with `biased`, the V-statistic that keeps the diagonal and divides by m²)
// by an explicit O(m·n·d) loop over pairs and bits.
template <class Kernel, class S>
double naive_mmd(const Matrix<S>& X, const Matrix<S>& Y, bool biased = false) {
  const Index m = X.rows(), n = Y.rows(), d = X.cols();
  const auto k = [d](const auto& a, Index i, const auto& b, Index j) {
    double h = 0;
    for (Index t = 0; t < d; ++t) h += a(i, t) != b(j, t) ? 1.0 : 0.0;
    return Kernel::value(h, d);
  };
  long double kxx = 0, kyy = 0, kxy = 0;  // an oracle more accurate than the code it checks
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < m; ++j)
      if (biased || i != j) kxx += k(X, i, X, j);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < n; ++j)
      if (biased || i != j) kyy += k(Y, i, Y, j);
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) kxy += k(X, i, Y, j);
  const double md = static_cast<double>(m), nd = static_cast<double>(n);
  const double pxx = biased ? md * md : md * (md - 1), pyy = biased ? nd * nd : nd * (nd - 1);
  return static_cast<double>(kxx / pxx + kyy / pyy - 2 * kxy / (md * nd));
}

// Closed form of the HammingKernel U-statistic. With φ(x) = [x, 1 − x], k(x, y) = φ(x)·φ(y) and
// |φ(x)|² = d, so with feature means μ_X = (1/m) Σ_i φ(x_i):
//   Σ_{i≠j} k(x_i, x_j) = |Σ_i φ(x_i)|² − Σ_i |φ(x_i)|² = m² |μ_X|² − m d,
//   Σ_{i,j} k(x_i, y_j) = m n μ_X·μ_Y,
// hence MMD²_u = (m|μ_X|² − d)/(m − 1) + (n|μ_Y|² − d)/(n − 1) − 2 μ_X·μ_Y.
template <class S>
double hamming_mmd_closed_form(const Matrix<S>& X, const Matrix<S>& Y) {
  const Index d = X.cols();
  const auto feature_mean = [d](const Matrix<S>& Z) {
    Eigen::VectorXd mu(2 * d);
    mu.head(d) = Z.template cast<double>().colwise().mean().transpose();
    mu.tail(d) = 1.0 - mu.head(d).array();
    return mu;
  };
  const Eigen::VectorXd mx = feature_mean(X), my = feature_mean(Y);
  const double m = static_cast<double>(X.rows()), n = static_cast<double>(Y.rows()), dd = static_cast<double>(d);
  return (m * mx.squaredNorm() - dd) / (m - 1) + (n * my.squaredNorm() - dd) / (n - 1) - 2 * mx.dot(my);
}

// ---------------------------------------------------------------------------------------------
// Distributions over the 2^d states (state k has bit i = (k >> i) & 1)

// A random distribution, p_k ∝ exp(scale · (u_k − ½)).
template <class Rng>
Eigen::VectorXd random_distribution(Index d, double scale, Rng& rng) {
  Eigen::VectorXd p(Index{1} << d);
  for (Index k = 0; k < p.size(); ++k) p(k) = std::exp(scale * (uniform_open01(rng) - 0.5));
  return p / p.sum();
}

// Independent bits with P(x_i = 1) = q.
Eigen::VectorXd product_distribution(Index d, double q) {
  Eigen::VectorXd p(Index{1} << d);
  for (Index k = 0; k < p.size(); ++k) {
    const int ones = std::popcount(static_cast<unsigned>(k));
    p(k) = std::pow(q, ones) * std::pow(1 - q, static_cast<double>(d - ones));
  }
  return p;
}

// n independent draws from p by inversion of its distribution function.
template <class S, class Rng>
Matrix<S> sample_states(const Eigen::VectorXd& p, Index d, Index n, Rng& rng) {
  std::vector<double> cdf(static_cast<std::size_t>(p.size()));
  double acc = 0;
  for (Index k = 0; k < p.size(); ++k) cdf[static_cast<std::size_t>(k)] = acc += p(k);
  Matrix<S> X(n, d);
  for (Index r = 0; r < n; ++r) {
    const double u = uniform_open01(rng) * acc;
    const auto k = std::min<Index>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin(), p.size() - 1);
    for (Index i = 0; i < d; ++i) X(r, i) = static_cast<S>((k >> i) & 1);
  }
  return X;
}

// The kernel matrix over all states, K(a, b) = k(a, b).
template <class Kernel>
Eigen::MatrixXd kernel_matrix(Index d) {
  const Index count = Index{1} << d;
  Eigen::MatrixXd K(count, count);
  for (Index a = 0; a < count; ++a)
    for (Index b = 0; b < count; ++b)
      K(a, b) = Kernel::value(std::popcount(static_cast<unsigned>(a ^ b)), d);
  return K;
}

// σ² = E_{x,x'~p}[k̃(x, x')²] with k̃ the kernel centred under p. Under P = Q the four parts of
// MMD²_u are uncorrelated, so Var = σ² (2/(m(m−1)) + 2/(n(n−1)) + 4/(mn)), exactly.
double null_variance(const Eigen::MatrixXd& K, const Eigen::VectorXd& p, double m, double n) {
  const Eigen::VectorXd mu = K * p;
  const double mean = p.dot(mu);
  const Eigen::MatrixXd centred = (K.colwise() - mu).rowwise() - mu.transpose();
  const double sigma2 = p.dot((centred.array() + mean).square().matrix() * p);
  return sigma2 * (2 / (m * (m - 1)) + 2 / (n * (n - 1)) + 4 / (m * n));
}

// Leading (Hoeffding) variance of MMD²_u when P ≠ Q: with the witness f = K(p − q),
// Var ≈ (4/m) Var_P f + (4/n) Var_Q f.
double alternative_variance(const Eigen::MatrixXd& K, const Eigen::VectorXd& p, const Eigen::VectorXd& q, double m,
                            double n) {
  const Eigen::VectorXd f = K * (p - q);
  const auto var = [&f](const Eigen::VectorXd& r) { return r.dot(f.cwiseProduct(f)) - std::pow(r.dot(f), 2); };
  return 4 / m * var(p) + 4 / n * var(q);
}

// ---------------------------------------------------------------------------------------------
// Ising oracles

template <class S>
IsingModel<S> random_ising(Index d, double scale, std::mt19937_64& rng) {
  IsingModel<S> model(d);
  auto theta = model.params();
  for (Index k = 0; k < theta.size(); ++k) theta(k) = static_cast<S>(scale * (uniform_open01(rng) - 0.5));
  return model;
}

// E(x) for state k by explicit loops, in double.
template <class S>
double ising_energy_of_state(const IsingModel<S>& model, Index k) {
  const Index d = model.dim();
  double e = 0;
  for (Index i = 0; i < d; ++i) {
    const double si = ((k >> i) & 1) ? 1.0 : -1.0;
    e -= model.bias()(i) * si;
    for (Index j = 0; j < d; ++j)
      if (i != j) e -= model.coupling()(i, j) * si * (((k >> j) & 1) ? 1.0 : -1.0);
  }
  return e;
}

// log Σ_k exp(−β E_k) in two passes (maximum first) over the loop energies.
template <class S>
double log_partition_by_loops(const IsingModel<S>& model, double beta) {
  const Index count = Index{1} << model.dim();
  Eigen::VectorXd v(count);
  for (Index k = 0; k < count; ++k) v(k) = -beta * ising_energy_of_state(model, k);
  const double top = v.maxCoeff();
  return top + std::log((v.array() - top).exp().sum());
}

}  // namespace

// =============================================================================================
// MMD

TEMPLATE_TEST_CASE("mmd_squared equals the naive double loop over pairs", "[metrics][mmd]", float, double) {
  std::mt19937_64 rng(101);
  const std::initializer_list<std::tuple<Index, Index, Index>> shapes = {{7, 9, 5}, {2, 3, 1}, {2, 2, 13}, {31, 4, 20}};
  for (const auto& [m, n, d] : shapes) {
    const auto X = random_binary<TestType>(m, d, rng);
    const auto Y = random_binary<TestType>(n, d, rng);
    INFO("m = " << m << ", n = " << n << ", d = " << d);
    const double hamming = naive_mmd<HammingKernel>(X, Y);
    const double exp_hamming = naive_mmd<ExpHammingKernel>(X, Y);
    CHECK(mmd_squared(X, Y) == Approx(hamming).epsilon(1e-12).margin(1e-12 * static_cast<double>(d)));
    CHECK(mmd_squared<HammingKernel>(X, Y) == Approx(hamming).epsilon(1e-12).margin(1e-12 * static_cast<double>(d)));
    CHECK(mmd_squared<ExpHammingKernel>(X, Y) == Approx(exp_hamming).epsilon(1e-12).margin(1e-12));
  }
}

TEST_CASE("mmd_squared over several blocks equals the naive loop", "[metrics][mmd]") {
  // 1500 and 1100 rows: more than one 1024-row block on each side, so off-diagonal blocks of
  // the within-set sums (counted twice) and partial blocks are exercised.
  std::mt19937_64 rng(102);
  const Index d = 10;
  const auto X = sample_states<double>(product_distribution(d, 0.4), d, 1500, rng);
  const auto Y = sample_states<double>(product_distribution(d, 0.5), d, 1100, rng);
  const double hamming = mmd_squared<HammingKernel>(X, Y);
  CHECK(hamming == Approx(naive_mmd<HammingKernel>(X, Y)).epsilon(1e-12).margin(1e-11));
  CHECK(mmd_squared<ExpHammingKernel>(X, Y) == Approx(naive_mmd<ExpHammingKernel>(X, Y)).epsilon(1e-12).margin(1e-12));
  // The same data in float: the bits are exact, the sums are in double, so the result is identical.
  const Matrix<float> Xf = X.cast<float>(), Yf = Y.cast<float>();
  CHECK(mmd_squared<HammingKernel>(Xf, Yf) == hamming);
  // Swapping the sets leaves MMD² unchanged.
  CHECK(mmd_squared<HammingKernel>(Y, X) == Approx(hamming).epsilon(1e-12).margin(1e-11));
}

TEMPLATE_TEST_CASE("HammingKernel MMD² equals its closed form in feature means", "[metrics][mmd]", float, double) {
  std::mt19937_64 rng(103);
  const Index d = 12;
  const auto X = sample_states<TestType>(product_distribution(d, 0.3), d, 300, rng);
  const auto Y = sample_states<TestType>(random_distribution(d, 3.0, rng), d, 1200, rng);
  CHECK(mmd_squared(X, Y) == Approx(hamming_mmd_closed_form(X, Y)).epsilon(1e-10).margin(1e-10));
  const auto Z = random_binary<TestType>(2, d, rng);
  CHECK(mmd_squared(X, Z) == Approx(hamming_mmd_closed_form(X, Z)).epsilon(1e-10).margin(1e-10));
}

TEST_CASE("mmd_squared is near 0 for halves of one sample and clearly positive between different laws",
          "[metrics][mmd][statistics]") {
  // Oracles by enumeration over the 2^8 states: the population MMD² (p − q)ᵀK(p − q), and the
  // standard deviations of MMD²_u under P = Q and under P ≠ Q (see null_variance / alternative_variance).
  std::mt19937_64 rng(104);
  const Index d = 8, m = 1000, n = 1000;
  const Eigen::VectorXd p = random_distribution(d, 3.0, rng);
  const Eigen::VectorXd q = product_distribution(d, 0.6);
  const auto sample = sample_states<double>(p, d, m + n, rng);
  const Matrix<double> X1 = sample.topRows(m), X2 = sample.bottomRows(n);
  const auto Y = sample_states<double>(q, d, n, rng);

  const auto check_kernel = [&](auto kernel, const char* name) {
    using Kernel = decltype(kernel);
    INFO(name);
    const Eigen::MatrixXd K = kernel_matrix<Kernel>(d);
    const double sd_null = std::sqrt(null_variance(K, p, m, n));
    const double population = (p - q).dot(K * (p - q));
    const double sd_alt = std::sqrt(alternative_variance(K, p, q, m, n)) + sd_null;
    INFO("population MMD² " << population << ", null sd " << sd_null << ", alternative sd " << sd_alt);
    REQUIRE(population > 50 * sd_null);  // the laws are clearly different at this sample size

    const double same = mmd_squared<Kernel>(X1, X2);
    CHECK(std::abs(same) < 5 * sd_null);
    const double different = mmd_squared<Kernel>(X1, Y);
    CHECK(std::abs(different - population) < 5 * sd_alt);
  };
  check_kernel(HammingKernel{}, "HammingKernel");
  check_kernel(ExpHammingKernel{}, "ExpHammingKernel");
}

TEST_CASE("mmd_squared is unbiased: its mean over independent pairs from one law is 0",
          "[metrics][mmd][statistics]") {
  // With m = n = 5 the V-statistic (diagonal kept, divided by m²) has mean
  // (1/m + 1/n)(k(x, x) − E k(x, x')) > 0, and the test must be able to see that.
  std::mt19937_64 rng(105);
  const Index d = 6, m = 5, n = 5, replicates = 4000;
  const Eigen::VectorXd p = random_distribution(d, 2.0, rng);

  const auto check_kernel = [&](auto kernel, const char* name) {
    using Kernel = decltype(kernel);
    INFO(name);
    double sum_u = 0, sum_u2 = 0, sum_v = 0, sum_v2 = 0;
    for (Index t = 0; t < replicates; ++t) {
      const auto X = sample_states<double>(p, d, m, rng);
      const auto Y = sample_states<double>(p, d, n, rng);
      const double u = mmd_squared<Kernel>(X, Y), v = naive_mmd<Kernel>(X, Y, true);
      sum_u += u;
      sum_u2 += u * u;
      sum_v += v;
      sum_v2 += v * v;
    }
    const double R = static_cast<double>(replicates);
    const double mean_u = sum_u / R, se_u = std::sqrt((sum_u2 / R - mean_u * mean_u) / (R - 1));
    const double mean_v = sum_v / R, se_v = std::sqrt((sum_v2 / R - mean_v * mean_v) / (R - 1));
    const Eigen::MatrixXd K = kernel_matrix<Kernel>(d);
    const double expected_v = (1.0 / m + 1.0 / n) * (Kernel::value(0, d) - p.dot(K * p));
    INFO("U mean " << mean_u << " ± " << se_u << "; V mean " << mean_v << " ± " << se_v << ", expected "
                   << expected_v);
    CHECK(std::abs(mean_u) < 5 * se_u);
    CHECK(std::abs(mean_v - expected_v) < 5 * se_v);
    CHECK(expected_v > 10 * se_v);
  };
  check_kernel(HammingKernel{}, "HammingKernel");
  check_kernel(ExpHammingKernel{}, "ExpHammingKernel");
}

TEST_CASE("mmd_squared rejects bad input", "[metrics][mmd][errors]") {
  Matrix<double> X(3, 4), Y(3, 4);
  X.setZero();
  Y.setOnes();
  // All-zero against all-one rows: k(x, x') = d within each set, 0 across, so MMD² = d + d − 0 = 8.
  CHECK(mmd_squared<HammingKernel>(X, Y) == Approx(8.0).epsilon(1e-15));
  Matrix<double> bad = Y;
  bad(1, 2) = 0.5;
  CHECK_THROWS_WITH(mmd_squared(X, bad),
                    Contains("ratiomatch::mmd_squared") && Contains("Y(1, 2) = 0.5") && Contains("not binary"));
  CHECK_THROWS_AS(mmd_squared(bad, Y), std::invalid_argument);
  CHECK_THROWS_WITH(mmd_squared(X, Matrix<double>(Matrix<double>::Zero(3, 5))), Contains("Y.cols() (5) must equal X.cols() (4)"));
  CHECK_THROWS_WITH(mmd_squared(X.topRows(1).eval(), Y), Contains("X.rows() (1) must be at least 2"));
  CHECK_THROWS_WITH(mmd_squared(X, Y.topRows(1).eval()), Contains("Y.rows() (1) must be at least 2"));
  CHECK_THROWS_AS(mmd_squared<ExpHammingKernel>(Matrix<double>(3, 0), Matrix<double>(3, 0)), std::invalid_argument);
}

// =============================================================================================
// Exact quantities

TEMPLATE_TEST_CASE("log_partition of an IsingModel equals a direct sum over all states", "[metrics][exact]", float,
                   double) {
  std::mt19937_64 rng(201);
  const auto model = random_ising<TestType>(10, 0.4, rng);
  const double expected = log_partition_by_loops(model, 1.0);
  // Float energies carry a relative error of ~1e-6 of their magnitude (a few units here).
  const double tol = std::is_same_v<TestType, float> ? 1e-4 : 1e-10;
  CHECK(log_partition(model) == Approx(expected).epsilon(tol).margin(tol));
  // The generic path of a model seen only through EnergyModel gives the same number.
  auto copy = model;
  CHECK(log_partition(RequiredOnly(copy)) == log_partition(model));
  // No coupling, no bias: Z = 2^d.
  CHECK(log_partition(IsingModel<TestType>(10)) == Approx(10 * std::log(2.0)).epsilon(1e-12));
}

TEST_CASE("log_partition is stable for large energies spread over several blocks", "[metrics][exact]") {
  // d = 15: two blocks of 2^14 states. A strong positive bias puts the lowest energy (≈ −1e3)
  // at the all-ones state, the very last one, so the running maximum must rescale the sum of
  // the first block; a plain Σ exp(−E) would overflow.
  std::mt19937_64 rng(202);
  auto model = random_ising<double>(15, 2.0, rng);
  model.bias().setConstant(60.0);
  const double expected = log_partition_by_loops(model, 1.0);
  REQUIRE(expected > 800);
  CHECK(log_partition(model) == Approx(expected).epsilon(1e-13));
  CHECK(log_partition(model, -1.0) == Approx(log_partition_by_loops(model, -1.0)).epsilon(1e-13));
}

TEST_CASE("log_partition at inverse temperature β is that of the model with energy βE", "[metrics][exact]") {
  std::mt19937_64 rng(203);
  const auto model = random_ising<double>(9, 1.0, rng);
  auto doubled = model;
  doubled.params() *= 2.0;
  const double at_two = log_partition(model, 2.0);
  CHECK(at_two == Approx(log_partition(doubled)).epsilon(1e-13));
  CHECK(at_two == Approx(log_partition_by_loops(model, 2.0)).epsilon(1e-12));
  CHECK(at_two != Approx(log_partition(model)).epsilon(1e-3));
  CHECK(log_partition(model, 0.0) == Approx(9 * std::log(2.0)).epsilon(1e-14));
}

TEMPLATE_TEST_CASE("log_probabilities are normalised and in the order of all_states", "[metrics][exact]", float,
                   double) {
  std::mt19937_64 rng(204);
  const Index d = 8;
  const auto model = random_ising<TestType>(d, 0.8, rng);
  for (const double beta : {1.0, 0.25, 4.0}) {
    INFO("beta = " << beta);
    const Vector<double> log_p = log_probabilities(model, beta);
    REQUIRE(log_p.size() == (Index{1} << d));
    CHECK(log_p.array().exp().sum() == Approx(1.0).epsilon(1e-12));
    Vector<TestType> e;
    model.energy(all_states<TestType>(d), e);
    const double log_z = log_partition(model, beta);
    for (Index k = 0; k < log_p.size(); ++k)
      REQUIRE(log_p(k) == Approx(-beta * static_cast<double>(e(k)) - log_z).epsilon(1e-12).margin(1e-12));
  }
}

TEMPLATE_TEST_CASE("mean_log_likelihood is the mean of log p over the rows", "[metrics][exact]", float, double) {
  std::mt19937_64 rng(205);
  const Index d = 7;
  const auto model = random_ising<TestType>(d, 1.0, rng);
  const auto X = random_binary<TestType>(40, d, rng);
  const double beta = 1.5;
  const Vector<double> log_p = log_probabilities(model, beta);
  double expected = 0;
  for (Index r = 0; r < X.rows(); ++r) {
    Index k = 0;
    for (Index i = 0; i < d; ++i) k += X(r, i) == TestType(1) ? Index{1} << i : 0;
    expected += log_p(k) / static_cast<double>(X.rows());
  }
  const double tol = std::is_same_v<TestType, float> ? 1e-6 : 1e-12;
  CHECK(mean_log_likelihood(model, X, beta) == Approx(expected).epsilon(tol));
  // Samples of the model itself score, on average, its negative entropy: Σ p log p.
  const Vector<double> log_q = log_probabilities(model);
  const Eigen::VectorXd q = log_q.array().exp();
  const Index n = 20000;
  const auto samples = sample_states<TestType>(q, d, n, rng);
  const double neg_entropy = q.dot(log_q);
  const double sd = std::sqrt(q.dot(log_q.cwiseProduct(log_q)) - neg_entropy * neg_entropy);
  CHECK(std::abs(mean_log_likelihood(model, samples) - neg_entropy) < 5 * sd / std::sqrt(static_cast<double>(n)));
}

TEST_CASE("kl_divergence: zero for equal laws, known values, 0 log 0 = 0, +inf off the support",
          "[metrics][exact]") {
  const auto log_of = [](std::initializer_list<double> probabilities) {
    Vector<double> v(static_cast<Index>(probabilities.size()));
    Index k = 0;
    for (const double pr : probabilities) v(k++) = std::log(pr);
    return v;
  };
  std::mt19937_64 rng(206);
  const Vector<double> log_r = random_distribution(6, 4.0, rng).array().log();
  CHECK(kl_divergence(log_r, log_r) == 0.0);

  const auto p = log_of({0.5, 0.5}), q = log_of({0.25, 0.75});
  CHECK(kl_divergence(p, q) == Approx(0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0)).epsilon(1e-14));
  CHECK(kl_divergence(q, p) == Approx(0.25 * std::log(0.5) + 0.75 * std::log(1.5)).epsilon(1e-14));

  const auto a = log_of({0.2, 0.0, 0.3, 0.5}), b = log_of({0.1, 0.4, 0.0, 0.5});
  const auto c = log_of({0.1, 0.1, 0.3, 0.5});
  CHECK(kl_divergence(a, c) == Approx(0.2 * std::log(2.0)).epsilon(1e-14));  // 0 log 0 terms vanish
  CHECK(kl_divergence(a, b) == inf);                                         // p > 0 where q = 0
  CHECK(kl_divergence(b, c) == Approx(0.1 * std::log(1.0) + 0.4 * std::log(4.0) + 0.5 * 0.0).epsilon(1e-14));
}

TEST_CASE("empirical_log_distribution counts states; KL(data ‖ model) of model samples is small",
          "[metrics][exact]") {
  Matrix<double> X(4, 2);
  X << 1, 0,  //
      1, 0,   //
      1, 1,   //
      0, 0;
  const Vector<double> log_e = empirical_log_distribution(X);
  REQUIRE(log_e.size() == 4);
  CHECK(log_e(0) == Approx(std::log(0.25)));  // (0, 0)
  CHECK(log_e(1) == Approx(std::log(0.5)));   // bit 0 set: (1, 0)
  CHECK(log_e(2) == -inf);                    // (0, 1) never seen
  CHECK(log_e(3) == Approx(std::log(0.25)));  // (1, 1)

  // For N samples of a law on K states, KL(empirical ‖ law) ≈ χ²_{K−1} / (2N): mean (K−1)/(2N),
  // standard deviation sqrt(2(K−1))/(2N).
  std::mt19937_64 rng(207);
  const Index d = 4, n = 20000;
  const auto model = random_ising<double>(d, 1.0, rng);
  const Vector<double> log_q = log_probabilities(model);
  const auto samples = sample_states<double>(log_q.array().exp(), d, n, rng);
  const double kl = kl_divergence(empirical_log_distribution(samples), log_q);
  const double K = 16, N = static_cast<double>(n);
  CHECK(kl > 0.0);
  CHECK(std::abs(kl - (K - 1) / (2 * N)) < 5 * std::sqrt(2 * (K - 1)) / (2 * N));
  // Against a different model the divergence is much larger.
  const auto other = random_ising<double>(d, 1.0, rng);
  CHECK(kl_divergence(empirical_log_distribution(samples), log_probabilities(other)) > 20 * kl);
}

TEST_CASE("coupling_rmse is the root mean square over all D² entries", "[metrics][ising]") {
  RowMajorMatrix<double> J_true(3, 3), J_learned(3, 3);
  J_true << 0, 1, 0,  //
      1, 0, 2,        //
      0, 2, 0;
  J_learned << 0, 0.5, 0,  //
      1, 0.1, 2,           //
      3, 2, 0;
  const double expected = std::sqrt((0.25 + 0.01 + 9.0) / 9.0);
  CHECK(coupling_rmse<double>(J_true, J_learned) == Approx(expected).epsilon(1e-15));
  CHECK(coupling_rmse(J_true, J_learned) == Approx(expected).epsilon(1e-15));
  CHECK(coupling_rmse(J_true, J_true) == 0.0);

  // A model's coupling view, and a float model against a double ground truth.
  IsingModel<float> model(3);
  model.coupling() = J_learned.cast<float>();
  CHECK(coupling_rmse(J_true, model.coupling()) == Approx(expected).epsilon(1e-7));
  const auto lattice = IsingModel<double>::periodic_lattice(3, 0.25);
  CHECK(coupling_rmse(lattice.coupling(), RowMajorMatrix<double>::Zero(9, 9)) ==
        Approx(std::sqrt(36 * 0.0625 / 81)).epsilon(1e-15));  // 36 non-zero entries of 0.25

  CHECK_THROWS_WITH(coupling_rmse(J_true, RowMajorMatrix<double>::Zero(3, 4)),
                    Contains("ratiomatch::coupling_rmse") && Contains("J_learned.cols() (4) must equal"));
  CHECK_THROWS_AS(coupling_rmse<double>(J_true, RowMajorMatrix<double>::Zero(2, 3)), std::invalid_argument);
  CHECK_THROWS_AS(coupling_rmse(RowMajorMatrix<double>::Zero(2, 3), RowMajorMatrix<double>::Zero(2, 3)),
                  std::invalid_argument);
}

TEST_CASE("exact metrics reject bad input", "[metrics][exact][errors]") {
  const IsingModel<double> big(25);
  CHECK_THROWS_WITH(log_partition(big), Contains("ratiomatch::log_partition") && Contains("model.dim() (25)") &&
                                            Contains("at most 24"));
  CHECK_THROWS_AS(log_probabilities(big), std::invalid_argument);
  CHECK_THROWS_AS(mean_log_likelihood(big, Matrix<double>::Zero(2, 25)), std::invalid_argument);
  CHECK_THROWS_WITH(empirical_log_distribution(Matrix<double>(Matrix<double>::Zero(2, 25))), Contains("X.cols() (25)"));

  const IsingModel<double> model(4);
  CHECK_THROWS_WITH(log_partition(model, std::nan("")), Contains("beta (nan) must be finite"));
  CHECK_THROWS_WITH(mean_log_likelihood(model, Matrix<double>::Zero(3, 5)),
                    Contains("ratiomatch::mean_log_likelihood") && Contains("X.cols() (5) must equal model.dim() (4)"));
  Matrix<double> X = Matrix<double>::Zero(3, 4);
  X(2, 1) = 2;
  CHECK_THROWS_WITH(mean_log_likelihood(model, X), Contains("not binary"));
  CHECK_THROWS_AS(empirical_log_distribution(X), std::invalid_argument);
  CHECK_THROWS_AS(mean_log_likelihood(model, Matrix<double>(0, 4)), std::invalid_argument);
  CHECK_THROWS_AS(empirical_log_distribution(Matrix<double>(0, 4)), std::invalid_argument);

  // A non-finite energy is a numerical failure, not silent garbage.
  IsingModel<double> broken(4);
  broken.bias()(2) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(log_partition(broken), NumericalError);
  CHECK_THROWS_AS(log_probabilities(broken), NumericalError);

  const Vector<double> half = Vector<double>::Constant(2, std::log(0.5));
  CHECK_THROWS_WITH(kl_divergence(half, Vector<double>::Constant(3, std::log(1.0 / 3))),
                    Contains("log_q.size() (3) must equal log_p.size() (2)"));
  CHECK_THROWS_WITH(kl_divergence(half, Vector<double>::Zero(2)), Contains("exp(log_q).sum() (2) must be 1"));
  CHECK_THROWS_AS(kl_divergence(Vector<double>::Constant(2, std::nan("")), half), std::invalid_argument);
  CHECK_THROWS_AS(kl_divergence(Vector<double>(0), Vector<double>(0)), std::invalid_argument);
}

TEMPLATE_TEST_CASE("pseudo_log_likelihood equals the sum of exact conditionals by enumeration", "[metrics][pseudo]",
                   float, double) {
  std::mt19937_64 rng(401);
  const Index d = 7;
  const auto model = random_ising<TestType>(d, 0.5, rng);
  const auto X = random_binary<TestType>(9, d, rng);
  for (const double beta : {1.0, 2.5}) {
    const Vector<double> log_p = log_probabilities(model, beta);
    double expected = 0;
    for (Index r = 0; r < X.rows(); ++r) {
      Index k = 0;
      for (Index i = 0; i < d; ++i) k |= static_cast<Index>(X(r, i)) << i;
      for (Index i = 0; i < d; ++i) {
        const Index flipped = k ^ (Index{1} << i);
        const double top = std::max(log_p(k), log_p(flipped));
        expected += log_p(k) - (top + std::log(std::exp(log_p(k) - top) + std::exp(log_p(flipped) - top)));
      }
    }
    expected /= static_cast<double>(X.rows());
    INFO("beta " << beta);
    CHECK(pseudo_log_likelihood(model, X, beta) == Approx(expected).epsilon(Tolerance<TestType>::relative * 10));
    // The generic evaluation gives the same number.
    auto copy = model;
    CHECK(pseudo_log_likelihood(RequiredOnly(copy), X, beta) ==
          Approx(expected).epsilon(Tolerance<TestType>::relative * 10));
  }
  Matrix<TestType> bad = X;
  bad(0, 0) = TestType(2);
  CHECK_THROWS_WITH(pseudo_log_likelihood(model, bad), Catch::Matchers::Contains("ratiomatch::pseudo_log_likelihood"));
}
