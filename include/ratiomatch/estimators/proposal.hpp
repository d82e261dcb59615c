#pragma once
/// @file
/// @brief The gradient-guided proposal over which bit to flip.

#include <cmath>
#include <limits>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/estimators/ratio_objective.hpp"

namespace ratiomatch {

namespace detail {

/// Log proposal from a precomputed input gradient `G`: the first-order estimate of each
/// flip's energy change is `ΔẼ_i = −(2x−1)_i ∂_iE`, and `log n(i) = log f(ΔẼ_i) − logsumexp`.
/// Column by column (the batch is column-major), with workspaces for each row's maximum and
/// log normaliser.
template <RatioObjective Objective, class S>
void log_proposal_from_gradient(const Matrix<S>& X, const Matrix<S>& G, Matrix<S>& log_n, Vector<S>& row_max,
                                Vector<S>& row_log_z) {
  log_n.resize(X.rows(), X.cols());
  for (Index j = 0; j < X.cols(); ++j)
    for (Index r = 0; r < X.rows(); ++r) {
      const S taylor_delta = -(S(2) * X(r, j) - S(1)) * G(r, j);
      log_n(r, j) = Objective::log_value(taylor_delta);
    }
  row_max = log_n.rowwise().maxCoeff();
  row_log_z.array() = row_max.array() + (log_n.colwise() - row_max).array().exp().rowwise().sum().log();
  log_n.colwise() -= row_log_z;
}

}  // namespace detail

/// @brief The gradient-guided proposal `n(i | x) ∝ f(−(2x−1)_i ∂_iE(x))`, in log space.
///
/// For the default `SquaredRatio` this is `softmax(2(2x−1) ⊙ ∇ₓE(x))`, the first-order
/// (Taylor) estimate of the zero-variance proposal `n*(i) ∝ r_i(x)²`; for `SqrtRatio` it is
/// Gibbs-with-Gradients' `softmax((2x−1) ⊙ ∇ₓE / 2)`. It is a stop-gradient quantity: the
/// estimators never differentiate through it. Computed as a log-softmax (max subtracted).
/// @tparam Objective the ratio objective (default `SquaredRatio`)
/// @param log_n resized to `n × d`; `log_n(r, i) = log n(i | X.row(r))`
/// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
/// @throws NumericalError if the input gradient is not finite
template <RatioObjective Objective = SquaredRatio, EnergyModel M>
void gradient_guided_proposal(const M& model, const Matrix<typename M::Scalar>& X, Matrix<typename M::Scalar>& log_n) {
  constexpr std::string_view where = "ratiomatch::gradient_guided_proposal";
  check_batch(where, X, model.dim());
  Matrix<typename M::Scalar> G;
  model.input_gradient(X, G);
  check_finite(where, "input gradient", G);
  Vector<typename M::Scalar> row_max, row_log_z;
  detail::log_proposal_from_gradient<Objective>(X, G, log_n, row_max, row_log_z);
}

}  // namespace ratiomatch
