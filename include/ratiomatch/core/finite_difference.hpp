#pragma once
/// @file
/// @brief Central finite differences for checking hand-written derivatives, for the
/// library's models and for users' own ones.

#include <algorithm>
#include <cmath>
#include <utility>

#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Outcome of comparing an analytic gradient with its finite-difference estimate.
struct GradientCheck {
  double max_abs_error = 0;   ///< `‖analytic − numeric‖_∞`
  double relative_error = 0;  ///< `‖analytic − numeric‖_∞ / max(‖analytic‖_∞, ‖numeric‖_∞)` (0 if both are 0)
  /// @brief True if `relative_error <= tolerance`.
  bool passed(double tolerance) const { return relative_error <= tolerance; }
};

/// @brief Compares two gradients entry by entry.
template <class DA, class DB>
GradientCheck compare_gradients(const Eigen::MatrixBase<DA>& analytic, const Eigen::MatrixBase<DB>& numeric) {
  const auto a = analytic.template cast<double>().eval();
  const auto b = numeric.template cast<double>().eval();
  GradientCheck check;
  check.max_abs_error = (a - b).cwiseAbs().maxCoeff();
  const double scale = std::max(a.cwiseAbs().maxCoeff(), b.cwiseAbs().maxCoeff());
  check.relative_error = scale > 0 ? check.max_abs_error / scale : 0.0;
  return check;
}

/// @brief Central-difference gradient of `objective()` with respect to `model.params()`:
/// `(f(θ + ε e_k) − f(θ − ε e_k)) / 2ε` for every k. The parameters are restored afterwards.
/// @param objective callable returning the scalar to differentiate; it reads the model's
///        current parameters (e.g. a loss under a fixed seed)
template <class M, class Objective>
  requires EnergyModel<M> || ContinuousVisible<M>
Vector<double> finite_difference_param_gradient(M& model, Objective&& objective, double eps = 1e-6) {
  auto theta = model.params();
  Vector<double> numeric(theta.size());
  for (Index k = 0; k < theta.size(); ++k) {
    const auto saved = theta(k);
    theta(k) = static_cast<typename M::Scalar>(saved + eps);
    const double plus = static_cast<double>(objective());
    theta(k) = static_cast<typename M::Scalar>(saved - eps);
    const double minus = static_cast<double>(objective());
    theta(k) = saved;
    numeric(k) = (plus - minus) / (2 * eps);
  }
  return numeric;
}

/// @brief Checks `accumulate_param_gradient` against central differences of `Σ_r c(r) E(X.row(r))`.
template <EnergyModel M>
GradientCheck check_param_gradient(M& model, const Matrix<typename M::Scalar>& X,
                                   const Vector<typename M::Scalar>& c, double eps = 1e-6) {
  using S = typename M::Scalar;
  Vector<S> analytic = Vector<S>::Zero(model.num_params());
  model.accumulate_param_gradient(X, c, analytic);
  Vector<S> e;
  const auto numeric = finite_difference_param_gradient(model, [&] {
    model.energy(X, e);
    return c.template cast<double>().dot(e.template cast<double>());
  }, eps);
  return compare_gradients(analytic, numeric);
}

/// @brief Checks `input_gradient` against central differences of the continuous extension
/// (`relaxed_energy`) at every entry of every row of `X`.
template <HasRelaxedEnergy M>
GradientCheck check_input_gradient(const M& model, const Matrix<typename M::Scalar>& X, double eps = 1e-6) {
  using S = typename M::Scalar;
  Matrix<S> analytic;
  model.input_gradient(X, analytic);
  Matrix<double> numeric(X.rows(), X.cols());
  Matrix<S> Xp = X;
  Vector<S> plus, minus;
  for (Index i = 0; i < X.cols(); ++i) {
    Xp.col(i).array() = X.col(i).array() + static_cast<S>(eps);
    model.relaxed_energy(Xp, plus);
    Xp.col(i).array() = X.col(i).array() - static_cast<S>(eps);
    model.relaxed_energy(Xp, minus);
    Xp.col(i) = X.col(i);
    numeric.col(i) = (plus.template cast<double>() - minus.template cast<double>()) / (2 * eps);
  }
  return compare_gradients(analytic.reshaped(), numeric.reshaped());
}

/// @brief Checks the batch evaluation's `accumulate_mixed_gradient(V, ·)` against central
/// differences, in the parameters, of `Σ_r V_rᵀ ∇ₓE(x_r)` computed with the model's own
/// `input_gradient` (check that one first, with `check_input_gradient`).
/// @param X binary batch (`n × d`); `V` directions (`n × d`)
template <HasMixedGradient M>
GradientCheck check_mixed_gradient(M& model, const Matrix<typename M::Scalar>& X, const Matrix<typename M::Scalar>& V,
                                   double eps = 1e-6) {
  using S = typename M::Scalar;
  typename M::BatchEvaluation evaluation;
  evaluation.bind(model, X);
  Vector<S> analytic = Vector<S>::Zero(model.num_params());
  evaluation.accumulate_mixed_gradient(V, analytic);
  Matrix<S> G;
  const auto numeric = finite_difference_param_gradient(model, [&] {
    model.input_gradient(X, G);
    return (V.template cast<double>().array() * G.template cast<double>().array()).sum();
  }, eps);
  return compare_gradients(analytic, numeric);
}

}  // namespace ratiomatch
