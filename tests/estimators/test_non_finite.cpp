// Non-finite values anywhere in a step raise ratiomatch::NumericalError naming the quantity, for
// every estimator, in float and double, whether the model's parameters hold a NaN or an infinity.

#include <catch2/catch.hpp>

#include <limits>
#include <random>
#include <string>

#include <ratiomatch/estimators/contrastive_divergence.hpp>
#include <ratiomatch/estimators/gradient_guided_rm.hpp>
#include <ratiomatch/estimators/persistent_contrastive_divergence.hpp>
#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/estimators/taylor_ratio_matching.hpp>
#include <ratiomatch/estimators/uniform_sampled_rm.hpp>
#include <ratiomatch/models/bernoulli_rbm.hpp>
#include <ratiomatch/models/mlp_energy.hpp>
#include <ratiomatch/samplers/block_gibbs_sampler.hpp>
#include <ratiomatch/samplers/gibbs_sampler.hpp>
#include <ratiomatch/samplers/gibbs_with_gradients.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;

namespace {

// The step must throw NumericalError whose message names the estimator (`where`) and says what
// is not finite; nothing else (no std::invalid_argument, no silent NaN).
template <class Estimator, class M>
void require_numerical_error(const Estimator& estimator, const M& model, const Matrix<typename M::Scalar>& X,
                             const std::string& where) {
  std::mt19937_64 rng(5);
  Vector<typename M::Scalar> grad;
  INFO(where);
  try {
    estimator.loss_and_gradient(model, X, rng, grad);
    FAIL("no exception; gradient finite: " << grad.allFinite());
  } catch (const NumericalError& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find(where) != std::string::npos);
    CHECK(message.find("not finite") != std::string::npos);
  }
}

template <class S>
MlpEnergy<S> poisoned_mlp(Index d, S value, Index where) {
  std::mt19937_64 rng(3);
  MlpEnergy<S> model(d, {6, 5}, Activation::Swish);
  model.initialize(rng);
  model.params()(where % model.num_params()) = value;
  return model;
}

}  // namespace

TEMPLATE_TEST_CASE("a NaN or infinite parameter makes every estimator's step raise NumericalError",
                   "[estimators][errors][non-finite]", float, double) {
  using S = TestType;
  const Index d = 8;
  std::mt19937_64 rng(2);
  const auto X = random_binary<S>(5, d, rng);
  for (const S bad : {std::numeric_limits<S>::quiet_NaN(), std::numeric_limits<S>::infinity()}) {
    // A first-layer weight (every energy), then the output bias (every energy, no gradient path through inputs).
    for (const Index position : {Index(3), Index(6 * 8 + 6 + 30 + 5 + 5)}) {
      const auto model = poisoned_mlp<S>(d, bad, position);
      CAPTURE(bad, position);
      require_numerical_error(RatioMatching<>(), model, X, "ratiomatch::RatioMatching::loss_and_gradient");
      require_numerical_error(RatioMatching<HyvarinenRatio>(), model, X, "ratiomatch::RatioMatching::loss_and_gradient");
      require_numerical_error(UniformSampledRM<>(3), model, X, "ratiomatch::UniformSampledRM::loss_and_gradient");
      require_numerical_error(GradientGuidedRM<>(3, GuidedVariant::Basic), model, X,
                              "ratiomatch::GradientGuidedRM::loss_and_gradient");
      require_numerical_error(GradientGuidedRM<SqrtRatio>(3, GuidedVariant::Advanced), model, X,
                              "ratiomatch::GradientGuidedRM::loss_and_gradient");
      require_numerical_error(TaylorRatioMatching<>(), model, X, "ratiomatch::TaylorRatioMatching::loss_and_gradient");
      require_numerical_error(PersistentContrastiveDivergence(GibbsSampler(1.0), 4, 1), model, X,
                              "ratiomatch::PersistentContrastiveDivergence");
      require_numerical_error(PersistentContrastiveDivergence(GibbsWithGradients(1.0), 4, 1), model, X,
                              "ratiomatch::PersistentContrastiveDivergence");
    }
  }
  // Block Gibbs chains of an RBM (CD and PCD).
  BernoulliRBM<S> rbm(d, 3);
  rbm.params()(2) = std::numeric_limits<S>::quiet_NaN();
  require_numerical_error(ContrastiveDivergence(BlockGibbsSampler(), 1), rbm, X, "ratiomatch::ContrastiveDivergence");
  require_numerical_error(PersistentContrastiveDivergence(BlockGibbsSampler(), 4, 1), rbm, X,
                          "ratiomatch::PersistentContrastiveDivergence");
}
