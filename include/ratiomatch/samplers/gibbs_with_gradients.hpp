#pragma once
/// @file
/// @brief `GibbsWithGradients`: the gradient-informed Metropolis–Hastings sampler of
/// Grathwohl et al. (2021) for binary energy models, at an inverse temperature β.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/samplers/sampler_support.hpp"

namespace ratiomatch {

namespace detail {

/// Everything a step needs, sized once and reused from step to step.
template <class S>
struct GwgWorkspace {
  Matrix<S> gradient, proposed, proposed_gradient;  // ∇E(X), X', ∇E(X')
  IndexVector rows, bits;                           // the proposed flip of each chain: (r, i_r)
  Vector<S> delta;                                  // E(x'_r) − E(x_r)
  Vector<S> energy, proposed_energy;                // generic path: E(X), E(X')
  Vector<double> log_forward;                       // log q(i_r | x_r)
  std::vector<double> cumulative;                   // unnormalised CDF of one row's proposal
};

/// `ws.delta(r) = E(x'_r) − E(x_r)` for the proposed flips `(ws.rows, ws.bits)`, by the
/// cheapest route the model offers (the one place the optional capability is dispatched):
/// `HasSelectedFlipDeltas` → the model's selected `flip_deltas`; otherwise the energies of `X`
/// and of the materialised proposals `ws.proposed`.
template <class M>
void proposal_energy_change(const M& model, const Matrix<typename M::Scalar>& X,
                            GwgWorkspace<typename M::Scalar>& ws) {
  if constexpr (HasSelectedFlipDeltas<M>) {
    model.flip_deltas(X, ws.rows, ws.bits, ws.delta);
  } else {
    model.energy(X, ws.energy);
    model.energy(ws.proposed, ws.proposed_energy);
    ws.delta = ws.proposed_energy - ws.energy;
  }
}

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
/// Cost per step: two input gradients (at `X` and `X'`) and the energy changes of the proposed
/// flips — the model's selected `flip_deltas` when it has them (`HasSelectedFlipDeltas`),
/// otherwise two batched energies. Randomness: per step, one `uniform_open01(rng)` per chain
/// for the proposal (inverse CDF), then one per chain for the acceptance, in chain order; the
/// same engine state gives bit-identical chains. Holds reusable workspaces: one instance must
/// not be used from two threads at once.
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
  /// @tparam M an `EnergyModel` (fast path with `HasSelectedFlipDeltas`)
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  /// @throws NumericalError if an input gradient or an energy change is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  double step(const M& model, Matrix<typename M::Scalar>& X, Rng& rng) const {
    static_assert(EnergyModel<M>, "GibbsWithGradients needs an EnergyModel: see docs/model_requirements.md");
    constexpr std::string_view where = "ratiomatch::GibbsWithGradients::step";
    check_batch(where, X, model.dim());
    return step_unchecked(where, model, X, rng);
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
    double total = 0;
    for (Index t = 0; t < steps; ++t) total += step_unchecked(where, model, X, rng);
    return total / static_cast<double>(steps);
  }

 private:
  // log Σ_j exp(l_j) over row r's proposal logits l_j = ½ β (2x_j − 1) ∂_jE (maximum
  // subtracted), with the row's unnormalised CDF written into `cumulative` for drawing from it.
  template <class S>
  double log_normaliser(const Matrix<S>& X, const Matrix<S>& G, Index r, std::vector<double>& cumulative) const {
    const Index d = X.cols();
    double top = -std::numeric_limits<double>::infinity();
    for (Index j = 0; j < d; ++j) top = std::max(top, logit(X, G, r, j));
    double total = 0;
    for (Index j = 0; j < d; ++j) cumulative[j] = total += std::exp(logit(X, G, r, j) - top);
    return top + std::log(total);
  }

  template <class S>
  double logit(const Matrix<S>& X, const Matrix<S>& G, Index r, Index j) const {
    return 0.5 * beta_ * (2.0 * static_cast<double>(X(r, j)) - 1.0) * static_cast<double>(G(r, j));
  }

  template <class M, class Rng>
  double step_unchecked(std::string_view where, const M& model, Matrix<typename M::Scalar>& X, Rng& rng) const {
    using S = typename M::Scalar;
    auto& ws = workspaces_.template get<S>();
    const Index n = X.rows(), d = X.cols();
    ws.rows.resize(n);
    ws.bits.resize(n);
    ws.log_forward.resize(n);
    ws.cumulative.resize(static_cast<std::size_t>(d));

    // 1. Proposals i_r ~ q(· | x_r) by inverse CDF.
    model.input_gradient(X, ws.gradient);
    check_finite(where, "input gradient", ws.gradient);
    for (Index r = 0; r < n; ++r) {
      const double log_z = log_normaliser(X, ws.gradient, r, ws.cumulative);
      const double u = uniform_open01(rng) * ws.cumulative.back();
      const auto it = std::upper_bound(ws.cumulative.begin(), ws.cumulative.end(), u);
      const Index i = std::min<Index>(it - ws.cumulative.begin(), d - 1);  // clamp against rounding
      ws.rows(r) = r;
      ws.bits(r) = i;
      ws.log_forward(r) = logit(X, ws.gradient, r, i) - log_z;
    }
    ws.proposed = X;
    for (Index r = 0; r < n; ++r) ws.proposed(r, ws.bits(r)) = S(1) - ws.proposed(r, ws.bits(r));

    // 2. Metropolis–Hastings acceptance with the reverse proposal q(i_r | x'_r).
    detail::proposal_energy_change(model, X, ws);
    check_finite(where, "energy change", ws.delta);
    model.input_gradient(ws.proposed, ws.proposed_gradient);
    check_finite(where, "input gradient", ws.proposed_gradient);
    Index accepted = 0;
    for (Index r = 0; r < n; ++r) {
      const Index i = ws.bits(r);
      const double log_backward = logit(ws.proposed, ws.proposed_gradient, r, i) -
                                  log_normaliser(ws.proposed, ws.proposed_gradient, r, ws.cumulative);
      const double log_ratio = -beta_ * static_cast<double>(ws.delta(r)) + log_backward - ws.log_forward(r);
      if (std::log(uniform_open01(rng)) < log_ratio) {
        X(r, i) = S(1) - X(r, i);
        ++accepted;
      }
    }
    return static_cast<double>(accepted) / static_cast<double>(n);
  }

  double beta_;
  mutable detail::PerScalar<detail::GwgWorkspace> workspaces_;
};

}  // namespace ratiomatch
