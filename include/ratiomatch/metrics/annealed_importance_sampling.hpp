#pragma once
/// @file
/// @brief Annealed importance sampling of `log Z` for any binary `EnergyModel`, with single-site
/// Gibbs transitions (Neal 2001, "Annealed importance sampling"; the RBM-specific estimator
/// with block Gibbs transitions is in `models/bernoulli_rbm_ais.hpp`).

#include <cmath>
#include <stdexcept>
#include <random>
#include <string_view>
#include <type_traits>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/metrics/log_partition_estimate.hpp"
#include "ratiomatch/samplers/sampler_support.hpp"

namespace ratiomatch {

/// @brief Annealed importance sampling estimate of `log Z = log Σ_x exp(−E(x))` of any binary
/// energy model, from the base-rate model `p_A(x) ∝ exp(aᵀx)` (independent bits with log-odds
/// `a`, e.g. the smoothed log-odds of the training marginals).
///
/// Intermediate distributions (β from `ais_schedule(options.temperatures)`):
/// `p*_β(x) = exp((1−β) aᵀx − β E(x))`, with `log Z_0 = Σ_i softplus(a_i)`. Each run draws
/// `x ~ p_A`, then for `k = 1 … K` adds `log p*_{β_k}(x) − log p*_{β_{k−1}}(x) =
/// −(β_k − β_{k−1}) (aᵀx + E(x))` to its log weight and updates one bit by heat bath at `β_k`
/// (flip with probability `σ((1−β_k) Δ(aᵀx) − β_k ΔE_i)`), which leaves `p_{β_k}` invariant.
/// The bit is `(k − 1) mod d`: the K temperatures make K/d systematic sweeps in all, so choose
/// `K` a good multiple of `d` (e.g. 100 d or more). `E[w] = Z / Z_0`, so `Ẑ` is unbiased and
/// `log Ẑ` a stochastic lower bound of `log Z`. The runs advance together as one batch through
/// the model's batch evaluation (`flip_deltas` of one bit per run, `accept_flips`): for
/// `MlpEnergy` a temperature costs one pass of the runs through the layers above the first.
/// Energies are tracked in double, and the evaluation is bound anew and the energies recomputed
/// exactly after every sweep. Randomness: one
/// uniform per entry for the start (column by column), then one per run per temperature.
/// @tparam M an `EnergyModel`
/// @param base_visible_bias `a`, length `model.dim()`
/// @returns log Z in nats with its standard error and the runs' log weights
/// @throws std::invalid_argument on a wrong length or non-finite entry of `a`, `runs <= 0` or
///         `temperatures < 3`
/// @throws NumericalError if an energy change or a log weight is not finite
template <class M, std::uniform_random_bit_generator Rng>
LogPartitionEstimate annealed_log_partition_single_site(
    const M& model, const Eigen::Ref<const Vector<std::type_identity_t<typename M::Scalar>>>& base_visible_bias,
    const AisOptions& options, Rng& rng) {
  static_assert(EnergyModel<M>, "annealed_log_partition_single_site needs an EnergyModel");
  using S = typename M::Scalar;
  constexpr std::string_view where = "ratiomatch::annealed_log_partition_single_site";
  const Index d = model.dim(), runs = options.runs;
  check_size_match(where, "base_visible_bias.size()", base_visible_bias.size(), "model.dim()", d);
  check_positive(where, "options.runs", runs);
  if (!base_visible_bias.allFinite())
    throw std::invalid_argument(detail::message(where, "base_visible_bias has a non-finite entry"));
  const std::vector<double> beta = ais_schedule(options.temperatures);
  const Eigen::VectorXd a = base_visible_bias.template cast<double>();

  Matrix<S> X(runs, d);  // x ~ p_A, column by column
  for (Index i = 0; i < d; ++i) {
    const double p = detail::logistic(a(i));
    for (Index r = 0; r < runs; ++r) X(r, i) = uniform_open01(rng) < p ? S(1) : S(0);
  }
  EvaluationFor<M> evaluation;
  Eigen::VectorXd energy(runs), base_term(runs);  // E(x) and aᵀx of every run
  Vector<S> exact_energy;
  // (Re)binds the evaluation to the chains and recomputes their energies exactly: the evaluation's
  // incremental updates of accepted flips and the tracked energies both drift otherwise.
  auto rebind = [&] {
    evaluation.bind(model, X);
    model.energy(X, exact_energy);
    energy = exact_energy.template cast<double>();
    base_term.noalias() = X.template cast<double>() * a;
  };
  rebind();

  IndexVector rows(runs), bits(runs), accepted(runs);
  for (Index r = 0; r < runs; ++r) rows(r) = r;
  Vector<S> delta;
  Eigen::VectorXd log_weight = Eigen::VectorXd::Zero(runs);
  for (std::size_t k = 1; k < beta.size(); ++k) {
    log_weight -= (beta[k] - beta[k - 1]) * (base_term + energy);
    if (k + 1 == beta.size()) break;  // the last distribution needs no transition
    const double t = beta[k];
    const Index i = static_cast<Index>((k - 1) % static_cast<std::size_t>(d));
    bits.setConstant(i);
    evaluation.flip_deltas(rows, bits, delta);
    check_finite(where, "energy change", delta);
    Index taken = 0;
    for (Index r = 0; r < runs; ++r) {
      const double base_change = evaluation.batch()(r, i) == S(0) ? a(i) : -a(i);
      const double energy_change = static_cast<double>(delta(r));
      if (uniform_open01(rng) < detail::logistic((1 - t) * base_change - t * energy_change)) {
        accepted(taken++) = r;
        energy(r) += energy_change;
        base_term(r) += base_change;
      }
    }
    evaluation.accept_flips(accepted.head(taken));
    if (i == d - 1) {  // end of a sweep
      X = evaluation.batch();
      rebind();
    }
  }
  check_finite(where, "log weight", log_weight);
  const double log_partition_base = (a.array().max(0.0) + (-a.array().abs()).exp().log1p()).sum();  // Σ softplus(a_i)
  return detail::estimate_from_log_weights(log_weight, log_partition_base);
}

}  // namespace ratiomatch
