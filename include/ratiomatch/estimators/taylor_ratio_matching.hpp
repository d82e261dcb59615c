#pragma once
/// @file
/// @brief `TaylorRatioMatching`: first-order ratio matching, an objective of the input gradient alone.

#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/core/workspace_cache.hpp"
#include "ratiomatch/estimators/ratio_objective.hpp"

namespace ratiomatch {

/// @brief First-order ratio matching: every flipped energy change replaced by its first-order
/// estimate, `ΔE_i ≈ ΔÊ_i = (1 − 2x_i) ∂_iE(x)`, so that
///
///     J(x) = Σ_{i=1..d} f(ΔÊ_i(x)),   batch mean,
///
/// which for the default `SquaredRatio` is `Σ_i exp(2(2x − 1)_i ∂_iE(x)) = ‖exp((2x − 1) ⊙ ∇ₓE)‖²`
/// (Z. Ou, a note on gradient-guided ratio matching, eq. 12). No flipped row is evaluated: one
/// forward pass, the input gradient's backward pass and one mixed pass per batch, whatever d.
///
/// Gradient: `(1/n) Σ_r Σ_i f'(ΔÊ_ri) (1 − 2x_ri) ∇_θ ∂_iE(x_r) = ∇_θ Σ_r V_rᵀ ∇ₓE(x_r)` with
/// `V_ri = f'(ΔÊ_ri)(1 − 2x_ri)/n`: the model's mixed second derivative (concept `HasMixedGradient`).
///
/// **A heuristic.** Where the energy is linear in each bit (`IsingModel`, and `BernoulliRBM`'s
/// visible bias) the estimate is exact and this *is* `RatioMatching<Objective>`, loss and gradient.
/// Elsewhere it is not ratio matching: the objective depends on the continuous extension between
/// the corners of the hypercube, it need not be consistent, and `temperature` (the objective's)
/// is only what it would be if the estimate were exact (see docs/ratio_objectives.md for what it
/// learns on a small flexible model).
/// Holds reusable workspaces: not for concurrent use.
/// @tparam Objective the ratio objective (`SquaredRatio`, `HyvarinenRatio` or `SqrtRatio`)
template <RatioObjective Objective = SquaredRatio>
class TaylorRatioMatching {
 public:
  using objective_type = Objective;
  /// @brief The objective's fixed-point temperature (exact only where `ΔÊ = ΔE`).
  static constexpr double temperature = Objective::temperature;

  /// @brief Batch-mean loss; writes its gradient into `grad` (resized to `num_params()`).
  /// @param rng ignored (the objective is deterministic); accepted so estimators are interchangeable
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  /// @throws NumericalError if an energy, an energy change estimate, the loss or the gradient is not finite
  template <class M, class Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& X, Rng& /*rng*/,
                                       Vector<typename M::Scalar>& grad) const {
    static_assert(HasMixedGradient<M>,
                  "TaylorRatioMatching needs the model's mixed second derivative, "
                  "BatchEvaluation::accumulate_mixed_gradient: see docs/model_requirements.md");
    return run(where_gradient, model, X, &grad);
  }

  /// @brief Batch-mean loss only.
  template <class M, class Rng>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& X, Rng& /*rng*/) const {
    return loss(model, X);
  }

  /// @brief Batch-mean loss only (no randomness needed).
  template <class M>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& X) const {
    static_assert(HasBatchEvaluation<M>, "TaylorRatioMatching needs the model's batch evaluation");
    return run(where_loss, model, X, nullptr);
  }

 private:
  static constexpr std::string_view where_gradient = "ratiomatch::TaylorRatioMatching::loss_and_gradient";
  static constexpr std::string_view where_loss = "ratiomatch::TaylorRatioMatching::loss";

  template <class M>
  struct Workspace {
    typename M::BatchEvaluation evaluation;
    Matrix<typename M::Scalar> gradient, delta, term, direction;
  };

  template <class M>
  typename M::Scalar run(std::string_view where, const M& model, const Matrix<typename M::Scalar>& X,
                         Vector<typename M::Scalar>* grad) const {
    using S = typename M::Scalar;
    check_batch(where, X, model.dim());
    auto& ws = workspaces_.template get<Workspace<M>>();
    ws.evaluation.bind(model, X);
    // The objective does not see E itself (only ∇ₓE), but a model whose energy is not finite is broken.
    check_finite(where, "energy", ws.evaluation.energy());
    ws.evaluation.input_gradient(ws.gradient);
    const Index n = X.rows();
    ws.delta = (S(1) - S(2) * X.array()) * ws.gradient.array();  // ΔÊ
    check_finite(where, "first-order energy change", ws.delta);
    // f(ΔÊ) once per entry: summed in double for the loss, times d log f/dΔ for the gradient.
    ws.term = ws.delta.unaryExpr([](S delta) { return ratio_value<Objective>(delta); });
    const S loss = static_cast<S>(ws.term.template cast<double>().sum() / static_cast<double>(n));
    check_finite(where, "loss", loss);
    if (grad == nullptr) return loss;
    const S inv_n = S(1) / static_cast<S>(n);
    ws.direction = ws.term.binaryExpr(ws.delta, [](S f, S delta) { return f * Objective::log_slope(delta); });
    ws.direction.array() *= (S(1) - S(2) * X.array()) * inv_n;  // V = f'(ΔÊ) (1 − 2x) / n
    grad->setZero(model.num_params());
    ws.evaluation.accumulate_mixed_gradient(ws.direction, *grad);
    check_finite(where, "gradient", *grad);
    return loss;
  }

  mutable detail::WorkspaceCache workspaces_;
};

}  // namespace ratiomatch
