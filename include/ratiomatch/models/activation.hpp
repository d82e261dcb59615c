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
  /// `a(z) = z σ(βz)` with one slope `β` shared by every hidden layer and learned with the
  /// weights (the reference network of RMwGGIS: one Swish module appended after every layer);
  /// `∂a/∂z = σ(βz) + β a(z)(1 − σ(βz))`, `∂a/∂β = z a(z)(1 − σ(βz))`
  LearnableSwish,
};

/// @brief The activation's lower-case name (`swish`, `tanh`, `elu`, `softplus`).
inline std::string_view to_string(Activation act) {
  switch (act) {
    case Activation::Swish: return "swish";
    case Activation::Tanh: return "tanh";
    case Activation::Elu: return "elu";
    case Activation::Softplus: return "softplus";
    case Activation::LearnableSwish: return "learnable-swish";
  }
  return "unknown";
}

namespace detail {

/// `H = a(Z)` elementwise; `beta` is the slope of `LearnableSwish` (ignored otherwise).
template <class ZD, class HD>
void activate(Activation act, const Eigen::ArrayBase<ZD>& z, Eigen::ArrayBase<HD> const& h_out,
              typename ZD::Scalar beta = 1) {
  using S = typename ZD::Scalar;
  auto& h = const_cast<Eigen::ArrayBase<HD>&>(h_out);
  switch (act) {
    case Activation::Swish: h = z / (S(1) + (-z).exp()); break;
    case Activation::LearnableSwish: h = z / (S(1) + (-beta * z).exp()); break;
    case Activation::Tanh: h = z.tanh(); break;
    case Activation::Elu: h = (z > S(0)).select(z, z.min(S(0)).expm1()); break;
    case Activation::Softplus: h = z.max(S(0)) + (-z.abs()).exp().log1p(); break;
  }
}

/// `Δ ⊙= a'(Z)`, using the stored outputs `H = a(Z)` where that is cheaper.
template <class ZD, class HD, class DD>
void multiply_by_derivative(Activation act, const Eigen::ArrayBase<ZD>& z, const Eigen::ArrayBase<HD>& h,
                            Eigen::ArrayBase<DD> const& delta_out, typename ZD::Scalar beta = 1) {
  using S = typename ZD::Scalar;
  auto& delta = const_cast<Eigen::ArrayBase<DD>&>(delta_out);
  switch (act) {
    // σ(z)(1 − h) + h = σ + h(1 − σ); σ comes from z because h alone does not determine it.
    case Activation::Swish: delta *= (S(1) - h) / (S(1) + (-z).exp()) + h; break;
    // σ(βz) + β h (1 − σ(βz)) = σ (1 − β h) + β h.
    case Activation::LearnableSwish: delta *= (S(1) - beta * h) / (S(1) + (-beta * z).exp()) + beta * h; break;
    case Activation::Tanh: delta *= S(1) - h * h; break;
    case Activation::Elu: delta *= (z > S(0)).select(S(1), h + S(1)); break;
    case Activation::Softplus: delta *= S(1) / (S(1) + (-z).exp()); break;
  }
}

/// `Σ Δ ⊙ ∂a/∂β` over all entries for `LearnableSwish`: `∂a/∂β = z h (1 − σ(βz))`, with `Δ`
/// the gradient with respect to the activations `H` (before `multiply_by_derivative`).
template <class ZD, class HD, class DD>
typename ZD::Scalar slope_gradient(const Eigen::ArrayBase<ZD>& z, const Eigen::ArrayBase<HD>& h,
                                   const Eigen::ArrayBase<DD>& delta, typename ZD::Scalar beta) {
  using S = typename ZD::Scalar;
  return (delta * z * h * (S(1) - S(1) / (S(1) + (-beta * z).exp()))).sum();
}

/// `Δ ⊙= a''(Z)` (first-order ratio matching's mixed derivative needs it):
/// Swish `σ(1 − σ)(2 + z(1 − 2σ))`; LearnableSwish `β σ(1 − σ)(2 + βz(1 − 2σ))` with `σ = σ(βz)`;
/// tanh `−2a(1 − a²)`; ELU `0` for z > 0, else `a + 1`; softplus `σ(1 − σ)`.
template <class ZD, class HD, class DD>
void multiply_by_second_derivative(Activation act, const Eigen::ArrayBase<ZD>& z, const Eigen::ArrayBase<HD>& h,
                                   Eigen::ArrayBase<DD> const& delta_out, typename ZD::Scalar beta = 1) {
  using S = typename ZD::Scalar;
  auto& delta = const_cast<Eigen::ArrayBase<DD>&>(delta_out);
  switch (act) {
    case Activation::Swish: {
      const auto sigma = S(1) / (S(1) + (-z).exp());
      delta *= sigma * (S(1) - sigma) * (S(2) + z * (S(1) - S(2) * sigma));
      break;
    }
    case Activation::LearnableSwish: {
      const auto sigma = S(1) / (S(1) + (-beta * z).exp());
      delta *= beta * sigma * (S(1) - sigma) * (S(2) + beta * z * (S(1) - S(2) * sigma));
      break;
    }
    case Activation::Tanh: delta *= S(-2) * h * (S(1) - h * h); break;
    case Activation::Elu: delta *= (z > S(0)).select(S(0), h + S(1)); break;
    case Activation::Softplus: {
      const auto sigma = S(1) / (S(1) + (-z).exp());
      delta *= sigma * (S(1) - sigma);
      break;
    }
  }
}

/// `Σ Δ ⊙ Ż ⊙ ∂²a/∂z∂β` for `LearnableSwish`, `∂²a/∂z∂β = z σ(1 − σ)(2 + βz(1 − 2σ))` with
/// `σ = σ(βz)`: the part of the mixed derivative of `∂E/∂β` that moves with the pre-activations.
template <class ZD, class DD, class TD>
typename ZD::Scalar slope_mixed_term(const Eigen::ArrayBase<ZD>& z, const Eigen::ArrayBase<DD>& delta,
                                     const Eigen::ArrayBase<TD>& z_tangent, typename ZD::Scalar beta) {
  using S = typename ZD::Scalar;
  const auto sigma = S(1) / (S(1) + (-beta * z).exp());
  return (delta * z_tangent * z * sigma * (S(1) - sigma) * (S(2) + beta * z * (S(1) - S(2) * sigma))).sum();
}

}  // namespace detail
}  // namespace ratiomatch
