#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <utility>
#include <random>

#include <ratiomatch/core/check_evaluation.hpp>
#include <ratiomatch/core/required_only.hpp>
#include <ratiomatch/core/finite_difference.hpp>
#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/metrics/exact.hpp>
#include <ratiomatch/models/bernoulli_rbm.hpp>
#include <ratiomatch/models/bernoulli_rbm_ais.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

template <class S>
BernoulliRBM<S> random_rbm(Index visible, Index hidden, std::mt19937_64& rng, double scale = 0.8) {
  BernoulliRBM<S> rbm(visible, hidden);
  for (Index k = 0; k < rbm.num_params(); ++k) rbm.params()(k) = static_cast<S>(scale * (2 * uniform_open01(rng) - 1));
  return rbm;
}

// F(x) = −log Σ_h exp(−E(x, h)) with E(x, h) = −bᵀx − cᵀh − hᵀWx, by enumerating every h.
double brute_free_energy(const BernoulliRBM<double>& rbm, const Eigen::RowVectorXd& x) {
  const Index m = rbm.num_hidden();
  double total = 0;
  for (Index k = 0; k < (Index{1} << m); ++k) {
    Eigen::VectorXd h(m);
    for (Index j = 0; j < m; ++j) h(j) = static_cast<double>((k >> j) & 1);
    const double joint = -(x.dot(rbm.visible_bias()) + h.dot(rbm.hidden_bias()) + h.dot(rbm.weight() * x.transpose()));
    total += std::exp(-joint);
  }
  return -std::log(total);
}

}  // namespace

TEST_CASE("BernoulliRBM: params() are W (hidden × visible, row-major), b, c; the energy is the free energy",
          "[models][rbm]") {
  std::mt19937_64 rng(301);
  const auto rbm = random_rbm<double>(5, 4, rng);
  REQUIRE(rbm.num_params() == 4 * 5 + 5 + 4);
  REQUIRE(rbm.weight()(2, 3) == rbm.params()(2 * 5 + 3));
  REQUIRE(rbm.visible_bias()(1) == rbm.params()(20 + 1));
  REQUIRE(rbm.hidden_bias()(3) == rbm.params()(25 + 3));
  const auto X = random_binary<double>(7, 5, rng);
  Vector<double> e;
  rbm.energy(X, e);
  for (Index r = 0; r < X.rows(); ++r) CHECK(e(r) == Approx(brute_free_energy(rbm, X.row(r))).epsilon(1e-12));
}

TEST_CASE("BernoulliRBM derivatives agree with finite differences", "[models][rbm][gradient]") {
  std::mt19937_64 rng(302);
  const auto rbm_const = random_rbm<double>(7, 6, rng);
  auto rbm = rbm_const;
  const auto X = random_binary<double>(5, 7, rng);
  Vector<double> c(5);
  c << 0.5, -1.5, 2.0, 0.25, -0.75;
  CHECK(check_param_gradient(rbm, X, c).passed(1e-7));
  CHECK(check_input_gradient(rbm, X).passed(1e-7));
}

TEMPLATE_TEST_CASE("BernoulliRBM's evaluation passes check_evaluation", "[models][rbm][flips]", float, double) {
  std::mt19937_64 rng(303);
  const auto rbm = random_rbm<TestType>(13, 9, rng, 1.5);
  const auto X = random_binary<TestType>(21, 13, rng);
  const EvaluationCheck check = check_evaluation(rbm, X, 4);
  INFO("energy " << check.energy << ", input gradient " << check.input_gradient << ", param gradient "
                 << check.param_gradient << ", all deltas " << check.all_flip_deltas << ", selected "
                 << check.selected_flip_deltas << ", flip gradient " << check.flip_gradient << ", scan "
                 << check.gibbs_scan);
  CHECK(check.passed(Tolerance<TestType>::relative * 10));
  // Exact ratio matching through the evaluation equals the generic flipped-row path.
  Vector<TestType> g_own, g_generic;
  RequiredOnly generic(const_cast<BernoulliRBM<TestType>&>(rbm));
  const TestType own = RatioMatching<>().loss_and_gradient(rbm, X, rng, g_own);
  const TestType reference = RatioMatching<>().loss_and_gradient(generic, X, rng, g_generic);
  CHECK(own == Approx(reference).epsilon(Tolerance<TestType>::relative * 10));
  CHECK(compare_gradients(g_own, g_generic).relative_error < Tolerance<TestType>::relative * 10);
}

TEST_CASE("BernoulliRBM::log_partition sums over the smaller layer and equals enumeration of all visible states",
          "[models][rbm][log-partition]") {
  std::mt19937_64 rng(304);
  const auto wide = random_rbm<double>(10, 4, rng, 1.2);  // sums over the 4 hidden units
  CHECK(wide.log_partition() == Approx(log_partition(wide)).epsilon(1e-12));
  const auto narrow = random_rbm<double>(6, 11, rng, 1.2);  // sums over the 6 visible units
  CHECK(narrow.log_partition() == Approx(log_partition(narrow)).epsilon(1e-12));
  // Large weights: the sum is taken in log space without overflow.
  auto large = random_rbm<double>(9, 5, rng, 1.0);
  large.params() *= 60.0;
  CHECK(std::isfinite(large.log_partition()));
  CHECK(large.log_partition() == Approx(log_partition(large)).epsilon(1e-12));
  // A zero RBM: Z = 2^d · 2^m.
  const BernoulliRBM<float> zero(30, 3);
  CHECK(zero.log_partition() == Approx(33 * std::log(2.0)).epsilon(1e-12));
  REQUIRE_THROWS_WITH(BernoulliRBM<float>(30, 25).log_partition(),
                      Contains("ratiomatch::BernoulliRBM::log_partition") && Contains("annealed importance sampling"));
}

TEST_CASE("BernoulliRBM conditionals are the logistic of the layer inputs", "[models][rbm]") {
  std::mt19937_64 rng(305);
  const auto rbm = random_rbm<double>(6, 3, rng);
  const auto X = random_binary<double>(4, 6, rng);
  const auto H = random_binary<double>(4, 3, rng);
  Matrix<double> P, Q;
  rbm.hidden_probabilities(X, P);
  rbm.visible_probabilities(H, Q);
  for (Index r = 0; r < 4; ++r) {
    for (Index j = 0; j < 3; ++j) {
      // p(h_j = 1 | x) from the joint: E(x, h) differs by −(c_j + W_j·x) when h_j = 1.
      const double field = rbm.hidden_bias()(j) + rbm.weight().row(j).dot(X.row(r));
      CHECK(P(r, j) == Approx(1 / (1 + std::exp(-field))).epsilon(1e-12));
    }
    for (Index i = 0; i < 6; ++i) {
      const double field = rbm.visible_bias()(i) + rbm.weight().col(i).dot(H.row(r));
      CHECK(Q(r, i) == Approx(1 / (1 + std::exp(-field))).epsilon(1e-12));
    }
  }
  REQUIRE_THROWS_WITH(rbm.visible_probabilities(random_binary<double>(2, 4, rng), Q), Contains("H.cols() (4)"));
}

TEST_CASE("BernoulliRBM initialisation and visible biases from data marginals", "[models][rbm]") {
  std::mt19937_64 rng(306);
  BernoulliRBM<double> rbm(200, 50);
  rbm.initialize(rng);
  const double sd = std::sqrt(rbm.weight().array().square().mean());
  CHECK(sd == Approx(0.01).epsilon(0.05));
  CHECK(rbm.visible_bias().isZero());
  CHECK(rbm.hidden_bias().isZero());
  Matrix<double> X = Matrix<double>::Zero(8, 200);
  X.col(0).setOnes();
  X.col(1).head(2).setOnes();
  rbm.set_visible_bias_from_data(X);  // add-one smoothing: p = (k + 1) / (n + 2)
  CHECK(rbm.visible_bias()(0) == Approx(std::log(9.0 / 1.0)));
  CHECK(rbm.visible_bias()(1) == Approx(std::log(3.0 / 7.0)));
  CHECK(rbm.visible_bias()(2) == Approx(std::log(1.0 / 9.0)));
  REQUIRE_THROWS_AS(rbm.set_visible_bias_from_data(X, 0.0), std::invalid_argument);
  REQUIRE_THROWS_WITH(BernoulliRBM<float>(0, 3), Contains("visible (0) must be positive"));
}

TEST_CASE("annealed_log_partition agrees with the exact log Z of 784-visible RBMs within 3 standard errors",
          "[models][rbm][ais]") {
  std::mt19937_64 rng(307);
  for (const auto& [hidden, scale] : {std::pair<Index, double>{12, 0.05}, {18, 0.12}}) {
    BernoulliRBM<double> rbm(784, hidden);
    for (Index k = 0; k < rbm.num_params(); ++k) rbm.params()(k) = scale * standard_normal(rng);
    rbm.visible_bias().array() -= 1.0;  // sparse visible units, like binarised images
    const Vector<double> base = rbm.visible_bias();
    const double exact = rbm.log_partition();
    const LogPartitionEstimate ais = annealed_log_partition(rbm, base, {.runs = 100, .temperatures = 1500}, rng);
    INFO("hidden " << hidden << ", scale " << scale << ": exact " << exact << ", AIS " << ais.log_partition << " ± "
                   << ais.standard_error);
    CHECK(std::abs(ais.log_partition - exact) < 3 * ais.standard_error + 1e-9);
    CHECK(ais.standard_error < 0.5);
    CHECK(ais.log_weights.size() == 100);
  }
}

TEST_CASE("annealed_log_partition is exact when the model is its base", "[models][rbm][ais]") {
  std::mt19937_64 rng(308);
  BernoulliRBM<double> rbm(30, 5);
  rbm.visible_bias().setRandom();
  const LogPartitionEstimate ais = annealed_log_partition(rbm, rbm.visible_bias(), {.runs = 10, .temperatures = 20}, rng);
  CHECK(ais.log_partition == Approx(rbm.log_partition()).epsilon(1e-12));
  CHECK(ais.standard_error < 1e-12);
  REQUIRE_THROWS_WITH(annealed_log_partition(rbm, Vector<double>::Zero(3), {}, rng), Contains("base_visible_bias.size() (3)"));
  REQUIRE_THROWS_WITH(annealed_log_partition(rbm, rbm.visible_bias(), {.runs = 5, .temperatures = 2}, rng),
                      Contains("temperatures (2)"));
  const auto schedule = ais_schedule(14500);
  CHECK(schedule.size() == 14501);
  CHECK(schedule.front() == 0.0);
  CHECK(schedule.back() == 1.0);
  CHECK(std::is_sorted(schedule.begin(), schedule.end()));
  CHECK(schedule[1000] == Approx(0.5));
  CHECK(schedule[5000] == Approx(0.9));
}
