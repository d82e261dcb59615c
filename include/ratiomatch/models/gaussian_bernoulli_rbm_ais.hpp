#pragma once
/// @file
/// @brief Annealed importance sampling of the log partition function of a
/// `GaussianBernoulliRBM`, for models with too many hidden units to sum over.

#include <cmath>
#include <numbers>
#include <random>
#include <string_view>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/metrics/log_partition_estimate.hpp"
#include "ratiomatch/models/gaussian_bernoulli_rbm.hpp"

namespace ratiomatch {

/// @brief Annealed importance sampling estimate of `log Z` of a Gaussian–Bernoulli RBM's visible
/// distribution `p(v) ∝ exp(−F(v))`, annealing the weights and hidden biases from zero (Salakhutdinov
/// & Murray 2008, with Gaussian visible units):
///
///     p*_β(v) = exp(−½ Σ_i (v_i − b_i)² e^{−2s_i}) Π_j (1 + exp(β (c_j + W_j·v))),
///
/// β from `ais_schedule`. At β = 0 this is the model's own independent Gaussian `N(b, diag σ²)`
/// times `2^m`, so `log Z_0 = m log 2 + (d/2) log 2π + Σ_i s_i` exactly. Each run draws
/// `v ~ N(b, diag σ²)`, then for `k = 1 … K` adds `log p*_{β_k}(v) − log p*_{β_{k−1}}(v)` to its
/// log weight and moves `v` by one block Gibbs step of the joint at `β_k` (`h ~ σ(β_k (c + W v))`,
/// `v ~ N(b + β_k σ² ⊙ Wᵀh, diag σ²)`), which leaves `p_{β_k}` invariant. `E[w] = Z / Z_0`: the
/// estimate is unbiased in `Z` and, by Jensen, a stochastic lower bound in `log Z`. Runs advance
/// together as one batch; arithmetic in double.
///
/// Randomness: the initial draws (one `standard_normal` per entry, column by column), then per
/// transition one `uniform_open01` per hidden unit and one `standard_normal` per visible unit,
/// column by column.
/// @throws std::invalid_argument if `runs <= 0` or `temperatures < 3`
/// @throws NumericalError if a log weight is not finite
template <class S, std::uniform_random_bit_generator Rng>
LogPartitionEstimate annealed_log_partition(const GaussianBernoulliRBM<S>& model, const AisOptions& options,
                                            Rng& rng) {
  constexpr std::string_view where = "ratiomatch::annealed_log_partition";
  const Index d = model.dim(), m = model.num_hidden(), M = options.runs;
  check_positive(where, "options.runs", M);
  const std::vector<double> beta = ais_schedule(options.temperatures);
  const Eigen::MatrixXd W = model.weight().template cast<double>();  // m × d
  const Eigen::VectorXd b = model.visible_bias().template cast<double>();
  const Eigen::VectorXd c = model.hidden_bias().template cast<double>();
  const Eigen::VectorXd s = model.log_std().template cast<double>();
  const Eigen::ArrayXd std_dev = s.array().exp(), variance = std_dev.square();

  Eigen::MatrixXd V(M, d), H(M, m), field(M, m);
  for (Index i = 0; i < d; ++i)
    for (Index r = 0; r < M; ++r) V(r, i) = b(i) + std_dev(i) * standard_normal(rng);
  // The Gaussian factor is the same at every β: only Σ_j softplus(β z_j) changes.
  Eigen::VectorXd log_weight = Eigen::VectorXd::Zero(M);
  for (std::size_t k = 1; k < beta.size(); ++k) {
    field.noalias() = V * W.transpose();
    field.rowwise() += c.transpose();
    log_weight += (detail::softplus((beta[k] * field.array()).eval()) -
                   detail::softplus((beta[k - 1] * field.array()).eval()))
                      .rowwise()
                      .sum()
                      .matrix();
    if (k + 1 == beta.size()) break;  // the last distribution needs no transition
    const double t = beta[k];
    for (Index j = 0; j < m; ++j)
      for (Index r = 0; r < M; ++r)
        H(r, j) = uniform_open01(rng) < 1.0 / (1.0 + std::exp(-t * field(r, j))) ? 1.0 : 0.0;
    V.noalias() = t * (H * W);
    V = (V.array().rowwise() * variance.transpose()).rowwise() + b.transpose().array();
    for (Index i = 0; i < d; ++i)
      for (Index r = 0; r < M; ++r) V(r, i) += std_dev(i) * standard_normal(rng);
  }
  check_finite(where, "log weight", log_weight);

  return detail::estimate_from_log_weights(log_weight, static_cast<double>(m) * std::log(2.0) +
                                                      0.5 * static_cast<double>(d) * std::log(2.0 * std::numbers::pi) +
                                                      s.sum());
}

}  // namespace ratiomatch
