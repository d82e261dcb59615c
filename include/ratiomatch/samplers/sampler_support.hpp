#pragma once
/// @file
/// @brief Internals shared by the samplers: the inverse-temperature check and the initial
/// uniform state.

#include <cmath>
#include <random>
#include <stdexcept>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch::detail {

/// Throws `std::invalid_argument` unless `beta` is finite and positive.
inline void check_inverse_temperature(std::string_view where, double beta) {
  if (!(beta > 0.0) || !std::isfinite(beta))
    throw std::invalid_argument(message(where, "beta (", beta, ") must be finite and positive"));
}

/// Throws `std::invalid_argument` if `count < 0`.
inline void check_nonnegative_count(std::string_view where, std::string_view name, Index count) {
  if (count < 0) throw std::invalid_argument(message(where, name, " (", count, ") must not be negative"));
}

/// An `n × d` batch of independent fair bits, drawn column by column.
template <class S, std::uniform_random_bit_generator Rng>
Matrix<S> uniform_bits(Index n, Index d, Rng& rng) {
  Matrix<S> X(n, d);
  for (Index j = 0; j < d; ++j)
    for (Index r = 0; r < n; ++r) X(r, j) = uniform_open01(rng) < 0.5 ? S(0) : S(1);
  return X;
}

/// The logistic function `σ(t) = 1 / (1 + exp(−t))`, without overflow for any `t`.
inline double logistic(double t) {
  if (t >= 0) return 1.0 / (1.0 + std::exp(-t));
  const double z = std::exp(t);
  return z / (1.0 + z);
}

}  // namespace ratiomatch::detail
