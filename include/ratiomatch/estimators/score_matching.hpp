#pragma once
/// @file
/// @brief `ScoreMatching`: Hyvärinen's (2005) score matching, exact, for models over real-valued rows.

#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/continuous_concepts.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Exact score matching on the free energy (Hyvärinen 2005, eq. 4 with `ψ = −∇_v F`):
///
///     J(θ) = (1/n) Σ_r [ ½ ‖∇_v F(v_r)‖² − Δ_v F(v_r) ],
///
/// which equals the Fisher divergence `½ E_data ‖∇_v log p_data − ∇_v log p_θ‖²` up to a
/// constant, so its minimiser is the data distribution when the model can represent it.
/// Gradient: `∇_θ J = ∇_θ Σ_r D_rᵀ ∇_v F(v_r) − (1/n) Σ_r ∇_θ Δ_v F(v_r)` with `D = ∇_v F / n`
/// (the model's mixed gradient and Laplacian gradient, concept `HasLaplacian`). Deterministic.
/// Units: nats per unit² of `v`. Holds no state.
class ScoreMatching {
 public:
  /// @brief Batch-mean loss; writes its gradient into `grad` (resized to `num_params()`).
  /// @param rng ignored (the objective is deterministic); accepted so estimators are interchangeable
  /// @throws std::invalid_argument on an empty batch or a wrong width
  /// @throws NumericalError on a non-finite entry, loss or gradient
  template <HasLaplacian M, class Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& V, Rng& /*rng*/,
                                       Vector<typename M::Scalar>& grad) const {
    return run(where_gradient, model, V, &grad);
  }

  /// @brief Batch-mean loss only.
  template <HasLaplacian M, class Rng>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& V, Rng& /*rng*/) const {
    return run(where_loss, model, V, nullptr);
  }

 private:
  static constexpr std::string_view where_gradient = "ratiomatch::ScoreMatching::loss_and_gradient";
  static constexpr std::string_view where_loss = "ratiomatch::ScoreMatching::loss";

  template <class M>
  static typename M::Scalar run(std::string_view where, const M& model, const Matrix<typename M::Scalar>& V,
                                Vector<typename M::Scalar>* grad) {
    using S = typename M::Scalar;
    check_real_batch(where, V, model.dim());
    Matrix<S> G;
    Vector<S> laplacian;
    model.input_gradient(V, G);
    model.laplacian(V, laplacian);
    const double n = static_cast<double>(V.rows());
    const S loss = static_cast<S>(
        (0.5 * G.template cast<double>().rowwise().squaredNorm().sum() - laplacian.template cast<double>().sum()) / n);
    check_finite(where, "loss", loss);
    if (grad == nullptr) return loss;
    grad->setZero(model.num_params());
    G /= static_cast<S>(n);
    model.accumulate_mixed_gradient(V, G, *grad);
    model.accumulate_laplacian_gradient(V, Vector<S>::Constant(V.rows(), static_cast<S>(-1.0 / n)), *grad);
    check_finite(where, "gradient", *grad);
    return loss;
  }
};

}  // namespace ratiomatch
