#pragma once
/// @file
/// @brief `PersistentContrastiveDivergence`: maximum-likelihood training with persistent
/// Markov chains (Tieleman 2008), the baseline of the Ising literature.

#include <concepts>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/estimator_state.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/core/workspace_cache.hpp"
#include "ratiomatch/estimators/likelihood_gradient.hpp"
#include "ratiomatch/samplers/sampler_support.hpp"

namespace ratiomatch {

namespace detail {

/// The persistent chains of one scalar type.
template <class S>
struct PcdState {
  Matrix<S> chains;      // the persistent chains, m × d (0 × 0 until the first call or after reset)
};

}  // namespace detail

/// @brief Persistent contrastive divergence (PCD, Tieleman 2008; "stochastic maximum
/// likelihood", Younes 1989): maximum-likelihood training of `p_θ(x) = exp(−E_θ(x)) / Z(θ)`
/// with the model expectation estimated by Markov chains that persist from update to update.
///
/// The negative log-likelihood of a batch `x_1 … x_n` is `L(θ) = (1/n) Σ_r E(x_r) + log Z(θ)`,
/// with gradient
///
///     ∇_θ L = (1/n) Σ_r ∇_θE(x_r) − E_{x ~ p_θ}[∇_θE(x)].
///
/// PCD keeps `m` chains `x̃_1 … x̃_m`. Each gradient call first advances every chain by
/// `steps_per_update` transitions of the sampler (which leave `p_β ∝ exp(−βE_θ)` invariant at
/// the current `θ`, `β = sampler.beta()`), then writes
///
///     grad = (1/n) Σ_r ∇_θE(x_r) − (1/m) Σ_c ∇_θE(x̃_c)
///
/// (two weighted backward passes, weights `1/n` and `−1/m`): the likelihood gradient with the
/// model expectation replaced by the chains' average. With `β = 1` (the default of both
/// samplers) this is maximum likelihood, a consistent objective (fixed-point temperature 1).
/// With a sampler at `β ≠ 1`, the fixed point is `exp(−βE) ≈ p_data`: evaluate the learned
/// model at inverse temperature `β`.
///
/// The returned value is the surrogate loss `(1/n) Σ_r E(x_r) − (1/m) Σ_c E(x̃_c)`, whose
/// gradient with the chains held fixed is `grad`. It is **not** the negative log-likelihood
/// (it omits `log Z` and is not bounded below); it is for monitoring and checks only.
///
/// The chains start at independent uniform random bits, drawn from the caller's engine, on
/// the first call for a scalar type, after `reset()`, and whenever the model's dimension
/// differs from the chains' width. Chains are kept per scalar type (`float` and `double`
/// separately). Randomness comes only from the caller's engine, so the same engine state and
/// chain state give bit-identical results.
///
/// The chains are mutable state of a const object (so that a `const` estimator, as the
/// trainer holds it, can update them): one instance must not be used from two threads at once.
/// @tparam Sampler `GibbsSampler` (one transition = a systematic scan over all bits) or
///   `GibbsWithGradients` (one transition = one proposal per chain); any class with
///   `transition(evaluation, rng)` advancing the chains held by a bound batch evaluation
///   (`core/batch_evaluation.hpp`) works. The chains' evaluation stays bound through the
///   transitions of an update and gives the chains' energies and gradient.
template <class Sampler>
class PersistentContrastiveDivergence {
 public:
  using sampler_type = Sampler;

  /// @param sampler the Markov chain transition (copied)
  /// @param num_chains the number of persistent chains `m`
  /// @param steps_per_update transitions of every chain per gradient call (sweeps for
  ///   `GibbsSampler`, proposals for `GibbsWithGradients`)
  /// @throws std::invalid_argument if `num_chains <= 0` or `steps_per_update <= 0`
  PersistentContrastiveDivergence(Sampler sampler, Index num_chains, Index steps_per_update)
      : sampler_(std::move(sampler)), num_chains_(num_chains), steps_per_update_(steps_per_update) {
    constexpr std::string_view where = "ratiomatch::PersistentContrastiveDivergence::PersistentContrastiveDivergence";
    check_positive(where, "num_chains", num_chains);
    check_positive(where, "steps_per_update", steps_per_update);
  }

  /// @brief The sampler that advances the chains.
  const Sampler& sampler() const { return sampler_; }
  /// @brief The number of persistent chains `m`.
  Index num_chains() const { return num_chains_; }
  /// @brief Transitions of every chain per gradient call.
  Index steps_per_update() const { return steps_per_update_; }

  /// @brief The current chains of scalar type `S`, one per row (`m × d`); `0 × 0` before the
  /// first call for `S` and after `reset()`.
  template <class S>
  const Matrix<S>& chains() const {
    return state_.template get<S>().chains;
  }

  /// @brief Forgets the chains (of both scalar types): the next call restarts them at uniform
  /// random bits.
  void reset() {
    state_.single.chains.resize(0, 0);
    state_.twice.chains.resize(0, 0);
  }

  /// @brief Advances the chains by `steps_per_update` transitions, writes the PCD gradient
  /// `(1/n) Σ_r ∇_θE(x_r) − (1/m) Σ_c ∇_θE(x̃_c)` into `grad` (resized to `num_params()`)
  /// and returns the surrogate loss `(1/n) Σ_r E(x_r) − (1/m) Σ_c E(x̃_c)` (not the likelihood).
  ///
  /// The advanced chains are kept only if the whole call succeeds: after an exception the
  /// chains are as they were before the call.
  /// @param model an `EnergyModel`
  /// @param X the data batch, `n × model.dim()`, entries exactly 0 or 1
  /// @param rng the engine every random draw comes from (initial chains and transitions)
  /// @param grad overwritten with the gradient
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  /// @throws NumericalError naming `ratiomatch::PersistentContrastiveDivergence::loss_and_gradient`
  ///   if the sampler meets a non-finite energy change or input gradient, or an energy, the loss
  ///   or the gradient is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng,
                                       Vector<typename M::Scalar>& grad) const {
    static_assert(EnergyModel<M>, "PersistentContrastiveDivergence needs an EnergyModel: see docs/model_requirements.md");
    return run(where_gradient, model, X, rng, &grad);
  }

  /// @brief The surrogate loss that `loss_and_gradient` would return from the same engine
  /// state, **without changing the chains**: the transitions are applied to a copy that is
  /// then discarded (so it costs `steps_per_update` transitions and draws from `rng` as
  /// `loss_and_gradient` does). With common random numbers, finite differences of `loss`
  /// reproduce the gradient of `loss_and_gradient`.
  /// @throws as `loss_and_gradient`, naming `ratiomatch::PersistentContrastiveDivergence::loss`
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng) const {
    static_assert(EnergyModel<M>, "PersistentContrastiveDivergence needs an EnergyModel: see docs/model_requirements.md");
    return run(where_loss, model, X, rng, nullptr);
  }

  /// @brief The persistent chains of both scalar types, for a checkpoint (`StatefulEstimator`):
  /// `single = {float chains}`, `twice = {double chains}`, each `num_chains() × d`, or `0 × 0`
  /// when not started for that type.
  EstimatorState state_buffers() const {
    EstimatorState state;
    state.single.push_back(state_.single.chains);
    state.twice.push_back(state_.twice.chains);
    return state;
  }

  /// @brief Validates a state for `restore_state` without changing anything: exactly one matrix
  /// of each scalar type, each `0 × 0` or with `num_chains()` rows and at least one column, entries
  /// exactly 0 or 1.
  /// @throws std::invalid_argument naming the list, the matrix and what does not fit
  void check_state(const EstimatorState& state) const {
    constexpr std::string_view where = "ratiomatch::PersistentContrastiveDivergence::check_state";
    check_size_match(where, "state.single.size()", static_cast<Index>(state.single.size()), "1 (the float chains)", 1);
    check_size_match(where, "state.twice.size()", static_cast<Index>(state.twice.size()), "1 (the double chains)", 1);
    check_chains(where, "state.single[0]", state.single[0]);
    check_chains(where, "state.twice[0]", state.twice[0]);
  }

  /// @brief Replaces the chains of both scalar types by those of `state` (checked as by
  /// `check_state`). Strong guarantee: on an exception nothing has changed.
  /// @throws std::invalid_argument as `check_state`
  void restore_state(const EstimatorState& state) const {
    check_state(state);
    Matrix<float> single = state.single[0];
    Matrix<double> twice = state.twice[0];
    state_.single.chains.swap(single);
    state_.twice.chains.swap(twice);
  }

 private:
  static constexpr std::string_view where_gradient = "ratiomatch::PersistentContrastiveDivergence::loss_and_gradient";
  static constexpr std::string_view where_loss = "ratiomatch::PersistentContrastiveDivergence::loss";

  template <class M, class Rng>
  typename M::Scalar run(std::string_view where, const M& model, const Matrix<typename M::Scalar>& X, Rng& rng,
                         Vector<typename M::Scalar>* grad) const {
    using S = typename M::Scalar;
    static_assert(requires(const Sampler& sampler, EvaluationFor<M>& chains) { sampler.transition(chains, rng); },
                  "PersistentContrastiveDivergence needs a sampler with transition(evaluation, rng), "
                  "e.g. GibbsSampler or GibbsWithGradients");
    check_batch(where, X, model.dim());
    auto& st = state_.template get<S>();
    auto& ws = scratch_.template get<detail::ChainGradientScratch<M>>();
    const Index m = num_chains_, d = model.dim();

    // The chains to advance: the persistent ones, or fresh uniform bits; they are committed
    // to `st.chains` only after everything succeeded.
    const bool fresh = st.chains.rows() != m || st.chains.cols() != d;
    if (fresh)
      ws.chains.bind(model, detail::uniform_bits<S>(m, d, rng));
    else
      ws.chains.bind(model, st.chains);
    try {
      for (Index t = 0; t < steps_per_update_; ++t) sampler_.transition(ws.chains, rng);
    } catch (const NumericalError& e) {
      throw NumericalError(detail::message(where, "the sampler failed while advancing the chains: ", e.what()));
    }

    ws.data.bind(model, X);
    const S value = detail::data_minus_chains(where, ws, grad);
    if (grad == nullptr) return value;  // loss(): the persistent chains are left unchanged
    st.chains = ws.chains.batch();  // commit only after everything succeeded
    return value;
  }

  template <class S>
  void check_chains(std::string_view where, std::string_view name, const Matrix<S>& chains) const {
    if (chains.size() == 0) {
      if (chains.rows() != 0 || chains.cols() != 0)
        throw std::invalid_argument(detail::message(where, name, " is ", chains.rows(), " × ", chains.cols(),
                                                    "; chains not started are 0 × 0"));
      return;
    }
    check_size_match(where, std::string(name) + ".rows()", chains.rows(), "num_chains()", num_chains_);
    check_binary(where, chains, name);
  }

  Sampler sampler_;
  Index num_chains_;
  Index steps_per_update_;
  mutable detail::PerScalar<detail::PcdState> state_;
  mutable detail::WorkspaceCache scratch_;
};

}  // namespace ratiomatch
