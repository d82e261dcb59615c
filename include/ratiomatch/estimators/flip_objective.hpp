#pragma once
/// @file
/// @brief Machinery shared by the ratio-matching estimators: given a list of flips
/// `(r_t, i_t)` with fixed importance weights `w_t`, the batch-mean loss
/// `(1/n) Σ_t w_t f(ΔE_t)` and its gradient
/// `(1/n) Σ_t w_t f'(ΔE_t) (∇_θE(x_{r_t} with bit i_t flipped) − ∇_θE(x_{r_t}))`.
/// Estimators only choose the flips and their weights; the model's batch evaluation does the rest.

#include <cmath>
#include <string_view>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/estimators/proposal.hpp"
#include "ratiomatch/estimators/ratio_objective.hpp"

namespace ratiomatch::detail {

/// Everything an estimator step needs for model `M`, sized once and reused.
template <class M>
struct EstimatorWorkspace {
  using S = typename M::Scalar;
  EvaluationFor<M> evaluation;  // the step's batch
  FlipSample<S> flips;          // the step's flips and their log weights
  Vector<S> delta;              // ΔE_t
  Vector<S> term;               // w_t f(ΔE_t)
  Matrix<S> input_gradient;     // gradient-guided proposal
  Matrix<S> all_deltas;         // exact ratio matching, loss only
};

/// Every flip of every row (row by row), weight 1: exact ratio matching.
template <class S>
void all_flips(Index n, Index d, FlipSample<S>& flips) {
  list_all_flips(n, d, flips.rows, flips.bits);
  flips.log_weight.setZero(n * d);
}

/// `term(t) = w_t f(ΔE_t) = exp(log w_t + log f(ΔE_t))`: no overflow of f alone when w is small.
template <RatioObjective Objective, class M>
void weighted_terms(EstimatorWorkspace<M>& ws, Index start, Index count) {
  for (Index t = start; t < start + count; ++t)
    ws.term(t) = std::exp(ws.flips.log_weight(t) + Objective::log_value(ws.delta(t)));
}

/// The batch-mean loss `(1/n) Σ_t term(t)`, summed in double, with the finiteness checks.
template <class M>
typename M::Scalar mean_of_terms(std::string_view where, const EstimatorWorkspace<M>& ws, Index n) {
  using S = typename M::Scalar;
  check_finite(where, "flipped energy change", ws.delta);
  double total = 0;
  for (Index t = 0; t < ws.term.size(); ++t) total += static_cast<double>(ws.term(t));
  const S loss = static_cast<S>(total / static_cast<double>(n));
  check_finite(where, "loss", loss);
  return loss;
}

/// The loss of the flips listed in `ws.flips`, whose energy changes are already in `ws.delta`.
template <RatioObjective Objective, class M>
typename M::Scalar flip_objective_loss(std::string_view where, EstimatorWorkspace<M>& ws) {
  const Index flips = ws.flips.rows.size();
  ws.term.resize(flips);
  weighted_terms<Objective>(ws, 0, flips);
  return mean_of_terms(where, ws, ws.evaluation.batch().rows());
}

/// The loss of the flips listed in `ws.flips` and its gradient with the weights held fixed,
/// written into `grad` (resized to `num_params()`), in one fused pass of the evaluation: each
/// flipped row is evaluated once for its energy and its gradient.
template <RatioObjective Objective, class M>
typename M::Scalar flip_objective_loss_and_gradient(std::string_view where, EstimatorWorkspace<M>& ws,
                                                    Vector<typename M::Scalar>& grad) {
  using S = typename M::Scalar;
  const Index n = ws.evaluation.batch().rows(), flips = ws.flips.rows.size();
  const S inv_n = S(1) / static_cast<S>(n);
  ws.delta.resize(flips);
  ws.term.resize(flips);
  grad.setZero(ws.evaluation.model().num_params());
  // Called per block, possibly concurrently for disjoint blocks: writes only its own segment.
  auto coefficient = [&](Index start, const Eigen::Ref<const Vector<S>>& delta, Eigen::Ref<Vector<S>> c) {
    const Index count = delta.size();
    ws.delta.segment(start, count) = delta;
    weighted_terms<Objective>(ws, start, count);
    for (Index k = 0; k < count; ++k)
      c(k) = ws.term(start + k) * Objective::log_slope(ws.delta(start + k)) * inv_n;
  };
  ws.evaluation.accumulate_flip_gradient(ws.flips.rows, ws.flips.bits, coefficient, grad);
  const S loss = mean_of_terms(where, ws, n);
  check_finite(where, "gradient", grad);
  return loss;
}

}  // namespace ratiomatch::detail
