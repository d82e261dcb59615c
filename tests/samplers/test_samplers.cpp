#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <ratiomatch/core/required_only.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/models/mlp_energy.hpp>
#include <ratiomatch/samplers/gibbs_sampler.hpp>
#include <ratiomatch/samplers/gibbs_with_gradients.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

// The statistical oracle. N independent chains are N i.i.d. draws from the exact law π_t of
// one chain after t transitions, and π_t is computed exactly here (π_0 uniform, π_{t+1} =
// π_t K with the transition kernel K written out over all 2^d states, independently of the
// library's code). For an i.i.d. sample of size N from a law π over K states, the empirical
// law π̂ has
//   E TV(π̂, π) = ½ Σ_k E|π̂_k − π_k| ≤ ½ Σ_k sqrt(π_k (1 − π_k) / N)        (Jensen),
// and TV changes by at most 1/N when one draw changes, so by McDiarmid's inequality
//   P(TV ≥ E TV + t) ≤ exp(−2 t² N).
// `iid_tv_bound` is the sum of the two with t for a failure probability of 1e-6: a correct
// sampler fails a check with probability below 1e-6, whatever the law.

namespace {

constexpr double failure_probability = 1e-6;

// J uniform in ±0.25 (so the symmetric coupling J + Jᵀ is in ±0.5), b uniform in ±0.5: far
// from uniform, yet a few sweeps mix at β = 2.
template <class S>
IsingModel<S> random_ising(Index d, std::mt19937_64& rng) {
  IsingModel<S> model(d);
  auto theta = model.params();
  for (Index k = 0; k < theta.size(); ++k) theta(k) = static_cast<S>(uniform_open01(rng) - 0.5);
  model.coupling() *= S(0.5);
  return model;
}

// Default initialisation scaled up, so that the law is far from uniform.
template <class S>
MlpEnergy<S> peaked_mlp(std::mt19937_64& rng) {
  MlpEnergy<S> model(4, {8});
  model.initialize(rng);
  model.params() *= S(4);
  return model;
}

template <class S>
Index state_index(const Matrix<S>& X, Index r) {
  Index k = 0;
  for (Index i = 0; i < X.cols(); ++i) k |= static_cast<Index>(X(r, i)) << i;
  return k;
}

template <class S>
std::vector<double> histogram(const Matrix<S>& X) {
  std::vector<double> h(std::size_t{1} << X.cols(), 0.0);
  for (Index r = 0; r < X.rows(); ++r) h[static_cast<std::size_t>(state_index(X, r))] += 1.0;
  for (double& v : h) v /= static_cast<double>(X.rows());
  return h;
}

double total_variation(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) s += std::abs(a[k] - b[k]);
  return 0.5 * s;
}

double iid_tv_bound(const std::vector<double>& p, Index N) {
  double expected = 0;
  for (double pk : p) expected += 0.5 * std::sqrt(pk * (1 - pk) / static_cast<double>(N));
  return expected + std::sqrt(std::log(1 / failure_probability) / (2.0 * static_cast<double>(N)));
}

// E(x_k) of every state k = Σ_i x_i 2^i (the row order of all_states), in double.
template <class M>
std::vector<double> energies(const M& model) {
  using S = typename M::Scalar;
  Vector<S> e;
  model.energy(all_states<S>(model.dim()), e);
  return {e.data(), e.data() + e.size()};
}

// ∂E/∂x at every state, in double.
template <class M>
Matrix<double> gradients(const M& model) {
  using S = typename M::Scalar;
  Matrix<S> G;
  model.input_gradient(all_states<S>(model.dim()), G);
  return G.template cast<double>();
}

// p_β(k) ∝ exp(−β E_k).
std::vector<double> boltzmann(const std::vector<double>& E, double beta) {
  const double low = *std::min_element(E.begin(), E.end());
  std::vector<double> p(E.size());
  double z = 0;
  for (std::size_t k = 0; k < E.size(); ++k) z += p[k] = std::exp(-beta * (E[k] - low));
  for (double& v : p) v /= z;
  return p;
}

// One systematic-scan heat-bath sweep: bit i of state k flips with probability
// p_β(k ^ 2^i) / (p_β(k) + p_β(k ^ 2^i)).
std::vector<double> exact_gibbs_sweep(const std::vector<double>& E, Index d, double beta, std::vector<double> pi) {
  for (Index i = 0; i < d; ++i) {
    std::vector<double> next(pi.size(), 0.0);
    for (std::size_t k = 0; k < pi.size(); ++k) {
      const std::size_t j = k ^ (std::size_t{1} << i);
      const double flip = 1.0 / (1.0 + std::exp(beta * (E[j] - E[k])));
      next[j] += pi[k] * flip;
      next[k] += pi[k] * (1 - flip);
    }
    pi = next;
  }
  return pi;
}

// q(· | k) = softmax(½ β (2x_k − 1) ⊙ ∇E(x_k)).
std::vector<double> gwg_proposal(const Matrix<double>& G, Index d, std::size_t k, double beta) {
  std::vector<double> q(static_cast<std::size_t>(d));
  double z = 0;
  for (Index i = 0; i < d; ++i) {
    const double sign = ((k >> i) & 1) ? 1.0 : -1.0;
    z += q[i] = std::exp(0.5 * beta * sign * G(static_cast<Index>(k), i));
  }
  for (double& v : q) v /= z;
  return q;
}

// One Gibbs-with-Gradients step: propose i ~ q(· | k), accept with
// min(1, p_β(j) q(i | j) / (p_β(k) q(i | k))), j = k ^ 2^i.
std::vector<double> exact_gwg_step(const std::vector<double>& E, const Matrix<double>& G, Index d, double beta,
                                   const std::vector<double>& pi) {
  std::vector<double> next(pi.size(), 0.0);
  for (std::size_t k = 0; k < pi.size(); ++k) {
    const auto q = gwg_proposal(G, d, k, beta);
    for (Index i = 0; i < d; ++i) {
      const std::size_t j = k ^ (std::size_t{1} << i);
      const auto q_back = gwg_proposal(G, d, j, beta);
      const double accept = std::min(1.0, std::exp(-beta * (E[j] - E[k])) * q_back[i] / q[i]);
      next[j] += pi[k] * q[i] * accept;
      next[k] += pi[k] * q[i] * (1 - accept);
    }
  }
  return next;
}

// N exact i.i.d. draws from p by inverse CDF, one row per draw.
template <class S>
Matrix<S> exact_sample(const std::vector<double>& p, Index d, Index N, std::mt19937_64& rng) {
  std::vector<double> cdf(p.size());
  double c = 0;
  for (std::size_t k = 0; k < p.size(); ++k) cdf[k] = c += p[k];
  Matrix<S> X(N, d);
  for (Index r = 0; r < N; ++r) {
    const auto it = std::upper_bound(cdf.begin(), cdf.end(), uniform_open01(rng) * c);
    const auto k = static_cast<Index>(std::min<std::ptrdiff_t>(it - cdf.begin(), std::ssize(cdf) - 1));
    for (Index i = 0; i < d; ++i) X(r, i) = static_cast<S>((k >> i) & 1);
  }
  return X;
}

// Runs N chains from uniform bits for T transitions, T the first at which the exact law π_T
// is within a tenth of the noise bound of the target (at most max_transitions). After every
// transition t the chains' empirical law must match the exact π_t within the i.i.d. bound;
// π_t approaches the target monotonically; the chains end within the noise of the target,
// having started far from it (the distance shrinks).
template <class S, class Advance, class ExactTransition>
void check_chains_converge(Index d, const std::vector<double>& target, Index N, Index max_transitions,
                           std::uint64_t seed, Advance advance, ExactTransition exact_transition) {
  Index T = 0;
  for (std::vector<double> pi(target.size(), 1.0 / static_cast<double>(target.size()));
       T < max_transitions && total_variation(pi, target) >= 0.1 * iid_tv_bound(target, N); ++T)
    pi = exact_transition(pi);
  INFO("transitions T = " << T);
  REQUIRE(T < max_transitions);
  std::mt19937_64 rng(seed);
  Matrix<S> X = random_binary<S>(N, d, rng);
  std::vector<double> pi(target.size(), 1.0 / static_cast<double>(target.size()));
  const double bound = iid_tv_bound(target, N);
  const double initial_tv = total_variation(histogram(X), target);
  INFO("TV(uniform start, target) = " << initial_tv << ", noise bound " << bound);
  REQUIRE(initial_tv > 3 * bound);
  double previous_exact = total_variation(pi, target);
  for (Index t = 1; t <= T; ++t) {
    advance(X, rng);
    pi = exact_transition(pi);
    const double chain_tv = total_variation(histogram(X), pi);
    const double exact_tv = total_variation(pi, target);
    INFO("t = " << t << ": TV(chains, π_t) = " << chain_tv << ", TV(π_t, target) = " << exact_tv);
    REQUIRE(chain_tv <= iid_tv_bound(pi, N));
    REQUIRE(exact_tv <= previous_exact + 1e-12);
    previous_exact = exact_tv;
  }
  const double final_tv = total_variation(histogram(X), target);
  // The same-size exact i.i.d. sample, for scale: it must meet the same bound.
  const double iid_tv = total_variation(histogram(exact_sample<S>(target, d, N, rng)), target);
  INFO("TV(chains after " << T << ", target) = " << final_tv << ", TV(exact i.i.d. sample, target) = " << iid_tv
                          << ", TV(π_T, target) = " << previous_exact << ", bound " << bound);
  REQUIRE(previous_exact < 0.1 * bound);
  REQUIRE(final_tv <= bound + previous_exact);
  REQUIRE(iid_tv <= bound);
}

}  // namespace

TEMPLATE_TEST_CASE("GibbsSampler chains of an Ising model follow the exact law and converge to p_β", "[samplers][gibbs]",
                   float, double) {
  const double beta = GENERATE(1.0, 2.0);
  std::mt19937_64 rng(101);
  const Index d = 5, N = 20000;
  const auto model = random_ising<TestType>(d, rng);
  const auto E = energies(model);
  const auto target = boltzmann(E, beta);
  const double bound = iid_tv_bound(target, N);
  // The test can tell the target from what a wrong sign or an ignored β would sample.
  REQUIRE(total_variation(target, boltzmann(E, -beta)) > 3 * bound);
  REQUIRE(total_variation(boltzmann(E, 2.0), boltzmann(E, 1.0)) > 3 * bound);
  const GibbsSampler sampler(beta);
  check_chains_converge<TestType>(
      d, target, N, 60, 202, [&](Matrix<TestType>& X, std::mt19937_64& r) { sampler.sweep(model, X, r); },
      [&](const std::vector<double>& pi) { return exact_gibbs_sweep(E, d, beta, pi); });
}

TEMPLATE_TEST_CASE("GibbsSampler chains of an MlpEnergy follow the exact law and converge to p_β", "[samplers][gibbs]",
                   float, double) {
  const double beta = GENERATE(1.0, 2.0);
  std::mt19937_64 rng(103);
  const Index d = 4, N = 20000;
  const auto model = peaked_mlp<TestType>(rng);
  const auto E = energies(model);
  const auto target = boltzmann(E, beta);
  const double bound = iid_tv_bound(target, N);
  REQUIRE(total_variation(target, boltzmann(E, -beta)) > 3 * bound);
  REQUIRE(total_variation(boltzmann(E, 2.0), boltzmann(E, 1.0)) > 3 * bound);
  const GibbsSampler sampler(beta);
  check_chains_converge<TestType>(
      d, target, N, 60, 204, [&](Matrix<TestType>& X, std::mt19937_64& r) { sampler.sweep(model, X, r); },
      [&](const std::vector<double>& pi) { return exact_gibbs_sweep(E, d, beta, pi); });
}

TEMPLATE_TEST_CASE("GibbsWithGradients chains of an Ising model follow the exact law and converge to p_β",
                   "[samplers][gwg]", float, double) {
  const double beta = GENERATE(1.0, 2.0);
  std::mt19937_64 rng(105);
  const Index d = 5, N = 20000;
  const auto model = random_ising<TestType>(d, rng);
  const auto E = energies(model);
  const auto G = gradients(model);
  const auto target = boltzmann(E, beta);
  const GibbsWithGradients sampler(beta);
  check_chains_converge<TestType>(
      d, target, N, 400, 206,
      [&](Matrix<TestType>& X, std::mt19937_64& r) {
        const double rate = sampler.step(model, X, r);
        REQUIRE(rate > 0.0);
        REQUIRE(rate <= 1.0);
      },
      [&](const std::vector<double>& pi) { return exact_gwg_step(E, G, d, beta, pi); });
}

TEMPLATE_TEST_CASE("GibbsWithGradients chains of an MlpEnergy follow the exact law and converge to p_β",
                   "[samplers][gwg]", float, double) {
  const double beta = GENERATE(1.0, 2.0);
  std::mt19937_64 rng(107);
  const Index d = 4, N = 20000;
  const auto model = peaked_mlp<TestType>(rng);
  const auto E = energies(model);
  const auto G = gradients(model);
  const auto target = boltzmann(E, beta);
  const GibbsWithGradients sampler(beta);
  check_chains_converge<TestType>(
      d, target, N, 400, 208,
      [&](Matrix<TestType>& X, std::mt19937_64& r) {
        const double rate = sampler.step(model, X, r);
        REQUIRE(rate > 0.0);
        REQUIRE(rate <= 1.0);
      },
      [&](const std::vector<double>& pi) { return exact_gwg_step(E, G, d, beta, pi); });
}

TEMPLATE_TEST_CASE("One Gibbs sweep and one GWG step leave p_β invariant", "[samplers][gibbs][gwg]", float, double) {
  const double beta = GENERATE(1.0, 2.0);
  std::mt19937_64 rng(111);
  const Index d = 5, N = 20000;
  const auto model = random_ising<TestType>(d, rng);
  const auto E = energies(model);
  const auto target = boltzmann(E, beta);
  const double bound = iid_tv_bound(target, N);
  // The test has the power to see a wrong sign of ΔE or a wrong β: one exact sweep of either
  // moves the law well beyond the noise.
  REQUIRE(total_variation(exact_gibbs_sweep(E, d, -beta, target), target) > 3 * bound);
  REQUIRE(total_variation(exact_gibbs_sweep(E, d, beta == 1.0 ? 2.0 : 1.0, target), target) > 3 * bound);
  REQUIRE(total_variation(exact_gwg_step(E, gradients(model), d, -beta, target), target) > 3 * bound);

  Matrix<TestType> X = exact_sample<TestType>(target, d, N, rng);
  REQUIRE(total_variation(histogram(X), target) <= bound);
  GibbsSampler(beta).sweep(model, X, rng);
  const double after_sweep = total_variation(histogram(X), target);
  INFO("TV after one sweep " << after_sweep << ", bound " << bound);
  REQUIRE(after_sweep <= bound);

  X = exact_sample<TestType>(target, d, N, rng);
  const double rate = GibbsWithGradients(beta).step(model, X, rng);
  const double after_step = total_variation(histogram(X), target);
  INFO("TV after one step " << after_step << ", acceptance " << rate);
  REQUIRE(after_step <= bound);
  REQUIRE(rate > 0.0);
  REQUIRE(rate <= 1.0);
}

namespace {

// The exact expected acceptance rate of one GWG step from chains in state k with weights pi:
// Σ_k π_k Σ_i q(i | k) min(1, p_β(j) q(i | j) / (p_β(k) q(i | k))), j = k ^ 2^i.
double exact_gwg_acceptance(const std::vector<double>& E, const Matrix<double>& G, Index d, double beta,
                            const std::vector<double>& pi) {
  double rate = 0;
  for (std::size_t k = 0; k < pi.size(); ++k) {
    const auto q = gwg_proposal(G, d, k, beta);
    for (Index i = 0; i < d; ++i) {
      const std::size_t j = k ^ (std::size_t{1} << i);
      const auto q_back = gwg_proposal(G, d, j, beta);
      rate += pi[k] * q[i] * std::min(1.0, std::exp(-beta * (E[j] - E[k])) * q_back[i] / q[i]);
    }
  }
  return rate;
}

}  // namespace

TEMPLATE_TEST_CASE("The acceptance rate GWG reports for one step matches the exact expectation by enumeration",
                   "[samplers][gwg]", float, double) {
  const double beta = GENERATE(1.0, 2.0);
  std::mt19937_64 rng(2024);
  const Index d = 5, copies = 2000;
  const auto model = random_ising<TestType>(d, rng);
  const auto E = energies(model);
  const Index states = Index{1} << d, N = states * copies;
  // Every state `copies` times: the start law is uniform exactly, and the reported rate is a
  // mean of N independent Bernoulli draws whose mean is the exact acceptance below.
  const Matrix<TestType> all = all_states<TestType>(d);
  Matrix<TestType> X(N, d);
  for (Index c = 0; c < copies; ++c) X.middleRows(c * states, states) = all;
  const std::vector<double> uniform(static_cast<std::size_t>(states), 1.0 / static_cast<double>(states));
  const double exact = exact_gwg_acceptance(E, gradients(model), d, beta, uniform);
  // Hoeffding: P(|rate − exact| ≥ t) ≤ 2 exp(−2 N t²) = failure_probability.
  const double t = std::sqrt(std::log(2 / failure_probability) / (2 * static_cast<double>(N)));
  // Power: the rejection rate 1 − exact lies far outside the interval, so a sampler that
  // reported it (or counted the rejected chains) fails.
  REQUIRE(std::abs((1 - exact) - exact) > 3 * t);
  const double rate = GibbsWithGradients(beta).step(model, X, rng);
  INFO("reported " << rate << ", exact " << exact << ", tolerance " << t);
  REQUIRE(std::abs(rate - exact) <= t);
}

namespace {

template <class S>
double fraction_of_equal_rows(const Matrix<S>& A, const Matrix<S>& B) {
  Index equal = 0;
  for (Index r = 0; r < A.rows(); ++r) equal += A.row(r) == B.row(r) ? 1 : 0;
  return static_cast<double>(equal) / static_cast<double>(A.rows());
}

// Runs `advance` on the model and on its RequiredOnly view from the same engine state.
template <class M, class Advance>
void compare_fast_and_generic(M& model, double min_equal_fraction, Advance advance) {
  using S = typename M::Scalar;
  static_assert(HasBatchEvaluation<M>);
  static_assert(!HasBatchEvaluation<RequiredOnly<M>>);
  const RequiredOnly<M> generic(model);
  std::mt19937_64 rng_fast(77), rng_generic(77);
  Matrix<S> X_fast = random_binary<S>(2000, model.dim(), rng_fast);
  Matrix<S> X_generic = random_binary<S>(2000, model.dim(), rng_generic);
  advance(model, X_fast, rng_fast);
  advance(generic, X_generic, rng_generic);
  const double equal = fraction_of_equal_rows(X_fast, X_generic);
  INFO("fraction of identical chains " << equal);
  REQUIRE(equal >= min_equal_fraction);
  // The chains moved, so the comparison is not vacuous.
  std::mt19937_64 rng_start(77);
  REQUIRE(fraction_of_equal_rows(X_fast, random_binary<S>(2000, model.dim(), rng_start)) < 0.5);
}

}  // namespace

// ΔE by the selected flip deltas and by two energies differ by rounding only, so a chain
// decision differs only if a uniform lands within rounding of its threshold: never in double
// at this size (~1e5 draws, each off with probability ~1e-15), rarely in float.
TEMPLATE_TEST_CASE("Gibbs and GWG give the same chains on the fast path and the generic path", "[samplers][fallback]",
                   float, double) {
  const double min_equal = std::is_same_v<TestType, double> ? 1.0 : 0.99;
  std::mt19937_64 rng(121);
  auto ising = random_ising<TestType>(6, rng);
  auto mlp = peaked_mlp<TestType>(rng);
  const GibbsSampler gibbs(2.0);
  const GibbsWithGradients gwg(2.0);
  auto gibbs_run = [&](const auto& m, Matrix<TestType>& X, std::mt19937_64& r) { gibbs.run(m, X, 5, r); };
  auto gwg_run = [&](const auto& m, Matrix<TestType>& X, std::mt19937_64& r) { gwg.run(m, X, 10, r); };
  SECTION("Ising, Gibbs") { compare_fast_and_generic(ising, min_equal, gibbs_run); }
  SECTION("Ising, GWG") { compare_fast_and_generic(ising, min_equal, gwg_run); }
  SECTION("MLP, Gibbs") { compare_fast_and_generic(mlp, min_equal, gibbs_run); }
  SECTION("MLP, Gibbs, every thread count") {
    for (const int threads : thread_counts()) {
      ScopedThreads scoped(threads);
      INFO("threads " << threads);
      compare_fast_and_generic(mlp, min_equal, gibbs_run);
    }
  }
  SECTION("MLP, GWG") { compare_fast_and_generic(mlp, min_equal, gwg_run); }
}

TEST_CASE("GibbsSampler::sample starts from uniform bits and reproduces bit for bit", "[samplers][gibbs]") {
  std::mt19937_64 rng(131);
  const auto model = random_ising<double>(6, rng);
  const GibbsSampler sampler;
  REQUIRE(sampler.beta() == 1.0);
  std::mt19937_64 a(5), b(5), c(5);
  const Matrix<double> first = sampler.sample(model, 300, 3, a);
  const Matrix<double> second = sampler.sample(model, 300, 3, b);
  REQUIRE(first.rows() == 300);
  REQUIRE(first.cols() == 6);
  REQUIRE(first == second);
  REQUIRE((first.array() == 0.0 || first.array() == 1.0).all());
  // sample = uniform bits (drawn column by column) followed by run.
  Matrix<double> X = random_binary<double>(300, 6, c);
  sampler.run(model, X, 3, c);
  REQUIRE(X == first);
  // No sweeps: the uniform start itself.
  std::mt19937_64 d0(6), d1(6);
  REQUIRE(sampler.sample(model, 300, 0, d0) == random_binary<double>(300, 6, d1));
}

TEST_CASE("GibbsWithGradients::run returns the mean acceptance rate of its steps", "[samplers][gwg]") {
  std::mt19937_64 rng(141);
  auto model = peaked_mlp<double>(rng);
  const GibbsWithGradients sampler(1.5);
  REQUIRE(sampler.beta() == 1.5);
  std::mt19937_64 a(9), b(9);
  Matrix<double> X = random_binary<double>(500, 4, a);
  Matrix<double> Y = random_binary<double>(500, 4, b);
  double total = 0;
  for (int t = 0; t < 4; ++t) total += sampler.step(model, X, a);
  const double mean = sampler.run(model, Y, 4, b);
  REQUIRE(X == Y);
  REQUIRE(mean == Approx(total / 4).epsilon(1e-12));
  REQUIRE(mean > 0.0);
  REQUIRE(mean <= 1.0);
}

TEST_CASE("Samplers reject bad input", "[samplers][errors]") {
  std::mt19937_64 rng(151);
  const auto model = random_ising<double>(4, rng);
  const GibbsSampler gibbs;
  const GibbsWithGradients gwg;
  for (const double beta : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    REQUIRE_THROWS_WITH(GibbsSampler(beta), Contains("ratiomatch::GibbsSampler::GibbsSampler") && Contains("beta"));
    REQUIRE_THROWS_AS(GibbsWithGradients(beta), std::invalid_argument);
  }
  Matrix<double> X = random_binary<double>(3, 4, rng);
  Matrix<double> non_binary = X;
  non_binary(1, 2) = 0.5;
  Matrix<double> wrong_width = random_binary<double>(3, 5, rng);
  Matrix<double> empty(0, 4);
  REQUIRE_THROWS_WITH(gibbs.sweep(model, non_binary, rng), Contains("ratiomatch::GibbsSampler::sweep") && Contains("0.5"));
  REQUIRE_THROWS_AS(gibbs.run(model, non_binary, 2, rng), std::invalid_argument);
  REQUIRE_THROWS_WITH(gibbs.sweep(model, wrong_width, rng), Contains("X.cols() (5)"));
  REQUIRE_THROWS_AS(gibbs.sweep(model, empty, rng), std::invalid_argument);
  REQUIRE_THROWS_WITH(gibbs.run(model, X, -1, rng), Contains("sweeps (-1)"));
  REQUIRE_THROWS_WITH(gibbs.sample(model, 0, 3, rng), Contains("num_chains (0)"));
  REQUIRE_THROWS_AS(gibbs.sample(model, 10, -2, rng), std::invalid_argument);
  REQUIRE_THROWS_WITH(gwg.step(model, non_binary, rng), Contains("ratiomatch::GibbsWithGradients::step"));
  REQUIRE_THROWS_AS(gwg.step(model, wrong_width, rng), std::invalid_argument);
  REQUIRE_THROWS_AS(gwg.step(model, empty, rng), std::invalid_argument);
  REQUIRE_THROWS_AS(gwg.run(model, non_binary, 3, rng), std::invalid_argument);
  REQUIRE_THROWS_WITH(gwg.run(model, X, 0, rng), Contains("steps (0)"));
  // Nothing was changed by a rejected call.
  REQUIRE(non_binary(1, 2) == 0.5);
  // The generic path checks as well.
  auto mutable_model = model;
  const RequiredOnly generic(mutable_model);
  REQUIRE_THROWS_AS(gibbs.sweep(generic, non_binary, rng), std::invalid_argument);
  REQUIRE_THROWS_AS(gwg.step(generic, wrong_width, rng), std::invalid_argument);
}

TEST_CASE("Samplers report a non-finite energy change as NumericalError", "[samplers][errors]") {
  std::mt19937_64 rng(161);
  auto model = random_ising<double>(4, rng);
  model.bias()(2) = std::numeric_limits<double>::quiet_NaN();
  Matrix<double> X = random_binary<double>(5, 4, rng);
  REQUIRE_THROWS_AS(GibbsSampler().sweep(model, X, rng), NumericalError);
  REQUIRE_THROWS_AS(GibbsWithGradients().step(model, X, rng), NumericalError);
  const RequiredOnly generic(model);
  REQUIRE_THROWS_AS(GibbsSampler().sweep(generic, X, rng), NumericalError);
  REQUIRE_THROWS_AS(GibbsWithGradients().step(generic, X, rng), NumericalError);
}
