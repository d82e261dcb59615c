#pragma once
/// @file
/// @brief `GibbsWithGradients`: the gradient-informed Metropolis–Hastings sampler of
/// Grathwohl et al. (2021) for binary energy models, at an inverse temperature β.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <vector>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/core/workspace_cache.hpp"
#include "ratiomatch/estimators/proposal.hpp"
#include "ratiomatch/estimators/ratio_objective.hpp"
#include "ratiomatch/samplers/sampler_support.hpp"

namespace ratiomatch {

namespace detail {

/// What a step needs besides the chains' batch evaluation, sized once and reused.
template <class M>
struct GwgScratch {
  using S = typename M::Scalar;
  EvaluationFor<M> proposed;        // the proposals x'
  Matrix<S> gradient, proposed_gradient;  // ∇E(X), ∇E(X')
  FlipSample<S> forward, backward;  // q(· | x) with the drawn flips, and q(· | x')
  Vector<S> delta;                  // E(x'_r) − E(x_r)
  Matrix<S> proposed_batch;
  IndexVector accepted;
};

}  // namespace detail

/// @brief Gibbs-with-Gradients (Grathwohl, Swersky, Hashemi, Duvenaud & Maddison, "Oops I took
/// a gradient", ICML 2021), binary case, sampling `p_β(x) ∝ exp(f(x))` with `f = −β E`.
///
/// The first-order estimate of the change of `f` when bit `i` flips is
/// `d̃_i(x) = −(2x−1)_i ∂_i f(x) = β (2x−1)_i ∂_iE(x)` (exact for `IsingModel`). One step,
/// for every chain (row) at once:
/// 1. propose a bit from `q(i | x) = softmax_i(d̃(x) / 2)` (computed in log space, maximum
///    subtracted) and let `x'` be `x` with bit `i` flipped;
/// 2. accept `x'` with probability
///    `min(1, exp(f(x') − f(x)) · q(i | x') / q(i | x)) = min(1, exp(−β ΔE_i(x) + log q(i|x') − log q(i|x)))`,
///    otherwise keep `x`.
/// This is Metropolis–Hastings with the reverse move's probability `q(i | x')`, so each step
/// leaves `p_β` invariant exactly, whatever the quality of the gradient estimate.
///
/// The proposal is the gradient-guided proposal of `SqrtRatio` at inverse temperature `β`
/// (`estimators/proposal.hpp`, shared with `GradientGuidedRM`). Cost per step: the chains'
/// input gradient and the energy changes of the proposed flips from their batch evaluation
/// (which stays bound across steps and takes the accepted flips), and one evaluation of the
/// proposals for the reverse proposal's input gradient. Randomness: per step, one
/// `uniform_open01(rng)` per chain for the proposal (inverse CDF), then one per chain for the
/// acceptance, in chain order; the same engine state gives bit-identical chains. Holds reusable
/// workspaces: one instance must not be used from two threads at once.
class GibbsWithGradients {
 public:
  /// @param beta the inverse temperature `β` of the sampled distribution `p_β ∝ exp(−βE)`
  /// @throws std::invalid_argument unless `beta` is finite and positive
  explicit GibbsWithGradients(double beta = 1.0) : beta_(beta) {
    detail::check_inverse_temperature("ratiomatch::GibbsWithGradients::GibbsWithGradients", beta);
  }

  /// @brief The inverse temperature `β`.
  double beta() const { return beta_; }

  /// @brief One proposal and accept/reject per chain; the chains (rows of `X`) are updated in
  /// place. Returns the fraction of the `n` chains whose proposal was accepted.
  /// @tparam M an `EnergyModel`
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  /// @throws NumericalError if an input gradient or an energy change is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  double step(const M& model, Matrix<typename M::Scalar>& X, Rng& rng) const {
    static_assert(EnergyModel<M>, "GibbsWithGradients needs an EnergyModel: see docs/model_requirements.md");
    constexpr std::string_view where = "ratiomatch::GibbsWithGradients::step";
    check_batch(where, X, model.dim());
    return run_unchecked(where, model, X, 1, rng);
  }

  /// @brief `steps` successive steps; returns the mean acceptance rate over all of them
  /// (accepted proposals / (n · steps)).
  /// @throws std::invalid_argument if `steps <= 0`, or on an empty, wrong-width or non-binary `X`
  /// @throws NumericalError if an input gradient or an energy change is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  double run(const M& model, Matrix<typename M::Scalar>& X, Index steps, Rng& rng) const {
    static_assert(EnergyModel<M>, "GibbsWithGradients needs an EnergyModel: see docs/model_requirements.md");
    constexpr std::string_view where = "ratiomatch::GibbsWithGradients::run";
    check_positive(where, "steps", steps);
    check_batch(where, X, model.dim());
    return run_unchecked(where, model, X, steps, rng);
  }

 /// @brief The sampler's transition, shared with `GibbsSampler` (persistent chains use it):
  /// one proposal and accept/reject per chain held by a bound batch evaluation, which stays
  /// current. Returns the fraction of the `n` chains whose proposal was accepted.
  /// @param evaluation an evaluation of the model bound to the chains (`EvaluationFor<M>`);
  ///        its `batch()` holds the new states afterwards
  /// @throws NumericalError if an input gradient or an energy change is not finite (the chains
  ///         are then unchanged)
  template <class Evaluation, std::uniform_random_bit_generator Rng>
  double transition(Evaluation& evaluation, Rng& rng) const {
    using M = typename Evaluation::Model;
    using S = typename M::Scalar;
    constexpr std::string_view where = "ratiomatch::GibbsWithGradients::transition";
    auto& ws = scratch_.template get<detail::GwgScratch<M>>();
    const Matrix<S>& X = evaluation.batch();
    const Index n = X.rows();
    const S beta = static_cast<S>(beta_);

    // 1. Proposals i_r ~ q(· | x_r) by inverse CDF, one draw per chain.
    evaluation.input_gradient(ws.gradient);
    check_finite(where, "input gradient", ws.gradient);
    detail::log_flip_proposal<SqrtRatio>(X, ws.gradient, beta, ws.forward);
    check_finite(where, "proposal logit", ws.forward.log_proposal);
    detail::draw_with_replacement(Index{1}, rng, ws.forward);
    ws.proposed_batch = X;
    for (Index r = 0; r < n; ++r) ws.proposed_batch(r, ws.forward.bits(r)) = S(1) - X(r, ws.forward.bits(r));

    // 2. Metropolis–Hastings acceptance with the reverse proposal q(i_r | x'_r).
    evaluation.flip_deltas(ws.forward.rows, ws.forward.bits, ws.delta);
    check_finite(where, "energy change", ws.delta);
    ws.proposed.bind(evaluation.model(), ws.proposed_batch);
    ws.proposed.input_gradient(ws.proposed_gradient);
    check_finite(where, "input gradient", ws.proposed_gradient);
    detail::log_flip_proposal<SqrtRatio>(ws.proposed_batch, ws.proposed_gradient, beta, ws.backward);
    check_finite(where, "proposal logit", ws.backward.log_proposal);
    ws.accepted.resize(n);
    Index accepted = 0;
    for (Index r = 0; r < n; ++r) {
      const Index i = ws.forward.bits(r);
      const double log_ratio = -beta_ * static_cast<double>(ws.delta(r)) +
                               static_cast<double>(ws.backward.log_proposal(r, i)) -
                               static_cast<double>(ws.forward.log_proposal(r, i));
      if (std::log(uniform_open01(rng)) < log_ratio) ws.accepted(accepted++) = r;
    }
    evaluation.accept_flips(ws.accepted.head(accepted));
    return static_cast<double>(accepted) / static_cast<double>(n);
  }

 private:
  template <class M, class Rng>
  double run_unchecked(std::string_view where, const M& model, Matrix<typename M::Scalar>& X, Index steps,
                       Rng& rng) const {
    auto& evaluation = scratch_.template get<EvaluationFor<M>>();
    evaluation.bind(model, X);
    double total = 0;
    try {
      for (Index t = 0; t < steps; ++t) total += transition(evaluation, rng);
    } catch (const NumericalError& e) {
      throw NumericalError(detail::message(where, e.what()));
    }
    X = evaluation.batch();
    return total / static_cast<double>(steps);
  }

  double beta_;
  mutable detail::WorkspaceCache scratch_;
};

}  // namespace ratiomatch
