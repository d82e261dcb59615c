// This machine's dense matrix-product rate with Eigen, at the shapes and memory layouts of
// MlpEnergy's forward and backward passes: a batch A (rows × in, column-major) and a layer
// weight W (out × in, row-major, a view into the flat parameter vector).
//
//   forward         Z = A Wᵀ          (rows × out)   Z.noalias() = A * W.transpose()
//   input delta     dA = dZ W         (rows × in)    dA.noalias() = dZ * W
//   weight gradient gW += dZᵀ A       (out × in)     gW.noalias() += dZ.transpose() * A
//
// Each product is 2·rows·in·out floating-point operations; the counter "GFLOP/s" is that
// count per second (a rate, printed with an SI prefix, e.g. "85G/s"). The forward product is
// also measured in double at (in, out) = (256, 256). The last argument is the number of
// threads Eigen may use for one product (Eigen::setNbThreads); 2 is registered only when
// built with OpenMP, and threaded runs report wall-clock time.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <utility>

#include <Eigen/Core>

#include <ratiomatch/core/random.hpp>
#include <ratiomatch/core/types.hpp>

using namespace ratiomatch;

namespace {

enum ShapeSet : int { AllShapes = 0, SquareOnly = 1 };

// Entries uniform in (−1, 1), from a fixed seed.
template <class S, class Dense>
void fill_uniform(Dense& M, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (Index j = 0; j < M.cols(); ++j)
    for (Index i = 0; i < M.rows(); ++i) M(i, j) = static_cast<S>(2.0 * uniform_open01(rng) - 1.0);
}

// Sets Eigen's thread count from the benchmark's last argument and returns the flop count of
// one product, 2·rows·in·out, for the shape in the first three arguments.
double prepare(benchmark::State& state) {
#ifdef _OPENMP
  Eigen::setNbThreads(static_cast<int>(state.range(3)));
#endif
  return 2.0 * static_cast<double>(state.range(0)) * static_cast<double>(state.range(1)) *
         static_cast<double>(state.range(2));
}

void report(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
#ifdef _OPENMP
  Eigen::setNbThreads(1);
#endif
}

// Args: {rows, in, out, threads}.
template <class S>
void BM_GemmForward(benchmark::State& state) {
  const double flops = prepare(state);
  const Index rows = state.range(0), in = state.range(1), out = state.range(2);
  Matrix<S> A(rows, in), Z(rows, out);
  RowMajorMatrix<S> W_storage(out, in);
  fill_uniform<S>(A, 1);
  fill_uniform<S>(W_storage, 2);
  const Eigen::Map<const RowMajorMatrix<S>> W(W_storage.data(), out, in);
  for (auto _ : state) {
    Z.noalias() = A * W.transpose();
    benchmark::DoNotOptimize(Z.data());
    benchmark::ClobberMemory();
  }
  report(state, flops);
}

// Args: {rows, in, out, threads}.
template <class S>
void BM_GemmInputDelta(benchmark::State& state) {
  const double flops = prepare(state);
  const Index rows = state.range(0), in = state.range(1), out = state.range(2);
  Matrix<S> dZ(rows, out), dA(rows, in);
  RowMajorMatrix<S> W_storage(out, in);
  fill_uniform<S>(dZ, 3);
  fill_uniform<S>(W_storage, 2);
  const Eigen::Map<const RowMajorMatrix<S>> W(W_storage.data(), out, in);
  for (auto _ : state) {
    dA.noalias() = dZ * W;
    benchmark::DoNotOptimize(dA.data());
    benchmark::ClobberMemory();
  }
  report(state, flops);
}

// Args: {rows, in, out, threads}.
template <class S>
void BM_GemmWeightGradient(benchmark::State& state) {
  const double flops = prepare(state);
  const Index rows = state.range(0), in = state.range(1), out = state.range(2);
  Matrix<S> A(rows, in), dZ(rows, out);
  fill_uniform<S>(A, 1);
  fill_uniform<S>(dZ, 3);
  Vector<S> g = Vector<S>::Zero(out * in);
  Eigen::Map<RowMajorMatrix<S>> gW(g.data(), out, in);
  for (auto _ : state) {
    gW.noalias() += dZ.transpose() * A;
    benchmark::DoNotOptimize(g.data());
    benchmark::ClobberMemory();
  }
  report(state, flops);
}

// rows ∈ {128, 512, 1024} × (in, out) ∈ {(256, 256), (32, 256), (1024, 256)}, or only
// (256, 256), at the given thread count.
template <ShapeSet shapes, int threads>
void shape_args(benchmark::internal::Benchmark* b) {
  for (const int rows : {128, 512, 1024})
    for (const auto& [in, out] : {std::pair{256, 256}, std::pair{32, 256}, std::pair{1024, 256}})
      if (shapes == AllShapes || (in == 256 && out == 256)) b->Args({rows, in, out, threads});
  b->ArgNames({"rows", "in", "out", "threads"});
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK_TEMPLATE(BM_GemmForward, float)->Apply(shape_args<AllShapes, 1>);
BENCHMARK_TEMPLATE(BM_GemmForward, double)->Apply(shape_args<SquareOnly, 1>);
BENCHMARK_TEMPLATE(BM_GemmInputDelta, float)->Apply(shape_args<AllShapes, 1>);
BENCHMARK_TEMPLATE(BM_GemmWeightGradient, float)->Apply(shape_args<AllShapes, 1>);
#ifdef _OPENMP
BENCHMARK_TEMPLATE(BM_GemmForward, float)->Apply(shape_args<AllShapes, 2>)->UseRealTime();
BENCHMARK_TEMPLATE(BM_GemmForward, double)->Apply(shape_args<SquareOnly, 2>)->UseRealTime();
BENCHMARK_TEMPLATE(BM_GemmInputDelta, float)->Apply(shape_args<AllShapes, 2>)->UseRealTime();
BENCHMARK_TEMPLATE(BM_GemmWeightGradient, float)->Apply(shape_args<AllShapes, 2>)->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
