#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include <ratiomatch/core/finite_difference.hpp>
#include <ratiomatch/models/mlp_energy.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

const Activation all_activations[] = {Activation::Swish, Activation::Tanh, Activation::Elu, Activation::Softplus};

double activate_scalar(Activation act, double z) {
  switch (act) {
    case Activation::Swish: return z / (1 + std::exp(-z));
    case Activation::Tanh: return std::tanh(z);
    case Activation::Elu: return z > 0 ? z : std::expm1(z);
    case Activation::Softplus: return std::log1p(std::exp(z));
  }
  return 0;
}

}  // namespace

TEST_CASE("MlpEnergy params() follow PyTorch nn.Linear order: W row-major, then b, per layer",
          "[models][mlp]") {
  for (const auto act : all_activations) {
    MlpEnergy<double> model(3, {2}, act);
    REQUIRE(model.num_params() == 2 * 3 + 2 + 1 * 2 + 1);
    Vector<double> theta(model.num_params());
    for (Index k = 0; k < theta.size(); ++k) theta(k) = 0.1 * (k + 1) * (k % 2 ? -1 : 1);
    model.params() = theta;
    // Layer 0: W0 = theta[0..5] as 2×3 row-major, b0 = theta[6..7]; layer 1: W1 = theta[8..9], b1 = theta[10].
    Matrix<double> X(1, 3);
    X << 1, 0, 1;
    double hidden[2];
    for (int j = 0; j < 2; ++j) {
      double z = theta(6 + j);
      for (int i = 0; i < 3; ++i) z += theta(j * 3 + i) * X(0, i);
      hidden[j] = activate_scalar(act, z);
    }
    const double expected = theta(8) * hidden[0] + theta(9) * hidden[1] + theta(10);
    Vector<double> e;
    model.energy(X, e);
    INFO(to_string(act));
    REQUIRE(e(0) == Approx(expected).epsilon(1e-14));
    REQUIRE(model.weight(1)(0, 1) == theta(9));
    REQUIRE(model.bias(0)(1) == theta(7));
  }
}

TEST_CASE("MlpEnergy input gradient agrees with finite differences for every activation",
          "[models][mlp][gradient]") {
  for (const auto act : all_activations) {
    std::mt19937_64 rng(21);
    MlpEnergy<double> model(7, {9, 5}, act);
    model.initialize(rng);
    const auto X = random_binary<double>(6, 7, rng);
    const auto check = check_input_gradient(model, X);
    INFO(to_string(act) << ": relative error " << check.relative_error);
    REQUIRE(check.passed(1e-6));
  }
}

TEST_CASE("MlpEnergy weighted parameter gradient agrees with finite differences for every activation",
          "[models][mlp][gradient]") {
  for (const auto act : all_activations) {
    std::mt19937_64 rng(22);
    MlpEnergy<double> model(6, {8, 7, 5}, act);
    model.initialize(rng);
    const auto X = random_binary<double>(5, 6, rng);
    Vector<double> c(5);
    c << 0.5, -1.5, 2.0, 0.25, -0.75;
    const auto check = check_param_gradient(model, X, c);
    INFO(to_string(act) << ": relative error " << check.relative_error);
    REQUIRE(check.passed(1e-6));
  }
}

TEST_CASE("MlpEnergy without hidden layers is an affine energy", "[models][mlp]") {
  std::mt19937_64 rng(23);
  MlpEnergy<double> model(5, {});
  model.initialize(rng);
  const auto X = random_binary<double>(4, 5, rng);
  Vector<double> e;
  model.energy(X, e);
  const Vector<double> expected = (X * model.weight(0).transpose()).array() + model.bias(0)(0);
  REQUIRE((e - expected).cwiseAbs().maxCoeff() < 1e-14);
  REQUIRE(check_param_gradient(model, X, Vector<double>::Ones(4)).passed(1e-6));
}

TEMPLATE_TEST_CASE("MlpEnergy flip_deltas equal re-evaluated energies of flipped rows", "[models][mlp][flips]", float,
                   double) {
  std::mt19937_64 rng(24);
  // n·d = 1200 flips spans three blocks of flip_block_rows.
  const Index d = 40, n = 30;
  MlpEnergy<TestType> model(d, {16, 12}, Activation::Swish);
  model.initialize(rng);
  const auto X = random_binary<TestType>(n, d, rng);
  Vector<TestType> e, e_flip;
  model.energy(X, e);
  Matrix<TestType> D;
  model.flip_deltas(X, D);
  REQUIRE(D.rows() == n);
  REQUIRE(D.cols() == d);
  const double margin = std::is_same_v<TestType, float> ? 1e-5 : 1e-12;
  for (Index i = 0; i < d; ++i) {
    model.energy(flipped(X, i), e_flip);
    for (Index r = 0; r < n; ++r) REQUIRE(D(r, i) == Approx(e_flip(r) - e(r)).margin(margin));
  }
  std::uniform_int_distribution<Index> pick_row(0, n - 1), pick_bit(0, d - 1);
  IndexVector rows(700), bits(700);
  for (Index t = 0; t < 700; ++t) {
    rows(t) = pick_row(rng);
    bits(t) = pick_bit(rng);
  }
  Vector<TestType> delta;
  model.flip_deltas(X, rows, bits, delta);
  for (Index t = 0; t < 700; ++t) REQUIRE(delta(t) == Approx(D(rows(t), bits(t))).margin(margin));
}

TEMPLATE_TEST_CASE("MlpEnergy accumulate_flip_gradient equals per-row gradients of flipped and base rows",
                   "[models][mlp][flips]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(25);
  // 1500 flips with repeated rows and bits, in random order, span several blocks per thread.
  const Index d = 40, n = 30, flips = 1500;
  MlpEnergy<S> model(d, {16, 12}, Activation::Swish);
  model.initialize(rng);
  model.params() *= S(2);
  const auto X = random_binary<S>(n, d, rng);
  std::uniform_int_distribution<Index> pick_row(0, n - 1), pick_bit(0, d - 1);
  IndexVector rows(flips), bits(flips);
  Vector<S> c(flips);
  for (Index t = 0; t < flips; ++t) {
    rows(t) = pick_row(rng);
    bits(t) = pick_bit(rng);
    c(t) = static_cast<S>(uniform_open01(rng) - 0.3);
  }
  // Reference: Σ_t c_t ∇E(flipped row t) − Σ_t c_t ∇E(base row r_t), from the plain backward pass.
  Matrix<S> flipped_rows(flips, d);
  Vector<S> base_c = Vector<S>::Zero(n);
  for (Index t = 0; t < flips; ++t) {
    flipped_rows.row(t) = X.row(rows(t));
    flipped_rows(t, bits(t)) = S(1) - flipped_rows(t, bits(t));
    base_c(rows(t)) -= c(t);
  }
  Vector<S> expected = Vector<S>::Zero(model.num_params());
  model.accumulate_param_gradient(flipped_rows, c, expected);
  model.accumulate_param_gradient(X, base_c, expected);
  Vector<S> expected_delta;
  model.flip_deltas(X, rows, bits, expected_delta);

  for (const int threads : thread_counts()) {
    ScopedThreads scoped(threads);
    Vector<S> g = Vector<S>::Ones(model.num_params());  // accumulates onto what is there
    Vector<S> seen_delta = Vector<S>::Zero(flips);
    std::vector<int> visits(flips, 0);
    model.accumulate_flip_gradient(
        X, rows, bits,
        [&](Index start, const Eigen::Ref<const Vector<S>>& delta, Eigen::Ref<Vector<S>> out) {
          for (Index k = 0; k < delta.size(); ++k) {
            seen_delta(start + k) = delta(k);
            ++visits[start + k];
            out(k) = c(start + k);
          }
        },
        g);
    INFO("threads " << threads);
    CHECK(std::all_of(visits.begin(), visits.end(), [](int v) { return v == 1; }));
    CHECK(compare_gradients(seen_delta, expected_delta).relative_error < Tolerance<S>::relative);
    g.array() -= S(1);
    CHECK(compare_gradients(g, expected).relative_error < Tolerance<S>::relative * 10);
  }
}

TEST_CASE("MlpEnergy reuses the batch's forward pass only right after input_gradient on the same batch",
          "[models][mlp][flips]") {
  std::mt19937_64 rng(26);
  const Index d = 12, n = 9;
  MlpEnergy<double> model(d, {10, 7}, Activation::Tanh);
  model.initialize(rng);
  const auto X = random_binary<double>(n, d, rng);
  const auto other = random_binary<double>(n, d, rng);
  IndexVector rows(n), bits(n);
  for (Index r = 0; r < n; ++r) rows(r) = r, bits(r) = (3 * r) % d;
  auto unit = [](Index, const Eigen::Ref<const Vector<double>>& delta, Eigen::Ref<Vector<double>> c) {
    c = delta;  // any coefficients that depend on the energies
  };
  Vector<double> expected = Vector<double>::Zero(model.num_params());
  model.accumulate_flip_gradient(X, rows, bits, unit, expected);
  Matrix<double> G;
  auto reused = [&] {
    Vector<double> g = Vector<double>::Zero(model.num_params());
    model.accumulate_flip_gradient(X, rows, bits, unit, g, BaseForward::Reuse);
    return g;
  };
  model.input_gradient(X, G);
  CHECK(compare_gradients(reused(), expected).relative_error < 1e-14);
  // After a call on another batch, Reuse must not pick up that batch's forward pass.
  model.input_gradient(X, G);
  Vector<double> e;
  model.energy(other, e);
  CHECK(compare_gradients(reused(), expected).relative_error < 1e-14);
  model.input_gradient(other, G);
  CHECK(compare_gradients(reused(), expected).relative_error < 1e-14);
}

TEST_CASE("MlpEnergy::initialize draws like torch.nn.Linear: uniform in ±1/sqrt(fan_in)", "[models][mlp]") {
  std::mt19937_64 rng(25);
  MlpEnergy<double> model(64, {100}, Activation::Tanh);
  model.initialize(rng);
  const double bound0 = 1 / std::sqrt(64.0), bound1 = 1 / std::sqrt(100.0);
  REQUIRE(model.weight(0).cwiseAbs().maxCoeff() <= bound0);
  REQUIRE(model.bias(0).cwiseAbs().maxCoeff() <= bound0);
  REQUIRE(model.weight(1).cwiseAbs().maxCoeff() <= bound1);
  // Uniform(−a, a) has variance a²/3; with 6400 draws the sample variance is within a few percent.
  const double var = model.weight(0).array().square().mean();
  REQUIRE(var == Approx(bound0 * bound0 / 3).epsilon(0.06));
  REQUIRE(model.weight(0).cwiseAbs().maxCoeff() > 0.95 * bound0);
}

TEST_CASE("MlpEnergy rejects bad input with a clear message", "[models][mlp][errors]") {
  MlpEnergy<float> model(4, {3});
  Vector<float> e;
  Matrix<float> X = Matrix<float>::Zero(3, 4);
  X(2, 0) = -1;
  REQUIRE_THROWS_MATCHES(model.energy(X, e), std::invalid_argument,
                         Catch::Matchers::Message("ratiomatch::MlpEnergy::energy: X(2, 0) = -1 is not binary "
                                                  "(entries must be exactly 0 or 1)"));
  REQUIRE_THROWS_WITH(model.energy(Matrix<float>::Zero(1, 3), e),
                      "ratiomatch::MlpEnergy::energy: X.cols() (3) must equal model.dim() (4)");
  REQUIRE_THROWS_WITH(model.energy(Matrix<float>::Zero(0, 4), e), Contains("batch is empty"));
  Vector<float> g = Vector<float>::Zero(5);
  REQUIRE_THROWS_WITH(model.accumulate_param_gradient(Matrix<float>::Zero(2, 4), Vector<float>::Ones(2), g),
                      "ratiomatch::MlpEnergy::accumulate_param_gradient: g.size() (5) must equal "
                      "model.num_params() (19)");
  Matrix<float> D;
  REQUIRE_THROWS_WITH(model.flip_deltas(X, D), Contains("ratiomatch::MlpEnergy::flip_deltas: X(2, 0) = -1"));
  IndexVector rows(1), bits(1);
  rows << 0;
  bits << 4;
  Vector<float> delta;
  REQUIRE_THROWS_WITH(model.flip_deltas(Matrix<float>::Zero(1, 4), rows, bits, delta), Contains("bit index"));
  REQUIRE_THROWS_WITH(MlpEnergy<float>(4, {3, 0}), "ratiomatch::MlpEnergy::MlpEnergy: hidden[1] (0) must be positive");
}
