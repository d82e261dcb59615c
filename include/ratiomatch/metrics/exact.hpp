#pragma once
/// @file
/// @brief Exact quantities of a small model by enumeration of all 2^d states: the log partition
/// function, the log probabilities, the mean log-likelihood of data, and KL divergences.
///
/// States are ordered by their index `k = Σ_i x_i 2^i`: state `k` has bit `i` equal to
/// `(k >> i) & 1`. A model at inverse temperature `β` is `p_β(x) = exp(−β E(x)) / Z(β)`; a model
/// learned with an objective of fixed-point temperature `T` (DESIGN §1) is evaluated at `β = T`.

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief The largest dimension for which exact quantities enumerate all 2^d states.
inline constexpr Index max_exact_dim = 24;

namespace detail {

/// States enumerated per `model.energy` call.
inline constexpr Index exact_block_states = Index{1} << 14;

/// Throws unless `1 <= d <= max_exact_dim`.
inline void check_exact_dim(std::string_view where, std::string_view name, Index d) {
  check_positive(where, name, d);
  if (d > max_exact_dim)
    throw std::invalid_argument(message(where, name, " (", d, ") must be at most ", max_exact_dim,
                                        " for exact enumeration of all 2^d states"));
}

/// Throws unless `beta` is finite.
inline void check_beta(std::string_view where, double beta) {
  if (!std::isfinite(beta)) throw std::invalid_argument(message(where, "beta (", beta, ") must be finite"));
}

/// Calls `visit(first, log_weight)` for consecutive blocks of states, `log_weight(r) = −β E(x_{first + r})`.
template <class M, class Visit>
void for_each_state_block(std::string_view where, const M& model, double beta, Visit&& visit) {
  using S = typename M::Scalar;
  const Index d = model.dim();
  check_exact_dim(where, "model.dim()", d);
  check_beta(where, beta);
  const Index count = Index{1} << d;
  const Index block = std::min(count, exact_block_states);
  Matrix<S> states(block, d);
  Vector<S> energy;
  Eigen::VectorXd log_weight(block);
  for (Index first = 0; first < count; first += block) {
    for (Index i = 0; i < d; ++i)
      for (Index r = 0; r < block; ++r) states(r, i) = static_cast<S>(((first + r) >> i) & 1);
    model.energy(states, energy);
    check_finite(where, "energy", energy);
    log_weight = -beta * energy.template cast<double>();
    check_finite(where, "beta * energy", log_weight);
    visit(first, static_cast<const Eigen::VectorXd&>(log_weight));
  }
}

/// `log Σ_x exp(−β E(x))` with a running maximum (stable for any energy scale).
template <class M>
double log_partition(std::string_view where, const M& model, double beta) {
  double run_max = -std::numeric_limits<double>::infinity(), run_sum = 0.0;
  for_each_state_block(where, model, beta, [&](Index, const Eigen::VectorXd& log_weight) {
    const double block_max = log_weight.maxCoeff();
    if (block_max > run_max) {
      run_sum *= std::exp(run_max - block_max);  // exp(−inf) = 0 on the first block
      run_max = block_max;
    }
    run_sum += (log_weight.array() - run_max).exp().sum();
  });
  return run_max + std::log(run_sum);
}

}  // namespace detail

/// @brief `log Z(β) = log Σ_{x ∈ {0,1}^d} exp(−β E(x))`, exactly, by enumeration.
///
/// Log-sum-exp over blocks of 2^14 states (one `model.energy` call each) with a running
/// maximum `m`: `log Z = m + log Σ_x exp(−β E(x) − m)`, accurate for any energy scale.
/// Cost: 2^d energies.
/// @tparam M an `EnergyModel`
/// @param beta inverse temperature (any finite value; `β = 0` gives `d log 2`)
/// @throws std::invalid_argument if `model.dim() > max_exact_dim` (24) or `beta` is not finite
/// @throws NumericalError if an energy (or `β E`) is not finite
template <class M>
double log_partition(const M& model, double beta = 1.0) {
  static_assert(EnergyModel<M>, "log_partition needs an EnergyModel: see docs/model_requirements.md");
  return detail::log_partition("ratiomatch::log_partition", model, beta);
}

/// @brief `log p_β(x) = −β E(x) − log Z(β)` for all 2^d states, exactly.
///
/// Entry `k` is state `k` (bit `i` = `(k >> i) & 1`, the order of `empirical_log_distribution`).
/// Memory: 2^d doubles (128 MiB at d = 24).
/// @tparam M an `EnergyModel`
/// @throws std::invalid_argument if `model.dim() > max_exact_dim` (24) or `beta` is not finite
/// @throws NumericalError if an energy (or `β E`) is not finite
template <class M>
Vector<double> log_probabilities(const M& model, double beta = 1.0) {
  static_assert(EnergyModel<M>, "log_probabilities needs an EnergyModel: see docs/model_requirements.md");
  constexpr std::string_view where = "ratiomatch::log_probabilities";
  Vector<double> log_p;
  detail::for_each_state_block(where, model, beta, [&](Index first, const Eigen::VectorXd& log_weight) {
    if (first == 0) log_p.resize(Index{1} << model.dim());
    log_p.segment(first, log_weight.size()) = log_weight;
  });
  const double top = log_p.maxCoeff();
  const double log_z = top + std::log((log_p.array() - top).exp().sum());
  log_p.array() -= log_z;
  return log_p;
}

/// @brief Mean log-likelihood of the rows of `X` under `p_β`: `(1/n) Σ_r (−β E(x_r)) − log Z(β)`.
/// @tparam M an `EnergyModel`
/// @param X samples, `n × model.dim()`, entries exactly 0 or 1
/// @throws std::invalid_argument on an empty batch, a wrong width, a non-binary entry,
///   `model.dim() > max_exact_dim` (24) or a non-finite `beta`
/// @throws NumericalError if an energy is not finite
template <class M>
double mean_log_likelihood(const M& model, const Matrix<typename M::Scalar>& X, double beta = 1.0) {
  static_assert(EnergyModel<M>, "mean_log_likelihood needs an EnergyModel: see docs/model_requirements.md");
  constexpr std::string_view where = "ratiomatch::mean_log_likelihood";
  detail::check_exact_dim(where, "model.dim()", model.dim());
  check_batch(where, X, model.dim());
  detail::check_beta(where, beta);
  Vector<typename M::Scalar> energy;
  model.energy(X, energy);
  check_finite(where, "energy", energy);
  const double mean_energy = energy.template cast<double>().mean();
  return -beta * mean_energy - detail::log_partition(where, model, beta);
}

/// @brief `KL(p ‖ q) = Σ_k p_k (log p_k − log q_k)` between two distributions over the same states.
///
/// Terms with `p_k = 0` are 0 (`0 log 0 = 0`, also where `q_k = 0`); a state with `p_k > 0` and
/// `q_k = 0` makes the divergence `+inf`. Rounding can make the sum a few ulps negative when
/// `p ≈ q`; the result is clamped at 0 (Gibbs' inequality).
/// Typical use: `kl_divergence(empirical_log_distribution(X), log_probabilities(model, T))`.
/// @param log_p, log_q log probabilities (entries may be `−inf`), each summing to 1 within 1e-6
/// @throws std::invalid_argument if the sizes differ or are 0, an entry is NaN or `+inf`,
///   or either distribution is not normalised
inline double kl_divergence(const Vector<double>& log_p, const Vector<double>& log_q) {
  constexpr std::string_view where = "ratiomatch::kl_divergence";
  check_nonempty(where, log_p, "log_p");
  check_size_match(where, "log_q.size()", log_q.size(), "log_p.size()", log_p.size());
  const auto check_distribution = [&](const Vector<double>& log_r, std::string_view name) {
    for (Index k = 0; k < log_r.size(); ++k)
      if (std::isnan(log_r(k)) || log_r(k) == std::numeric_limits<double>::infinity())
        throw std::invalid_argument(
            detail::message(where, name, "(", k, ") (", log_r(k), ") must be a log probability (finite or -inf)"));
    const double total = log_r.array().exp().sum();
    if (!(std::abs(total - 1.0) <= 1e-6))
      throw std::invalid_argument(detail::message(where, "exp(", name, ").sum() (", total, ") must be 1 (within 1e-6)"));
  };
  check_distribution(log_p, "log_p");
  check_distribution(log_q, "log_q");
  double kl = 0.0;
  for (Index k = 0; k < log_p.size(); ++k) {
    const double p = std::exp(log_p(k));
    if (p == 0.0) continue;
    if (log_q(k) == -std::numeric_limits<double>::infinity()) return std::numeric_limits<double>::infinity();
    kl += p * (log_p(k) - log_q(k));
  }
  return std::max(kl, 0.0);
}

/// @brief Log of the empirical distribution of the rows of `X` over all 2^d states.
///
/// Entry `k` is `log(count_k / n)`, with `count_k` the number of rows equal to state `k`
/// (bit `i` = `(k >> i) & 1`), and `−inf` for a state never seen.
/// Memory: 2^d doubles.
/// @tparam S `float` or `double`
/// @throws std::invalid_argument on an empty batch, a non-binary entry, or a width outside 1..24
template <class S>
Vector<double> empirical_log_distribution(const Matrix<S>& X) {
  constexpr std::string_view where = "ratiomatch::empirical_log_distribution";
  check_nonempty(where, X);
  detail::check_exact_dim(where, "X.cols()", X.cols());
  check_binary(where, X);
  Vector<double> count = Vector<double>::Zero(Index{1} << X.cols());
  for (Index r = 0; r < X.rows(); ++r) {
    Index k = 0;
    for (Index i = 0; i < X.cols(); ++i)
      if (X(r, i) == S(1)) k |= Index{1} << i;
    count(k) += 1.0;
  }
  const double log_n = std::log(static_cast<double>(X.rows()));
  return count.unaryExpr([log_n](double c) {
    return c > 0.0 ? std::log(c) - log_n : -std::numeric_limits<double>::infinity();
  });
}

}  // namespace ratiomatch
