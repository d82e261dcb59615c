#pragma once
/// @file
/// @brief The gradient-guided proposal over which bit to flip, and its categorical draws —
/// the one place used by `GradientGuidedRM` and by `GibbsWithGradients`.

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/estimators/ratio_objective.hpp"

namespace ratiomatch {

namespace detail {

/// A list of flips `(rows(t), bits(t))` with log importance weights, and the scratch of the
/// proposal it was drawn from; sized once and reused.
template <class S>
struct FlipSample {
  IndexVector rows, bits;
  Vector<S> log_weight;        // log w_t
  Matrix<S> log_proposal;      // log n(i | x_r), n × d
  Matrix<S> proposal;          // exp(log_proposal), vectorised (also the log-softmax's workspace)
  Vector<S> row_max, row_log_z;
  Vector<S> row_min;           // min_i log_proposal(r, i): which rows need exp in double
  std::vector<double> probability;
  std::vector<char> taken;
};

/// Log proposal from an input gradient `G` at inverse temperature `beta`: the first-order
/// estimate of each flip's change of `βE` is `ΔẼ_i = −β (2x−1)_i ∂_iE`, and
/// `log n(i) = log f(ΔẼ_i) − logsumexp_j log f(ΔẼ_j)`. Written into `sample.log_proposal`
/// column by column (the batch is column-major), maximum subtracted per row.
template <RatioObjective Objective, class S>
void log_flip_proposal(const Matrix<S>& X, const Matrix<S>& G, S beta, FlipSample<S>& sample) {
  Matrix<S>& log_n = sample.log_proposal;
  log_n.resize(X.rows(), X.cols());
  for (Index j = 0; j < X.cols(); ++j)
    for (Index r = 0; r < X.rows(); ++r) {
      const S taylor_delta = -beta * (S(2) * X(r, j) - S(1)) * G(r, j);
      log_n(r, j) = Objective::log_value(taylor_delta);
    }
  sample.row_max = log_n.rowwise().maxCoeff();
  sample.proposal = log_n.colwise() - sample.row_max;  // workspace for the shifted logits
  sample.row_log_z = sample.proposal.array().exp().rowwise().sum().log().matrix();
  sample.row_log_z += sample.row_max;
  log_n.colwise() -= sample.row_log_z;
}

/// Calls `visit(i, n(i | x_r))` for i = 0 … d−1, the proposal `exp(log_proposal(r, i))` in double:
/// from the vectorised `proposal` where that is accurate, by `std::exp` in double in a row with a
/// bit below the threshold (Eigen's vectorised `exp` returns its smallest normal number for every
/// argument below about −88 in float or −708 in double, which would give all such bits one
/// probability). Needs `row_min`.
template <class S, class Visit>
void for_each_probability(const FlipSample<S>& sample, Index r, Visit&& visit) {
  constexpr double vectorised_exp_accurate_above = std::is_same_v<S, float> ? -80.0 : -700.0;
  const Index n = sample.log_proposal.rows(), d = sample.log_proposal.cols();
  // Column-major: row r's entries are n apart.
  if (static_cast<double>(sample.row_min(r)) > vectorised_exp_accurate_above) {
    const S* p = sample.proposal.data() + r;
    for (Index i = 0; i < d; ++i) visit(i, static_cast<double>(p[i * n]));
  } else {
    const S* log_p = sample.log_proposal.data() + r;
    for (Index i = 0; i < d; ++i) visit(i, std::exp(static_cast<double>(log_p[i * n])));
  }
}

/// `s` draws per row from the row's proposal `exp(log_proposal)`, with replacement (inverse
/// CDF, one `uniform_open01` per draw, row by row), each weighted `1/(s · n(i))`.
/// The drawn distribution is the `n` of the weights down to e^−708 (`for_each_probability`).
template <class S, class Rng>
void draw_with_replacement(Index s, Rng& rng, FlipSample<S>& sample) {
  const Matrix<S>& log_n = sample.log_proposal;
  const Index n = log_n.rows(), d = log_n.cols();
  sample.rows.resize(n * s);
  sample.bits.resize(n * s);
  sample.log_weight.resize(n * s);
  sample.probability.resize(static_cast<std::size_t>(d));
  sample.proposal = log_n.array().exp();  // vectorised
  sample.row_min = log_n.rowwise().minCoeff();
  const S log_s = std::log(static_cast<S>(s));
  for (Index r = 0; r < n; ++r) {
    double cumulative = 0;
    double* cdf = sample.probability.data();
    for_each_probability(sample, r, [&](Index i, double p) { cdf[i] = cumulative += p; });
    for (Index t = 0; t < s; ++t) {
      const double u = uniform_open01(rng) * cumulative;
      // First entry whose CDF exceeds u (never one of probability 0); if rounding put u at the
      // total, the last bit of positive probability.
      const auto it = std::upper_bound(sample.probability.begin(), sample.probability.end(), u);
      Index i = it - sample.probability.begin();
      if (i == d)
        for (i = d - 1; i > 0 && sample.probability[i] == sample.probability[i - 1];) --i;
      sample.rows(r * s + t) = r;
      sample.bits(r * s + t) = i;
      sample.log_weight(r * s + t) = -log_s - log_n(r, i);
    }
  }
}

/// `s` distinct bits per row, drawn successively without replacement from the row's proposal
/// (each next bit ∝ the proposal over the bits not yet taken), each weighted 1.
///
/// The mass of the free bits is kept by subtracting each drawn bit's; when that loses more than
/// 20 bits to cancellation (a bit that held nearly all the mass was drawn), the free bits'
/// probabilities are recomputed from the log proposal relative to the largest of them, so the
/// draws follow the renormalised proposal however peaked it is.
template <class S, class Rng>
void draw_without_replacement(Index s, Rng& rng, FlipSample<S>& sample) {
  const Matrix<S>& log_n = sample.log_proposal;
  const Index n = log_n.rows(), d = log_n.cols();
  sample.rows.resize(n * s);
  sample.bits.resize(n * s);
  sample.log_weight.setZero(n * s);
  sample.probability.resize(static_cast<std::size_t>(d));
  sample.taken.resize(static_cast<std::size_t>(d));
  sample.proposal = log_n.array().exp();  // vectorised
  sample.row_min = log_n.rowwise().minCoeff();
  std::vector<double>& probability = sample.probability;
  std::vector<char>& taken = sample.taken;
  for (Index r = 0; r < n; ++r) {
    double remaining = 0;
    double* p_free = probability.data();
    for_each_probability(sample, r, [&](Index i, double p) { remaining += p_free[i] = p; });
    std::fill(taken.begin(), taken.end(), char{0});
    // The free bits' probabilities relative to the largest of them (which becomes 1), exactly.
    const auto renormalise = [&] {
      double largest = -std::numeric_limits<double>::infinity();
      for (Index i = 0; i < d; ++i)
        if (!taken[i]) largest = std::max(largest, static_cast<double>(log_n(r, i)));
      remaining = 0;
      for (Index i = 0; i < d; ++i)
        if (!taken[i]) remaining += probability[i] = std::exp(static_cast<double>(log_n(r, i)) - largest);
    };
    for (Index t = 0; t < s; ++t) {
      // u > 0, so the first free bit whose running sum reaches u has positive probability.
      const double u = uniform_open01(rng) * remaining;
      double cumulative = 0;
      Index chosen = -1;
      for (Index i = 0; i < d; ++i) {
        if (taken[i]) continue;
        cumulative += probability[i];
        if (cumulative >= u) {
          chosen = i;
          break;
        }
      }
      if (chosen < 0)  // rounding left u just above the sum: the last free bit of positive probability
        for (Index i = d - 1; chosen < 0 && i >= 0; --i)
          if (!taken[i] && probability[i] > 0) chosen = i;
      taken[chosen] = 1;
      const double before = remaining;
      remaining -= probability[chosen];
      if (t + 1 < s && !(remaining > before * 0x1p-20)) renormalise();
      sample.rows(r * s + t) = r;
      sample.bits(r * s + t) = chosen;
    }
  }
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
  using S = typename M::Scalar;
  constexpr std::string_view where = "ratiomatch::gradient_guided_proposal";
  check_batch(where, X, model.dim());
  EvaluationFor<M> evaluation;
  evaluation.bind(model, X);
  Matrix<S> G;
  evaluation.input_gradient(G);
  check_finite(where, "input gradient", G);
  detail::FlipSample<S> sample;
  detail::log_flip_proposal<Objective>(X, G, S(1), sample);
  log_n = sample.log_proposal;
}

}  // namespace ratiomatch
