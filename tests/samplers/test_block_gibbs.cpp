// Block Gibbs sampling of RBMs and the chain-based likelihood estimators that use it.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <ratiomatch/estimators/contrastive_divergence.hpp>
#include <ratiomatch/estimators/persistent_contrastive_divergence.hpp>
#include <ratiomatch/metrics/exact.hpp>
#include <ratiomatch/models/bernoulli_rbm.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/samplers/block_gibbs_sampler.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

BernoulliRBM<double> random_rbm(Index visible, Index hidden, std::mt19937_64& rng, double scale) {
  BernoulliRBM<double> rbm(visible, hidden);
  for (Index k = 0; k < rbm.num_params(); ++k) rbm.params()(k) = scale * (2 * uniform_open01(rng) - 1);
  return rbm;
}

Matrix<double> all_states(Index d) {
  Matrix<double> X(Index{1} << d, d);
  for (Index k = 0; k < X.rows(); ++k)
    for (Index i = 0; i < d; ++i) X(k, i) = static_cast<double>((k >> i) & 1);
  return X;
}

Index state_index(const Matrix<double>& X, Index r) {
  Index k = 0;
  for (Index i = 0; i < X.cols(); ++i) k |= static_cast<Index>(X(r, i)) << i;
  return k;
}

// T(x' | x) = Σ_h p(h | x) p(x' | h), exactly, rows indexed by x, columns by x'.
Matrix<double> exact_transition(const BernoulliRBM<double>& rbm) {
  const Matrix<double> X = all_states(rbm.dim()), H = all_states(rbm.num_hidden());
  Matrix<double> P, Q;
  rbm.hidden_probabilities(X, P);
  rbm.visible_probabilities(H, Q);
  Matrix<double> T = Matrix<double>::Zero(X.rows(), X.rows());
  for (Index x = 0; x < X.rows(); ++x)
    for (Index h = 0; h < H.rows(); ++h) {
      double p_h = 1;
      for (Index j = 0; j < H.cols(); ++j) p_h *= H(h, j) == 1 ? P(x, j) : 1 - P(x, j);
      for (Index y = 0; y < X.rows(); ++y) {
        double p_y = 1;
        for (Index i = 0; i < X.cols(); ++i) p_y *= X(y, i) == 1 ? Q(h, i) : 1 - Q(h, i);
        T(x, y) += p_h * p_y;
      }
    }
  return T;
}

}  // namespace

TEST_CASE("BlockGibbsSampler: its exact transition leaves p(x) invariant, and its draws follow that transition",
          "[samplers][block-gibbs]") {
  std::mt19937_64 rng(501);
  const auto rbm = random_rbm(4, 3, rng, 1.5);
  const Matrix<double> T = exact_transition(rbm);
  const Vector<double> pi = log_probabilities(rbm).array().exp();
  CHECK((T.rowwise().sum().array() - 1).abs().maxCoeff() < 1e-12);
  CHECK(((pi.transpose() * T).transpose() - pi).cwiseAbs().maxCoeff() < 1e-12);
  // 40,000 chains from one state: the histogram after one step matches T(· | x) to sampling error.
  const Index chains = 40000, start = 5;
  Matrix<double> X(chains, 4);
  for (Index i = 0; i < 4; ++i) X.col(i).setConstant(static_cast<double>((start >> i) & 1));
  BlockGibbsSampler().step(rbm, X, rng);
  std::vector<double> counts(16, 0.0);
  for (Index r = 0; r < chains; ++r) counts[state_index(X, r)] += 1;
  for (Index y = 0; y < 16; ++y) {
    const double p = T(start, y), sd = std::sqrt(p * (1 - p) / chains);
    INFO("state " << y);
    CHECK(std::abs(counts[y] / chains - p) <= 5 * sd + 1e-12);
  }
}

TEST_CASE("BlockGibbsSampler reproduces bit for bit and rejects bad input", "[samplers][block-gibbs]") {
  std::mt19937_64 rng(502);
  const auto rbm = random_rbm(6, 4, rng, 1.0);
  const BlockGibbsSampler sampler;
  std::mt19937_64 a(3), b(3), c(3);
  const Matrix<double> first = sampler.sample(rbm, 50, 4, a);
  const Matrix<double> second = sampler.sample(rbm, 50, 4, b);
  REQUIRE(first == second);
  Matrix<double> X = random_binary<double>(50, 6, c);  // sample = uniform bits, then run
  sampler.run(rbm, X, 4, c);
  REQUIRE(X == first);
  Matrix<double> bad = X;
  bad(0, 0) = 0.5;
  REQUIRE_THROWS_WITH(sampler.step(rbm, bad, rng), Contains("ratiomatch::BlockGibbsSampler::step"));
  REQUIRE_THROWS_WITH(sampler.run(rbm, X, -1, rng), Contains("steps (-1)"));
}

TEST_CASE("ContrastiveDivergence: CD-k is data minus k-step chains started at the data", "[estimators][cd]") {
  std::mt19937_64 rng(503);
  auto rbm = random_rbm(6, 4, rng, 1.0);
  const auto X = random_binary<double>(12, 6, rng);
  const ContrastiveDivergence cd(BlockGibbsSampler(), 3);
  REQUIRE(cd.steps() == 3);
  std::mt19937_64 r1(9), r2(9);
  Vector<double> grad;
  const double value = cd.loss_and_gradient(rbm, X, r1, grad);
  // The same by hand: three block Gibbs steps of a copy of the data, from the same engine.
  Matrix<double> chains = X;
  BlockGibbsSampler().run(rbm, chains, 3, r2);
  Vector<double> expected = Vector<double>::Zero(rbm.num_params());
  rbm.accumulate_param_gradient(X, Vector<double>::Constant(12, 1.0 / 12), expected);
  rbm.accumulate_param_gradient(chains, Vector<double>::Constant(12, -1.0 / 12), expected);
  Vector<double> e_data, e_chains;
  rbm.energy(X, e_data);
  rbm.energy(chains, e_chains);
  CHECK(value == Approx(e_data.mean() - e_chains.mean()).epsilon(1e-12));
  CHECK((grad - expected).cwiseAbs().maxCoeff() < 1e-12);
  REQUIRE_THROWS_WITH(ContrastiveDivergence(BlockGibbsSampler(), 0), Contains("steps (0) must be positive"));
}

TEST_CASE("CD-1 and PCD with block Gibbs raise the exact log-likelihood of a small RBM", "[estimators][cd][pcd]") {
  std::mt19937_64 rng(504);
  // Data: two prototypes over 8 bits, each bit flipped with probability 0.05.
  const Index d = 8, n = 400;
  Matrix<double> data(n, d);
  for (Index r = 0; r < n; ++r)
    for (Index i = 0; i < d; ++i) {
      const double prototype = r % 2 == 0 ? static_cast<double>(i < 4) : static_cast<double>(i % 2);
      data(r, i) = uniform_open01(rng) < 0.05 ? 1 - prototype : prototype;
    }
  auto train = [&](const auto& estimator, double lr) {
    BernoulliRBM<double> rbm(d, 4);
    std::mt19937_64 local(7);
    rbm.initialize(local);
    rbm.set_visible_bias_from_data(data);
    const double before = mean_log_likelihood(rbm, data);
    Adam<double> adam(rbm.num_params(), {.lr = lr});
    Matrix<double> batch(40, d);
    Vector<double> grad;
    for (int it = 0; it < 600; ++it) {
      for (Index r = 0; r < batch.rows(); ++r) batch.row(r) = data.row(uniform_index(local, n));
      estimator.loss_and_gradient(rbm, batch, local, grad);
      auto params = rbm.params();
      adam.step(params, grad);
    }
    return std::pair{before, mean_log_likelihood(rbm, data)};
  };
  const auto [cd_before, cd_after] = train(ContrastiveDivergence(BlockGibbsSampler(), 1), 0.05);
  const auto [pcd_before, pcd_after] = train(PersistentContrastiveDivergence(BlockGibbsSampler(), 100, 1), 0.01);
  INFO("CD-1 " << cd_before << " -> " << cd_after << ", PCD " << pcd_before << " -> " << pcd_after);
  // Independent bits fitted to these data give about −5.5 nats; the two-prototype law about −2.8.
  CHECK(cd_after > cd_before + 0.5);
  CHECK(pcd_after > pcd_before + 0.5);
}
