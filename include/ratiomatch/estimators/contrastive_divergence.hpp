#pragma once
/// @file
/// @brief `ContrastiveDivergence`: CD-k (Hinton 2002), the likelihood gradient with the model
/// expectation estimated by short Markov chains started at the data.

#include <random>
#include <string_view>
#include <utility>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/core/workspace_cache.hpp"
#include "ratiomatch/estimators/likelihood_gradient.hpp"

namespace ratiomatch {

/// @brief Contrastive divergence CD-k (Hinton, "Training products of experts by minimizing
/// contrastive divergence", 2002).
///
/// Each gradient call starts one chain at every data row `x_r`, advances it by `k`
/// transitions of the sampler to `x̃_r`, and writes
///
///     grad = (1/n) Σ_r ∇_θE(x_r) − (1/n) Σ_r ∇_θE(x̃_r),
///
/// the likelihood gradient `(1/n) Σ_r ∇_θE(x_r) − E_{p_θ}[∇_θE]` with the model expectation
/// replaced by the chains' average: biased for finite `k` (it follows the contrastive
/// divergence, not the likelihood), the classic RBM baseline with `BlockGibbsSampler` and
/// `k = 1`. The returned value is the surrogate `(1/n) Σ_r (E(x_r) − E(x̃_r))`, for monitoring
/// only (not the likelihood). Randomness comes only from the caller's engine. The estimator
/// keeps no state between calls (unlike `PersistentContrastiveDivergence`).
/// @tparam Sampler any sampler with `transition(evaluation, rng)`: `BlockGibbsSampler` (RBMs),
///   `GibbsSampler`, `GibbsWithGradients`
template <class Sampler>
class ContrastiveDivergence {
 public:
  using sampler_type = Sampler;

  /// @param sampler the Markov chain transition (copied)
  /// @param steps `k`, transitions per gradient call
  /// @throws std::invalid_argument if `steps <= 0`
  ContrastiveDivergence(Sampler sampler, Index steps) : sampler_(std::move(sampler)), steps_(steps) {
    check_positive("ratiomatch::ContrastiveDivergence::ContrastiveDivergence", "steps", steps);
  }

  const Sampler& sampler() const { return sampler_; }
  /// @brief `k`, the transitions per gradient call.
  Index steps() const { return steps_; }

  /// @brief Writes the CD-k gradient into `grad` (resized to `num_params()`) and returns the surrogate.
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  /// @throws NumericalError if the sampler meets a non-finite quantity, or an energy, the
  ///         surrogate or the gradient is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng,
                                       Vector<typename M::Scalar>& grad) const {
    return run("ratiomatch::ContrastiveDivergence::loss_and_gradient", model, X, rng, &grad);
  }

  /// @brief The surrogate alone (the same draws as `loss_and_gradient`).
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng) const {
    return run("ratiomatch::ContrastiveDivergence::loss", model, X, rng, nullptr);
  }

 private:
  template <class M, class Rng>
  typename M::Scalar run(std::string_view where, const M& model, const Matrix<typename M::Scalar>& X, Rng& rng,
                         Vector<typename M::Scalar>* grad) const {
    static_assert(EnergyModel<M>, "ContrastiveDivergence needs an EnergyModel: see docs/model_requirements.md");
    static_assert(requires(const Sampler& sampler, EvaluationFor<M>& chains) { sampler.transition(chains, rng); },
                  "ContrastiveDivergence needs a sampler with transition(evaluation, rng)");
    check_batch(where, X, model.dim());
    auto& ws = scratch_.template get<detail::ChainGradientScratch<M>>();
    ws.data.bind(model, X);
    ws.chains.bind(model, X);
    try {
      for (Index t = 0; t < steps_; ++t) sampler_.transition(ws.chains, rng);
    } catch (const NumericalError& e) {
      throw NumericalError(detail::message(where, "the sampler failed while advancing the chains: ", e.what()));
    }
    return detail::data_minus_chains(where, ws, grad);
  }

  Sampler sampler_;
  Index steps_;
  mutable detail::WorkspaceCache scratch_;
};

}  // namespace ratiomatch
