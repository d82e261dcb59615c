#pragma once
/// @file
/// @brief The requirements a model must meet (see docs/model_requirements.md).
///
/// A model is any plain class with these members; there is no base class. Its optional
/// speed-ups live in one member type, its batch evaluation (`core/batch_evaluation.hpp`).

#include <concepts>

#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Marks a model whose visible units are real-valued (`M::continuous_visible` is true):
/// it is a `ContinuousEnergyModel` (`core/continuous_concepts.hpp`), for the score matching
/// family, and not an `EnergyModel`, so the binary estimators, samplers and metrics reject it.
template <class M>
concept ContinuousVisible = requires { M::continuous_visible; } && static_cast<bool>(M::continuous_visible);

/// @brief What every estimator, sampler and optimizer needs of an energy model.
///
/// `E(x)` over `x ∈ {0,1}^d`, with `p(x) ∝ exp(-E(x))`:
/// - `m.dim()`, `m.num_params()`;
/// - `m.params()`: a writable flat view of all parameters (length `num_params()`);
/// - `m.energy(X, e)`: `e(r) = E(X.row(r))`, `e` resized to `n`;
/// - `m.input_gradient(X, G)`: `G.row(r) = ∂E/∂x` of the continuous extension at `X.row(r)`;
/// - `m.accumulate_param_gradient(X, c, g)`: `g += Σ_r c(r) ∇_θ E(X.row(r))`.
template <class M>
concept EnergyModel =
    !ContinuousVisible<M> && requires { typename M::Scalar; } &&
    requires(M& m, const M& cm, const Matrix<typename M::Scalar>& X, Vector<typename M::Scalar>& e,
             Matrix<typename M::Scalar>& G, const Vector<typename M::Scalar>& c, Vector<typename M::Scalar>& g) {
      { cm.dim() } -> std::convertible_to<Index>;
      { cm.num_params() } -> std::convertible_to<Index>;
      { m.params() } -> std::convertible_to<Eigen::Ref<Vector<typename M::Scalar>>>;
      cm.energy(X, e);
      cm.input_gradient(X, G);
      cm.accumulate_param_gradient(X, c, g);
    };

namespace detail {
/// Stand-in for the coefficient callback of `accumulate_flip_gradient` in concept checks.
template <class S>
struct FlipCoefficientArchetype {
  void operator()(Index start, const Eigen::Ref<const Vector<S>>& delta, Eigen::Ref<Vector<S>> coefficient) const;
};
}  // namespace detail

/// @brief A batch evaluation of model `M`: an object bound to one batch that owns the cached
/// forward state of that batch and answers every question the estimators and samplers ask
/// about it (see `core/batch_evaluation.hpp` for the meaning of each member).
///
/// `Ev::Model` is `M` and `Ev::Scalar` is `M::Scalar`. With `ev` an `Ev`, `X` a batch and
/// `rows`/`bits`/`accepted` index lists:
/// `ev.bind(model, X)`, `ev.model()`, `ev.batch()`, `ev.energy()`, `ev.input_gradient(G)`,
/// `ev.accumulate_param_gradient(c, g)`, `ev.flip_deltas(D)`, `ev.flip_deltas(rows, bits, delta)`,
/// `ev.accumulate_flip_gradient(rows, bits, coefficient, g)` and `ev.accept_flips(accepted)`.
template <class Ev, class M>
concept BatchEvaluationOf =
    std::default_initializable<Ev> && std::movable<Ev> && std::same_as<typename Ev::Model, M> &&
    std::same_as<typename Ev::Scalar, typename M::Scalar> &&
    requires(Ev& ev, const Ev& cev, const M& model, const Matrix<typename M::Scalar>& X, Matrix<typename M::Scalar>& G,
             const Vector<typename M::Scalar>& c, Vector<typename M::Scalar>& g, const IndexVector& rows,
             const IndexVector& bits, Vector<typename M::Scalar>& delta,
             const detail::FlipCoefficientArchetype<typename M::Scalar>& coefficient) {
      ev.bind(model, X);
      { cev.model() } -> std::convertible_to<const M&>;
      { cev.batch() } -> std::convertible_to<const Matrix<typename M::Scalar>&>;
      { cev.energy() } -> std::convertible_to<const Vector<typename M::Scalar>&>;
      ev.input_gradient(G);
      ev.accumulate_param_gradient(c, g);
      ev.flip_deltas(G);
      ev.flip_deltas(rows, bits, delta);
      ev.accumulate_flip_gradient(rows, bits, coefficient, g);
      ev.accept_flips(rows);
    };

/// @brief Optional: the model supplies its own batch evaluation, `M::BatchEvaluation`.
///
/// Without it the library's `GenericEvaluation<M>`, built from the six required members, is
/// used; `EvaluationFor<M>` (`core/batch_evaluation.hpp`) is the one place that chooses.
template <class M>
concept HasBatchEvaluation =
    EnergyModel<M> && requires { typename M::BatchEvaluation; } && BatchEvaluationOf<typename M::BatchEvaluation, M>;

/// @brief Optional: the mixed second derivative of the energy, contracted with input directions.
///
/// `ev.accumulate_mixed_gradient(V, g)` on the model's batch evaluation, for an `n × d` matrix
/// `V` (one direction per row of the bound batch):
///
///     g += ∇_θ Σ_r V_rᵀ ∇ₓE(x_r)
///
/// — one extra reverse pass through the input gradient ("double backward"), equivalently the
/// directional derivative `d/dε ∇_θE(x_r + ε V_r)` at `ε = 0` (forward over reverse). First-order
/// ratio matching (`TaylorRatioMatching`) needs it; `check_mixed_gradient`
/// (`core/finite_difference.hpp`) checks an implementation against central differences.
template <class M>
concept HasMixedGradient =
    HasBatchEvaluation<M> && requires(typename M::BatchEvaluation& ev, const Matrix<typename M::Scalar>& V,
                                      Vector<typename M::Scalar>& g) { ev.accumulate_mixed_gradient(V, g); };

/// @brief Optional: the energy's continuous extension at real-valued inputs.
///
/// `m.relaxed_energy(X, e)` accepts any real `X` (no binary check); `input_gradient` is its
/// gradient. The finite-difference checker of input gradients needs it.
template <class M>
concept HasRelaxedEnergy =
    EnergyModel<M> && requires(const M& cm, const Matrix<typename M::Scalar>& X, Vector<typename M::Scalar>& e) {
      cm.relaxed_energy(X, e);
    };

}  // namespace ratiomatch
