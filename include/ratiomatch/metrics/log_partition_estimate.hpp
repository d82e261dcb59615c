#pragma once
/// @file
/// @brief What the annealed importance sampling estimators of `log Z` share: their settings,
/// the inverse-temperature schedule of Salakhutdinov & Murray (2008) and the estimate with its
/// standard error from the runs' log weights.

#include <cmath>
#include <stdexcept>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Settings of an AIS run (designated initialisers welcome).
struct AisOptions {
  Index runs = 100;  ///< independent annealing runs `M` (chains); the estimate averages their weights
  /// Intermediate distributions `K`. 14,500 gives Salakhutdinov & Murray's schedule: 1,000
  /// inverse temperatures evenly in [0, 0.5), 4,000 in [0.5, 0.9) and 9,500 in [0.9, 1]; any
  /// other count keeps those proportions.
  Index temperatures = 14500;
};

/// @brief An estimate of `log Z` in nats.
struct LogPartitionEstimate {
  double log_partition = 0;   ///< `log Ẑ = log Z_A + log((1/M) Σ_k w_k)`
  double standard_error = 0;  ///< of `log Ẑ`, by the delta method: `sd(w) / (√M · mean(w))`
  double log_partition_base = 0;  ///< `log Z_A` of the base-rate model
  std::vector<double> log_weights;  ///< `log w_k` of every run
};

/// @brief The inverse temperatures `0 = β_0 < … < β_K = 1` of the schedule described in `AisOptions`.
/// @throws std::invalid_argument if `temperatures < 3`
inline std::vector<double> ais_schedule(Index temperatures) {
  if (temperatures < 3)
    throw std::invalid_argument(
        detail::message("ratiomatch::ais_schedule", "temperatures (", temperatures, ") must be at least 3"));
  const Index first = std::max<Index>(1, temperatures * 1000 / 14500);
  const Index second = std::max<Index>(1, temperatures * 4000 / 14500);
  const Index third = temperatures - first - second;
  std::vector<double> beta;
  beta.reserve(static_cast<std::size_t>(temperatures) + 1);
  for (Index k = 0; k < first; ++k) beta.push_back(0.5 * static_cast<double>(k) / static_cast<double>(first));
  for (Index k = 0; k < second; ++k) beta.push_back(0.5 + 0.4 * static_cast<double>(k) / static_cast<double>(second));
  for (Index k = 0; k <= third; ++k) beta.push_back(0.9 + 0.1 * static_cast<double>(k) / static_cast<double>(third));
  return beta;
}

namespace detail {

/// `log Ẑ = log Z_A + log((1/M) Σ_k w_k)` (log-mean-exp) and its standard error by the delta
/// method, `sd(w) / (√M · mean(w))`, from the runs' log weights.
inline LogPartitionEstimate estimate_from_log_weights(const Eigen::VectorXd& log_weight, double log_partition_base) {
  const auto M = static_cast<double>(log_weight.size());
  LogPartitionEstimate estimate;
  estimate.log_partition_base = log_partition_base;
  const double top = log_weight.maxCoeff();
  const Eigen::ArrayXd w = (log_weight.array() - top).exp();
  const double mean = w.mean();
  estimate.log_partition = log_partition_base + top + std::log(mean);
  const double variance = M > 1 ? (w - mean).square().sum() / (M - 1) : 0.0;
  estimate.standard_error = std::sqrt(variance / M) / mean;
  estimate.log_weights.assign(log_weight.data(), log_weight.data() + log_weight.size());
  return estimate;
}

}  // namespace detail
}  // namespace ratiomatch
