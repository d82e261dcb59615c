// The optional estimator state hook (core/estimator_state.hpp) as PCD and Penalized implement it.
#include <catch2/catch.hpp>

#include <random>
#include <stdexcept>

#include <ratiomatch/core/estimator_state.hpp>
#include <ratiomatch/estimators/gradient_guided_rm.hpp>
#include <ratiomatch/estimators/penalized.hpp>
#include <ratiomatch/estimators/persistent_contrastive_divergence.hpp>
#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/models/ising_coupling_l1.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/samplers/gibbs_sampler.hpp>
#include <ratiomatch/samplers/gibbs_with_gradients.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

using PcdGibbs = PersistentContrastiveDivergence<GibbsSampler>;
using PcdGwg = PersistentContrastiveDivergence<GibbsWithGradients>;

static_assert(StatefulEstimator<PcdGibbs>);
static_assert(StatefulEstimator<PcdGwg>);
static_assert(StatefulEstimator<Penalized<PcdGwg, IsingCouplingL1>>);
static_assert(!StatefulEstimator<RatioMatching<>>);
static_assert(!StatefulEstimator<GradientGuidedRM<>>);
static_assert(!StatefulEstimator<Penalized<GradientGuidedRM<>, IsingCouplingL1>>);

namespace {

IsingModel<double> small_model() {
  IsingModel<double> model(4);
  std::mt19937_64 rng(3);
  for (Index k = 0; k < model.num_params(); ++k) model.params()(k) = 0.2 * (uniform_open01(rng) - 0.5);
  return model;
}

}  // namespace

TEST_CASE("PCD's state holds the chains of both scalar types, 0 × 0 until started", "[estimators][pcd][state]") {
  const PcdGibbs pcd(GibbsSampler(1.0), 3, 1);
  EstimatorState state = pcd.state_buffers();
  REQUIRE(state.single.size() == 1);
  REQUIRE(state.twice.size() == 1);
  CHECK(state.single[0].size() == 0);
  CHECK(state.twice[0].size() == 0);

  std::mt19937_64 rng(1);
  const auto model = small_model();
  IsingModel<float> model_f(4);
  Vector<double> grad;
  Vector<float> grad_f;
  pcd.loss_and_gradient(model, random_binary<double>(5, 4, rng), rng, grad);
  state = pcd.state_buffers();
  CHECK(state.twice[0] == pcd.chains<double>());
  CHECK(state.twice[0].rows() == 3);
  CHECK(state.single[0].size() == 0);
  pcd.loss_and_gradient(model_f, random_binary<float>(5, 4, rng), rng, grad_f);
  state = pcd.state_buffers();
  CHECK(state.single[0] == pcd.chains<float>());
  CHECK(state.single[0].rows() == 3);
}

TEST_CASE("PCD restored from a state continues exactly as the saved one", "[estimators][pcd][state]") {
  const PcdGwg saved(GibbsWithGradients(1.0), 4, 2);
  const auto model = small_model();
  std::mt19937_64 rng(5);
  const Matrix<double> X = random_binary<double>(6, 4, rng);
  Vector<double> grad_a, grad_b;
  for (int k = 0; k < 3; ++k) saved.loss_and_gradient(model, X, rng, grad_a);

  const PcdGwg restored(GibbsWithGradients(1.0), 4, 2);
  restored.restore_state(saved.state_buffers());
  std::mt19937_64 rng_b = rng;
  const double loss_a = saved.loss_and_gradient(model, X, rng, grad_a);
  const double loss_b = restored.loss_and_gradient(model, X, rng_b, grad_b);
  CHECK(loss_b == loss_a);
  CHECK(grad_b == grad_a);
  CHECK(restored.chains<double>() == saved.chains<double>());

  // Without the state the continuation differs (so the comparison above can fail).
  const PcdGwg fresh(GibbsWithGradients(1.0), 4, 2);
  std::mt19937_64 rng_c = rng;
  saved.loss_and_gradient(model, X, rng, grad_a);
  fresh.loss_and_gradient(model, X, rng_c, grad_b);
  CHECK(grad_b != grad_a);
}

TEST_CASE("PCD refuses a state that does not fit and keeps its chains", "[estimators][pcd][state][errors]") {
  const PcdGibbs pcd(GibbsSampler(1.0), 3, 1);
  std::mt19937_64 rng(2);
  Vector<double> grad;
  pcd.loss_and_gradient(small_model(), random_binary<double>(4, 4, rng), rng, grad);
  const Matrix<double> before = pcd.chains<double>();
  const EstimatorState good = pcd.state_buffers();
  REQUIRE_NOTHROW(pcd.check_state(good));

  auto refused = [&](const EstimatorState& bad, const std::string& text) {
    CHECK_THROWS_WITH(pcd.check_state(bad), Contains("ratiomatch::PersistentContrastiveDivergence::check_state") &&
                                                Contains(text));
    CHECK_THROWS_AS(pcd.restore_state(bad), std::invalid_argument);
    CHECK(pcd.chains<double>() == before);
  };
  EstimatorState bad = good;
  bad.twice.clear();
  refused(bad, "state.twice.size() (0) must equal 1 (the double chains)");
  bad = good;
  bad.single.push_back(Matrix<float>());
  refused(bad, "state.single.size() (2) must equal 1");
  bad = good;
  bad.twice[0] = Matrix<double>::Zero(2, 4);
  refused(bad, "state.twice[0].rows() (2) must equal num_chains() (3)");
  bad = good;
  bad.twice[0](1, 2) = 0.5;
  refused(bad, "state.twice[0](1, 2) = 0.5 is not binary");
  bad = good;
  bad.single[0] = Matrix<float>(0, 4);
  refused(bad, "state.single[0] is 0 × 4; chains not started are 0 × 0");

  // Penalized forwards to the inner estimator.
  const Penalized<PcdGibbs, IsingCouplingL1> penalized(pcd, IsingCouplingL1{0.1});
  CHECK(penalized.state_buffers().twice[0] == before);
  CHECK_THROWS_WITH(penalized.check_state(bad), Contains("chains not started are 0 × 0"));
  EstimatorState other = good;
  other.twice[0].setZero();
  penalized.restore_state(other);
  CHECK(penalized.estimator().chains<double>().isZero(0));
  CHECK(pcd.chains<double>() == before);  // Penalized holds its own copy
}
