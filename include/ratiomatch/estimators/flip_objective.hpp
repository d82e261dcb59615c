#pragma once
/// @file
/// @brief Machinery shared by the estimators: given a list of flips `(r_t, i_t)` with fixed
/// importance weights `w_t`, the batch-mean loss `(1/n) Σ_t w_t f(ΔE_t)` and its gradient
/// `(1/n) Σ_t w_t f'(ΔE_t) (∇_θE(x_{r_t} with bit i_t flipped) − ∇_θE(x_{r_t}))`.

#include <algorithm>
#include <cmath>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/estimators/ratio_objective.hpp"

namespace ratiomatch::detail {

/// Flipped rows materialised at once: at most this many entries (and at most 1024 rows),
/// so the generic path's memory is independent of n·d.
inline constexpr Index flip_block_entries = Index{1} << 18;
inline constexpr Index flip_block_max_rows = 1024;

inline Index flip_block_rows(Index d) { return std::clamp<Index>(flip_block_entries / d, 1, flip_block_max_rows); }

/// Everything an estimator step needs, sized once and reused (no allocation per step).
template <class S>
struct FlipWorkspace {
  IndexVector rows, bits;    // the step's flips
  Vector<S> log_weight;      // log w_t
  Vector<S> delta;           // ΔE_t
  Vector<S> term;            // w_t f(ΔE_t)
  Vector<S> coefficient;     // w_t f'(ΔE_t) / n
  Vector<S> base_coefficient;  // −Σ_{t: r_t = r} coefficient_t, per row
  Vector<S> energy;          // E(x_r), generic path
  Matrix<S> full_deltas;     // all n × d deltas, HasFlipDeltas path
  Matrix<S> block, tail_block;  // flipped rows (full block and the last, shorter one)
  Vector<S> block_values, tail_values;
  Matrix<S> input_gradient, log_proposal;
  Vector<S> row_max, row_log_z;  // per-row log-softmax of the proposal
  Matrix<S> proposal;            // exp(log_proposal)
  std::vector<double> probability;
  std::vector<char> taken;
};

/// One workspace per scalar type, so estimators need not be templates over the scalar.
struct FlipWorkspaces {
  FlipWorkspace<float> single;
  FlipWorkspace<double> twice;
  template <class S>
  FlipWorkspace<S>& get() {
    static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "ratiomatch models use float or double");
    if constexpr (std::is_same_v<S, float>)
      return single;
    else
      return twice;
  }
};

/// Calls `fn(block, values, start, count)` for consecutive blocks of the flip list, with
/// `block` holding the flipped rows `start … start+count−1`. Block matrices keep their
/// sizes from step to step, so nothing is reallocated.
template <class S, class Fn>
void for_each_flipped_block(const Matrix<S>& X, FlipWorkspace<S>& ws, Fn&& fn) {
  const Index total = ws.rows.size(), capacity = flip_block_rows(X.cols());
  for (Index start = 0; start < total; start += capacity) {
    const Index count = std::min(capacity, total - start);
    const bool full = count == capacity;
    Matrix<S>& block = full ? ws.block : ws.tail_block;
    Vector<S>& values = full ? ws.block_values : ws.tail_values;
    block.resize(count, X.cols());
    values.resize(count);
    for (Index k = 0; k < count; ++k) {
      const Index r = ws.rows(start + k), i = ws.bits(start + k);
      block.row(k) = X.row(r);
      block(k, i) = S(1) - block(k, i);
    }
    fn(block, values, start, count);
  }
}

/// ΔE_t for every flip of the list, by the cheapest route the model offers. This is the one
/// place where the optional capabilities are dispatched.
template <class M>
void compute_flip_deltas(const M& model, const Matrix<typename M::Scalar>& X,
                         FlipWorkspace<typename M::Scalar>& ws, bool all_flips) {
  using S = typename M::Scalar;
  ws.delta.resize(ws.rows.size());
  if constexpr (HasFlipDeltas<M>) {
    if (all_flips || !HasSelectedFlipDeltas<M>) {
      model.flip_deltas(X, ws.full_deltas);
      for (Index t = 0; t < ws.rows.size(); ++t) ws.delta(t) = ws.full_deltas(ws.rows(t), ws.bits(t));
      return;
    }
  }
  if constexpr (HasSelectedFlipDeltas<M>) {
    model.flip_deltas(X, ws.rows, ws.bits, ws.delta);
  } else {
    model.energy(X, ws.energy);
    for_each_flipped_block(X, ws, [&](const Matrix<S>& block, Vector<S>& values, Index start, Index count) {
      model.energy(block, values);
      for (Index k = 0; k < count; ++k) ws.delta(start + k) = values(k) - ws.energy(ws.rows(start + k));
    });
  }
}

/// The batch-mean loss `(1/n) Σ_t w_t f(ΔE_t)` and, if `grad` is given, its gradient with the
/// weights held fixed (written into `*grad`, resized to `num_params()`). `base_forward` is
/// passed on to a fused flip pass that accepts it (`BaseForward::Reuse` right after the
/// caller's own `input_gradient(X, …)`).
template <RatioObjective Objective, class M>
typename M::Scalar evaluate_flip_objective(std::string_view where, const M& model,
                                           const Matrix<typename M::Scalar>& X,
                                           FlipWorkspace<typename M::Scalar>& ws, bool all_flips,
                                           Vector<typename M::Scalar>* grad,
                                           BaseForward base_forward = BaseForward::Compute) {
  using S = typename M::Scalar;
  const Index n = X.rows(), flips = ws.rows.size();
  const S inv_n = S(1) / static_cast<S>(n);
  ws.term.resize(flips);
  // w f(ΔE) = exp(log w + log f(ΔE)): no overflow of f alone when w is small.
  auto terms = [&](Index start, Index count) {
    for (Index t = start; t < start + count; ++t)
      ws.term(t) = std::exp(ws.log_weight(t) + Objective::log_value(ws.delta(t)));
  };
  auto coefficients = [&](Index start, Index count, S* c) {
    for (Index k = 0; k < count; ++k) c[k] = ws.term(start + k) * Objective::log_slope(ws.delta(start + k)) * inv_n;
  };
  auto sum_of_terms = [&] {
    check_finite(where, "flipped energy change", ws.delta);
    double total = 0;
    for (Index t = 0; t < flips; ++t) total += static_cast<double>(ws.term(t));
    const S loss = static_cast<S>(total / static_cast<double>(n));
    check_finite(where, "loss", loss);
    return loss;
  };

  if constexpr (HasFlipGradient<M>) {
    if (grad != nullptr) {
      // One fused pass: each flipped row is evaluated once for its energy and its gradient.
      ws.delta.resize(flips);
      grad->setZero(model.num_params());
      auto coefficient = [&](Index start, const Eigen::Ref<const Vector<S>>& delta, Eigen::Ref<Vector<S>> c) {
        ws.delta.segment(start, delta.size()) = delta;
        terms(start, delta.size());
        coefficients(start, delta.size(), c.data());
      };
      if constexpr (requires { model.accumulate_flip_gradient(X, ws.rows, ws.bits, coefficient, *grad, base_forward); })
        model.accumulate_flip_gradient(X, ws.rows, ws.bits, coefficient, *grad, base_forward);
      else
        model.accumulate_flip_gradient(X, ws.rows, ws.bits, coefficient, *grad);
      const S loss = sum_of_terms();
      check_finite(where, "gradient", *grad);
      return loss;
    }
  }

  compute_flip_deltas(model, X, ws, all_flips);
  terms(0, flips);
  const S loss = sum_of_terms();
  if (grad == nullptr) return loss;

  ws.coefficient.resize(flips);
  coefficients(0, flips, ws.coefficient.data());
  grad->setZero(model.num_params());
  ws.base_coefficient.setZero(n);
  for (Index t = 0; t < flips; ++t) ws.base_coefficient(ws.rows(t)) -= ws.coefficient(t);
  for_each_flipped_block(X, ws, [&](const Matrix<S>& block, Vector<S>& values, Index start, Index count) {
    values = ws.coefficient.segment(start, count);
    model.accumulate_param_gradient(block, values, *grad);
  });
  model.accumulate_param_gradient(X, ws.base_coefficient, *grad);
  check_finite(where, "gradient", *grad);
  return loss;
}

/// Every flip of every row, weight 1: exact ratio matching.
template <class S>
void all_flips(Index n, Index d, FlipWorkspace<S>& ws) {
  ws.rows.resize(n * d);
  ws.bits.resize(n * d);
  for (Index r = 0; r < n; ++r)
    for (Index i = 0; i < d; ++i) {
      ws.rows(r * d + i) = r;
      ws.bits(r * d + i) = i;
    }
  ws.log_weight.setZero(n * d);
}

/// `s` draws per row from the row's proposal `exp(log_n)`, with replacement (inverse CDF),
/// each weighted `1/(s · n(i))`.
template <class S, class Rng>
void draw_with_replacement(const Matrix<S>& log_n, Index s, Rng& rng, FlipWorkspace<S>& ws) {
  const Index n = log_n.rows(), d = log_n.cols();
  ws.rows.resize(n * s);
  ws.bits.resize(n * s);
  ws.log_weight.resize(n * s);
  ws.probability.resize(static_cast<std::size_t>(d));
  ws.proposal = log_n.array().exp();  // vectorised; the CDF is then summed in double
  const S log_s = std::log(static_cast<S>(s));
  for (Index r = 0; r < n; ++r) {
    double cumulative = 0;
    for (Index i = 0; i < d; ++i) ws.probability[i] = cumulative += static_cast<double>(ws.proposal(r, i));
    for (Index t = 0; t < s; ++t) {
      const double u = uniform_open01(rng) * cumulative;
      // First entry whose CDF exceeds u (never one of probability 0); clamp against rounding.
      const auto it = std::upper_bound(ws.probability.begin(), ws.probability.end(), u);
      const Index i = std::min<Index>(it - ws.probability.begin(), d - 1);
      ws.rows(r * s + t) = r;
      ws.bits(r * s + t) = i;
      ws.log_weight(r * s + t) = -log_s - log_n(r, i);
    }
  }
}

/// `s` distinct bits per row, drawn successively without replacement from the row's proposal
/// (each next bit ∝ the proposal over the bits not yet taken), each weighted 1.
template <class S, class Rng>
void draw_without_replacement(const Matrix<S>& log_n, Index s, Rng& rng, FlipWorkspace<S>& ws) {
  const Index n = log_n.rows(), d = log_n.cols();
  ws.rows.resize(n * s);
  ws.bits.resize(n * s);
  ws.log_weight.setZero(n * s);
  ws.probability.resize(static_cast<std::size_t>(d));
  ws.taken.resize(static_cast<std::size_t>(d));
  ws.proposal = log_n.array().exp();  // vectorised; sums are then taken in double
  for (Index r = 0; r < n; ++r) {
    double remaining = 0;
    for (Index i = 0; i < d; ++i) remaining += ws.probability[i] = static_cast<double>(ws.proposal(r, i));
    std::fill(ws.taken.begin(), ws.taken.end(), char{0});
    for (Index t = 0; t < s; ++t) {
      const double u = uniform_open01(rng) * remaining;
      double cumulative = 0;
      Index chosen = -1, last_free = -1;
      for (Index i = 0; i < d; ++i) {
        if (ws.taken[i]) continue;
        last_free = i;
        cumulative += ws.probability[i];
        if (cumulative >= u) {
          chosen = i;
          break;
        }
      }
      if (chosen < 0) chosen = last_free;  // rounding left u just above the sum
      ws.taken[chosen] = 1;
      remaining -= ws.probability[chosen];
      if (!(remaining > 0)) {  // the rest underflowed or cancelled: recompute it exactly
        remaining = 0;
        for (Index i = 0; i < d; ++i)
          if (!ws.taken[i]) remaining += ws.probability[i];
        if (!(remaining > 0)) {  // every free bit has probability 0 in double: take them in order
          for (Index i = 0; i < d; ++i)
            if (!ws.taken[i]) ws.probability[i] = 1, remaining += 1;
        }
      }
      ws.rows(r * s + t) = r;
      ws.bits(r * s + t) = chosen;
    }
  }
}

}  // namespace ratiomatch::detail
