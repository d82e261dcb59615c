#pragma once
/// @file
/// @brief `GibbsSampler`: batched systematic-scan Gibbs sampling of a binary energy model
/// at an inverse temperature β.

#include <string_view>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/core/workspace_cache.hpp"
#include "ratiomatch/samplers/sampler_support.hpp"

namespace ratiomatch {

namespace detail {

/// What a sweep needs besides the model's batch evaluation, sized once and reused.
template <class S>
struct GibbsScratch {
  IndexVector rows, bits, accepted;  // every chain at bit i; the chains whose flip was taken
  Vector<S> delta;                   // ΔE_i(x_r) of the bit being visited
};

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
/// chain, whatever the model's batch evaluation; the same engine state gives bit-identical
/// chains. The energy changes of bit `i` of every chain come from the chains' batch evaluation
/// (`flip_deltas` with rows `0…n−1` and bit `i`), and the taken flips go back into it
/// (`accept_flips`), so it stays current through the sweep: for `MlpEnergy` a bit costs one
/// pass of flipped chains through the layers above the first, for `IsingModel` O(n) plus O(d)
/// per taken flip. Holds reusable workspaces: one instance must not be used from two threads
/// at once.
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
  /// @tparam M an `EnergyModel`
  /// @param X the chains, `n × d`, binary; overwritten with the new states
  /// @param rng the engine every random draw comes from
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  /// @throws NumericalError if an energy change is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  void sweep(const M& model, Matrix<typename M::Scalar>& X, Rng& rng) const {
    static_assert(EnergyModel<M>, "GibbsSampler needs an EnergyModel: see docs/model_requirements.md");
    constexpr std::string_view where = "ratiomatch::GibbsSampler::sweep";
    check_batch(where, X, model.dim());
    sweep_unchecked(where, model, X, 1, rng);
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
    if (sweeps > 0) sweep_unchecked(where, model, X, sweeps, rng);
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
    if (sweeps > 0) sweep_unchecked(where, model, X, sweeps, rng);
    return X;
  }

  /// @brief The sampler's transition, shared with `GibbsWithGradients` (persistent chains use
  /// it): one sweep of the chains held by a bound batch evaluation, which stays current.
  /// @param evaluation an evaluation of the model bound to the chains (`EvaluationFor<M>`);
  ///        its `batch()` holds the new states afterwards
  /// @throws NumericalError if an energy change is not finite (the chains then hold the bits
  ///         visited so far)
  template <class Evaluation, std::uniform_random_bit_generator Rng>
  void transition(Evaluation& evaluation, Rng& rng) const {
    using S = typename Evaluation::Scalar;
    constexpr std::string_view where = "ratiomatch::GibbsSampler::transition";
    auto& scratch = scratch_.template get<detail::GibbsScratch<S>>();
    const Index n = evaluation.batch().rows(), d = evaluation.batch().cols();
    scratch.rows.resize(n);
    scratch.bits.resize(n);
    for (Index r = 0; r < n; ++r) scratch.rows(r) = r;
    scratch.accepted.resize(n);
    for (Index i = 0; i < d; ++i) {
      scratch.bits.setConstant(i);
      evaluation.flip_deltas(scratch.rows, scratch.bits, scratch.delta);
      check_finite(where, "energy change", scratch.delta);
      Index taken = 0;
      for (Index r = 0; r < n; ++r) {
        const double flip_probability = detail::logistic(-beta_ * static_cast<double>(scratch.delta(r)));
        if (uniform_open01(rng) < flip_probability) scratch.accepted(taken++) = r;
      }
      evaluation.accept_flips(scratch.accepted.head(taken));
    }
  }

 private:
  template <class M, class Rng>
  void sweep_unchecked(std::string_view where, const M& model, Matrix<typename M::Scalar>& X, Index sweeps,
                       Rng& rng) const {
    auto& evaluation = scratch_.template get<EvaluationFor<M>>();
    evaluation.bind(model, X);
    try {
      for (Index t = 0; t < sweeps; ++t) transition(evaluation, rng);
    } catch (const NumericalError& e) {
      throw NumericalError(detail::message(where, e.what()));
    }
    X = evaluation.batch();
  }

  double beta_;
  mutable detail::WorkspaceCache scratch_;
};

}  // namespace ratiomatch
