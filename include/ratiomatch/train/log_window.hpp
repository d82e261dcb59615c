#pragma once
/// @file
/// @brief `LogWindow`: the running sums behind one row of the training log.

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief The iterations since the last regular log row: sums of their losses and gradient
/// norms, and their count. A log row reports the means `loss_sum / count` and
/// `norm_sum / count`.
///
/// The window is part of a checkpoint: a run resumed from a checkpoint taken in the middle of
/// a window restores the sums, so that its next row averages the same iterations, added in the
/// same order, as the uninterrupted run's (bit-identical means).
class LogWindow {
 public:
  /// @brief Adds one iteration's loss and gradient norm.
  void add(double loss, double grad_norm) {
    loss_sum_ += loss;
    norm_sum_ += grad_norm;
    ++count_;
  }

  /// @brief Empties the window (after a regular log row).
  void clear() { *this = LogWindow(); }

  /// @brief Replaces the window by saved sums (checked as by `check`).
  /// @throws std::invalid_argument as `check`
  void restore(double loss_sum, double norm_sum, Index count) {
    check("ratiomatch::LogWindow::restore", loss_sum, norm_sum, count);
    loss_sum_ = loss_sum;
    norm_sum_ = norm_sum;
    count_ = count;
  }

  /// @brief Validates saved sums without changing anything: `count ≥ 0`, sums finite and
  /// zero when `count == 0`.
  /// @param where the qualified name of the calling function, for the message
  /// @throws std::invalid_argument naming the offending value
  static void check(std::string_view where, double loss_sum, double norm_sum, Index count) {
    if (count < 0) throw std::invalid_argument(detail::message(where, "count (", count, ") must be non-negative"));
    if (!std::isfinite(loss_sum) || !std::isfinite(norm_sum))
      throw std::invalid_argument(
          detail::message(where, "loss_sum (", loss_sum, ") and norm_sum (", norm_sum, ") must be finite"));
    if (count == 0 && (loss_sum != 0 || norm_sum != 0))
      throw std::invalid_argument(detail::message(where, "an empty window has sums ", loss_sum, " and ", norm_sum,
                                                  "; they must be 0"));
  }

  /// @brief The number of iterations in the window.
  Index count() const { return count_; }
  /// @brief The sum of the iterations' losses.
  double loss_sum() const { return loss_sum_; }
  /// @brief The sum of the iterations' gradient norms.
  double norm_sum() const { return norm_sum_; }
  /// @brief The mean loss of the window (NaN when empty).
  double mean_loss() const { return count_ ? loss_sum_ / static_cast<double>(count_) : nan(); }
  /// @brief The mean gradient norm of the window (NaN when empty).
  double mean_grad_norm() const { return count_ ? norm_sum_ / static_cast<double>(count_) : nan(); }

 private:
  static double nan() { return std::numeric_limits<double>::quiet_NaN(); }
  double loss_sum_ = 0;
  double norm_sum_ = 0;
  Index count_ = 0;
};

}  // namespace ratiomatch
