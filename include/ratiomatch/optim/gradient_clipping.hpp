#pragma once
/// @file
/// @brief `clip_gradient_norm`: global 2-norm gradient clipping with the semantics of
/// `torch.nn.utils.clip_grad_norm_(…, norm_type=2, error_if_nonfinite=True)` (PyTorch 1.13).

#include <cmath>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

namespace detail {

/// The Euclidean norm of `g`, without spurious overflow: `float` entries are accumulated in
/// double; `double` entries use Eigen's plain `norm()` and fall back to the scaled
/// `stableNorm()` only if the plain sum of squares overflows.
template <class S>
double gradient_two_norm(const Eigen::Ref<const Vector<S>>& g) {
  if constexpr (std::is_same_v<S, double>) {
    const double plain = g.norm();
    if (std::isfinite(plain) || !all_finite(g)) return plain;
    return g.stableNorm();
  } else {
    // Eight partial sums in double, which the compiler keeps in one vector register; a single
    // running sum is a chain of dependent additions, four times slower at 400,000 entries.
    constexpr Index lanes = 8;
    double partial[lanes] = {};
    const Index n = g.size(), whole = n - n % lanes;
    for (Index k = 0; k < whole; k += lanes)
      for (Index j = 0; j < lanes; ++j) {
        const double x = static_cast<double>(g(k + j));
        partial[j] += x * x;
      }
    double sum = 0;
    for (Index k = whole; k < n; ++k) {
      const double x = static_cast<double>(g(k));
      sum += x * x;
    }
    for (Index j = 0; j < lanes; ++j) sum += partial[j];
    return std::sqrt(sum);
  }
}

}  // namespace detail

/// @brief Rescales `grad` so that its Euclidean norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_` does with `norm_type=2` and `error_if_nonfinite=True`.
///
///     total     = ‖g‖₂
///     clip_coef = max_norm / (total + 1e-6)
///     g ← g · clip_coef     if clip_coef < 1  (the direction is kept; ‖g‖ becomes ≈ max_norm)
///
/// `clip_coef` is computed in `S` from `total` rounded to `S`, as PyTorch does for a tensor of
/// that type. The constant `1e-6` (PyTorch's) keeps the coefficient finite for a zero gradient
/// and makes a clipped norm fall a hair below `max_norm`.
/// @tparam S `float` or `double` (give it explicitly for a `Map` or a block, or use the
/// `Vector<S>&` overload, which deduces it)
/// @param grad the gradient, rescaled in place if its norm exceeds `max_norm`
/// @param max_norm the largest norm allowed (> 0; `+inf` never clips)
/// @return the norm of `grad` before clipping
/// @throws std::invalid_argument if `max_norm` is not positive (or is NaN)
/// @throws NumericalError if the norm is not finite in `S` (a NaN or infinite entry, named in
/// the message, or an overflow); `grad` is then left unchanged
template <class S>
S clip_gradient_norm(Eigen::Ref<Vector<S>> grad, double max_norm) {
  constexpr std::string_view where = "ratiomatch::clip_gradient_norm";
  check_positive(where, "max_norm", max_norm);
  const double total = detail::gradient_two_norm<S>(grad);
  const S total_s = static_cast<S>(total);
  if (!std::isfinite(total_s)) {
    for (Index k = 0; k < grad.size(); ++k)
      if (!std::isfinite(grad(k)))
        throw NumericalError(detail::message(where, "the gradient norm is not finite (", total,
                                             "): grad(", k, ") is ", grad(k)));
    throw NumericalError(
        detail::message(where, "the gradient norm (", total, ") overflows the scalar type; every entry is finite"));
  }
  const S clip_coef = static_cast<S>(max_norm) / (total_s + static_cast<S>(1e-6));
  if (clip_coef < S(1)) grad *= clip_coef;
  return total_s;
}

/// @brief `clip_gradient_norm` for a `Vector<S>`, with `S` deduced (see the main overload).
/// @throws as the main overload
template <class S>
S clip_gradient_norm(Vector<S>& grad, double max_norm) {
  return clip_gradient_norm<S>(Eigen::Ref<Vector<S>>(grad), max_norm);
}

/// @brief `clip_gradient_norm` for a mapped vector (e.g. a view into a flat buffer), with `S` deduced.
/// @throws as the main overload
template <class S>
S clip_gradient_norm(Eigen::Map<Vector<S>> grad, double max_norm) {
  return clip_gradient_norm<S>(Eigen::Ref<Vector<S>>(grad), max_norm);
}

}  // namespace ratiomatch
