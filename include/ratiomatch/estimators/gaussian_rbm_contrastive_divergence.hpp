#pragma once
/// @file
/// @brief `GaussianRBMContrastiveDivergence`: CD-k and PCD-k for the Gaussian–Bernoulli RBM,
/// the classical baseline of the score matching family.

#include <random>
#include <string_view>
#include <type_traits>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/continuous_concepts.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/estimator_state.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/models/gaussian_bernoulli_rbm.hpp"

namespace ratiomatch {

/// @brief Contrastive divergence for `GaussianBernoulliRBM` (Hinton 2002; persistent chains:
/// Tieleman 2008), with the model's block Gibbs sampler (`gibbs_steps`):
///
///     grad = (1/n) Σ_r ∇_θ F(v_r) − (1/c) Σ_q ∇_θ F(ṽ_q),
///
/// the gradient of the negative mean log-likelihood `(1/n) Σ_r F(v_r) + log Z` with
/// `E_{p_θ}[∇_θ F] = −∇_θ log Z` replaced by the average over `c` chains `ṽ`. CD-k starts one
/// chain at every data row and runs `k` steps (biased for finite k); PCD-k keeps `c` chains
/// between calls (started at the first batch's rows) and advances them `k` steps per call. The
/// returned value is the surrogate `(1/n) Σ_r F(v_r) − (1/c) Σ_q F(ṽ_q)`, for monitoring only.
/// Randomness: the sampler's draws (see `GaussianBernoulliRBM::gibbs_steps`). Persistent mode
/// holds the chains: not for concurrent use.
template <class S>
class GaussianRBMContrastiveDivergence {
 public:
  /// @param steps `k`, Gibbs steps per call
  /// @param persistent PCD-k (chains kept between calls) rather than CD-k
  /// @throws std::invalid_argument if `steps <= 0`
  GaussianRBMContrastiveDivergence(Index steps, bool persistent) : steps_(steps), persistent_(persistent) {
    check_positive("ratiomatch::GaussianRBMContrastiveDivergence::GaussianRBMContrastiveDivergence", "steps", steps);
  }

  Index steps() const { return steps_; }
  bool persistent() const { return persistent_; }
  /// @brief The persistent chains (empty before the first call, and in CD mode).
  const Matrix<S>& chains() const { return chains_; }

  /// @brief The state a resumed run needs (`StatefulEstimator`): one matrix of this scalar
  /// type, the persistent chains (`0 × 0` before the first call, and always in CD mode).
  EstimatorState state_buffers() const {
    EstimatorState state;
    if constexpr (std::is_same_v<S, float>) state.single = {chains_}; else state.twice = {chains_};
    return state;
  }

  /// @brief Checks a state from `state_buffers()` without changing anything.
  /// @throws std::invalid_argument naming what does not fit
  void check_state(const EstimatorState& state) const {
    constexpr std::string_view where = "ratiomatch::GaussianRBMContrastiveDivergence::check_state";
    if constexpr (std::is_same_v<S, float>) {
      check_list(where, state.single, state.twice);
    } else {
      check_list(where, state.twice, state.single);
    }
  }

  /// @brief Restores a state that passed `check_state` (nothing changes if it throws).
  void restore_state(const EstimatorState& state) const {
    check_state(state);
    if constexpr (std::is_same_v<S, float>) chains_ = state.single[0]; else chains_ = state.twice[0];
  }

  /// @brief Writes the gradient into `grad` (resized to `num_params()`) and returns the surrogate.
  /// @throws std::invalid_argument on an empty batch or a wrong width, or persistent chains of
  ///         another width than the model's
  /// @throws NumericalError on a non-finite entry, energy, surrogate or gradient (the
  ///         persistent chains are then left as they were)
  template <std::uniform_random_bit_generator Rng>
  S loss_and_gradient(const GaussianBernoulliRBM<S>& model, const Matrix<S>& V, Rng& rng, Vector<S>& grad) const {
    constexpr std::string_view where = "ratiomatch::GaussianRBMContrastiveDivergence::loss_and_gradient";
    check_real_batch(where, V, model.dim());
    if (persistent_ && chains_.size() != 0)
      check_size_match(where, "chains().cols()", chains_.cols(), "model.dim()", model.dim());
    Matrix<S> chains = persistent_ && chains_.size() != 0 ? chains_ : V;
    try {
      model.gibbs_steps(chains, steps_, rng);
    } catch (const NumericalError& e) {
      throw NumericalError(detail::message(where, "the sampler failed while advancing the chains: ", e.what()));
    }
    Vector<S> data_energy, chain_energy;
    model.energy(V, data_energy);
    model.energy(chains, chain_energy);
    const S loss = static_cast<S>(data_energy.template cast<double>().mean() - chain_energy.template cast<double>().mean());
    check_finite(where, "loss", loss);
    grad.setZero(model.num_params());
    model.accumulate_param_gradient(V, Vector<S>::Constant(V.rows(), S(1) / static_cast<S>(V.rows())), grad);
    model.accumulate_param_gradient(chains, Vector<S>::Constant(chains.rows(), S(-1) / static_cast<S>(chains.rows())),
                                    grad);
    check_finite(where, "gradient", grad);
    if (persistent_) chains_ = std::move(chains);
    return loss;
  }

 private:
  template <class List, class Other>
  void check_list(std::string_view where, const List& list, const Other& other) const {
    if (list.size() != 1 || !other.empty())
      throw std::invalid_argument(detail::message(where, "the state must hold 1 matrix of this scalar type (",
                                                  list.size(), " and ", other.size(), " of the other given)"));
    if (!persistent_ && list[0].size() != 0)
      throw std::invalid_argument(detail::message(where, "CD keeps no chains, but the state holds ", list[0].rows(),
                                                  " × ", list[0].cols()));
    check_finite(where, "chains", list[0]);
  }

  Index steps_;
  bool persistent_;
  mutable Matrix<S> chains_;  // changed by the (const) training step, as PCD's chains are
};

}  // namespace ratiomatch
