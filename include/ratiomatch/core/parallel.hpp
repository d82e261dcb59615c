#pragma once
/// @file
/// @brief Thread count and thread index for the batch-parallel loops (OpenMP when enabled).
///
/// Without OpenMP (or with `RATIOMATCH_OPENMP=OFF`) every loop runs on one thread; with it,
/// results equal the single-threaded ones up to floating-point summation order, and a fixed
/// thread count gives bit-identical results (static schedules, reductions in thread order).

#include <atomic>

#include "ratiomatch/core/types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ratiomatch {

namespace detail {
inline std::atomic<double> parallel_grain_value{1 << 18};
}  // namespace detail

/// @brief The least work, in multiply-adds, that a batch-parallel loop gives each thread: a loop
/// with less starts fewer threads (default 2¹⁸ ≈ 0.1 ms of work). Starting and joining threads
/// costs microseconds on an idle machine and much more when other processes hold the cores.
/// Process-wide, like `Eigen::setNbThreads`; 0 uses every available thread for any work.
inline double parallel_grain() { return detail::parallel_grain_value.load(std::memory_order_relaxed); }

/// @brief Sets `parallel_grain()`.
inline void set_parallel_grain(double multiply_adds) {
  detail::parallel_grain_value.store(multiply_adds, std::memory_order_relaxed);
}

}  // namespace ratiomatch

namespace ratiomatch::detail {

/// Threads a parallel loop started here will use: OpenMP's current limit, or 1 inside an
/// enclosing parallel region (no nesting) and without OpenMP.
inline Index available_threads() {
#ifdef _OPENMP
  if (omp_in_parallel()) return 1;
  return static_cast<Index>(omp_get_max_threads());
#else
  return 1;
#endif
}

/// Index of the calling thread within the current parallel region (0 outside one).
inline Index thread_index() {
#ifdef _OPENMP
  return static_cast<Index>(omp_get_thread_num());
#else
  return 0;
#endif
}

/// Splits `total` items into blocks of at most `max_block` items whose number is a multiple
/// of `threads` where possible, so that a static schedule keeps every thread busy. Returns
/// the block size (≥ 1).
inline Index balanced_block_size(Index total, Index max_block, Index threads) {
  if (total <= 0) return 1;
  Index blocks = (total + max_block - 1) / max_block;
  if (threads > 1 && total >= threads) blocks = (blocks + threads - 1) / threads * threads;
  return (total + blocks - 1) / blocks;
}

/// The threads worth starting for `total_work` multiply-adds: at most `threads`, and only as
/// many as get `parallel_grain()` each. Returns ≥ 1.
inline Index worthwhile_threads(Index threads, double total_work) {
  const double grain = parallel_grain();
  if (grain <= 0) return threads;
  const double affordable = total_work / grain;
  if (affordable < 2.0) return 1;
  return affordable < static_cast<double>(threads) ? static_cast<Index>(affordable) : threads;
}

}  // namespace ratiomatch::detail
