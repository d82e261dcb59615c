// A training step repeated on batches of the same shape must not allocate: Eigen's runtime
// malloc guard counts every Eigen heap allocation inside the guarded region, and this
// executable's own operator new counts every other one (std::vector, std::function, …).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// Eigen's guard reports through eigen_assert, which NDEBUG compiles out: routed to a counter
// here, it counts in every build type (any other failed Eigen assertion aborts).
namespace no_allocation_test {
inline std::atomic<long> eigen_allocations{0};
inline void eigen_assertion_failed(const char* condition, const char* file, int line) {
  if (std::strstr(condition, "heap allocation is forbidden") != nullptr) {
    eigen_allocations.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::fprintf(stderr, "%s:%d: Eigen assertion failed: %s\n", file, line, condition);
  std::abort();
}
}  // namespace no_allocation_test
#define eigen_assert(x) \
  ((x) ? static_cast<void>(0) : ::no_allocation_test::eigen_assertion_failed(#x, __FILE__, __LINE__))
#define EIGEN_RUNTIME_NO_MALLOC

#include <catch2/catch.hpp>

#include <new>
#include <random>
#include <string>

#include <ratiomatch/core/batch_evaluation.hpp>
#include <ratiomatch/estimators/bism.hpp>
#include <ratiomatch/estimators/gradient_guided_rm.hpp>
#include <ratiomatch/estimators/penalized.hpp>
#include <ratiomatch/estimators/persistent_contrastive_divergence.hpp>
#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/estimators/taylor_ratio_matching.hpp>
#include <ratiomatch/estimators/uniform_sampled_rm.hpp>
#include <ratiomatch/models/bernoulli_rbm.hpp>
#include <ratiomatch/models/gaussian_bernoulli_rbm.hpp>
#include <ratiomatch/models/ising_coupling_l1.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/models/mlp_energy.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/optim/gradient_clipping.hpp>
#include <ratiomatch/samplers/gibbs_sampler.hpp>
#include <ratiomatch/samplers/gibbs_with_gradients.hpp>

#include "estimators/estimator_test_models.hpp"
#include "test_support.hpp"

namespace {
std::atomic<long> counted_allocations{0};
std::atomic<bool> counting{false};
}  // namespace

// The replacements pair malloc with free; GCC cannot see that they replace each other. Under
// AddressSanitizer, whose runtime owns operator new, only Eigen's guard counts (GCC says so with
// __SANITIZE_ADDRESS__, Clang with __has_feature).
#if defined(__SANITIZE_ADDRESS__)
#define RATIOMATCH_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RATIOMATCH_TEST_UNDER_ASAN 1
#endif
#endif
#ifndef RATIOMATCH_TEST_UNDER_ASAN
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) counted_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
#endif

using namespace ratiomatch;
using namespace ratiomatch::testing;

namespace {

// Counts the heap allocations of `body`: Eigen's own through its guard, the others through
// operator new (not under AddressSanitizer, whose runtime owns operator new).
template <class Body>
long allocations_of(Body&& body) {
  counted_allocations = 0;
  no_allocation_test::eigen_allocations = 0;
  Eigen::internal::set_is_malloc_allowed(false);
  counting = true;
  body();
  counting = false;
  Eigen::internal::set_is_malloc_allowed(true);
  return counted_allocations.load() + no_allocation_test::eigen_allocations.load();
}

// The trainer's step — loss and gradient, clipping, Adam — on five batches of one shape: two
// warm-up steps size every workspace, the next three must not allocate.
template <class Estimator, class M>
void check_training_step(const std::string& name, const Estimator& estimator, M& model,
                         const std::vector<Matrix<typename M::Scalar>>& batches) {
  using S = typename M::Scalar;
  std::mt19937_64 rng(99);
  Adam<S> adam(model.num_params(), {.lr = 1e-3});
  Vector<S> grad;
  auto step = [&](const Matrix<S>& X) {
    estimator.loss_and_gradient(model, X, rng, grad);
    clip_gradient_norm(grad, 1.0);
    auto params = model.params();
    adam.step(params, grad);
  };
  step(batches[0]);
  step(batches[1]);
  const long allocations = allocations_of([&] {
    for (int k = 2; k < 5; ++k) step(batches[k]);
  });
  INFO(name);
  CHECK(allocations == 0);
}

// The same on fresh binary batches.
template <class Estimator, class M>
void check_training_step(const std::string& name, const Estimator& estimator, M& model) {
  std::mt19937_64 rng(98);
  std::vector<Matrix<typename M::Scalar>> batches;
  for (int k = 0; k < 5; ++k) batches.push_back(random_binary<typename M::Scalar>(16, model.dim(), rng));
  check_training_step(name, estimator, model, batches);
}

template <class M>
void check_every_estimator(M& model) {
  check_training_step("RatioMatching", RatioMatching<>(), model);
  check_training_step("RatioMatching<HyvarinenRatio>", RatioMatching<HyvarinenRatio>(), model);
  check_training_step("UniformSampledRM", UniformSampledRM<SqrtRatio>(5), model);
  check_training_step("GradientGuidedRM basic", GradientGuidedRM<>(5, GuidedVariant::Basic), model);
  check_training_step("GradientGuidedRM advanced", GradientGuidedRM<>(5, GuidedVariant::Advanced), model);
  if constexpr (HasMixedGradient<M>) check_training_step("TaylorRatioMatching", TaylorRatioMatching<>(), model);
  check_training_step("PCD, Gibbs", PersistentContrastiveDivergence(GibbsSampler(), 12, 2), model);
  check_training_step("PCD, Gibbs with gradients", PersistentContrastiveDivergence(GibbsWithGradients(), 12, 3),
                      model);
}

}  // namespace

TEMPLATE_TEST_CASE("training steps of every estimator allocate nothing once their workspaces are sized",
                   "[allocation]", float, double) {
  std::mt19937_64 rng(31);
  const Index d = 12;
  SECTION("MlpEnergy") {
    MlpEnergy<TestType> mlp(d, {16, 16}, Activation::Swish);
    mlp.initialize(rng);
    check_every_estimator(mlp);
  }
  SECTION("BernoulliRBM") {
    BernoulliRBM<TestType> rbm(d, 7);
    rbm.initialize(rng);
    check_every_estimator(rbm);
  }
  SECTION("IsingModel") {
    IsingModel<TestType> ising(d);
    ising.params().setRandom();
    ising.params() *= TestType(0.1);
    check_every_estimator(ising);
    check_training_step("Penalized RatioMatching + IsingCouplingL1", Penalized(RatioMatching<>(), IsingCouplingL1{0.01}),
                        ising);
  }
}

TEMPLATE_TEST_CASE("a BiSM update allocates nothing once its workspace is sized", "[allocation][bism]", float,
                   double) {
  using S = TestType;
  std::mt19937_64 rng(41);
  const Index d = 12, m = 7, n = 16;
  GaussianBernoulliRBM<S> model(d, m);
  model.initialize(rng);
  const auto objective = GENERATE(BiSMObjective::Denoising, BiSMObjective::Sliced);
  BiSM<S> bism(d, m, {.objective = objective, .inner_steps = 2, .unroll_steps = 3});
  bism.initialize_posterior(rng);
  std::vector<Matrix<S>> batches;
  for (int k = 0; k < 5; ++k) batches.push_back(Matrix<S>::Random(n, d));
  check_training_step(objective == BiSMObjective::Denoising ? "bi-level DSM" : "bi-level SSM", bism, model, batches);
}

TEST_CASE("the generic evaluation allocates nothing of its own", "[allocation]") {
  // TableEnergy's required members allocate nothing once sized, so every allocation would be
  // the generic evaluation's.
  TableEnergy table(8);
  table.theta.setRandom();
  check_every_estimator(table);
}

TEST_CASE("sampler transitions allocate nothing once sized", "[allocation]") {
  std::mt19937_64 rng(32);
  MlpEnergy<float> mlp(10, {12}, Activation::Tanh);
  mlp.initialize(rng);
  IsingModel<double> ising(10);
  BernoulliRBM<double> rbm(10, 6);
  rbm.initialize(rng);
  Matrix<float> chains = random_binary<float>(20, 10, rng);
  Matrix<double> spins = random_binary<double>(20, 10, rng);
  Matrix<double> visible = random_binary<double>(20, 10, rng);
  const GibbsSampler gibbs;
  const GibbsWithGradients gwg;
  auto round = [&] {
    gibbs.run(mlp, chains, 2, rng);
    gwg.run(mlp, chains, 2, rng);
    gibbs.run(ising, spins, 2, rng);
    gwg.run(ising, spins, 2, rng);
    gibbs.run(rbm, visible, 2, rng);
    gwg.run(rbm, visible, 2, rng);
  };
  round();
  CHECK(allocations_of(round) == 0);
}

TEMPLATE_TEST_CASE("the models' direct members allocate nothing once their per-thread workspace is sized",
                   "[allocation]", float, double) {
  std::mt19937_64 rng(33);
  const Index n = 8, d = 12;
  MlpEnergy<TestType> mlp(d, {16, 16}, Activation::LearnableSwish);
  mlp.initialize(rng);
  const IsingModel<TestType> ising(d);
  BernoulliRBM<TestType> rbm(d, 5);
  rbm.initialize(rng);
  const auto X = random_binary<TestType>(n, d, rng);
  const Vector<TestType> c = Vector<TestType>::Ones(n);
  Vector<TestType> e, g_mlp = Vector<TestType>::Zero(mlp.num_params()),
                      g_ising = Vector<TestType>::Zero(ising.num_params()),
                      g_rbm = Vector<TestType>::Zero(rbm.num_params());
  Matrix<TestType> G;
  auto calls = [&] {
    mlp.energy(X, e);
    mlp.input_gradient(X, G);
    mlp.accumulate_param_gradient(X, c, g_mlp);
    ising.energy(X, e);
    ising.input_gradient(X, G);
    ising.accumulate_param_gradient(X, c, g_ising);
    rbm.energy(X, e);
    rbm.input_gradient(X, G);
    rbm.accumulate_param_gradient(X, c, g_rbm);
  };
  calls();
  CHECK(allocations_of(calls) == 0);
}
