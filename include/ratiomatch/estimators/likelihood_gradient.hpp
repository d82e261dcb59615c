#pragma once
/// @file
/// @brief The likelihood gradient estimated from Markov chains, shared by contrastive
/// divergence and persistent contrastive divergence.

#include <string_view>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch::detail {

/// What a gradient call needs for model `M`, sized once and reused.
template <class M>
struct ChainGradientScratch {
  using S = typename M::Scalar;
  EvaluationFor<M> data, chains;        // the data batch and the chains
  Vector<S> data_weight, chain_weight;  // 1/n and −1/m
};

/// From evaluations bound to the data (`n` rows) and to the chains (`m` rows): returns the
/// surrogate `(1/n) Σ_r E(x_r) − (1/m) Σ_c E(x̃_c)` and, if `grad` is given, writes
/// `(1/n) Σ_r ∇_θE(x_r) − (1/m) Σ_c ∇_θE(x̃_c)` into it (resized to `num_params()`).
/// @throws NumericalError naming `where` if an energy, the surrogate or the gradient is not finite
template <class M>
typename M::Scalar data_minus_chains(std::string_view where, ChainGradientScratch<M>& ws,
                                     Vector<typename M::Scalar>* grad) {
  using S = typename M::Scalar;
  check_finite(where, "data energy", ws.data.energy());
  check_finite(where, "chain energy", ws.chains.energy());
  const double surrogate =
      ws.data.energy().template cast<double>().mean() - ws.chains.energy().template cast<double>().mean();
  const S value = static_cast<S>(surrogate);
  check_finite(where, "loss", value);
  if (grad == nullptr) return value;
  const Index n = ws.data.batch().rows(), m = ws.chains.batch().rows();
  grad->setZero(ws.data.model().num_params());
  ws.data_weight.setConstant(n, S(1) / static_cast<S>(n));
  ws.chain_weight.setConstant(m, S(-1) / static_cast<S>(m));
  ws.data.accumulate_param_gradient(ws.data_weight, *grad);
  ws.chains.accumulate_param_gradient(ws.chain_weight, *grad);
  check_finite(where, "gradient", *grad);
  return value;
}

}  // namespace ratiomatch::detail
