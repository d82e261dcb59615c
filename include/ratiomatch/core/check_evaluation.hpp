#pragma once
/// @file
/// @brief `check_evaluation`: tests a model's own batch evaluation against the generic one,
/// the way the library tests its models, so users can test their fast paths too.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string_view>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/finite_difference.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Largest relative errors (`‖own − generic‖_∞ / max(‖own‖_∞, ‖generic‖_∞)`) of a
/// model's own batch evaluation against `GenericEvaluation`, one per member exercised.
struct EvaluationCheck {
  double energy = 0;                ///< `energy()` after `bind`
  double input_gradient = 0;        ///< `input_gradient`
  double param_gradient = 0;        ///< `accumulate_param_gradient` with random weights
  double all_flip_deltas = 0;       ///< `flip_deltas(D)`
  double selected_flip_deltas = 0;  ///< `flip_deltas(rows, bits, delta)` on a random list with repeats
  double flip_gradient = 0;         ///< `accumulate_flip_gradient`: the deltas passed to the callback and the gradient
  double gibbs_scan = 0;            ///< a scan over every bit with `accept_flips` on half the rows: deltas,
                                    ///< then the batch, energies and input gradient after the scan
  /// @brief The largest of the errors above.
  double worst() const {
    return std::max({energy, input_gradient, param_gradient, all_flip_deltas, selected_flip_deltas, flip_gradient,
                     gibbs_scan});
  }
  /// @brief True if every error is at most `tolerance`.
  bool passed(double tolerance) const { return worst() <= tolerance; }
};

namespace detail {
template <class A, class B>
double relative_error(const A& own, const B& generic) {
  if (own.rows() != generic.rows() || own.cols() != generic.cols()) return 1.0;
  if (own.size() == 0) return 0.0;
  return compare_gradients(own.reshaped(), generic.reshaped()).relative_error;
}
}  // namespace detail

/// @brief Compares `EvaluationFor<M>` (the model's own evaluation when it has one) with
/// `GenericEvaluation<M>`, built only from the six required members, on the batch `X`.
///
/// Exercises every member of the protocol: energies; input gradient; parameter gradient with
/// weights drawn from `seed`; all flip deltas; the flip deltas of a random list (three bits per
/// row, repeats allowed); the fused flip gradient of that list with coefficients
/// `c_t = u_t (1 + tanh ΔE_t)` (`u_t` uniform in [−1, 1)); and a Gibbs-like scan over every
/// bit that accepts the flips of rows `r` with `r + i` even, comparing the deltas at every bit
/// and the batch, energies and input gradient afterwards. A model without its own evaluation
/// compares the generic one with itself (all errors 0).
/// @param X a batch, `n × d`, binary (a few dozen rows suffice)
/// @param seed seeds the random weights and flip list
/// @returns the relative error of each part; `passed(tol)` with e.g. `1e-4` (float) or `1e-10` (double)
/// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`
template <EnergyModel M>
EvaluationCheck check_evaluation(const M& model, const Matrix<typename M::Scalar>& X, std::uint64_t seed = 0) {
  using S = typename M::Scalar;
  check_batch("ratiomatch::check_evaluation", X, model.dim());
  const Index n = X.rows(), d = X.cols();
  std::mt19937_64 rng(seed);
  auto uniform_sign = [&] { return static_cast<S>(2.0 * uniform_open01(rng) - 1.0); };
  EvaluationFor<M> own;
  GenericEvaluation<M> generic;
  own.bind(model, X);
  generic.bind(model, X);
  EvaluationCheck check;
  check.energy = detail::relative_error(own.energy(), generic.energy());

  Matrix<S> G_own, G_generic;
  own.input_gradient(G_own);
  generic.input_gradient(G_generic);
  check.input_gradient = detail::relative_error(G_own, G_generic);

  Vector<S> c(n);
  for (Index r = 0; r < n; ++r) c(r) = uniform_sign();
  Vector<S> g_own = Vector<S>::Zero(model.num_params()), g_generic = g_own;
  own.accumulate_param_gradient(c, g_own);
  generic.accumulate_param_gradient(c, g_generic);
  check.param_gradient = detail::relative_error(g_own, g_generic);

  Matrix<S> D_own, D_generic;
  own.flip_deltas(D_own);
  generic.flip_deltas(D_generic);
  check.all_flip_deltas = detail::relative_error(D_own, D_generic);

  constexpr Index per_row = 3;
  IndexVector rows(n * per_row), bits(n * per_row);
  Vector<S> u(n * per_row);
  for (Index r = 0; r < n; ++r)
    for (Index k = 0; k < per_row; ++k) {
      rows(r * per_row + k) = r;
      bits(r * per_row + k) = uniform_index(rng, d);
      u(r * per_row + k) = uniform_sign();
    }
  Vector<S> delta_own, delta_generic;
  own.flip_deltas(rows, bits, delta_own);
  generic.flip_deltas(rows, bits, delta_generic);
  check.selected_flip_deltas = detail::relative_error(delta_own, delta_generic);

  Vector<S> seen_own(rows.size()), seen_generic(rows.size());
  auto coefficients = [&](Vector<S>& seen) {
    return [&u, &seen](Index start, const Eigen::Ref<const Vector<S>>& delta, Eigen::Ref<Vector<S>> coefficient) {
      for (Index k = 0; k < delta.size(); ++k) {
        seen(start + k) = delta(k);
        coefficient(k) = u(start + k) * (S(1) + std::tanh(delta(k)));
      }
    };
  };
  g_own.setZero();
  g_generic.setZero();
  own.accumulate_flip_gradient(rows, bits, coefficients(seen_own), g_own);
  generic.accumulate_flip_gradient(rows, bits, coefficients(seen_generic), g_generic);
  check.flip_gradient =
      std::max(detail::relative_error(seen_own, seen_generic), detail::relative_error(g_own, g_generic));

  IndexVector all_rows(n), bit(n), accepted(n);
  for (Index r = 0; r < n; ++r) all_rows(r) = r;
  for (Index i = 0; i < d; ++i) {
    bit.setConstant(i);
    own.flip_deltas(all_rows, bit, delta_own);
    generic.flip_deltas(all_rows, bit, delta_generic);
    check.gibbs_scan = std::max(check.gibbs_scan, detail::relative_error(delta_own, delta_generic));
    Index taken = 0;
    for (Index r = 0; r < n; ++r)
      if ((r + i) % 2 == 0) accepted(taken++) = r;
    own.accept_flips(accepted.head(taken));
    generic.accept_flips(accepted.head(taken));
  }
  if (own.batch() != generic.batch()) check.gibbs_scan = 1.0;
  check.gibbs_scan = std::max(check.gibbs_scan, detail::relative_error(own.energy(), generic.energy()));
  own.input_gradient(G_own);
  generic.input_gradient(G_generic);
  check.gibbs_scan = std::max(check.gibbs_scan, detail::relative_error(G_own, G_generic));
  return check;
}

}  // namespace ratiomatch
