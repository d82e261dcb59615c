#pragma once
// What the ratiomatch sides of the PyTorch comparisons share: timing a unit of work with
// warm-up runs and a time cap, and the process's peak resident memory.

#include <sys/resource.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <optional>
#include <string_view>
#include <vector>

#include <ratiomatch/core/types.hpp>

namespace ratiomatch::bench {

/// Wall-clock times of the timed units, in milliseconds.
struct Timings {
  std::vector<double> ms;

  double median() const {
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t m = sorted.size() / 2;
    return sorted.size() % 2 == 1 ? sorted[m] : 0.5 * (sorted[m - 1] + sorted[m]);
  }
  double min() const { return *std::min_element(ms.begin(), ms.end()); }
};

/// Runs `unit` `warmup` times untimed, then up to `steps` times timed with steady_clock,
/// stopping early once the timed runs have taken `max_seconds` (but not before three).
template <class Unit>
Timings time_units(Index warmup, Index steps, double max_seconds, Unit&& unit) {
  for (Index k = 0; k < warmup; ++k) unit();
  Timings t;
  t.ms.reserve(static_cast<std::size_t>(steps));
  double spent = 0;
  for (Index k = 0; k < steps; ++k) {
    const auto start = std::chrono::steady_clock::now();
    unit();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    t.ms.push_back(1e3 * seconds);
    spent += seconds;
    if (spent >= max_seconds && t.ms.size() >= 3) break;
  }
  return t;
}

/// Peak resident set of this process, in MiB.
inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

/// Sets OpenMP's and Eigen's thread counts; returns exit code 2 (with a message) if more than
/// one thread is asked of a build without OpenMP, else nothing.
inline std::optional<int> use_threads(std::string_view program, int threads) {
#ifdef _OPENMP
  (void)program;
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
#else
  if (threads > 1) {
    std::cerr << program << ": --threads " << threads << " needs a build with OpenMP; this one has none\n";
    return 2;
  }
#endif
  return std::nullopt;
}

}  // namespace ratiomatch::bench
