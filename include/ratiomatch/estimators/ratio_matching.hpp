#pragma once
/// @file
/// @brief `RatioMatching`: the exact ratio matching objective over all d single-bit flips.

#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/workspace_cache.hpp"
#include "ratiomatch/estimators/flip_objective.hpp"
#include "ratiomatch/estimators/ratio_objective.hpp"

namespace ratiomatch {

/// @brief Exact ratio matching: `J(x) = Σ_{i=1..d} f(ΔE_i(x))`, batch mean.
///
/// With the default `SquaredRatio`, `f(ΔE) = r_i² = exp(2(E(x) − E(x_{−i})))`, the paper's
/// objective. Gradient: `(1/n) Σ_r Σ_i f'(ΔE_i) (∇_θE(x_{−i}) − ∇_θE(x))`, computed with one
/// weighted backward pass over the flipped rows (in blocks of bounded size) and one over
/// the batch. Flipped energies come from `flip_deltas` when the model has it.
/// Cost: d flipped energies per sample. Holds reusable workspaces: not for concurrent use.
/// @tparam Objective the ratio objective (`SquaredRatio`, `HyvarinenRatio` or `SqrtRatio`)
template <RatioObjective Objective = SquaredRatio>
class RatioMatching {
 public:
  using objective_type = Objective;
  /// @brief The learned model of the data is `exp(−temperature · E)` (DESIGN §1).
  static constexpr double temperature = Objective::temperature;

  /// @brief Batch-mean loss; writes its gradient into `grad` (resized to `num_params()`).
  /// @param rng ignored (the objective is deterministic); accepted so estimators are interchangeable
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  /// @throws NumericalError if the loss or the gradient is not finite
  template <class M, class Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& X, Rng& /*rng*/,
                                       Vector<typename M::Scalar>& grad) const {
    static_assert(EnergyModel<M>, "RatioMatching needs an EnergyModel: see docs/model_requirements.md");
    return run(where_gradient, model, X, &grad);
  }

  /// @brief Batch-mean loss only.
  template <class M, class Rng>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& X, Rng& /*rng*/) const {
    static_assert(EnergyModel<M>, "RatioMatching needs an EnergyModel: see docs/model_requirements.md");
    return run(where_loss, model, X, nullptr);
  }

  /// @brief Batch-mean loss only (no randomness needed).
  template <class M>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& X) const {
    static_assert(EnergyModel<M>, "RatioMatching needs an EnergyModel: see docs/model_requirements.md");
    return run(where_loss, model, X, nullptr);
  }

 private:
  static constexpr std::string_view where_gradient = "ratiomatch::RatioMatching::loss_and_gradient";
  static constexpr std::string_view where_loss = "ratiomatch::RatioMatching::loss";

  template <class M>
  typename M::Scalar run(std::string_view where, const M& model, const Matrix<typename M::Scalar>& X,
                         Vector<typename M::Scalar>* grad) const {
    check_batch(where, X, model.dim());
    auto& ws = workspaces_.template get<detail::EstimatorWorkspace<M>>();
    ws.evaluation.bind(model, X);
    const Index n = X.rows(), d = X.cols();
    detail::all_flips(n, d, ws.flips);
    if (grad != nullptr) return detail::flip_objective_loss_and_gradient<Objective>(where, ws, *grad);
    // All n × d energy changes at once, in the flip list's order (row by row).
    ws.evaluation.flip_deltas(ws.all_deltas);
    ws.delta.resize(n * d);
    Eigen::Map<RowMajorMatrix<typename M::Scalar>>(ws.delta.data(), n, d) = ws.all_deltas;
    return detail::flip_objective_loss<Objective>(where, ws);
  }

  mutable detail::WorkspaceCache workspaces_;
};

}  // namespace ratiomatch
