// One loss_and_gradient step of each estimator (float): MLP d→256→256→256→1 Swish with
// batch 128 and s = 10, Ising models on periodic lattices, and each model's own batch
// evaluation beside the generic flipped-row evaluation (RequiredOnly). The MLP's fast path reports the
// achieved GFLOP/s of its matrix products (compare_pytorch/step_flops.hpp); compare it with
// bench_gemm's SGEMM rate at the same thread count (OMP_NUM_THREADS).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include <ratiomatch/ratiomatch.hpp>

#include "compare_pytorch/step_flops.hpp"

using namespace ratiomatch;

namespace {

constexpr Index batch = 128;
constexpr Index flips = 10;

enum EstimatorKind : int { Exact = 0, Uniform = 1, GuidedBasic = 2, GuidedAdvanced = 3 };
enum PathKind : int { Fast = 0, Generic = 1 };

const char* estimator_name(int kind) {
  switch (kind) {
    case Exact: return "rm";
    case Uniform: return "uniform";
    case GuidedBasic: return "gg-basic";
    default: return "gg-advanced";
  }
}

Matrix<float> random_batch(Index n, Index d, std::mt19937_64& rng) {
  Matrix<float> X(n, d);
  for (Index j = 0; j < d; ++j)
    for (Index i = 0; i < n; ++i) X(i, j) = uniform_open01(rng) < 0.5 ? 0.f : 1.f;
  return X;
}

// flops_per_step: the matrix-product operations of one step (0: no GFLOP/s counter).
template <class M>
void run_step(benchmark::State& state, const M& model, const Matrix<float>& X, int kind, double flops_per_step = 0) {
  std::mt19937_64 rng(7);
  Vector<float> grad;
  const RatioMatching<> exact;
  const UniformSampledRM<> uniform(flips);
  const GradientGuidedRM<> basic(flips, GuidedVariant::Basic);
  const GradientGuidedRM<> advanced(flips, GuidedVariant::Advanced);
  for (auto _ : state) {
    float loss = 0;
    switch (kind) {
      case Exact: loss = exact.loss_and_gradient(model, X, rng, grad); break;
      case Uniform: loss = uniform.loss_and_gradient(model, X, rng, grad); break;
      case GuidedBasic: loss = basic.loss_and_gradient(model, X, rng, grad); break;
      default: loss = advanced.loss_and_gradient(model, X, rng, grad); break;
    }
    benchmark::DoNotOptimize(loss);
    benchmark::DoNotOptimize(grad.data());
  }
  state.SetLabel(estimator_name(kind));
  state.SetItemsProcessed(state.iterations() * X.rows());
  if (flops_per_step > 0)
    state.counters["GFLOP/s"] = benchmark::Counter(flops_per_step * static_cast<double>(state.iterations()),
                                                   benchmark::Counter::kIsRate);
}

// Args: {d, estimator, path}.
void BM_MlpStep(benchmark::State& state) {
  const Index d = state.range(0);
  std::mt19937_64 rng(1);
  MlpEnergy<float> model(d, {256, 256, 256}, Activation::Swish);
  model.initialize(rng);
  const auto X = random_batch(batch, d, rng);
  const int kind = static_cast<int>(state.range(1));
  if (state.range(2) == Fast)
    run_step(state, model, X, kind, bench::step_flops(estimator_name(kind), d, batch, flips, {256, 256, 256}));
  else
    run_step(state, RequiredOnly(model), X, kind);
}

void BM_IsingStep(benchmark::State& state) {
  const auto side = static_cast<Index>(std::lround(std::sqrt(static_cast<double>(state.range(0)))));
  std::mt19937_64 rng(1);
  auto model = IsingModel<float>::periodic_lattice(side, 0.25f);
  const auto X = random_batch(batch, model.dim(), rng);
  if (state.range(2) == Fast)
    run_step(state, model, X, static_cast<int>(state.range(1)));
  else
    run_step(state, RequiredOnly(model), X, static_cast<int>(state.range(1)));
}

void mlp_args(benchmark::internal::Benchmark* b) {
  for (const int d : {32, 256, 1024})
    for (const int kind : {Exact, Uniform, GuidedBasic, GuidedAdvanced})
      for (const int path : {Fast, Generic}) b->Args({d, kind, path});
  b->ArgNames({"d", "estimator", "generic"});
}

void ising_args(benchmark::internal::Benchmark* b) {
  for (const int d : {100, 625})
    for (const int kind : {Exact, Uniform, GuidedBasic, GuidedAdvanced})
      for (const int path : {Fast, Generic}) b->Args({d, kind, path});
  b->ArgNames({"d", "estimator", "generic"});
}

BENCHMARK(BM_MlpStep)->Apply(mlp_args)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_IsingStep)->Apply(ising_args)->Unit(benchmark::kMillisecond)->MinTime(0.2);

}  // namespace

BENCHMARK_MAIN();
