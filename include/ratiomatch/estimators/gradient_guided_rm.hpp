#pragma once
/// @file
/// @brief `GradientGuidedRM`: ratio matching with gradient-guided importance sampling (RMwGGIS).

#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/workspace_cache.hpp"
#include "ratiomatch/estimators/flip_objective.hpp"
#include "ratiomatch/estimators/proposal.hpp"
#include "ratiomatch/estimators/ratio_objective.hpp"

namespace ratiomatch {

/// @brief Which RMwGGIS objective: the unbiased importance-weighted one or the paper's advanced one.
enum class GuidedVariant {
  Basic,     ///< `(1/s) Σ_t f(ΔE_{i_t}) / n(i_t)`, `i_t ~ n` with replacement: unbiased
  Advanced,  ///< `Σ_t f(ΔE_{i_t})` over s distinct `i_t ~ n` without replacement: biased, lower variance
};

/// @brief Ratio matching with gradient-guided importance sampling (Liu, Liu & Ji, ICLR 2023).
///
/// The proposal `n(i | x) ∝ f(−(2x−1)_i ∂_iE(x))` (for `SquaredRatio`:
/// `softmax(2(2x−1) ⊙ ∇ₓE)`) is the first-order estimate of the zero-variance proposal
/// `n*(i) ∝ f(ΔE_i)`. It is held fixed (stop-gradient): the parameter gradient is
/// `(1/n) Σ_r Σ_t w_t f'(ΔE_{i_t}) (∇_θE(x_{−i_t}) − ∇_θE(x))` with `w_t = 1/(s·n(i_t))`
/// (Basic) or 1 (Advanced) — the correct unbiased gradient of the basic estimator.
/// Cost: one input gradient + s flipped energies per sample.
/// Holds reusable workspaces: not for concurrent use.
/// @tparam Objective the ratio objective (default `SquaredRatio`)
template <RatioObjective Objective = SquaredRatio>
class GradientGuidedRM {
 public:
  using objective_type = Objective;
  /// @brief The objective's temperature: the learned model of the data is
  /// `exp(−temperature · E)` for the basic variant (an unbiased estimate of the objective). The
  /// advanced variant with s < d minimises another, biased objective, whose minimiser need not
  /// be at this temperature, nor the data's distribution at any; the value is the convention
  /// evaluations use for it too.
  static constexpr double temperature = Objective::temperature;

  /// @param s flips drawn per sample
  /// @param variant `GuidedVariant::Basic` or `GuidedVariant::Advanced`
  /// @throws std::invalid_argument if `s <= 0`
  GradientGuidedRM(Index s, GuidedVariant variant) : s_(s), variant_(variant) {
    check_positive("ratiomatch::GradientGuidedRM::GradientGuidedRM", "s", s);
  }

  Index flips() const { return s_; }
  GuidedVariant variant() const { return variant_; }

  /// @brief Batch-mean loss; writes its gradient into `grad` (resized to `num_params()`).
  /// The same engine state gives bit-identical results.
  /// @throws std::invalid_argument on an empty batch, a wrong width, a non-binary entry, or
  ///         `s > d` for the advanced variant (s distinct bits cannot be drawn)
  /// @throws NumericalError if the input gradient, the loss or the gradient is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng,
                                       Vector<typename M::Scalar>& grad) const {
    static_assert(EnergyModel<M>, "GradientGuidedRM needs an EnergyModel: see docs/model_requirements.md");
    return run(where_gradient, model, X, rng, &grad);
  }

  /// @brief Batch-mean loss only.
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng) const {
    static_assert(EnergyModel<M>, "GradientGuidedRM needs an EnergyModel: see docs/model_requirements.md");
    return run(where_loss, model, X, rng, nullptr);
  }

 private:
  static constexpr std::string_view where_gradient = "ratiomatch::GradientGuidedRM::loss_and_gradient";
  static constexpr std::string_view where_loss = "ratiomatch::GradientGuidedRM::loss";

  template <class M, class Rng>
  typename M::Scalar run(std::string_view where, const M& model, const Matrix<typename M::Scalar>& X, Rng& rng,
                         Vector<typename M::Scalar>* grad) const {
    using S = typename M::Scalar;
    check_batch(where, X, model.dim());
    if (variant_ == GuidedVariant::Advanced && s_ > X.cols())
      throw std::invalid_argument(detail::message(where, "s (", s_, ") must not exceed model.dim() (", X.cols(),
                                                  ") for the advanced variant, which draws s distinct bits"));
    auto& ws = workspaces_.template get<detail::EstimatorWorkspace<M>>();
    // One forward pass of X serves the proposal's input gradient and the flips.
    ws.evaluation.bind(model, X);
    ws.evaluation.input_gradient(ws.input_gradient);
    check_finite(where, "input gradient", ws.input_gradient);
    detail::log_flip_proposal<Objective>(X, ws.input_gradient, S(1), ws.flips);
    check_finite(where, "proposal logit", ws.flips.log_proposal);
    if (variant_ == GuidedVariant::Basic)
      detail::draw_with_replacement(s_, rng, ws.flips);
    else
      detail::draw_without_replacement(s_, rng, ws.flips);
    if (grad != nullptr) return detail::flip_objective_loss_and_gradient<Objective>(where, ws, *grad);
    ws.evaluation.flip_deltas(ws.flips.rows, ws.flips.bits, ws.delta);
    return detail::flip_objective_loss<Objective>(where, ws);
  }

  Index s_;
  GuidedVariant variant_;
  mutable detail::WorkspaceCache workspaces_;
};

}  // namespace ratiomatch
