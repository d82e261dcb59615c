#pragma once
/// @file
/// @brief `pseudo_log_likelihood`: Besag's pseudo-likelihood of binary data under an energy
/// model, a held-out criterion that needs no partition function.

#include <algorithm>
#include <cmath>
#include <string_view>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Mean log pseudo-likelihood of the rows of `X` under `p_β ∝ exp(−β E)`, in nats per
/// sample (Besag 1975):
///
///     PL(X) = (1/n) Σ_r Σ_i log p_β(x_ri | x_r,−i) = (1/n) Σ_r Σ_i log σ(β ΔE_i(x_r)),
///
/// with `ΔE_i(x) = E(x with bit i flipped) − E(x)`: the conditional probability of the observed
/// bit against its flip. It is maximised in expectation by the data distribution (a proper
/// scoring rule, consistent), costs the `n × d` flip deltas of the model's batch evaluation,
/// and is comparable across models and estimators, so held-out data can choose a penalty and
/// a stopping point for every method alike. Summed in double, `log σ` without overflow.
/// @param X samples, `n × d`, binary
/// @param beta the inverse temperature at which the model is evaluated (`T` of its objective)
/// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`, or a non-finite `beta`
/// @throws NumericalError if a flip delta is not finite
template <EnergyModel M>
double pseudo_log_likelihood(const M& model, const Matrix<typename M::Scalar>& X, double beta = 1.0) {
  constexpr std::string_view where = "ratiomatch::pseudo_log_likelihood";
  check_batch(where, X, model.dim());
  if (!std::isfinite(beta)) throw std::invalid_argument(detail::message(where, "beta (", beta, ") must be finite"));
  EvaluationFor<M> evaluation;
  evaluation.bind(model, X);
  Matrix<typename M::Scalar> D;
  evaluation.flip_deltas(D);
  check_finite(where, "flip delta", D);
  double total = 0;
  for (Index i = 0; i < D.cols(); ++i)
    for (Index r = 0; r < D.rows(); ++r) {
      const double t = beta * static_cast<double>(D(r, i));  // log σ(t) = −softplus(−t)
      total -= std::max(-t, 0.0) + std::log1p(std::exp(-std::abs(t)));
    }
  return total / static_cast<double>(X.rows());
}

}  // namespace ratiomatch
