#pragma once
/// @file
/// @brief `Adam`: the Adam optimizer with the exact update of `torch.optim.Adam`
/// (PyTorch 1.13, `amsgrad=False`, `maximize=False`).

#include <cmath>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Numbers of an `Adam` optimizer (fill with designated initialisers:
/// `AdamOptions{.lr = 1e-4, .weight_decay = 1e-5}`). Defaults are PyTorch's.
struct AdamOptions {
  double lr = 1e-3;            ///< learning rate `α` (> 0)
  double beta1 = 0.9;          ///< decay of the first moment, in [0, 1)
  double beta2 = 0.999;        ///< decay of the second moment, in [0, 1)
  double eps = 1e-8;           ///< added to the denominator (≥ 0; with 0, a never-nonzero gradient gives 0/0 as in PyTorch)
  double weight_decay = 0;     ///< L2 penalty `λ` added to the gradient (≥ 0); not AdamW's decoupled decay
  friend bool operator==(const AdamOptions&, const AdamOptions&) = default;
};

namespace detail {

/// Checks every field of `AdamOptions`; `where` names the calling function.
inline void check_adam_options(std::string_view where, const AdamOptions& o) {
  check_positive(where, "options.lr", o.lr);
  if (!std::isfinite(o.lr)) throw std::invalid_argument(message(where, "options.lr (", o.lr, ") must be finite"));
  if (!(o.beta1 >= 0 && o.beta1 < 1))
    throw std::invalid_argument(message(where, "options.beta1 (", o.beta1, ") must be in [0, 1)"));
  if (!(o.beta2 >= 0 && o.beta2 < 1))
    throw std::invalid_argument(message(where, "options.beta2 (", o.beta2, ") must be in [0, 1)"));
  if (!(o.eps >= 0 && std::isfinite(o.eps)))
    throw std::invalid_argument(message(where, "options.eps (", o.eps, ") must be finite and non-negative"));
  if (!(o.weight_decay >= 0 && std::isfinite(o.weight_decay)))
    throw std::invalid_argument(
        message(where, "options.weight_decay (", o.weight_decay, ") must be finite and non-negative"));
}

}  // namespace detail

/// @brief Adam (Kingma & Ba, 2015) with the update of `torch.optim.Adam` in PyTorch 1.13.
///
/// At step `t = 1, 2, …`, with gradient `g` and parameters `θ` (all element-wise):
///
///     g  ← g + λ θ                                   (L2 weight decay, if λ ≠ 0)
///     m  ← β1 m + (1 − β1) g
///     v  ← β2 v + (1 − β2) g²
///     bc1 = 1 − β1^t,   bc2 = 1 − β2^t
///     step_size = α / bc1
///     denom = sqrt(v) / sqrt(bc2) + ε
///     θ  ← θ − step_size · m / denom
///
/// i.e. `θ ← θ − α m̂ / (sqrt(v̂) + ε)` with the bias-corrected moments `m̂ = m/bc1`,
/// `v̂ = v/bc2`, evaluated in PyTorch's order of operations (the scalars `bc1`, `bc2`,
/// `step_size`, `sqrt(bc2)` in double, then cast to `S`, as PyTorch does for a `float`
/// tensor). On the first step `m̂ = g`, `v̂ = g²`, so every parameter moves by
/// `α |g|/(|g| + ε) ≈ α` against the sign of its gradient.
///
/// The state (`step_count()`, `first_moment()`, `second_moment()`) is exposed, and
/// `set_state` restores it, so that a run resumed from a checkpoint continues bit for bit.
/// A step allocates nothing.
/// @tparam S `float` or `double`
template <class S>
class Adam {
 public:
  using Scalar = S;

  /// @brief An optimizer for `num_params` parameters, with `m = v = 0` and no step taken.
  /// @throws std::invalid_argument if `num_params < 0`, `lr ≤ 0`, a beta outside [0, 1),
  /// `eps < 0` or `weight_decay < 0` (or any of them not finite)
  explicit Adam(Index num_params, AdamOptions options = {}) : options_(options) {
    constexpr std::string_view where = "ratiomatch::Adam::Adam";
    if (num_params < 0)
      throw std::invalid_argument(detail::message(where, "num_params (", num_params, ") must be non-negative"));
    detail::check_adam_options(where, options_);
    m_.setZero(num_params);
    v_.setZero(num_params);
  }

  /// @brief The number of parameters this optimizer updates.
  Index num_params() const { return m_.size(); }

  /// @brief One Adam step: updates `params` in place from `grad` (see the class documentation).
  /// @param params the parameters `θ`, length `num_params()`, updated in place
  /// @param grad the gradient of the loss at `params`, length `num_params()` (not modified;
  /// the weight-decay term is added on the fly)
  /// @throws std::invalid_argument if a length differs from `num_params()`
  /// @throws NumericalError if `grad` has a non-finite entry (checked before anything changes,
  /// so the optimizer state and the parameters are left as they were)
  void step(Eigen::Ref<Vector<S>> params, const Eigen::Ref<const Vector<S>>& grad) {
    constexpr std::string_view where = "ratiomatch::Adam::step";
    check_size_match(where, "params.size()", params.size(), "num_params()", num_params());
    check_size_match(where, "grad.size()", grad.size(), "num_params()", num_params());
    check_finite(where, "grad", grad);

    ++step_count_;
    const double t = static_cast<double>(step_count_);
    const double bias_correction1 = 1.0 - std::pow(options_.beta1, t);
    const double bias_correction2 = 1.0 - std::pow(options_.beta2, t);
    const S step_size = static_cast<S>(options_.lr / bias_correction1);
    const S bias_correction2_sqrt = static_cast<S>(std::sqrt(bias_correction2));
    const S beta1 = static_cast<S>(options_.beta1);
    const S beta2 = static_cast<S>(options_.beta2);
    const S one_minus_beta1 = static_cast<S>(1.0 - options_.beta1);
    const S one_minus_beta2 = static_cast<S>(1.0 - options_.beta2);
    const S eps = static_cast<S>(options_.eps);
    const S weight_decay = static_cast<S>(options_.weight_decay);
    const bool decay = options_.weight_decay != 0;

    // Element-wise in the order PyTorch uses, vectorised (IEEE sqrt and division, so the
    // result is the same as the scalar loop's).
    auto update = [&](const auto& g) {
      m_.array() = m_.array() * beta1 + one_minus_beta1 * g;
      v_.array() = v_.array() * beta2 + one_minus_beta2 * g * g;
      params.array() -= step_size * m_.array() / (v_.array().sqrt() / bias_correction2_sqrt + eps);
    };
    if (decay)
      update(grad.array() + weight_decay * params.array());
    else
      update(grad.array());
  }

  /// @brief The number of steps taken (PyTorch's `state['step']`).
  Index step_count() const { return step_count_; }
  /// @brief The first-moment estimate `m` (PyTorch's `exp_avg`).
  const Vector<S>& first_moment() const { return m_; }
  /// @brief The second-moment estimate `v` (PyTorch's `exp_avg_sq`).
  const Vector<S>& second_moment() const { return v_; }

  /// @brief Restores a saved state, so that the next step is the one the saved optimizer would take.
  /// @throws std::invalid_argument if `step_count < 0`, a length differs from `num_params()`,
  /// or `m`, `v` has a non-finite entry, or `v` a negative one
  void set_state(Index step_count, const Vector<S>& m, const Vector<S>& v) {
    set_state_checked("ratiomatch::Adam::set_state", step_count, m, v);
  }

  /// @brief The state as a list of buffers `{m, v}` (the form a checkpoint stores).
  std::vector<Vector<S>> state_buffers() const { return {m_, v_}; }

  /// @brief Restores a state saved by `state_buffers()`: `buffers` must be `{m, v}`.
  /// @throws std::invalid_argument if there are not exactly two buffers, or as `set_state`
  void restore_state(Index step_count, const std::vector<Vector<S>>& buffers) {
    constexpr std::string_view where = "ratiomatch::Adam::restore_state";
    check_buffer_count(where, buffers);
    set_state_checked(where, step_count, buffers[0], buffers[1]);
  }

  /// @brief Validates a state for `restore_state` without changing anything (so that a caller
  /// restoring several objects can check them all before assigning any).
  /// @throws std::invalid_argument exactly when `restore_state(step_count, buffers)` would
  void check_state(Index step_count, const std::vector<Vector<S>>& buffers) const {
    constexpr std::string_view where = "ratiomatch::Adam::check_state";
    check_buffer_count(where, buffers);
    validate_state(where, step_count, buffers[0], buffers[1]);
  }

  /// @brief The options in use.
  const AdamOptions& options() const { return options_; }

  /// @brief Changes the learning rate `α` for the following steps (e.g. a schedule).
  /// @throws std::invalid_argument unless `lr` is positive and finite
  void set_learning_rate(double lr) {
    constexpr std::string_view where = "ratiomatch::Adam::set_learning_rate";
    check_positive(where, "lr", lr);
    if (!std::isfinite(lr)) throw std::invalid_argument(detail::message(where, "lr (", lr, ") must be finite"));
    options_.lr = lr;
  }

 private:
  static void check_buffer_count(std::string_view where, const std::vector<Vector<S>>& buffers) {
    if (buffers.size() != 2)
      throw std::invalid_argument(
          detail::message(where, "buffers.size() (", buffers.size(), ") must equal 2 (first and second moment)"));
  }

  void set_state_checked(std::string_view where, Index step_count, const Vector<S>& m, const Vector<S>& v) {
    validate_state(where, step_count, m, v);
    step_count_ = step_count;
    m_ = m;
    v_ = v;
  }

  void validate_state(std::string_view where, Index step_count, const Vector<S>& m, const Vector<S>& v) const {
    if (step_count < 0)
      throw std::invalid_argument(detail::message(where, "step_count (", step_count, ") must be non-negative"));
    check_size_match(where, "m.size()", m.size(), "num_params()", num_params());
    check_size_match(where, "v.size()", v.size(), "num_params()", num_params());
    if (!m.allFinite()) throw std::invalid_argument(detail::message(where, "m has a non-finite entry"));
    if (!v.allFinite()) throw std::invalid_argument(detail::message(where, "v has a non-finite entry"));
    if (v.size() > 0 && v.minCoeff() < S(0))
      throw std::invalid_argument(
          detail::message(where, "v has a negative entry (", v.minCoeff(), "); a second moment is non-negative"));
  }

  AdamOptions options_;
  Index step_count_ = 0;
  Vector<S> m_;
  Vector<S> v_;
};

}  // namespace ratiomatch
