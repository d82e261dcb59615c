#pragma once
/// @file
/// @brief `GibbsSampler`: batched systematic-scan Gibbs sampling of a binary energy model
/// at an inverse temperature β.

#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/samplers/sampler_support.hpp"

namespace ratiomatch {

namespace detail {

/// Everything a sweep needs, sized once and reused from sweep to sweep.
template <class S>
struct GibbsWorkspace {
  IndexVector rows, bits;            // selected-flip path: rows 0..n−1, every bit = i
  Vector<S> delta;                   // ΔE_i(x_r) of the bit being visited
  Vector<S> energy, flipped_energy;  // generic path: E(x_r) and E(x_r with bit i flipped)
  Matrix<S> flipped;                 // generic path: X with column i flipped while bit i is visited
};

/// Visits the bits `i = 0, …, d−1` in order. For each, fills `ws.delta(r) = ΔE_i(x_r)` for
/// the current `X` and calls `visit(i, ws.delta)`, which may flip entries of column `i` of `X`.
/// This is the one place where the optional capabilities are dispatched:
/// - `HasFlipScan`: `model.begin_flip_scan(X)` once, then `model.scan_flip_deltas(X, i, delta)`
///   per bit (for `MlpEnergy` one pass of flipped rows through the layers above the first);
/// - `HasSelectedFlipDeltas`: `model.flip_deltas(X, rows, bits, delta)` with `rows = 0..n−1`
///   and every bit `= i` (O(d) per chain for `IsingModel`, the layers above the first for
///   `MlpEnergy`);
/// - otherwise: a copy of `X` with column `i` flipped is kept in a workspace and passed to
///   `model.energy`; `E(X)` is evaluated once per sweep and updated from the flipped energies
///   of the accepted flips, so a bit costs one batched energy evaluation.
template <class M, class Visit>
void systematic_scan(const M& model, Matrix<typename M::Scalar>& X, GibbsWorkspace<typename M::Scalar>& ws,
                     Visit&& visit) {
  using S = typename M::Scalar;
  const Index n = X.rows(), d = X.cols();
  if constexpr (HasFlipScan<M>) {
    model.begin_flip_scan(X);
    for (Index i = 0; i < d; ++i) {
      model.scan_flip_deltas(X, i, ws.delta);
      visit(i, ws.delta);
    }
  } else if constexpr (HasSelectedFlipDeltas<M>) {
    ws.rows.resize(n);
    ws.bits.resize(n);
    for (Index r = 0; r < n; ++r) ws.rows(r) = r;
    for (Index i = 0; i < d; ++i) {
      ws.bits.setConstant(i);
      model.flip_deltas(X, ws.rows, ws.bits, ws.delta);
      visit(i, ws.delta);
    }
  } else {
    ws.flipped = X;
    model.energy(X, ws.energy);
    for (Index i = 0; i < d; ++i) {
      ws.flipped.col(i).array() = S(1) - X.col(i).array();
      model.energy(ws.flipped, ws.flipped_energy);
      ws.delta = ws.flipped_energy - ws.energy;
      visit(i, ws.delta);
      for (Index r = 0; r < n; ++r)
        if (X(r, i) == ws.flipped(r, i)) ws.energy(r) = ws.flipped_energy(r);  // the flip was taken
      ws.flipped.col(i) = X.col(i);
    }
  }
}

}  // namespace detail

/// @brief Batched systematic-scan Gibbs sampler of `p_β(x) ∝ exp(−β E(x))`, `x ∈ {0,1}^d`.
///
/// `β` is the inverse temperature: `β = 1` samples the model itself. A model trained with an
/// objective whose fixed-point temperature is `T` (the learned model is `exp(−T·E_data)`, see
/// `DESIGN.md`) is evaluated by sampling with `β = T`.
///
/// A sweep visits the bits `i = 0, …, d−1` in order and, for every chain (row) at once, draws
/// bit `i` from its conditional given the other bits (heat bath). With
/// `ΔE_i(x) = E(x_{−i}) − E(x)`, the conditional probability of the flipped value is
///
///     P(flip bit i | x) = p_β(x_{−i}) / (p_β(x) + p_β(x_{−i})) = σ(−β ΔE_i(x)) = 1 / (1 + exp(β ΔE_i(x))),
///
/// evaluated without overflow. Each single-bit update leaves `p_β` invariant, so a sweep does,
/// and a sweep is irreducible (every state has positive probability of moving to every other).
///
/// Randomness: exactly one `uniform_open01(rng)` per chain per bit, in the order bit-major then
/// chain, whatever route the model offers for `ΔE`; the same engine state gives bit-identical
/// chains. The flipped energies come from the model's selected `flip_deltas` when it has them
/// (`HasSelectedFlipDeltas`), otherwise from `model.energy` on a workspace copy of the chains
/// with one column flipped. Holds reusable workspaces: one instance must not be used from two
/// threads at once.
class GibbsSampler {
 public:
  /// @param beta the inverse temperature `β` of the sampled distribution `p_β ∝ exp(−βE)`
  /// @throws std::invalid_argument unless `beta` is finite and positive
  explicit GibbsSampler(double beta = 1.0) : beta_(beta) {
    detail::check_inverse_temperature("ratiomatch::GibbsSampler::GibbsSampler", beta);
  }

  /// @brief The inverse temperature `β`.
  double beta() const { return beta_; }

  /// @brief One systematic-scan sweep over all bits, every chain (row of `X`) updated in place.
  /// @tparam M an `EnergyModel` (fast path with `HasSelectedFlipDeltas`)
  /// @param X the chains, `n × d`, binary; overwritten with the new states
  /// @param rng the engine every random draw comes from
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  /// @throws NumericalError if an energy change is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  void sweep(const M& model, Matrix<typename M::Scalar>& X, Rng& rng) const {
    static_assert(EnergyModel<M>, "GibbsSampler needs an EnergyModel: see docs/model_requirements.md");
    constexpr std::string_view where = "ratiomatch::GibbsSampler::sweep";
    check_batch(where, X, model.dim());
    sweep_unchecked(where, model, X, rng);
  }

  /// @brief `sweeps` successive sweeps (none if `sweeps == 0`).
  /// @throws std::invalid_argument if `sweeps < 0`, or on an empty, wrong-width or non-binary `X`
  /// @throws NumericalError if an energy change is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  void run(const M& model, Matrix<typename M::Scalar>& X, Index sweeps, Rng& rng) const {
    static_assert(EnergyModel<M>, "GibbsSampler needs an EnergyModel: see docs/model_requirements.md");
    constexpr std::string_view where = "ratiomatch::GibbsSampler::run";
    detail::check_nonnegative_count(where, "sweeps", sweeps);
    check_batch(where, X, model.dim());
    for (Index t = 0; t < sweeps; ++t) sweep_unchecked(where, model, X, rng);
  }

  /// @brief `num_chains` chains started at independent uniform random bits (drawn from `rng`
  /// column by column), each run for `sweeps` sweeps; returns their final states, one per row.
  /// The evaluation protocol of trained models is 4000 chains × 20 sweeps.
  /// @throws std::invalid_argument if `num_chains <= 0` or `sweeps < 0`
  /// @throws NumericalError if an energy change is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  Matrix<typename M::Scalar> sample(const M& model, Index num_chains, Index sweeps, Rng& rng) const {
    static_assert(EnergyModel<M>, "GibbsSampler needs an EnergyModel: see docs/model_requirements.md");
    constexpr std::string_view where = "ratiomatch::GibbsSampler::sample";
    check_positive(where, "num_chains", num_chains);
    detail::check_nonnegative_count(where, "sweeps", sweeps);
    check_positive(where, "model.dim()", model.dim());
    Matrix<typename M::Scalar> X = detail::uniform_bits<typename M::Scalar>(num_chains, model.dim(), rng);
    for (Index t = 0; t < sweeps; ++t) sweep_unchecked(where, model, X, rng);
    return X;
  }

 private:
  template <class M, class Rng>
  void sweep_unchecked(std::string_view where, const M& model, Matrix<typename M::Scalar>& X, Rng& rng) const {
    using S = typename M::Scalar;
    auto& ws = workspaces_.template get<S>();
    detail::systematic_scan(model, X, ws, [&](Index i, const Vector<S>& delta) {
      check_finite(where, "energy change", delta);
      for (Index r = 0; r < X.rows(); ++r) {
        const double flip_probability = detail::logistic(-beta_ * static_cast<double>(delta(r)));
        if (uniform_open01(rng) < flip_probability) X(r, i) = S(1) - X(r, i);
      }
    });
  }

  double beta_;
  mutable detail::PerScalar<detail::GibbsWorkspace> workspaces_;
};

}  // namespace ratiomatch
