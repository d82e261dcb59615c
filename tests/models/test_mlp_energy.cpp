#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include <ratiomatch/core/check_evaluation.hpp>
#include <ratiomatch/core/finite_difference.hpp>
#include <ratiomatch/models/mlp_energy.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

const Activation all_activations[] = {Activation::Swish, Activation::Tanh, Activation::Elu, Activation::Softplus,
                                      Activation::LearnableSwish};

double activate_scalar(Activation act, double z, double beta) {
  switch (act) {
    case Activation::Swish: return z / (1 + std::exp(-z));
    case Activation::LearnableSwish: return z / (1 + std::exp(-beta * z));
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
    const bool slope = act == Activation::LearnableSwish;  // β is the last parameter
    REQUIRE(model.num_params() == 2 * 3 + 2 + 1 * 2 + 1 + (slope ? 1 : 0));
    REQUIRE(model.slope() == 1.0);
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
      hidden[j] = activate_scalar(act, z, slope ? theta(11) : 1.0);
    }
    const double expected = theta(8) * hidden[0] + theta(9) * hidden[1] + theta(10);
    Vector<double> e;
    model.energy(X, e);
    INFO(to_string(act));
    REQUIRE(e(0) == Approx(expected).epsilon(1e-14));
    REQUIRE(model.weight(1)(0, 1) == theta(9));
    REQUIRE(model.bias(0)(1) == theta(7));
    if (slope) REQUIRE(model.slope() == theta(11));
  }
}

TEST_CASE("MlpEnergy input gradient agrees with finite differences for every activation",
          "[models][mlp][gradient]") {
  for (const auto act : all_activations) {
    std::mt19937_64 rng(21);
    MlpEnergy<double> model(7, {9, 5}, act);
    model.initialize(rng);
    if (model.has_slope()) model.params()(model.num_params() - 1) = 1.7;
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
    model.params() *= 2.0;  // larger pre-activations: every activation away from its linear part
    if (model.has_slope()) model.params()(model.num_params() - 1) = 1.7;
    const auto X = random_binary<double>(5, 6, rng);
    Vector<double> c(5);
    c << 0.5, -1.5, 2.0, 0.25, -0.75;
    const auto check = check_param_gradient(model, X, c);
    INFO(to_string(act) << ": relative error " << check.relative_error);
    REQUIRE(check.passed(1e-6));
    if (model.has_slope()) {
      // ∂E/∂β on its own: not zero, and its finite difference.
      Vector<double> g = Vector<double>::Zero(model.num_params());
      model.accumulate_param_gradient(X, c, g);
      const Index k = model.num_params() - 1;
      const auto numeric = finite_difference_param_gradient(model, [&] {
        Vector<double> e;
        model.energy(X, e);
        return c.dot(e);
      });
      REQUIRE(std::abs(g(k)) > 1e-3);
      REQUIRE(g(k) == Approx(numeric(k)).epsilon(1e-6));
    }
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
  flip_deltas(model, X, D);
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
  flip_deltas(model, X, rows, bits, delta);
  for (Index t = 0; t < 700; ++t) REQUIRE(delta(t) == Approx(D(rows(t), bits(t))).margin(margin));
}

TEMPLATE_TEST_CASE("MlpEnergy's evaluation: accumulate_flip_gradient equals per-row gradients of flipped and base rows",
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
  flip_deltas(model, X, rows, bits, expected_delta);
  typename MlpEnergy<S>::BatchEvaluation evaluation;
  evaluation.bind(model, X);

  for (const int threads : thread_counts()) {
    ScopedThreads scoped(threads);
    Vector<S> g = Vector<S>::Ones(model.num_params());  // accumulates onto what is there
    Vector<S> seen_delta = Vector<S>::Zero(flips);
    std::vector<int> visits(flips, 0);
    evaluation.accumulate_flip_gradient(
        rows, bits,
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

TEST_CASE("MlpEnergy's evaluation keeps its forward pass current through input gradients, flip gradients and "
          "accepted flips", "[models][mlp][flips]") {
  std::mt19937_64 rng(26);
  const Index d = 12, n = 9;
  MlpEnergy<double> model(d, {10, 7}, Activation::Tanh);
  model.initialize(rng);
  const auto X = random_binary<double>(n, d, rng);
  const auto other = random_binary<double>(n, d, rng);
  IndexVector rows(n), bits(n);
  for (Index r = 0; r < n; ++r) rows(r) = r, bits(r) = (3 * r) % d;
  auto energy_dependent = [](Index, const Eigen::Ref<const Vector<double>>& delta, Eigen::Ref<Vector<double>> c) {
    c = delta;  // any coefficients that depend on the energies
  };
  // Reference: a fresh evaluation per quantity.
  auto fresh_flip_gradient = [&](const Matrix<double>& batch) {
    MlpEnergy<double>::BatchEvaluation fresh;
    fresh.bind(model, batch);
    Vector<double> g = Vector<double>::Zero(model.num_params());
    fresh.accumulate_flip_gradient(rows, bits, energy_dependent, g);
    return g;
  };
  MlpEnergy<double>::BatchEvaluation evaluation, another;
  evaluation.bind(model, X);
  another.bind(model, other);  // a second evaluation of the same const model does not interfere
  Matrix<double> G, G_expected;
  evaluation.input_gradient(G);
  model.input_gradient(X, G_expected);
  CHECK(compare_gradients(G.reshaped(), G_expected.reshaped()).relative_error < 1e-14);
  Vector<double> g = Vector<double>::Zero(model.num_params());
  evaluation.accumulate_flip_gradient(rows, bits, energy_dependent, g);
  CHECK(compare_gradients(g, fresh_flip_gradient(X)).relative_error < 1e-14);
  // Accept half of a list of flips: the batch, energies, input gradient and flip gradient
  // afterwards equal those of a fresh evaluation of the flipped batch.
  Vector<double> delta;
  evaluation.flip_deltas(rows, bits, delta);
  IndexVector accepted(3);
  accepted << 0, 4, 7;
  evaluation.accept_flips(accepted);
  Matrix<double> moved = X;
  for (const Index t : {0, 4, 7}) moved(rows(t), bits(t)) = 1 - moved(rows(t), bits(t));
  REQUIRE(evaluation.batch() == moved);
  Vector<double> e_moved;
  model.energy(moved, e_moved);
  CHECK(compare_gradients(evaluation.energy(), e_moved).relative_error < 1e-14);
  g.setZero();
  evaluation.accumulate_flip_gradient(rows, bits, energy_dependent, g);
  CHECK(compare_gradients(g, fresh_flip_gradient(moved)).relative_error < 1e-13);
  evaluation.input_gradient(G);
  model.input_gradient(moved, G_expected);
  CHECK(compare_gradients(G.reshaped(), G_expected.reshaped()).relative_error < 1e-13);
  // accept_flips refers to the last flip_deltas list, each row once.
  REQUIRE_THROWS_WITH(evaluation.accept_flips(accepted), Contains("outside the last flip list"));
  evaluation.flip_deltas(rows, bits, delta);
  IndexVector twice(2);
  twice << 1, 1;
  REQUIRE_THROWS_WITH(evaluation.accept_flips(twice), Contains("a second time"));
}

TEST_CASE("a const MlpEnergy is shared by threads, each with its own evaluation", "[models][mlp][threads]") {
  std::mt19937_64 rng(27);
  const Index d = 20, n = 40;
  MlpEnergy<double> trained(d, {16, 16}, Activation::Swish);
  trained.initialize(rng);
  const MlpEnergy<double>& model = trained;
  std::vector<Matrix<double>> batches;
  for (int k = 0; k < 4; ++k) batches.push_back(random_binary<double>(n, d, rng));
  auto all_deltas = [&](const Matrix<double>& X) {
    MlpEnergy<double>::BatchEvaluation evaluation;
    evaluation.bind(model, X);
    Matrix<double> D;
    evaluation.flip_deltas(D);
    Matrix<double> G;
    evaluation.input_gradient(G);
    return std::pair{D, G};
  };
  std::vector<std::pair<Matrix<double>, Matrix<double>>> serial, parallel(batches.size());
  for (const auto& X : batches) serial.push_back(all_deltas(X));
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < batches.size(); ++k)
    threads.emplace_back([&, k] {
      ScopedThreads one(1);  // no nested OpenMP teams inside the test's own threads
      for (int repeat = 0; repeat < 20; ++repeat) parallel[k] = all_deltas(batches[k]);
    });
  for (auto& thread : threads) thread.join();
  for (std::size_t k = 0; k < batches.size(); ++k) {
    CHECK(parallel[k].first == serial[k].first);
    CHECK(parallel[k].second == serial[k].second);
  }
}

TEMPLATE_TEST_CASE("MlpEnergy's evaluation passes check_evaluation for every activation", "[models][mlp][flips]",
                   float, double) {
  std::mt19937_64 rng(28);
  for (const Activation activation : all_activations) {
    MlpEnergy<TestType> model(14, {11, 9}, activation);
    model.initialize(rng);
    model.params() *= TestType(2);  // β = 2 for LearnableSwish
    const auto X = random_binary<TestType>(23, 14, rng);
    for (const int threads : thread_counts()) {
      ScopedThreads scoped(threads);
      const EvaluationCheck check = check_evaluation(model, X, 3);
      INFO("threads " << threads << ": energy " << check.energy << ", input gradient " << check.input_gradient
                      << ", param gradient " << check.param_gradient << ", all deltas " << check.all_flip_deltas
                      << ", selected " << check.selected_flip_deltas << ", flip gradient " << check.flip_gradient
                      << ", scan " << check.gibbs_scan);
      CHECK(check.passed(Tolerance<TestType>::relative * 10));
    }
  }
  // One hidden layer less: the output layer sits right on the first.
  MlpEnergy<TestType> linear(9, {}, Activation::Swish);
  linear.initialize(rng);
  CHECK(check_evaluation(linear, random_binary<TestType>(5, 9, rng)).passed(Tolerance<TestType>::relative * 10));
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
  REQUIRE_THROWS_WITH(flip_deltas(model, X, D), Contains("ratiomatch::flip_deltas: X(2, 0) = -1"));
  IndexVector rows(1), bits(1);
  rows << 0;
  bits << 4;
  Vector<float> delta;
  REQUIRE_THROWS_WITH(flip_deltas(model, Matrix<float>::Zero(1, 4), rows, bits, delta),
                      Contains("bits(0) (4) is outside [0, 4)"));
  MlpEnergy<float>::BatchEvaluation evaluation;
  evaluation.bind(model, Matrix<float>::Zero(1, 4));
  REQUIRE_THROWS_WITH(evaluation.flip_deltas(rows, bits, delta),
                      Contains("ratiomatch::MlpEnergy::BatchEvaluation::flip_deltas: bits(0) (4)"));
  rows << 1;
  bits << 0;
  REQUIRE_THROWS_WITH(evaluation.flip_deltas(rows, bits, delta), Contains("rows(0) (1) is outside [0, 1)"));
  REQUIRE_THROWS_WITH(MlpEnergy<float>(4, {3, 0}), "ratiomatch::MlpEnergy::MlpEnergy: hidden[1] (0) must be positive");
}
