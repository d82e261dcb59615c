#pragma once
/// @file
/// @brief The per-flip ratio objectives `f(ΔE)` of DESIGN §1, as policy types.
///
/// An estimator's per-sample objective is `J(x) = Σ_i f(ΔE_i(x))` with
/// `ΔE_i = E(x_{−i}) − E(x)`. Each policy gives `log f`, the logarithmic slope
/// `d log f / dΔE` (so `f' = f · slope`, computed without overflow in log space), and
/// the fixed-point temperature `T`: with a flexible model the population minimiser is
/// `q ∝ p_data^{1/T}`, so the learned model of the data is `exp(−T·E)`.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <string_view>

namespace ratiomatch {

/// @brief The paper's squared ratio `f(ΔE) = r² = exp(−2ΔE)`; `T = 4` (it learns `p^{1/4}`).
struct SquaredRatio {
  static constexpr double temperature = 4;
  static constexpr std::string_view name = "squared";
  template <class S>
  static S log_value(S delta) { return S(-2) * delta; }
  template <class S>
  static S log_slope(S) { return S(-2); }
};

/// @brief Hyvärinen's (2007) ratio matching `f(ΔE) = σ(−ΔE)² = 1/(1 + r⁻¹)²`; consistent, `T = 1`.
///
/// `log f = −2 softplus(ΔE)`, `d log f/dΔE = −2 σ(ΔE)`.
struct HyvarinenRatio {
  static constexpr double temperature = 1;
  static constexpr std::string_view name = "hyvarinen";
  template <class S>
  static S log_value(S delta) {
    // −2 log(1 + e^{ΔE}), stable for either sign.
    return S(-2) * (std::max(delta, S(0)) + std::log1p(std::exp(-std::abs(delta))));
  }
  template <class S>
  static S log_slope(S delta) { return S(-2) / (S(1) + std::exp(-delta)); }
};

/// @brief The square-root ratio `f(ΔE) = r^{1/2} = exp(−ΔE/2)`; consistent, `T = 1`.
/// Its gradient-guided proposal `softmax((2x−1)⊙∇E / 2)` is Gibbs-with-Gradients'.
struct SqrtRatio {
  static constexpr double temperature = 1;
  static constexpr std::string_view name = "sqrt";
  template <class S>
  static S log_value(S delta) { return S(-0.5) * delta; }
  template <class S>
  static S log_slope(S) { return S(-0.5); }
};

/// @brief A ratio objective policy: `log_value`, `log_slope`, `temperature`, `name`.
template <class O>
concept RatioObjective = requires(double d, float f) {
  { O::temperature } -> std::convertible_to<double>;
  { O::name } -> std::convertible_to<std::string_view>;
  { O::log_value(d) } -> std::convertible_to<double>;
  { O::log_slope(d) } -> std::convertible_to<double>;
  { O::log_value(f) } -> std::convertible_to<float>;
  { O::log_slope(f) } -> std::convertible_to<float>;
};

/// @brief `f(ΔE)` of an objective.
template <RatioObjective O, class S>
S ratio_value(S delta) {
  return std::exp(O::log_value(delta));
}

/// @brief `f'(ΔE) = f(ΔE) · d log f/dΔE` of an objective.
template <RatioObjective O, class S>
S ratio_derivative(S delta) {
  return std::exp(O::log_value(delta)) * O::log_slope(delta);
}

}  // namespace ratiomatch
