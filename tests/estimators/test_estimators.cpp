// Exact ratio matching against brute force, the fast path against the generic one, every
// estimator's gradient against finite differences of its own loss, and bad input.
#include <catch2/catch.hpp>

#include <random>

#include <ratiomatch/core/finite_difference.hpp>
#include <ratiomatch/core/required_only.hpp>
#include <ratiomatch/estimators/gradient_guided_rm.hpp>
#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/estimators/uniform_sampled_rm.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/models/mlp_energy.hpp>

#include "estimators/estimator_test_models.hpp"
#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

template <class S>
MlpEnergy<S> small_mlp(Index d, std::uint64_t seed) {
  MlpEnergy<S> model(d, {8, 6}, Activation::Swish);
  std::mt19937_64 rng(seed);
  model.initialize(rng);
  // Larger weights than the default make the flip ratios far from 1, so that a wrong
  // objective or weight shows.
  model.params() *= S(3);
  return model;
}

template <class S>
IsingModel<S> random_ising(Index d, std::uint64_t seed, double scale = 0.3) {
  IsingModel<S> model(d);
  std::mt19937_64 rng(seed);
  auto J = model.coupling();
  for (Index i = 0; i < d; ++i)
    for (Index j = i + 1; j < d; ++j) J(i, j) = J(j, i) = static_cast<S>(scale * (uniform_open01(rng) - 0.5));
  for (Index i = 0; i < d; ++i) model.bias()(i) = static_cast<S>(scale * (uniform_open01(rng) - 0.5));
  return model;
}

// (1/n) Σ_r Σ_i f(E(x_r with bit i flipped) − E(x_r)), by re-evaluating every flipped batch.
template <RatioObjective O, class M>
double brute_force_rm(const M& model, const Matrix<typename M::Scalar>& X) {
  Vector<typename M::Scalar> e, e_flip;
  model.energy(X, e);
  double total = 0;
  for (Index i = 0; i < X.cols(); ++i) {
    model.energy(flipped(X, i), e_flip);
    for (Index r = 0; r < X.rows(); ++r) total += ratio_value<O>(static_cast<double>(e_flip(r) - e(r)));
  }
  return total / X.rows();
}

template <class Estimator, class M>
GradientCheck check_estimator_gradient(const Estimator& estimator, M& model, const Matrix<double>& X,
                                       std::uint64_t seed) {
  Vector<double> analytic;
  std::mt19937_64 rng(seed);
  estimator.loss_and_gradient(model, X, rng, analytic);
  const auto numeric = finite_difference_param_gradient(model, [&] {
    std::mt19937_64 same(seed);  // common random numbers
    return estimator.loss(model, X, same);
  });
  return compare_gradients(analytic, numeric);
}

}  // namespace

TEMPLATE_TEST_CASE("RatioMatching equals brute-force re-evaluation of every flipped row", "[estimators][exact]",
                   SquaredRatio, HyvarinenRatio, SqrtRatio) {
  const RatioMatching<TestType> rm;
  std::mt19937_64 rng(41);
  const auto X = random_binary<double>(7, 6, rng);
  const auto mlp = small_mlp<double>(6, 1);
  const auto ising = random_ising<double>(6, 2, 1.0);
  CHECK(rm.loss(mlp, X) == Approx(brute_force_rm<TestType>(mlp, X)).epsilon(1e-12));
  CHECK(rm.loss(ising, X) == Approx(brute_force_rm<TestType>(ising, X)).epsilon(1e-12));
  Vector<double> grad;
  const double with_gradient = rm.loss_and_gradient(mlp, X, rng, grad);
  CHECK(with_gradient == Approx(brute_force_rm<TestType>(mlp, X)).epsilon(1e-12));
  CHECK(grad.size() == mlp.num_params());
}

TEST_CASE("RatioMatching's default objective is the paper's squared ratio", "[estimators][exact]") {
  static_assert(std::is_same_v<RatioMatching<>::objective_type, SquaredRatio>);
  static_assert(RatioMatching<>::temperature == 4 && RatioMatching<SqrtRatio>::temperature == 1);
  // One flip with ΔE = E(x_{−i}) − E(x) = 0.3 contributes exp(−0.6).
  MlpEnergy<double> model(1, {});
  model.weight(0)(0, 0) = 0.3;  // E(x) = 0.3 x
  Matrix<double> X(1, 1);
  X << 0;
  RatioMatching rm;
  CHECK(rm.loss(model, X) == Approx(std::exp(-0.6)).epsilon(1e-15));
  CHECK(RatioMatching<HyvarinenRatio>().loss(model, X) == Approx(std::pow(1 / (1 + std::exp(0.3)), 2)).epsilon(1e-15));
  CHECK(RatioMatching<SqrtRatio>().loss(model, X) == Approx(std::exp(-0.15)).epsilon(1e-15));
}

TEMPLATE_TEST_CASE("every estimator's gradient agrees with finite differences of its own loss",
                   "[estimators][gradient]", SquaredRatio, HyvarinenRatio, SqrtRatio) {
  std::mt19937_64 rng(42);
  const auto X = random_binary<double>(5, 6, rng);
  auto mlp = small_mlp<double>(6, 3);
  auto ising = random_ising<double>(6, 4, 1.0);
  const RatioMatching<TestType> exact;
  const UniformSampledRM<TestType> uniform(4);
  const GradientGuidedRM<TestType> basic(4, GuidedVariant::Basic);
  const GradientGuidedRM<TestType> advanced(3, GuidedVariant::Advanced);
  // The proposal is a stop-gradient quantity: freeze it so that the finite differences see
  // the same fixed flips and weights as the analytic gradient.
  FrozenInputGradient<MlpEnergy<double>> frozen_mlp(mlp, X);
  FrozenInputGradient<IsingModel<double>> frozen_ising(ising, X);
  for (const std::uint64_t seed : {7u, 8u}) {
    CHECK(check_estimator_gradient(exact, mlp, X, seed).passed(1e-6));
    CHECK(check_estimator_gradient(exact, ising, X, seed).passed(1e-6));
    CHECK(check_estimator_gradient(uniform, mlp, X, seed).passed(1e-6));
    CHECK(check_estimator_gradient(uniform, ising, X, seed).passed(1e-6));
    CHECK(check_estimator_gradient(basic, frozen_mlp, X, seed).passed(1e-6));
    CHECK(check_estimator_gradient(basic, frozen_ising, X, seed).passed(1e-6));
    CHECK(check_estimator_gradient(advanced, frozen_mlp, X, seed).passed(1e-6));
    CHECK(check_estimator_gradient(advanced, frozen_ising, X, seed).passed(1e-6));
  }
}

TEST_CASE("the basic estimator's gradient holds the proposal fixed (stop-gradient)", "[estimators][gradient]") {
  // Differentiating through n(i) — as the public PyTorch code does — gives another vector.
  std::mt19937_64 rng(43);
  const auto X = random_binary<double>(5, 6, rng);
  auto mlp = small_mlp<double>(6, 5);
  const GradientGuidedRM basic(4, GuidedVariant::Basic);
  Vector<double> analytic;
  std::mt19937_64 r1(9);
  basic.loss_and_gradient(mlp, X, r1, analytic);
  const auto through_proposal = finite_difference_param_gradient(mlp, [&] {
    std::mt19937_64 same(9);
    return basic.loss(mlp, X, same);
  });
  CHECK(compare_gradients(analytic, through_proposal).relative_error > 1e-3);
}

TEMPLATE_TEST_CASE("the models' own evaluations equal the generic flipped-row evaluation", "[estimators][paths]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(44);
  const Index d = 12, n = 9;
  const auto X = random_binary<S>(n, d, rng);
  auto mlp = small_mlp<S>(d, 6);
  auto ising = random_ising<S>(d, 7, 0.5);
  RequiredOnly generic_mlp(mlp);
  RequiredOnly generic_ising(ising);
  static_assert(!HasBatchEvaluation<RequiredOnly<MlpEnergy<S>>> && HasBatchEvaluation<MlpEnergy<S>>);
  const double tol = Tolerance<S>::relative * 10;
  auto compare = [&](const auto& estimator, auto& fast, auto& generic) {
    Vector<S> g_fast, g_generic;
    std::mt19937_64 r1(5), r2(5);
    const S l_fast = estimator.loss_and_gradient(fast, X, r1, g_fast);
    const S l_generic = estimator.loss_and_gradient(generic, X, r2, g_generic);
    CHECK(l_fast == Approx(l_generic).epsilon(tol));
    CHECK(compare_gradients(g_fast, g_generic).relative_error < tol);
  };
  compare(RatioMatching<>(), mlp, generic_mlp);
  compare(RatioMatching<HyvarinenRatio>(), ising, generic_ising);
  compare(UniformSampledRM<>(5), mlp, generic_mlp);
  compare(GradientGuidedRM<>(5, GuidedVariant::Basic), mlp, generic_mlp);
  compare(GradientGuidedRM<SqrtRatio>(5, GuidedVariant::Advanced), ising, generic_ising);
}

TEST_CASE("the fused flip gradient of MlpEnergy's evaluation equals the generic path at every thread count",
          "[estimators][paths]") {
  std::mt19937_64 rng(46);
  // n·d = 1200 flips for exact ratio matching: several blocks per thread.
  const Index d = 40, n = 30;
  const auto X = random_binary<double>(n, d, rng);
  auto mlp = small_mlp<double>(d, 9);
  mlp.params() *= 0.5;
  RequiredOnly generic(mlp);
  static_assert(HasBatchEvaluation<MlpEnergy<double>> && !HasBatchEvaluation<RequiredOnly<MlpEnergy<double>>>);
  auto compare = [&](const auto& estimator) {
    Vector<double> g_generic;
    std::mt19937_64 r1(5);
    const double l_generic = estimator.loss_and_gradient(generic, X, r1, g_generic);
    for (const int threads : thread_counts()) {
      ScopedThreads scoped(threads);
      INFO("threads " << threads);
      Vector<double> g_fused;
      std::mt19937_64 r3(5);
      const double l_fused = estimator.loss_and_gradient(mlp, X, r3, g_fused);
      CHECK(l_fused == Approx(l_generic).epsilon(1e-12));
      CHECK(compare_gradients(g_fused, g_generic).relative_error < 1e-11);
      std::mt19937_64 r4(5);
      CHECK(estimator.loss(mlp, X, r4) == Approx(l_generic).epsilon(1e-12));
    }
  };
  compare(RatioMatching<>());
  compare(RatioMatching<HyvarinenRatio>());
  compare(UniformSampledRM<SqrtRatio>(7));
  compare(GradientGuidedRM<>(7, GuidedVariant::Basic));
  compare(GradientGuidedRM<HyvarinenRatio>(7, GuidedVariant::Advanced));
}

TEST_CASE("the generic path evaluates flipped rows in blocks and gets the same result", "[estimators][paths]") {
  // d = 600 gives blocks of 436 flipped rows: 7 rows × 600 bits span ten blocks.
  std::mt19937_64 rng(45);
  const Index d = 600, n = 7;
  const auto X = random_binary<double>(n, d, rng);
  IsingModel<double> ising = random_ising<double>(d, 8, 0.02);
  RequiredOnly generic(ising);
  REQUIRE(detail::flip_block_rows(d) < n * d);
  const RatioMatching<> rm;
  CHECK(rm.loss(generic, X) == Approx(rm.loss(ising, X)).epsilon(1e-12));
  Vector<double> g_fast, g_generic;
  rm.loss_and_gradient(ising, X, rng, g_fast);
  rm.loss_and_gradient(generic, X, rng, g_generic);
  CHECK(compare_gradients(g_fast, g_generic).relative_error < 1e-12);
}

TEMPLATE_TEST_CASE("Ising: the basic estimator returns the exact objective on every draw",
                   "[estimators][ising]", SquaredRatio, HyvarinenRatio, SqrtRatio) {
  // For an Ising model ΔE_i = −(2x−1)_i ∂_iE exactly, so n(i) ∝ f(ΔE_i) is the zero-variance proposal.
  std::mt19937_64 rng(46);
  const auto X = random_binary<double>(6, 10, rng);
  const auto ising = random_ising<double>(10, 9, 1.5);
  const double exact = RatioMatching<TestType>().loss(ising, X);
  // s = 1 and s = 3: every draw of (1/s) Σ_t f(ΔE_t)/n(i_t) is exact, so a missing 1/s shows at once.
  for (const Index s : {1, 3}) {
    const GradientGuidedRM<TestType> basic(s, GuidedVariant::Basic);
    for (int draw = 0; draw < 50; ++draw) REQUIRE(basic.loss(ising, X, rng) == Approx(exact).epsilon(1e-12));
  }
}

TEMPLATE_TEST_CASE("the advanced estimator with s = d equals exact ratio matching", "[estimators][advanced]",
                   SquaredRatio, HyvarinenRatio, SqrtRatio) {
  std::mt19937_64 rng(47);
  const Index d = 7;
  const auto X = random_binary<double>(5, d, rng);
  const auto mlp = small_mlp<double>(d, 10);
  Vector<double> g_exact, g_advanced;
  const double exact = RatioMatching<TestType>().loss_and_gradient(mlp, X, rng, g_exact);
  const double advanced = GradientGuidedRM<TestType>(d, GuidedVariant::Advanced).loss_and_gradient(mlp, X, rng, g_advanced);
  CHECK(advanced == Approx(exact).epsilon(1e-12));
  CHECK(compare_gradients(g_advanced, g_exact).relative_error < 1e-12);
}

TEST_CASE("the same seed gives bit-identical losses and gradients", "[estimators][reproducible]") {
  std::mt19937_64 data_rng(48);
  const auto X = random_binary<float>(16, 20, data_rng);
  const auto mlp = small_mlp<float>(20, 11);
  auto run = [&](const auto& estimator) {
    std::mt19937_64 r1(123), r2(123);
    Vector<float> g1, g2;
    const float l1 = estimator.loss_and_gradient(mlp, X, r1, g1);
    const float l2 = estimator.loss_and_gradient(mlp, X, r2, g2);
    CHECK(l1 == l2);
    CHECK(g1 == g2);
    std::mt19937_64 r3(124);
    Vector<float> g3;
    CHECK(estimator.loss_and_gradient(mlp, X, r3, g3) != l1);  // and another seed gives another draw
  };
  run(UniformSampledRM<>(3));
  run(GradientGuidedRM<>(3, GuidedVariant::Basic));
  run(GradientGuidedRM<>(3, GuidedVariant::Advanced));
}

TEST_CASE("loss_and_gradient overwrites the gradient instead of accumulating", "[estimators]") {
  std::mt19937_64 rng(49);
  const auto X = random_binary<double>(4, 6, rng);
  const auto mlp = small_mlp<double>(6, 12);
  Vector<double> fresh, reused = Vector<double>::Constant(3, 42.0);
  RatioMatching<>().loss_and_gradient(mlp, X, rng, fresh);
  RatioMatching<>().loss_and_gradient(mlp, X, rng, reused);
  CHECK(fresh == reused);
}

TEST_CASE("the advanced estimator draws distinct bits", "[estimators][advanced]") {
  Matrix<double> log_n(1, 5);
  log_n << std::log(0.9), std::log(0.05), std::log(0.03), std::log(0.02), -800;  // last: 0 in double
  detail::FlipSample<double> ws;
  ws.log_proposal = log_n;
  std::mt19937_64 rng(50);
  for (int k = 0; k < 200; ++k) {
    detail::draw_without_replacement(5, rng, ws);
    std::vector<Index> bits(ws.bits.data(), ws.bits.data() + 5);
    std::sort(bits.begin(), bits.end());
    REQUIRE(bits == std::vector<Index>{0, 1, 2, 3, 4});
  }
}

TEST_CASE("sampling without replacement follows successive renormalised draws", "[estimators][advanced]") {
  // P(first two draws are {a, b}) = n_a n_b / (1 − n_a) + n_b n_a / (1 − n_b).
  const double p[4] = {0.5, 0.25, 0.15, 0.10};
  Matrix<double> log_n(1, 4);
  for (int i = 0; i < 4; ++i) log_n(0, i) = std::log(p[i]);
  detail::FlipSample<double> ws;
  ws.log_proposal = log_n;
  std::mt19937_64 rng(51);
  const int draws = 40000;
  Matrix<double> count = Matrix<double>::Zero(4, 4);
  for (int k = 0; k < draws; ++k) {
    detail::draw_without_replacement(2, rng, ws);
    const Index a = std::min(ws.bits(0), ws.bits(1)), b = std::max(ws.bits(0), ws.bits(1));
    count(a, b) += 1;
  }
  for (int a = 0; a < 4; ++a)
    for (int b = a + 1; b < 4; ++b) {
      const double expected = p[a] * p[b] / (1 - p[a]) + p[b] * p[a] / (1 - p[b]);
      const double sd = std::sqrt(expected * (1 - expected) / draws);
      INFO("pair " << a << "," << b);
      CHECK(std::abs(count(a, b) / draws - expected) < 5 * sd);
    }
}

TEMPLATE_TEST_CASE("sampling without replacement follows the renormalised proposal however peaked it is",
                   "[estimators][advanced]", float, double) {
  // Bit 0 holds all but 5e-16 (double) or e^−110 (float) of the mass, so it is drawn first;
  // the second draw must follow the other bits' proposal renormalised, P(i) = n_i / Σ_{j≠0} n_j.
  // Subtracting n_0 from the total leaves that mass rounded to a multiple of 2^−52 (bit 4, 6 %
  // of it, was never drawn), and a float `exp` gives every bit below e^−88 the same probability.
  const std::vector<double> log_n = std::is_same_v<TestType, double>
                                        ? std::vector<double>{0, -36, -36.5, -37, -38}
                                        : std::vector<double>{0, -130, -125, -120, -115, -110};
  const Index d = static_cast<Index>(log_n.size());
  detail::FlipSample<TestType> ws;
  ws.log_proposal.resize(1, d);
  for (Index i = 0; i < d; ++i) ws.log_proposal(0, i) = static_cast<TestType>(log_n[static_cast<std::size_t>(i)]);
  const double largest = *std::max_element(log_n.begin() + 1, log_n.end());
  double free_mass = 0;
  for (Index i = 1; i < d; ++i) free_mass += std::exp(log_n[static_cast<std::size_t>(i)] - largest);
  std::mt19937_64 rng(53);
  const int draws = 20000;
  std::vector<double> second(static_cast<std::size_t>(d), 0.0);
  for (int k = 0; k < draws; ++k) {
    detail::draw_without_replacement(2, rng, ws);
    REQUIRE(ws.bits(0) == 0);
    second[static_cast<std::size_t>(ws.bits(1))] += 1;
  }
  for (Index i = 1; i < d; ++i) {
    const double expected = std::exp(log_n[static_cast<std::size_t>(i)] - largest) / free_mass;
    const double sd = std::sqrt(expected * (1 - expected) / draws) + 1.0 / draws;
    INFO("bit " << i << ": drawn " << second[static_cast<std::size_t>(i)] / draws << ", expected " << expected);
    CHECK(std::abs(second[static_cast<std::size_t>(i)] / draws - expected) < 5 * sd);
  }
}

TEST_CASE("gradient_guided_proposal is softmax(2(2x−1)⊙∇E), stable for large gradients", "[estimators][proposal]") {
  std::mt19937_64 rng(52);
  const auto X = random_binary<double>(4, 9, rng);
  const auto mlp = small_mlp<double>(9, 13);
  Matrix<double> log_n, G;
  gradient_guided_proposal(mlp, X, log_n);
  mlp.input_gradient(X, G);
  for (Index r = 0; r < X.rows(); ++r) {
    const Eigen::ArrayXd logits = 2 * (2 * X.row(r).array() - 1).transpose() * G.row(r).array().transpose();
    const Eigen::ArrayXd softmax = logits.exp() / logits.exp().sum();
    CHECK((log_n.row(r).array().exp().transpose() - softmax).abs().maxCoeff() < 1e-14);
    CHECK(log_n.row(r).array().exp().sum() == Approx(1.0).epsilon(1e-14));
  }
  // SqrtRatio: Gibbs-with-Gradients' softmax((2x−1)⊙∇E / 2).
  Matrix<double> log_sqrt;
  gradient_guided_proposal<SqrtRatio>(mlp, X, log_sqrt);
  const Eigen::ArrayXd logits = 0.5 * (2 * X.row(0).array() - 1).transpose() * G.row(0).array().transpose();
  CHECK((log_sqrt.row(0).array().exp().transpose() - logits.exp() / logits.exp().sum()).abs().maxCoeff() < 1e-14);
  // Energies in the thousands: no overflow, still a distribution.
  auto ising = random_ising<double>(9, 14, 4000.0);
  gradient_guided_proposal(ising, X, log_n);
  CHECK(log_n.allFinite());
  for (Index r = 0; r < X.rows(); ++r) CHECK(log_n.row(r).array().exp().sum() == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("a non-finite loss raises NumericalError naming the estimator and the quantity", "[estimators][errors]") {
  std::mt19937_64 rng(53);
  // ΔE of about −2000 makes exp(−2ΔE) overflow even in double.
  auto ising = random_ising<double>(6, 15, 4000.0);
  Matrix<double> X = Matrix<double>::Zero(1, 6);
  Vector<double> grad;
  REQUIRE_THROWS_AS(RatioMatching<>().loss_and_gradient(ising, X, rng, grad), NumericalError);
  REQUIRE_THROWS_WITH(RatioMatching<>().loss_and_gradient(ising, X, rng, grad),
                      Contains("ratiomatch::RatioMatching::loss_and_gradient: loss is not finite"));
  REQUIRE_THROWS_WITH(UniformSampledRM<>(6).loss(ising, X, rng), Contains("ratiomatch::UniformSampledRM::loss: loss"));
  // The consistent objectives stay finite where the squared ratio overflows... Hyvärinen's is bounded by 1 per flip.
  REQUIRE_NOTHROW(RatioMatching<HyvarinenRatio>().loss_and_gradient(ising, X, rng, grad));
  // A large but representable basic-estimator term (tiny n(i)) is computed in log space, not as inf · 0.
  auto moderate = random_ising<double>(6, 16, 60.0);
  REQUIRE_NOTHROW(GradientGuidedRM<>(2, GuidedVariant::Basic).loss_and_gradient(moderate, X, rng, grad));
  REQUIRE(grad.allFinite());
}

TEST_CASE("estimators reject bad input with a clear message", "[estimators][errors]") {
  std::mt19937_64 rng(54);
  const auto mlp = small_mlp<double>(4, 17);
  Vector<double> grad;
  Matrix<double> X = Matrix<double>::Zero(2, 4);
  X(1, 2) = 0.5;
  REQUIRE_THROWS_WITH(RatioMatching<>().loss_and_gradient(mlp, X, rng, grad),
                      "ratiomatch::RatioMatching::loss_and_gradient: X(1, 2) = 0.5 is not binary "
                      "(entries must be exactly 0 or 1)");
  REQUIRE_THROWS_WITH(UniformSampledRM<>(2).loss(mlp, X, rng), Contains("UniformSampledRM::loss: X(1, 2) = 0.5"));
  REQUIRE_THROWS_WITH(GradientGuidedRM<>(2, GuidedVariant::Basic).loss(mlp, X, rng),
                      Contains("GradientGuidedRM::loss: X(1, 2) = 0.5"));
  REQUIRE_THROWS_WITH(RatioMatching<>().loss(mlp, Matrix<double>::Zero(2, 5)),
                      "ratiomatch::RatioMatching::loss: X.cols() (5) must equal model.dim() (4)");
  REQUIRE_THROWS_WITH(GradientGuidedRM<>(2, GuidedVariant::Advanced).loss_and_gradient(mlp, Matrix<double>::Zero(0, 4), rng, grad),
                      Contains("batch is empty"));
  REQUIRE_THROWS_WITH(UniformSampledRM<>(0), "ratiomatch::UniformSampledRM::UniformSampledRM: s (0) must be positive");
  REQUIRE_THROWS_WITH(GradientGuidedRM<>(-1, GuidedVariant::Basic),
                      "ratiomatch::GradientGuidedRM::GradientGuidedRM: s (-1) must be positive");
  REQUIRE_THROWS_WITH(GradientGuidedRM<>(5, GuidedVariant::Advanced).loss(mlp, Matrix<double>::Zero(2, 4), rng),
                      "ratiomatch::GradientGuidedRM::loss: s (5) must not exceed model.dim() (4) for the advanced "
                      "variant, which draws s distinct bits");
  // Basic draws with replacement, so s > d is allowed there.
  const double basic_loss = GradientGuidedRM<>(5, GuidedVariant::Basic).loss(mlp, Matrix<double>::Zero(2, 4), rng);
  CHECK(std::isfinite(basic_loss));
  CHECK(basic_loss > 0);
  Matrix<double> log_n;
  REQUIRE_THROWS_WITH(gradient_guided_proposal(mlp, X, log_n), Contains("gradient_guided_proposal: X(1, 2) = 0.5"));
}
