#include <catch2/catch.hpp>

#include <limits>
#include <random>

#include <ratiomatch/core/finite_difference.hpp>
#include <ratiomatch/core/check_evaluation.hpp>
#include <ratiomatch/models/ising_model.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

// A model with every parameter random, including a non-symmetric J with a non-zero
// diagonal, so that the tests see what the energy does with each entry.
template <class S>
IsingModel<S> random_ising(Index d, std::mt19937_64& rng) {
  IsingModel<S> model(d);
  auto theta = model.params();
  for (Index k = 0; k < theta.size(); ++k) theta(k) = static_cast<S>(uniform_open01(rng) - 0.5);
  return model;
}

// E(x) = −(Σ_{i≠j} J_ij s_i s_j + Σ_i b_i s_i) by explicit loops.
template <class S>
double ising_energy_by_loops(const IsingModel<S>& model, const Matrix<S>& X, Index r) {
  const Index d = model.dim();
  double e = 0;
  for (Index i = 0; i < d; ++i) {
    const double si = 2.0 * X(r, i) - 1.0;
    e -= model.bias()(i) * si;
    for (Index j = 0; j < d; ++j)
      if (i != j) e -= model.coupling()(i, j) * si * (2.0 * X(r, j) - 1.0);
  }
  return e;
}

}  // namespace

TEMPLATE_TEST_CASE("IsingModel energy is −(Σ_{i≠j} J_ij s_i s_j + bᵀs)", "[models][ising]", float, double) {
  std::mt19937_64 rng(11);
  const auto model = random_ising<TestType>(7, rng);
  const Matrix<TestType> X = all_states<TestType>(7);
  Vector<TestType> e;
  model.energy(X, e);
  REQUIRE(e.size() == X.rows());
  for (Index r = 0; r < X.rows(); ++r)
    REQUIRE(e(r) == Approx(ising_energy_by_loops(model, X, r)).epsilon(Tolerance<TestType>::relative).margin(1e-5));
}

TEST_CASE("IsingModel input gradient agrees with finite differences", "[models][ising][gradient]") {
  std::mt19937_64 rng(12);
  const auto model = random_ising<double>(9, rng);
  const auto X = random_binary<double>(6, 9, rng);
  const auto check = check_input_gradient(model, X);
  INFO("relative error " << check.relative_error);
  REQUIRE(check.passed(1e-6));
}

TEST_CASE("IsingModel parameter gradient agrees with finite differences", "[models][ising][gradient]") {
  std::mt19937_64 rng(13);
  auto model = random_ising<double>(8, rng);
  const auto X = random_binary<double>(5, 8, rng);
  Vector<double> c(5);
  c << 0.3, -1.2, 2.0, 0.7, -0.1;
  const auto check = check_param_gradient(model, X, c);
  INFO("relative error " << check.relative_error);
  REQUIRE(check.passed(1e-6));
  // The diagonal of J carries no energy, so its gradient is exactly zero.
  Vector<double> g = Vector<double>::Zero(model.num_params());
  model.accumulate_param_gradient(X, c, g);
  for (Index i = 0; i < 8; ++i) REQUIRE(g(i * 8 + i) == 0.0);
}

TEST_CASE("IsingModel accumulates into the gradient instead of overwriting it", "[models][ising][gradient]") {
  std::mt19937_64 rng(14);
  const auto model = random_ising<double>(4, rng);
  const auto X = random_binary<double>(3, 4, rng);
  const Vector<double> c = Vector<double>::Ones(3);
  Vector<double> once = Vector<double>::Zero(model.num_params());
  model.accumulate_param_gradient(X, c, once);
  Vector<double> twice = once;
  model.accumulate_param_gradient(X, c, twice);
  REQUIRE((twice - 2 * once).cwiseAbs().maxCoeff() < 1e-12);
}

TEMPLATE_TEST_CASE("IsingModel flip_deltas equal re-evaluated energies of flipped rows", "[models][ising][flips]", float,
                   double) {
  std::mt19937_64 rng(15);
  const Index d = 10, n = 6;
  const auto model = random_ising<TestType>(d, rng);
  const auto X = random_binary<TestType>(n, d, rng);
  Vector<TestType> e, e_flip;
  model.energy(X, e);
  Matrix<TestType> D;
  flip_deltas(model, X, D);
  REQUIRE(D.rows() == n);
  REQUIRE(D.cols() == d);
  for (Index i = 0; i < d; ++i) {
    model.energy(flipped(X, i), e_flip);
    for (Index r = 0; r < n; ++r)
      REQUIRE(D(r, i) == Approx(e_flip(r) - e(r)).epsilon(Tolerance<TestType>::relative).margin(1e-4));
  }
  // The list form gives the same numbers for any (row, bit) pairs, repeats included.
  IndexVector rows(5), bits(5);
  rows << 0, 5, 2, 2, 0;
  bits << 9, 0, 3, 3, 4;
  Vector<TestType> delta;
  flip_deltas(model, X, rows, bits, delta);
  for (Index t = 0; t < 5; ++t)
    REQUIRE(delta(t) == Approx(D(rows(t), bits(t))).epsilon(Tolerance<TestType>::relative).margin(1e-5));
}

TEMPLATE_TEST_CASE("IsingModel selected flip_deltas for one bit (the Gibbs sampler's call) equal the full deltas",
                   "[models][ising][flips]", float, double) {
  std::mt19937_64 rng(17);
  const Index d = 11, n = 40;
  const auto model = random_ising<TestType>(d, rng);
  const auto X = random_binary<TestType>(n, d, rng);
  Matrix<TestType> D;
  flip_deltas(model, X, D);
  IndexVector all_rows(n), bits(n);
  for (Index r = 0; r < n; ++r) all_rows(r) = r;
  Vector<TestType> delta;
  for (Index i = 0; i < d; ++i) {
    bits.setConstant(i);
    flip_deltas(model, X, all_rows, bits, delta);
    REQUIRE(delta.size() == n);
    for (Index r = 0; r < n; ++r)
      REQUIRE(delta(r) == Approx(D(r, i)).epsilon(Tolerance<TestType>::relative).margin(1e-5));
  }
  // One bit, a subset of rows with repeats, in any order; and a list of one flip.
  IndexVector rows(4), same_bit(4);
  rows << 7, 3, 7, 39;
  same_bit.setConstant(5);
  flip_deltas(model, X, rows, same_bit, delta);
  for (Index t = 0; t < 4; ++t)
    REQUIRE(delta(t) == Approx(D(rows(t), 5)).epsilon(Tolerance<TestType>::relative).margin(1e-5));
  flip_deltas(model, X, IndexVector::Constant(1, 2), IndexVector::Constant(1, 10), delta);
  REQUIRE(delta.size() == 1);
  REQUIRE(delta(0) == Approx(D(2, 10)).epsilon(Tolerance<TestType>::relative).margin(1e-5));
  // An empty list gives an empty result; a non-binary entry is still named.
  flip_deltas(model, X, IndexVector(0), IndexVector(0), delta);
  REQUIRE(delta.size() == 0);
  Matrix<TestType> bad = X;
  bad(4, 6) = TestType(0.5);
  REQUIRE_THROWS_WITH(flip_deltas(model, bad, rows, same_bit, delta),
                      "ratiomatch::flip_deltas: X(4, 6) = 0.5 is not binary (entries must be exactly 0 or 1)");
  bad(4, 6) = std::numeric_limits<TestType>::quiet_NaN();
  REQUIRE_THROWS_WITH(flip_deltas(model, bad, rows, same_bit, delta), Contains("X(4, 6) = nan is not binary"));
  bad(4, 6) = std::numeric_limits<TestType>::infinity();
  REQUIRE_THROWS_WITH(flip_deltas(model, bad, rows, same_bit, delta), Contains("X(4, 6) = inf is not binary"));
  bad(4, 6) = std::numeric_limits<TestType>::denorm_min();
  REQUIRE_THROWS_WITH(flip_deltas(model, bad, rows, same_bit, delta), Contains("X(4, 6) = "));
  bad(4, 6) = TestType(1) + std::numeric_limits<TestType>::epsilon();
  REQUIRE_THROWS_WITH(flip_deltas(model, bad, rows, same_bit, delta), Contains("X(4, 6) = "));
  REQUIRE_THROWS_WITH(flip_deltas(model, X, rows, IndexVector::Constant(3, 5), delta),
                      Contains("bits.size() (3) must equal rows.size() (4)"));
  // A bad index is an error in every build, not only a debug assertion.
  typename IsingModel<TestType>::BatchEvaluation evaluation;
  evaluation.bind(model, X);
  REQUIRE_THROWS_WITH(evaluation.flip_deltas(IndexVector::Constant(1, 2), IndexVector::Constant(1, 11), delta),
                      "ratiomatch::IsingModel::BatchEvaluation::flip_deltas: bits(0) (11) is outside [0, 11)");
  REQUIRE_THROWS_WITH(evaluation.flip_deltas(IndexVector::Constant(1, -1), IndexVector::Constant(1, 0), delta),
                      Contains("rows(0) (-1) is outside [0, 40)"));
}

TEMPLATE_TEST_CASE("IsingModel's evaluation passes check_evaluation, also after accepted flips",
                   "[models][ising][flips]", float, double) {
  std::mt19937_64 rng(18);
  const auto model = random_ising<TestType>(13, rng);
  const auto X = random_binary<TestType>(17, 13, rng);
  const EvaluationCheck check = check_evaluation(model, X, 5);
  INFO("energy " << check.energy << ", input gradient " << check.input_gradient << ", param gradient "
                 << check.param_gradient << ", all deltas " << check.all_flip_deltas << ", selected "
                 << check.selected_flip_deltas << ", flip gradient " << check.flip_gradient << ", scan "
                 << check.gibbs_scan);
  CHECK(check.passed(Tolerance<TestType>::relative * 10));
}

TEST_CASE("IsingModel flip deltas are exactly the first-order estimate −(2x−1)⊙∇E", "[models][ising][flips]") {
  std::mt19937_64 rng(16);
  const auto model = random_ising<double>(12, rng);
  const auto X = random_binary<double>(4, 12, rng);
  Matrix<double> D, G;
  flip_deltas(model, X, D);
  model.input_gradient(X, G);
  const Matrix<double> taylor = -((2 * X.array() - 1) * G.array()).matrix();
  REQUIRE((D - taylor).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("IsingModel::periodic_lattice builds σ times the torus adjacency", "[models][ising]") {
  const auto model = IsingModel<double>::periodic_lattice(4, 0.25);
  const auto J = model.coupling();
  REQUIRE(model.dim() == 16);
  REQUIRE((J - J.transpose()).cwiseAbs().maxCoeff() == 0.0);
  REQUIRE(J.diagonal().cwiseAbs().maxCoeff() == 0.0);
  for (Index i = 0; i < 16; ++i) {
    REQUIRE(J.row(i).sum() == Approx(4 * 0.25));
    REQUIRE((J.row(i).array() != 0).count() == 4);
  }
  // Site (0,0) neighbours (0,1), (1,0), (0,3) and (3,0) wrap around.
  REQUIRE(J(0, 1) == 0.25);
  REQUIRE(J(0, 4) == 0.25);
  REQUIRE(J(0, 3) == 0.25);
  REQUIRE(J(0, 12) == 0.25);
  REQUIRE(model.bias().cwiseAbs().maxCoeff() == 0.0);
  REQUIRE_THROWS_AS(IsingModel<double>::periodic_lattice(2, 0.1), std::invalid_argument);
}

TEST_CASE("IsingModel rejects bad input with a clear message", "[models][ising][errors]") {
  IsingModel<double> model(4);
  Vector<double> e;
  Matrix<double> X = Matrix<double>::Zero(2, 4);
  X(1, 3) = 2;
  REQUIRE_THROWS_MATCHES(model.energy(X, e), std::invalid_argument,
                         Catch::Matchers::Message("ratiomatch::IsingModel::energy: X(1, 3) = 2 is not binary "
                                                  "(entries must be exactly 0 or 1)"));
  REQUIRE_THROWS_WITH(model.energy(Matrix<double>::Zero(2, 5), e),
                      "ratiomatch::IsingModel::energy: X.cols() (5) must equal model.dim() (4)");
  REQUIRE_THROWS_WITH(model.energy(Matrix<double>::Zero(0, 4), e), Contains("batch is empty"));
  Vector<double> g = Vector<double>::Zero(3);
  REQUIRE_THROWS_WITH(model.accumulate_param_gradient(Matrix<double>::Zero(2, 4), Vector<double>::Ones(2), g),
                      "ratiomatch::IsingModel::accumulate_param_gradient: g.size() (3) must equal "
                      "model.num_params() (20)");
  g.setZero(20);
  REQUIRE_THROWS_WITH(model.accumulate_param_gradient(Matrix<double>::Zero(2, 4), Vector<double>::Ones(3), g),
                      Contains("c.size() (3) must equal X.rows() (2)"));
  REQUIRE_THROWS_AS(IsingModel<double>(0), std::invalid_argument);
  Matrix<double> G;
  REQUIRE_THROWS_WITH(model.input_gradient(X, G), Contains("ratiomatch::IsingModel::input_gradient: X(1, 3) = 2"));
}
