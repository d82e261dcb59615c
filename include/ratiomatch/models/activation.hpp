#pragma once
/// @file
/// @brief Elementwise activations of hidden layers, with derivatives.

#include <stdexcept>
#include <string_view>

#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Hidden-layer activation of `MlpEnergy`.
enum class Activation {
  Swish,     ///< `a(z) = z σ(z)` (SiLU); `a'(z) = σ(z) + a(z)(1 − σ(z))`
  Tanh,      ///< `a(z) = tanh z`; `a'(z) = 1 − a²`
  Elu,       ///< `a(z) = z` for z > 0, `e^z − 1` otherwise; `a'(z) = 1` or `a + 1`
  Softplus,  ///< `a(z) = log(1 + e^z)` (computed stably); `a'(z) = σ(z)`
};

/// @brief The activation's lower-case name (`swish`, `tanh`, `elu`, `softplus`).
inline std::string_view to_string(Activation act) {
  switch (act) {
    case Activation::Swish: return "swish";
    case Activation::Tanh: return "tanh";
    case Activation::Elu: return "elu";
    case Activation::Softplus: return "softplus";
  }
  return "unknown";
}

namespace detail {

/// `H = a(Z)` elementwise.
template <class ZD, class HD>
void activate(Activation act, const Eigen::ArrayBase<ZD>& z, Eigen::ArrayBase<HD> const& h_out) {
  using S = typename ZD::Scalar;
  auto& h = const_cast<Eigen::ArrayBase<HD>&>(h_out);
  switch (act) {
    case Activation::Swish: h = z / (S(1) + (-z).exp()); break;
    case Activation::Tanh: h = z.tanh(); break;
    case Activation::Elu: h = (z > S(0)).select(z, z.min(S(0)).expm1()); break;
    case Activation::Softplus: h = z.max(S(0)) + (-z.abs()).exp().log1p(); break;
  }
}

/// `Δ ⊙= a'(Z)`, using the stored outputs `H = a(Z)` where that is cheaper.
template <class ZD, class HD, class DD>
void multiply_by_derivative(Activation act, const Eigen::ArrayBase<ZD>& z, const Eigen::ArrayBase<HD>& h,
                            Eigen::ArrayBase<DD> const& delta_out) {
  using S = typename ZD::Scalar;
  auto& delta = const_cast<Eigen::ArrayBase<DD>&>(delta_out);
  switch (act) {
    // σ(z)(1 − h) + h = σ + h(1 − σ); σ comes from z because h alone does not determine it.
    case Activation::Swish: delta *= (S(1) - h) / (S(1) + (-z).exp()) + h; break;
    case Activation::Tanh: delta *= S(1) - h * h; break;
    case Activation::Elu: delta *= (z > S(0)).select(S(1), h + S(1)); break;
    case Activation::Softplus: delta *= S(1) / (S(1) + (-z).exp()); break;
  }
}

}  // namespace detail
}  // namespace ratiomatch
