// Energy, input gradient, parameter gradient and flip deltas of the models (float).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include <ratiomatch/ratiomatch.hpp>

using namespace ratiomatch;

namespace {

Matrix<float> random_batch(Index n, Index d, std::mt19937_64& rng) {
  Matrix<float> X(n, d);
  for (Index j = 0; j < d; ++j)
    for (Index i = 0; i < n; ++i) X(i, j) = uniform_open01(rng) < 0.5 ? 0.f : 1.f;
  return X;
}

// Multiply-adds of one forward pass of d→256→256→256→1 per row.
double mlp_forward_macs(Index d) { return d * 256.0 + 2 * 256.0 * 256.0 + 256.0; }

void BM_MlpEnergy(benchmark::State& state) {
  const Index d = state.range(0), n = 128;
  std::mt19937_64 rng(1);
  MlpEnergy<float> model(d, {256, 256, 256});
  model.initialize(rng);
  const auto X = random_batch(n, d, rng);
  Vector<float> e;
  for (auto _ : state) {
    model.energy(X, e);
    benchmark::DoNotOptimize(e.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2 * n * mlp_forward_macs(d) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MlpEnergy)->Arg(32)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);

void BM_MlpParamGradient(benchmark::State& state) {
  const Index d = state.range(0), n = 128;
  std::mt19937_64 rng(1);
  MlpEnergy<float> model(d, {256, 256, 256});
  model.initialize(rng);
  const auto X = random_batch(n, d, rng);
  const Vector<float> c = Vector<float>::Ones(n);
  Vector<float> g = Vector<float>::Zero(model.num_params());
  for (auto _ : state) {
    model.accumulate_param_gradient(X, c, g);
    benchmark::DoNotOptimize(g.data());
  }
  // forward + two products per layer in the backward pass
  state.counters["GFLOP/s"] = benchmark::Counter(3 * 2 * n * mlp_forward_macs(d) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MlpParamGradient)->Arg(32)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);

void BM_MlpFlipDeltas(benchmark::State& state) {
  const Index d = state.range(0), n = 128;
  std::mt19937_64 rng(1);
  MlpEnergy<float> model(d, {256, 256, 256});
  model.initialize(rng);
  const auto X = random_batch(n, d, rng);
  Matrix<float> D;
  MlpEnergy<float>::BatchEvaluation evaluation;
  for (auto _ : state) {
    evaluation.bind(model, X);  // the forward pass of X, then every flip
    evaluation.flip_deltas(D);
    benchmark::DoNotOptimize(D.data());
  }
  state.SetItemsProcessed(state.iterations() * n * d);
}
BENCHMARK(BM_MlpFlipDeltas)->Arg(32)->Arg(256)->Unit(benchmark::kMillisecond);

void BM_IsingFlipDeltas(benchmark::State& state) {
  const Index d = state.range(0), n = 128;
  std::mt19937_64 rng(1);
  const auto model = IsingModel<float>::periodic_lattice(static_cast<Index>(std::lround(std::sqrt(double(d)))), 0.25f);
  const auto X = random_batch(n, model.dim(), rng);
  Matrix<float> D;
  IsingModel<float>::BatchEvaluation evaluation;
  for (auto _ : state) {
    evaluation.bind(model, X);  // the local fields of X, then every flip
    evaluation.flip_deltas(D);
    benchmark::DoNotOptimize(D.data());
  }
  state.SetItemsProcessed(state.iterations() * n * model.dim());
}
BENCHMARK(BM_IsingFlipDeltas)->Arg(100)->Arg(625)->Unit(benchmark::kMicrosecond);

// One systematic-scan Gibbs sweep of n = 2000 chains of the lattice model (the data protocol
// of the Ising experiments).
template <class S>
void BM_IsingGibbsSweep(benchmark::State& state) {
  const Index d = state.range(0), n = 2000;
  std::mt19937_64 rng(1);
  const auto model = IsingModel<S>::periodic_lattice(static_cast<Index>(std::lround(std::sqrt(double(d)))), S(0.25));
  const GibbsSampler sampler;
  Matrix<S> X = sampler.sample(model, n, 1, rng);
  for (auto _ : state) {
    sampler.sweep(model, X, rng);
    benchmark::DoNotOptimize(X.data());
  }
  state.SetItemsProcessed(state.iterations() * n * model.dim());  // single-site updates
}
BENCHMARK_TEMPLATE(BM_IsingGibbsSweep, float)->Arg(100)->Arg(625)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_IsingGibbsSweep, double)->Arg(100)->Arg(625)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
