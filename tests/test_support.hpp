#pragma once
// Shared helpers of the tests: random binary batches, enumeration of all states,
// flipping rows, the per-scalar tolerance table, temporary folders and training logs.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <ratiomatch/core/parallel.hpp>
#include <ratiomatch/core/random.hpp>
#include <ratiomatch/core/types.hpp>

namespace ratiomatch::testing {

/// Tolerances for comparing two computations of the same quantity in type S.
template <class S>
struct Tolerance;
template <>
struct Tolerance<float> {
  static constexpr double relative = 2e-4;
};
template <>
struct Tolerance<double> {
  static constexpr double relative = 1e-10;
};

/// An n × d batch of independent fair bits.
template <class S, class Rng>
Matrix<S> random_binary(Index n, Index d, Rng& rng) {
  Matrix<S> X(n, d);
  for (Index j = 0; j < d; ++j)
    for (Index i = 0; i < n; ++i) X(i, j) = uniform_open01(rng) < 0.5 ? S(0) : S(1);
  return X;
}

/// All 2^d binary vectors, one per row; row k has bit i = (k >> i) & 1.
template <class S>
Matrix<S> all_states(Index d) {
  const Index count = Index{1} << d;
  Matrix<S> X(count, d);
  for (Index k = 0; k < count; ++k)
    for (Index i = 0; i < d; ++i) X(k, i) = static_cast<S>((k >> i) & 1);
  return X;
}

/// `X` with bit i of every row flipped.
template <class S>
Matrix<S> flipped(const Matrix<S>& X, Index i) {
  Matrix<S> Y = X;
  Y.col(i).array() = S(1) - Y.col(i).array();
  return Y;
}

// A fresh, empty directory removed with its contents at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("ratiomatch_test_" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) +
            "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::size_t count_files() const {
    std::size_t k = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(path)) ++k;
    return k;
  }
};

/// The lines of a training log (`log.csv`) without its wall_seconds column (the 4th), which
/// differs between runs: what a resumed run's log must share with an uninterrupted one's.
inline std::vector<std::string> log_lines_without_wall_time(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream cells_in(line);
    for (std::string cell; std::getline(cells_in, cell, ',');) cells.push_back(cell);
    if (cells.size() > 3) cells.erase(cells.begin() + 3);
    std::string joined;
    for (const auto& c : cells) joined += c + ",";
    lines.push_back(joined);
  }
  return lines;
}

/// The OpenMP thread counts a parallel code path is tested with: 1 and 2 (1 only without OpenMP).
inline std::vector<int> thread_counts() {
#ifdef _OPENMP
  return {1, 2};
#else
  return {1};
#endif
}

/// Sets the number of OpenMP threads for its lifetime (no effect without OpenMP), and lets the
/// batch-parallel loops use them for any work (`set_parallel_grain(0)`): the tests' small models
/// then take the threaded paths that larger ones take by default.
class ScopedThreads {
 public:
  explicit ScopedThreads(int threads) : previous_grain_(parallel_grain()) {
    set_parallel_grain(0);
#ifdef _OPENMP
    previous_ = omp_get_max_threads();
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
  }
  ~ScopedThreads() {
    set_parallel_grain(previous_grain_);
#ifdef _OPENMP
    omp_set_num_threads(previous_);
#endif
  }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  double previous_grain_;
  int previous_ = 1;
};

}  // namespace ratiomatch::testing
