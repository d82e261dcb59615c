#pragma once
// Shared helpers of the real-valued tests: random Gaussian-Bernoulli RBMs, normal and
// Rademacher batches.

#include <random>

#include <ratiomatch/core/random.hpp>
#include <ratiomatch/core/types.hpp>
#include <ratiomatch/models/gaussian_bernoulli_rbm.hpp>

namespace ratiomatch::testing {

/// Every parameter uniform in ±`weight_scale`, then the log standard deviations halved.
inline GaussianBernoulliRBM<double> random_grbm(Index visible, Index hidden, std::mt19937_64& rng,
                                                double weight_scale = 0.8) {
  GaussianBernoulliRBM<double> model(visible, hidden);
  for (Index k = 0; k < model.num_params(); ++k) model.params()(k) = weight_scale * (2 * uniform_open01(rng) - 1);
  model.log_std() *= 0.5;  // σ between e^(−weight_scale/2) and e^(weight_scale/2)
  return model;
}

/// An `n × d` batch of N(0, scale²) entries, column by column.
inline Matrix<double> random_normal(Index n, Index d, std::mt19937_64& rng, double scale = 1.0) {
  Matrix<double> V(n, d);
  for (Index i = 0; i < d; ++i)
    for (Index r = 0; r < n; ++r) V(r, i) = scale * standard_normal(rng);
  return V;
}

/// An `n × d` batch of ±1 entries, column by column (as the sliced estimators draw them).
inline Matrix<double> rademacher(Index n, Index d, std::mt19937_64& rng) {
  Matrix<double> U(n, d);
  for (Index i = 0; i < d; ++i)
    for (Index r = 0; r < n; ++r) U(r, i) = uniform_open01(rng) < 0.5 ? -1.0 : 1.0;
  return U;
}

}  // namespace ratiomatch::testing
