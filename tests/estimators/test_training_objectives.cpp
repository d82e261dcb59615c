// Training objectives beyond ratio matching: persistent contrastive divergence (against the
// exact likelihood gradient by enumeration, and by training to a lower exact KL) and the
// penalised estimator with the L1 coupling penalty (against finite differences and brute force).
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <limits>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <ratiomatch/core/finite_difference.hpp>
#include <ratiomatch/core/required_only.hpp>
#include <ratiomatch/estimators/gradient_guided_rm.hpp>
#include <ratiomatch/estimators/penalized.hpp>
#include <ratiomatch/estimators/persistent_contrastive_divergence.hpp>
#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/estimators/uniform_sampled_rm.hpp>
#include <ratiomatch/metrics/exact.hpp>
#include <ratiomatch/models/ising_coupling_l1.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/samplers/gibbs_sampler.hpp>
#include <ratiomatch/samplers/gibbs_with_gradients.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

// A symmetric Ising model: J_ij = J_ji and b_i uniform in [−scale/2, scale/2].
template <class S>
IsingModel<S> random_ising(Index d, std::uint64_t seed, double scale) {
  IsingModel<S> model(d);
  std::mt19937_64 rng(seed);
  auto J = model.coupling();
  for (Index i = 0; i < d; ++i)
    for (Index j = i + 1; j < d; ++j) J(i, j) = J(j, i) = static_cast<S>(scale * (uniform_open01(rng) - 0.5));
  for (Index i = 0; i < d; ++i) model.bias()(i) = static_cast<S>(scale * (uniform_open01(rng) - 0.5));
  return model;
}

// Exact gradient of the mean negative log-likelihood of X:
// (1/n) Σ_r ∇E(x_r) − Σ_x p(x) ∇E(x), with p by enumeration of all 2^d states.
template <class S>
Vector<double> exact_nll_gradient(const IsingModel<S>& model, const Matrix<S>& X) {
  const Matrix<S> states = all_states<S>(model.dim());  // row k = state k, the order of log_probabilities
  const Vector<S> p = log_probabilities(model).array().exp().template cast<S>();
  Vector<S> grad = Vector<S>::Zero(model.num_params());
  model.accumulate_param_gradient(X, Vector<S>::Constant(X.rows(), S(1) / static_cast<S>(X.rows())), grad);
  model.accumulate_param_gradient(states, -p, grad);
  return grad.template cast<double>();
}

// E_{x ~ p}[E(x)] by enumeration.
template <class S>
double exact_mean_energy(const IsingModel<S>& model) {
  Vector<S> e;
  model.energy(all_states<S>(model.dim()), e);
  return log_probabilities(model).array().exp().matrix().dot(e.template cast<double>());
}

// n exact samples of p by inverse CDF over the enumerated states.
template <class S, class Rng>
Matrix<S> exact_samples(const IsingModel<double>& model, Index n, Rng& rng) {
  const Vector<double> p = log_probabilities(model).array().exp();
  const Index d = model.dim();
  Matrix<S> X(n, d);
  for (Index r = 0; r < n; ++r) {
    const double u = uniform_open01(rng);
    double cumulative = 0;
    Index k = 0;
    for (; k < p.size() - 1; ++k)
      if ((cumulative += p(k)) > u) break;
    for (Index i = 0; i < d; ++i) X(r, i) = static_cast<S>((k >> i) & 1);
  }
  return X;
}

// Per-component mean and standard error of ∇_θE over the rows of `chains`.
template <class S>
std::pair<Vector<double>, Vector<double>> per_chain_mean_and_se(const IsingModel<S>& model, const Matrix<S>& chains) {
  const Index m = chains.rows(), P = model.num_params();
  Vector<double> sum = Vector<double>::Zero(P), sum_sq = Vector<double>::Zero(P);
  const Vector<S> one = Vector<S>::Ones(1);
  Vector<S> g(P);
  Matrix<S> row(1, model.dim());
  for (Index c = 0; c < m; ++c) {
    row = chains.row(c);
    g.setZero();
    model.accumulate_param_gradient(row, one, g);
    const Vector<double> gd = g.template cast<double>();
    sum += gd;
    sum_sq += gd.cwiseAbs2();
  }
  const Vector<double> mean = sum / static_cast<double>(m);
  const Vector<double> var =
      ((sum_sq / static_cast<double>(m)) - mean.cwiseAbs2()).cwiseMax(0.0) * (static_cast<double>(m) / (m - 1));
  return {mean, (var / static_cast<double>(m)).cwiseSqrt()};
}

// Runs `calls` PCD updates at a fixed model and checks the last gradient against the exact
// NLL gradient, component by component, within 5 standard errors of the chain average.
template <class S, class Pcd>
void check_against_exact_gradient(const Pcd& pcd, const IsingModel<S>& model, const Matrix<S>& X, Index calls,
                                  std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Vector<S> grad;
  S loss = 0;
  for (Index t = 0; t < calls; ++t) loss = pcd.loss_and_gradient(model, X, rng, grad);
  const Matrix<S>& chains = pcd.template chains<S>();
  REQUIRE(chains.rows() == pcd.num_chains());
  REQUIRE(chains.cols() == model.dim());

  const Vector<double> exact = exact_nll_gradient(model, X);
  const auto [chain_mean, se] = per_chain_mean_and_se(model, chains);
  // The test has power: the exact gradient is far from 0 on some component, in standard errors.
  REQUIRE(exact.cwiseAbs().maxCoeff() > 40 * se.maxCoeff());
  const double slack = std::is_same_v<S, float> ? 1e-4 : 1e-10;
  for (Index k = 0; k < exact.size(); ++k) {
    INFO("component " << k << ": pcd " << grad(k) << ", exact " << exact(k) << ", se " << se(k));
    CHECK(std::abs(static_cast<double>(grad(k)) - exact(k)) <= 5 * se(k) + slack);
  }

  // The surrogate loss: mean E(data) − mean E(chains) ≈ mean E(data) − E_p[E].
  Vector<S> e;
  model.energy(X, e);
  const double data_mean = e.template cast<double>().mean();
  model.energy(chains, e);
  const Vector<double> ec = e.template cast<double>();
  const double chain_se = std::sqrt((ec.array() - ec.mean()).square().sum() / (ec.size() - 1) / ec.size());
  CHECK(static_cast<double>(loss) == Approx(data_mean - ec.mean()).epsilon(1e-5).margin(1e-5));
  CHECK(std::abs(static_cast<double>(loss) - (data_mean - exact_mean_energy(model))) <= 5 * chain_se + slack);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PersistentContrastiveDivergence
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("PCD gradient matches the exact NLL gradient within 5 standard errors", "[pcd][statistics]",
                   float, double) {
  using S = TestType;
  const Index d = 5;
  const auto model = random_ising<S>(d, 7, 0.8);
  std::mt19937_64 data_rng(11);
  // Uniform data, far from the model: the gradient is large, so a wrong sign or weight shows.
  const Matrix<S> X = random_binary<S>(40, d, data_rng);

  SECTION("GibbsSampler, 3 updates of 10 sweeps") {
    const PersistentContrastiveDivergence pcd(GibbsSampler{}, 20000, 10);
    check_against_exact_gradient(pcd, model, X, 3, 21);
  }
  SECTION("GibbsWithGradients, 3 updates of 50 proposals") {
    const PersistentContrastiveDivergence pcd(GibbsWithGradients{}, 20000, 50);
    check_against_exact_gradient(pcd, model, X, 3, 22);
  }
}

TEST_CASE("PCD gradient equals finite differences of its own surrogate loss with common random numbers",
          "[pcd]") {
  auto model = random_ising<double>(4, 5, 1.0);
  std::mt19937_64 data_rng(3);
  const Matrix<double> X = random_binary<double>(9, 4, data_rng);
  const PersistentContrastiveDivergence pcd(GibbsSampler{}, 64, 2);
  std::mt19937_64 warm(1);
  Vector<double> grad;
  pcd.loss_and_gradient(model, X, warm, grad);  // chains exist and persist from here on

  const auto numeric = finite_difference_param_gradient(model, [&] {
    std::mt19937_64 same(77);
    return pcd.loss(model, X, same);  // advances a copy of the chains: they stay put
  });
  std::mt19937_64 rng(77);
  pcd.loss_and_gradient(model, X, rng, grad);
  const auto check = compare_gradients(grad, numeric);
  INFO("relative error " << check.relative_error);
  CHECK(check.passed(1e-6));
  CHECK(grad.cwiseAbs().maxCoeff() > 0.1);
}

TEMPLATE_TEST_CASE("PCD training with Adam lowers the exact KL(data || model)", "[pcd][training]", float, double) {
  using S = TestType;
  const Index d = 5, n = 5000, batch_size = 250;
  const auto truth = random_ising<double>(d, 3, 1.6);
  std::mt19937_64 data_rng(5);
  const Matrix<S> data = exact_samples<S>(truth, n, data_rng);
  const Vector<double> log_data = empirical_log_distribution(data);
  const double kl_truth = kl_divergence(log_data, log_probabilities(truth));

  const auto train = [&](const auto& pcd, std::uint64_t seed) {
    IsingModel<S> model(d);
    Adam<S> adam(model.num_params(), AdamOptions{.lr = 0.05});
    std::mt19937_64 rng(seed);
    Vector<S> grad;
    Matrix<S> batch(batch_size, d);
    for (Index it = 0; it < 400; ++it) {
      if (it == 250) adam.set_learning_rate(0.01);
      batch = data.middleRows((it * batch_size) % n, batch_size);
      pcd.loss_and_gradient(model, batch, rng, grad);
      adam.step(model.params(), grad);
    }
    return kl_divergence(log_data, log_probabilities(model));
  };
  const double kl_initial = kl_divergence(log_data, log_probabilities(IsingModel<S>(d)));
  const double kl_gibbs = train(PersistentContrastiveDivergence(GibbsSampler{}, 500, 1), 31);
  const double kl_gwg = train(PersistentContrastiveDivergence(GibbsWithGradients{}, 500, 10), 32);
  INFO("KL initial " << kl_initial << ", Gibbs " << kl_gibbs << ", GWG " << kl_gwg << ", truth " << kl_truth);
  REQUIRE(kl_initial > 0.3);  // the ground truth is far from uniform
  CHECK(kl_gibbs < 0.1 * kl_initial);
  CHECK(kl_gwg < 0.1 * kl_initial);
  CHECK(kl_gibbs < kl_truth + 0.01);  // the fitted model is at least as close to the data as the truth, up to noise
  CHECK(kl_gwg < kl_truth + 0.01);
}

TEMPLATE_TEST_CASE("PCD chains: loss leaves them, loss_and_gradient advances them, reset restarts them",
                   "[pcd]", float, double) {
  using S = TestType;
  const auto model = random_ising<S>(5, 9, 1.0);
  std::mt19937_64 data_rng(2);
  const Matrix<S> X = random_binary<S>(8, 5, data_rng);
  PersistentContrastiveDivergence pcd(GibbsSampler{}, 32, 3);
  CHECK(pcd.num_chains() == 32);
  CHECK(pcd.steps_per_update() == 3);
  CHECK(pcd.template chains<S>().size() == 0);

  std::mt19937_64 rng(4);
  Vector<S> grad;
  // loss before any chains exist does not create them.
  pcd.loss(model, X, rng);
  CHECK(pcd.template chains<S>().size() == 0);

  pcd.loss_and_gradient(model, X, rng, grad);
  const Matrix<S> after_first = pcd.template chains<S>();
  REQUIRE(after_first.rows() == 32);
  REQUIRE(after_first.cols() == 5);
  // The other scalar type's chains are separate and still absent.
  using Other = std::conditional_t<std::is_same_v<S, float>, double, float>;
  CHECK(pcd.template chains<Other>().size() == 0);

  // loss returns what loss_and_gradient returns from the same engine state, without moving the chains.
  std::mt19937_64 a(99), b(99);
  const S loss_only = pcd.loss(model, X, a);
  CHECK(pcd.template chains<S>() == after_first);
  const S with_gradient = pcd.loss_and_gradient(model, X, b, grad);
  CHECK(loss_only == with_gradient);
  CHECK(a() == b());  // both drew the same random numbers
  CHECK(pcd.template chains<S>() != after_first);

  // reset: the next call starts afresh, exactly as a new estimator from the same engine state does.
  pcd.reset();
  CHECK(pcd.template chains<S>().size() == 0);
  PersistentContrastiveDivergence fresh(GibbsSampler{}, 32, 3);
  std::mt19937_64 c(123), e(123);
  Vector<S> grad_fresh;
  CHECK(pcd.loss_and_gradient(model, X, c, grad) == fresh.loss_and_gradient(model, X, e, grad_fresh));
  CHECK(grad == grad_fresh);
  CHECK(pcd.template chains<S>() == fresh.template chains<S>());

  // A model of another dimension restarts the chains at its width.
  const auto smaller = random_ising<S>(3, 9, 1.0);
  const Matrix<S> X3 = random_binary<S>(4, 3, data_rng);
  pcd.loss_and_gradient(smaller, X3, rng, grad);
  CHECK(pcd.template chains<S>().rows() == 32);
  CHECK(pcd.template chains<S>().cols() == 3);
  CHECK(grad.size() == smaller.num_params());
}

TEMPLATE_TEST_CASE("PCD: the same seed gives bit-identical chains and gradients", "[pcd]", float, double) {
  using S = TestType;
  const auto model = random_ising<S>(6, 13, 1.0);
  std::mt19937_64 data_rng(8);
  const Matrix<S> X = random_binary<S>(10, 6, data_rng);
  const auto run = [&](auto sampler) {
    const PersistentContrastiveDivergence pcd(sampler, 50, 4);
    std::mt19937_64 rng(2024);
    Vector<S> grad;
    S loss = 0;
    for (int t = 0; t < 3; ++t) loss = pcd.loss_and_gradient(model, X, rng, grad);
    return std::tuple(loss, Vector<S>(grad), Matrix<S>(pcd.template chains<S>()));
  };
  CHECK(run(GibbsSampler{}) == run(GibbsSampler{}));
  CHECK(run(GibbsWithGradients{}) == run(GibbsWithGradients{}));
  CHECK(std::get<2>(run(GibbsSampler{})) != std::get<2>(run(GibbsWithGradients{})));
}

TEST_CASE("PCD works through the generic path of a model with only the required members", "[pcd]") {
  auto model = random_ising<double>(5, 17, 1.0);
  RequiredOnly<IsingModel<double>> view(model);
  std::mt19937_64 data_rng(6);
  const Matrix<double> X = random_binary<double>(12, 5, data_rng);
  const PersistentContrastiveDivergence fast(GibbsSampler{}, 40, 3), generic(GibbsSampler{}, 40, 3);
  std::mt19937_64 a(5), b(5);
  Vector<double> g_fast, g_generic;
  const double l_fast = fast.loss_and_gradient(model, X, a, g_fast);
  const double l_generic = generic.loss_and_gradient(view, X, b, g_generic);
  // Gibbs draws the same uniforms on either route; the energy changes agree to rounding, so
  // the chains take the same moves.
  CHECK(fast.chains<double>() == generic.chains<double>());
  CHECK(l_generic == Approx(l_fast).margin(1e-12));
  CHECK(compare_gradients(g_generic, g_fast).max_abs_error < 1e-12);
}

TEST_CASE("PCD rejects bad arguments and reports non-finite values", "[pcd][errors]") {
  CHECK_THROWS_AS(PersistentContrastiveDivergence(GibbsSampler{}, 0, 1), std::invalid_argument);
  CHECK_THROWS_AS(PersistentContrastiveDivergence(GibbsSampler{}, 10, 0), std::invalid_argument);
  CHECK_THROWS_WITH(PersistentContrastiveDivergence(GibbsSampler{}, 10, -2),
                    Contains("ratiomatch::PersistentContrastiveDivergence::PersistentContrastiveDivergence") &&
                        Contains("steps_per_update (-2)"));

  auto model = random_ising<double>(4, 1, 1.0);
  const PersistentContrastiveDivergence pcd(GibbsWithGradients{}, 8, 2);
  std::mt19937_64 rng(1);
  Vector<double> grad;
  CHECK_THROWS_WITH(pcd.loss_and_gradient(model, Matrix<double>(0, 4), rng, grad),
                    Contains("ratiomatch::PersistentContrastiveDivergence::loss_and_gradient") && Contains("empty"));
  CHECK_THROWS_WITH(pcd.loss_and_gradient(model, Matrix<double>::Zero(3, 5), rng, grad),
                    Contains("X.cols() (5) must equal model.dim() (4)"));
  Matrix<double> bad = Matrix<double>::Zero(3, 4);
  bad(1, 2) = 0.5;
  CHECK_THROWS_WITH(pcd.loss(model, bad, rng), Contains("ratiomatch::PersistentContrastiveDivergence::loss") &&
                                                   Contains("X(1, 2) = 0.5"));

  // A non-finite parameter: NumericalError naming the estimator, and the chains are kept.
  const Matrix<double> X = Matrix<double>::Ones(3, 4);
  pcd.loss_and_gradient(model, X, rng, grad);
  const Matrix<double> before = pcd.chains<double>();
  model.coupling()(0, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(pcd.loss_and_gradient(model, X, rng, grad), NumericalError);
  CHECK_THROWS_WITH(pcd.loss_and_gradient(model, X, rng, grad),
                    Contains("ratiomatch::PersistentContrastiveDivergence::loss_and_gradient"));
  CHECK(pcd.chains<double>() == before);
  model.coupling()(0, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(pcd.loss(model, X, rng), NumericalError);
}

// ---------------------------------------------------------------------------------------------
// Penalized and IsingCouplingL1
// ---------------------------------------------------------------------------------------------

namespace {

// An Ising model whose every entry of J (both triangles independently, and the diagonal) is
// nonzero and at least 0.05 in magnitude, so that |J_ij| is differentiable at it.
template <class S>
IsingModel<S> asymmetric_ising(Index d, std::uint64_t seed) {
  IsingModel<S> model(d);
  std::mt19937_64 rng(seed);
  for (Index k = 0; k < model.num_params(); ++k) {
    const double u = uniform_open01(rng);
    model.params()(k) = static_cast<S>((u < 0.5 ? -1 : 1) * (0.05 + 0.6 * uniform_open01(rng)));
  }
  return model;
}

template <class E>
concept HasTemperature = requires { E::temperature; };
template <class E>
concept HasObjectiveType = requires { typename E::objective_type; };

}  // namespace

TEMPLATE_TEST_CASE("IsingCouplingL1: value and subgradient over the off-diagonal entries only",
                   "[penalized]", float, double) {
  using S = TestType;
  const Index d = 5;
  auto model = asymmetric_ising<S>(d, 8);
  model.coupling()(1, 3) = S(0);  // a zero entry: subgradient 0
  const IsingCouplingL1 penalty{0.3};

  double brute = 0;
  for (Index i = 0; i < d; ++i)
    for (Index j = 0; j < d; ++j)
      if (i != j) brute += std::abs(static_cast<double>(model.coupling()(i, j)));
  CHECK(penalty.value(model) == Approx(0.3 * brute).epsilon(1e-12));

  Vector<S> grad = Vector<S>::Constant(model.num_params(), S(0.25));
  CHECK(penalty.add_value_and_gradient(model, grad) == Approx(0.3 * brute).epsilon(1e-12));
  for (Index i = 0; i < d; ++i)
    for (Index j = 0; j < d; ++j) {
      const S a = model.coupling()(i, j);
      const S expected = i == j ? S(0.25) : S(0.25) + S(0.3) * S((a > 0) - (a < 0));
      INFO("J(" << i << ", " << j << ")");
      CHECK(grad(i * d + j) == expected);
    }
  CHECK(grad(1 * d + 3) == S(0.25));
  CHECK(grad.tail(d) == Vector<S>::Constant(d, S(0.25)));  // bias untouched

  // Changing the diagonal changes nothing.
  auto other = model;
  other.coupling().diagonal().setConstant(S(7));
  CHECK(penalty.value(other) == penalty.value(model));
}

TEST_CASE("Penalized: loss and gradient are the inner estimator's plus the penalty's; finite differences agree",
          "[penalized]") {
  const Index d = 5;
  auto model = asymmetric_ising<double>(d, 21);
  std::mt19937_64 data_rng(4);
  const Matrix<double> X = random_binary<double>(11, d, data_rng);
  const IsingCouplingL1 l1{0.2};

  const auto check = [&](const auto& inner) {
    // Copies of the estimator, so that persistent chains (PCD) start from the same state.
    const Penalized penalized(inner, l1);
    // loss and its finite differences first: they leave PCD's chains where they are.
    std::mt19937_64 c(7);
    const double loss_only = penalized.loss(model, X, c);
    const auto numeric = finite_difference_param_gradient(model, [&] {
      std::mt19937_64 same(7);  // common random numbers
      return penalized.loss(model, X, same);
    });

    Vector<double> g_inner, g_total;
    std::mt19937_64 a(7), b(7);
    const double inner_loss = inner.loss_and_gradient(model, X, a, g_inner);
    const double total = penalized.loss_and_gradient(model, X, b, g_total);
    CHECK(total == Approx(inner_loss + l1.value(model)).epsilon(1e-12));
    CHECK(loss_only == Approx(total).epsilon(1e-12));
    Vector<double> g_penalty = Vector<double>::Zero(model.num_params());
    l1.add_value_and_gradient(model, g_penalty);
    CHECK((g_total - g_inner - g_penalty).cwiseAbs().maxCoeff() < 1e-12);
    // Diagonal and bias get the inner gradient exactly.
    for (Index i = 0; i < d; ++i) CHECK(g_total(i * d + i) == g_inner(i * d + i));
    CHECK(g_total.tail(d) == g_inner.tail(d));

    const auto fd = compare_gradients(g_total, numeric);
    INFO("relative error " << fd.relative_error);
    CHECK(fd.passed(1e-6));
  };
  SECTION("exact ratio matching") { check(RatioMatching<>{}); }
  SECTION("uniformly sampled ratio matching") { check(UniformSampledRM<HyvarinenRatio>(3)); }
  SECTION("persistent contrastive divergence") {
    PersistentContrastiveDivergence pcd(GibbsSampler{}, 30, 2);
    std::mt19937_64 warm(1);
    Vector<double> g;
    pcd.loss_and_gradient(model, X, warm, g);  // chains exist: loss and loss_and_gradient start from them
    check(pcd);
  }
}

TEST_CASE("Penalized exposes the inner estimator's temperature and objective when it has them", "[penalized]") {
  using RM = Penalized<RatioMatching<>, IsingCouplingL1>;
  using URM = Penalized<UniformSampledRM<>, IsingCouplingL1>;
  using GG = Penalized<GradientGuidedRM<>, IsingCouplingL1>;
  using Hyv = Penalized<RatioMatching<HyvarinenRatio>, IsingCouplingL1>;
  using Pcd = Penalized<PersistentContrastiveDivergence<GibbsSampler>, IsingCouplingL1>;
  STATIC_REQUIRE(RM::temperature == 4);
  STATIC_REQUIRE(URM::temperature == 4);
  STATIC_REQUIRE(GG::temperature == 4);
  STATIC_REQUIRE(Hyv::temperature == 1);
  STATIC_REQUIRE(std::is_same_v<RM::objective_type, SquaredRatio>);
  STATIC_REQUIRE(std::is_same_v<GG::objective_type, SquaredRatio>);
  STATIC_REQUIRE(std::is_same_v<Hyv::objective_type, HyvarinenRatio>);
  STATIC_REQUIRE_FALSE(HasTemperature<Pcd>);
  STATIC_REQUIRE_FALSE(HasObjectiveType<Pcd>);
  STATIC_REQUIRE(HasTemperature<RM>);

  const GG guided(GradientGuidedRM<>(2, GuidedVariant::Basic), IsingCouplingL1{0.1});
  CHECK(guided.temperature == 4);
  CHECK(guided.estimator().flips() == 2);
  CHECK(guided.penalty().lambda == 0.1);
}

TEST_CASE("Penalized and IsingCouplingL1 reject bad arguments", "[penalized][errors]") {
  auto model = asymmetric_ising<double>(4, 2);
  Vector<double> grad = Vector<double>::Zero(3);
  CHECK_THROWS_WITH(IsingCouplingL1{0.1}.add_value_and_gradient(model, grad),
                    Contains("ratiomatch::IsingCouplingL1::add_value_and_gradient") &&
                        Contains("grad.size() (3) must equal model.num_params() (20)"));
  grad.setZero(model.num_params());
  CHECK_THROWS_WITH(IsingCouplingL1{-1.0}.add_value_and_gradient(model, grad), Contains("lambda (-1)"));
  CHECK_THROWS_AS(IsingCouplingL1{std::nan("")}.value(model), std::invalid_argument);

  const Penalized penalized(RatioMatching<>{}, IsingCouplingL1{0.1});
  std::mt19937_64 rng(1);
  CHECK_THROWS_AS(penalized.loss_and_gradient(model, Matrix<double>::Zero(2, 3), rng, grad), std::invalid_argument);
  const Penalized negative(RatioMatching<>{}, IsingCouplingL1{-0.5});
  CHECK_THROWS_AS(negative.loss(model, Matrix<double>::Zero(2, 4), rng), std::invalid_argument);
}
