#pragma once
/// @file
/// @brief Annealed importance sampling of the log partition function of a `BernoulliRBM`
/// (Salakhutdinov & Murray, "On the quantitative analysis of deep belief networks", ICML 2008).

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/metrics/log_partition_estimate.hpp"
#include "ratiomatch/models/bernoulli_rbm.hpp"

namespace ratiomatch {

/// @brief Annealed importance sampling estimate of `log Z` of an RBM's visible distribution
/// `p(x) ∝ exp(−F(x))`, from the base-rate model `p_A(x) = Π_i σ(a_i)^{x_i} (1 − σ(a_i))^{1−x_i}`
/// (visible biases `a`, e.g. the smoothed log-odds of the training marginals, no weights).
///
/// Intermediate distributions (β from `ais_schedule`):
/// `p_β(x) ∝ exp((1−β) aᵀx + β bᵀx) Π_j (1 + exp(β (c_j + W_j·x)))`, with `log Z_0 = m log 2 +
/// Σ_i softplus(a_i)` (`m` hidden units). Each run draws `x ~ p_A`, then for `k = 1 … K` adds
/// `log p*_{β_k}(x) − log p*_{β_{k−1}}(x)` to its log weight and moves `x` by one block Gibbs
/// step of the joint at `β_k` (`h ~ σ(β_k (c + W x))`, `x ~ σ((1−β_k) a + β_k (b + Wᵀh))`),
/// which leaves `p_{β_k}` invariant. `E[w] = Z / Z_0`, so `log Ẑ` is unbiased in `Z` (and, by
/// Jensen, a stochastic lower bound in `log Z`). Runs are advanced together as one batch;
/// arithmetic in double.
/// @param base_visible_bias `a`, length `model.dim()`
/// @throws std::invalid_argument on a wrong length or non-finite entry of `a`, `runs <= 0` or
///         `temperatures < 3`
/// @throws NumericalError if a log weight is not finite
template <class S, std::uniform_random_bit_generator Rng>
LogPartitionEstimate annealed_log_partition(const BernoulliRBM<S>& model,
                                            const Eigen::Ref<const Vector<std::type_identity_t<S>>>& base_visible_bias,
                                            const AisOptions& options, Rng& rng) {
  constexpr std::string_view where = "ratiomatch::annealed_log_partition";
  const Index d = model.dim(), m = model.num_hidden(), M = options.runs;
  check_size_match(where, "base_visible_bias.size()", base_visible_bias.size(), "model.dim()", d);
  check_positive(where, "options.runs", M);
  const std::vector<double> beta = ais_schedule(options.temperatures);
  const Eigen::MatrixXd W = model.weight().template cast<double>();  // m × d
  const Eigen::VectorXd a = base_visible_bias.template cast<double>();
  const Eigen::VectorXd b = model.visible_bias().template cast<double>();
  const Eigen::VectorXd c = model.hidden_bias().template cast<double>();
  if (!all_finite(a)) throw std::invalid_argument(detail::message(where, "base_visible_bias has a non-finite entry"));

  // x ~ p_A: one uniform per entry, column by column.
  Eigen::MatrixXd X(M, d), H(M, m), field_h(M, m), field_x(M, d);
  for (Index i = 0; i < d; ++i) {
    const double p = 1.0 / (1.0 + std::exp(-a(i)));
    for (Index r = 0; r < M; ++r) X(r, i) = uniform_open01(rng) < p ? 1.0 : 0.0;
  }
  // log p*_β(x) = (1−β) aᵀx + β bᵀx + Σ_j softplus(β (c_j + W_j·x)), per run.
  Eigen::VectorXd log_weight = Eigen::VectorXd::Zero(M), ax(M), bx(M);
  auto log_unnormalised = [&](double t, Eigen::VectorXd& out) {
    out = (1 - t) * ax + t * bx;
    out += detail::softplus((t * field_h.array()).eval()).rowwise().sum().matrix();
  };
  Eigen::VectorXd at_previous(M), at_next(M);
  for (std::size_t k = 1; k < beta.size(); ++k) {
    ax.noalias() = X * a;
    bx.noalias() = X * b;
    field_h.noalias() = X * W.transpose();
    field_h.rowwise() += c.transpose();
    log_unnormalised(beta[k - 1], at_previous);
    log_unnormalised(beta[k], at_next);
    log_weight += at_next - at_previous;
    if (k + 1 == beta.size()) break;  // the last distribution needs no transition
    // One block Gibbs step at β_k.
    const double t = beta[k];
    for (Index j = 0; j < m; ++j)
      for (Index r = 0; r < M; ++r) {
        const double p = 1.0 / (1.0 + std::exp(-t * field_h(r, j)));
        H(r, j) = uniform_open01(rng) < p ? 1.0 : 0.0;
      }
    field_x.noalias() = t * (H * W);
    field_x.rowwise() += ((1 - t) * a + t * b).transpose();
    for (Index i = 0; i < d; ++i)
      for (Index r = 0; r < M; ++r) {
        const double p = 1.0 / (1.0 + std::exp(-field_x(r, i)));
        X(r, i) = uniform_open01(rng) < p ? 1.0 : 0.0;
      }
  }
  check_finite(where, "log weight", log_weight);

  return detail::estimate_from_log_weights(log_weight, static_cast<double>(m) * std::log(2.0) +
                                                                  detail::softplus(a.array()).sum());
}

}  // namespace ratiomatch
