#pragma once
/// @file
/// @brief `Sgd`: stochastic gradient descent with momentum, dampening, Nesterov momentum and
/// L2 weight decay, with the exact update of `torch.optim.SGD` (PyTorch 1.13, `maximize=False`).

#include <cmath>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Numbers of an `Sgd` optimizer (fill with designated initialisers:
/// `SgdOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true}`).
struct SgdOptions {
  double lr = 1e-2;          ///< learning rate `α` (> 0)
  double momentum = 0;       ///< momentum `μ` (≥ 0; 0 disables the momentum buffer)
  double dampening = 0;      ///< dampening `δ` of the gradient added to the buffer
  double weight_decay = 0;   ///< L2 penalty `λ` added to the gradient (≥ 0)
  bool nesterov = false;     ///< Nesterov momentum (needs `momentum > 0` and `dampening == 0`)
};

/// @brief Stochastic gradient descent with the update of `torch.optim.SGD` in PyTorch 1.13.
///
/// At each step, with gradient `g` and parameters `θ` (all element-wise):
///
///     g ← g + λ θ                                   (L2 weight decay, if λ ≠ 0)
///     if μ ≠ 0:
///         b ← g                          at the first step,
///         b ← μ b + (1 − δ) g            afterwards;
///         g ← g + μ b   if nesterov,  else  g ← b
///     θ ← θ − α g
///
/// The state (`step_count()`, `momentum_buffer()`) is exposed and `set_state` restores it, so
/// that a run resumed from a checkpoint continues bit for bit. The first step is recognised by
/// `step_count() == 0` (PyTorch's "no buffer yet"). The options are not part of the state: a
/// restored optimizer steps with its own (a new learning rate, say), except that a non-zero
/// momentum buffer is refused without momentum, since it would be dropped. A step allocates nothing.
/// @tparam S `float` or `double`
template <class S>
class Sgd {
 public:
  using Scalar = S;

  /// @brief An optimizer for `num_params` parameters, with no step taken.
  /// @throws std::invalid_argument if `num_params < 0`, `lr ≤ 0`, `momentum < 0`,
  /// `weight_decay < 0`, a value not finite, or `nesterov` without `momentum > 0` and `dampening == 0`
  explicit Sgd(Index num_params, SgdOptions options = {}) : options_(options) {
    constexpr std::string_view where = "ratiomatch::Sgd::Sgd";
    if (num_params < 0)
      throw std::invalid_argument(detail::message(where, "num_params (", num_params, ") must be non-negative"));
    check_positive(where, "options.lr", options_.lr);
    check_finite_option(where, "options.lr", options_.lr);
    check_finite_option(where, "options.momentum", options_.momentum);
    check_finite_option(where, "options.dampening", options_.dampening);
    check_finite_option(where, "options.weight_decay", options_.weight_decay);
    if (options_.momentum < 0)
      throw std::invalid_argument(
          detail::message(where, "options.momentum (", options_.momentum, ") must be non-negative"));
    if (options_.weight_decay < 0)
      throw std::invalid_argument(
          detail::message(where, "options.weight_decay (", options_.weight_decay, ") must be non-negative"));
    if (options_.nesterov && (options_.momentum <= 0 || options_.dampening != 0))
      throw std::invalid_argument(detail::message(where, "options.nesterov needs momentum > 0 (", options_.momentum,
                                                  ") and dampening == 0 (", options_.dampening, ")"));
    buffer_.setZero(num_params);
  }

  /// @brief The number of parameters this optimizer updates.
  Index num_params() const { return buffer_.size(); }

  /// @brief One SGD step: updates `params` in place from `grad` (see the class documentation).
  /// @param params the parameters `θ`, length `num_params()`, updated in place
  /// @param grad the gradient of the loss at `params`, length `num_params()` (not modified)
  /// @throws std::invalid_argument if a length differs from `num_params()`
  /// @throws NumericalError if `grad` has a non-finite entry (checked before anything changes)
  void step(Eigen::Ref<Vector<S>> params, const Eigen::Ref<const Vector<S>>& grad) {
    constexpr std::string_view where = "ratiomatch::Sgd::step";
    check_size_match(where, "params.size()", params.size(), "num_params()", num_params());
    check_size_match(where, "grad.size()", grad.size(), "num_params()", num_params());
    check_finite(where, "grad", grad);

    const S lr = static_cast<S>(options_.lr);
    const S momentum = static_cast<S>(options_.momentum);
    const S one_minus_dampening = static_cast<S>(1.0 - options_.dampening);
    const S weight_decay = static_cast<S>(options_.weight_decay);
    const bool decay = options_.weight_decay != 0;
    const bool use_momentum = options_.momentum != 0;
    const bool first = step_count_ == 0;

    const Index n = num_params();
    for (Index k = 0; k < n; ++k) {
      S g = decay ? grad(k) + weight_decay * params(k) : grad(k);
      if (use_momentum) {
        buffer_(k) = first ? g : buffer_(k) * momentum + one_minus_dampening * g;
        g = options_.nesterov ? g + momentum * buffer_(k) : buffer_(k);
      }
      params(k) = params(k) - lr * g;
    }
    ++step_count_;
  }

  /// @brief The number of steps taken.
  Index step_count() const { return step_count_; }
  /// @brief The momentum buffer `b` (zero before the first step, and always when `momentum == 0`).
  const Vector<S>& momentum_buffer() const { return buffer_; }

  /// @brief Restores a saved state, so that the next step is the one the saved optimizer would take.
  /// @throws std::invalid_argument if `step_count < 0`, the length differs from `num_params()`,
  /// `buffer` has a non-finite entry, or `buffer` is non-zero and `options().momentum == 0`
  void set_state(Index step_count, const Vector<S>& buffer) {
    set_state_checked("ratiomatch::Sgd::set_state", step_count, buffer);
  }

  /// @brief The state as a list of buffers `{b}` (the form a checkpoint stores).
  std::vector<Vector<S>> state_buffers() const { return {buffer_}; }

  /// @brief Restores a state saved by `state_buffers()`: `buffers` must be `{b}`.
  /// @throws std::invalid_argument if there is not exactly one buffer, or as `set_state`
  void restore_state(Index step_count, const std::vector<Vector<S>>& buffers) {
    constexpr std::string_view where = "ratiomatch::Sgd::restore_state";
    check_buffer_count(where, buffers);
    set_state_checked(where, step_count, buffers[0]);
  }

  /// @brief Validates a state for `restore_state` without changing anything (so that a caller
  /// restoring several objects can check them all before assigning any).
  /// @throws std::invalid_argument exactly when `restore_state(step_count, buffers)` would
  void check_state(Index step_count, const std::vector<Vector<S>>& buffers) const {
    constexpr std::string_view where = "ratiomatch::Sgd::check_state";
    check_buffer_count(where, buffers);
    validate_state(where, step_count, buffers[0]);
  }

  /// @brief The options in use.
  const SgdOptions& options() const { return options_; }

  /// @brief Changes the learning rate `α` for the following steps (e.g. a schedule).
  /// @throws std::invalid_argument unless `lr` is positive and finite
  void set_learning_rate(double lr) {
    constexpr std::string_view where = "ratiomatch::Sgd::set_learning_rate";
    check_positive(where, "lr", lr);
    check_finite_option(where, "lr", lr);
    options_.lr = lr;
  }

 private:
  static void check_finite_option(std::string_view where, std::string_view name, double value) {
    if (!std::isfinite(value))
      throw std::invalid_argument(detail::message(where, name, " (", value, ") must be finite"));
  }

  static void check_buffer_count(std::string_view where, const std::vector<Vector<S>>& buffers) {
    if (buffers.size() != 1)
      throw std::invalid_argument(
          detail::message(where, "buffers.size() (", buffers.size(), ") must equal 1 (the momentum buffer)"));
  }

  void validate_state(std::string_view where, Index step_count, const Vector<S>& buffer) const {
    if (step_count < 0)
      throw std::invalid_argument(detail::message(where, "step_count (", step_count, ") must be non-negative"));
    check_size_match(where, "buffer.size()", buffer.size(), "num_params()", num_params());
    if (!buffer.allFinite()) throw std::invalid_argument(detail::message(where, "buffer has a non-finite entry"));
    if (options_.momentum == 0 && !buffer.isZero(0))
      throw std::invalid_argument(detail::message(
          where, "buffer is a momentum buffer (non-zero) but options.momentum is 0: the state comes from an optimizer "
                 "with momentum, and restoring it here would drop the buffer"));
  }

  void set_state_checked(std::string_view where, Index step_count, const Vector<S>& buffer) {
    validate_state(where, step_count, buffer);
    step_count_ = step_count;
    buffer_ = buffer;
  }

  SgdOptions options_;
  Index step_count_ = 0;
  Vector<S> buffer_;
};

}  // namespace ratiomatch
