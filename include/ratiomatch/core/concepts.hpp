#pragma once
/// @file
/// @brief The requirements a model must meet (see docs/model_requirements.md).
///
/// A model is any plain class with these members; there is no base class.

#include <concepts>

#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief A column of indices (rows or bits of a batch).
using IndexVector = Eigen::Matrix<Index, Eigen::Dynamic, 1>;

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
    requires { typename M::Scalar; } &&
    requires(M& m, const M& cm, const Matrix<typename M::Scalar>& X, Vector<typename M::Scalar>& e,
             Matrix<typename M::Scalar>& G, const Vector<typename M::Scalar>& c, Vector<typename M::Scalar>& g) {
      { cm.dim() } -> std::convertible_to<Index>;
      { cm.num_params() } -> std::convertible_to<Index>;
      { m.params() } -> std::convertible_to<Eigen::Ref<Vector<typename M::Scalar>>>;
      cm.energy(X, e);
      cm.input_gradient(X, G);
      cm.accumulate_param_gradient(X, c, g);
    };

/// @brief Optional: exact energy changes of all single-bit flips without materialising flipped rows.
///
/// `m.flip_deltas(X, D)`: `D` resized to `n × d`, `D(r, i) = E(x_r with bit i flipped) − E(x_r)`.
template <class M>
concept HasFlipDeltas =
    EnergyModel<M> && requires(const M& cm, const Matrix<typename M::Scalar>& X, Matrix<typename M::Scalar>& D) {
      cm.flip_deltas(X, D);
    };

/// @brief Optional: exact energy changes of a list of (row, bit) flips.
///
/// `m.flip_deltas(X, rows, bits, delta)`: `delta` resized to `k = rows.size()`,
/// `delta(t) = E(x_{rows(t)} with bit bits(t) flipped) − E(x_{rows(t)})`.
/// Sampled estimators use it so that s flips per row cost s, not d.
template <class M>
concept HasSelectedFlipDeltas =
    EnergyModel<M> && requires(const M& cm, const Matrix<typename M::Scalar>& X, const IndexVector& rows,
                               const IndexVector& bits, Vector<typename M::Scalar>& delta) {
      cm.flip_deltas(X, rows, bits, delta);
    };

/// @brief Whether a fused flip pass (`accumulate_flip_gradient`) evaluates the batch's own
/// forward pass or reuses the one its model just did.
enum class BaseForward {
  Compute,  ///< evaluate the forward pass of `X`
  Reuse,    ///< the model's previous call was `input_gradient(X, …)` on this same `X`, and the
            ///< parameters have not changed since: reuse that forward pass (models that
            ///< cannot tell compute it anyway)
};

namespace detail {
/// Stand-in for the coefficient callback of `accumulate_flip_gradient` in concept checks.
template <class S>
struct FlipCoefficientArchetype {
  void operator()(Index start, const Eigen::Ref<const Vector<S>>& delta, Eigen::Ref<Vector<S>> coefficient) const;
};
}  // namespace detail

/// @brief Optional: a fused pass computing the flipped energies of a list of (row, bit) flips
/// and the gradient of any objective of them.
///
/// `m.accumulate_flip_gradient(X, rows, bits, coefficient, g)` computes, block by block,
/// `ΔE_t = E(x_{rows(t)} with bit bits(t) flipped) − E(x_{rows(t)})`, calls
/// `coefficient(start, delta, c)` for the block of flips `start … start + delta.size() − 1`
/// (which writes `c_t`; it may be called concurrently for disjoint blocks and must not throw),
/// and accumulates `g += Σ_t c_t (∇_θE(x_{rows(t)} with bit bits(t) flipped) − ∇_θE(x_{rows(t)}))`.
/// Every flip is passed to `coefficient` exactly once. Estimators use it so that each
/// flipped row is evaluated once for both its energy and its gradient.
template <class M>
concept HasFlipGradient =
    EnergyModel<M> && requires(const M& cm, const Matrix<typename M::Scalar>& X, const IndexVector& rows,
                               const IndexVector& bits,
                               const detail::FlipCoefficientArchetype<typename M::Scalar>& coefficient,
                               Vector<typename M::Scalar>& g) {
      cm.accumulate_flip_gradient(X, rows, bits, coefficient, g);
    };

/// @brief Optional: incremental single-bit scans, for Gibbs sweeps.
///
/// `m.begin_flip_scan(X)` caches what the model needs about every row of `X`;
/// `m.scan_flip_deltas(X, i, delta)` then writes `delta(r) = E(x_r with bit i flipped) − E(x_r)`
/// for every row. Between two `scan_flip_deltas` calls `X` may change only in the column of the
/// earlier call (a row either keeps its bit or takes the flip); the model brings its cache up
/// to date from that column, so a bit costs one pass of flipped rows and no pass of `X` itself.
template <class M>
concept HasFlipScan =
    EnergyModel<M> && requires(const M& cm, const Matrix<typename M::Scalar>& X, Index i,
                               Vector<typename M::Scalar>& delta) {
      cm.begin_flip_scan(X);
      cm.scan_flip_deltas(X, i, delta);
    };

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
