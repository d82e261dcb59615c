#pragma once
/// @file
/// @brief Random numbers from any uniform random bit generator, reproducible bit for bit
/// for a given engine and seed (no implementation-defined distributions on the hot path).

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Uniform double in the open interval (0, 1), from 53 random bits.
template <std::uniform_random_bit_generator Rng>
double uniform_open01(Rng& rng) {
  using Word = typename Rng::result_type;
  constexpr auto range = static_cast<std::uint64_t>(Rng::max() - Rng::min());
  std::uint64_t bits = 0;
  if constexpr (range == std::numeric_limits<std::uint64_t>::max()) {
    bits = static_cast<std::uint64_t>(rng() - Rng::min()) >> 11;
  } else if constexpr (range == 0xffffffffull) {
    const auto hi = static_cast<std::uint64_t>(static_cast<Word>(rng() - Rng::min()));
    const auto lo = static_cast<std::uint64_t>(static_cast<Word>(rng() - Rng::min()));
    bits = ((hi << 32) | lo) >> 11;
  } else {
    bits = std::uniform_int_distribution<std::uint64_t>(0, (std::uint64_t{1} << 53) - 1)(rng);
  }
  // (bits + 0.5) / 2^53 lies strictly inside (0, 1).
  return (static_cast<double>(bits) + 0.5) * 0x1.0p-53;
}

/// @brief Uniform integer in [0, n).
template <std::uniform_random_bit_generator Rng>
Index uniform_index(Rng& rng, Index n) {
  return std::uniform_int_distribution<Index>(0, n - 1)(rng);
}

/// @brief Standard Gumbel variate `-log(-log U)`.
template <std::uniform_random_bit_generator Rng>
double gumbel(Rng& rng) {
  return -std::log(-std::log(uniform_open01(rng)));
}

/// @brief Standard normal variate N(0, 1) by the Box–Muller transform,
/// `z = sqrt(−2 log U₁) · cos(2π U₂)` with `U₁, U₂ = uniform_open01(rng)`.
///
/// Stateless (the second variate of the pair is not cached, so two calls always use four
/// uniforms) and written out rather than taken from `std::normal_distribution`, whose
/// algorithm is implementation-defined: for a given engine and seed the result is the same
/// on every standard library (up to the last-bit accuracy of `std::log`/`std::cos`).
/// `U₁ ≥ 2⁻⁵⁴` keeps `log U₁` finite, so `|z| ≤ sqrt(2 · 54 · log 2) ≈ 8.65`.
/// @tparam Rng a uniform random bit generator, e.g. `std::mt19937_64`
/// @param rng the engine; two `uniform_open01` draws are taken from it
template <std::uniform_random_bit_generator Rng>
double standard_normal(Rng& rng) {
  constexpr double two_pi = 6.283185307179586476925286766559;
  const double u1 = uniform_open01(rng);
  const double u2 = uniform_open01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2);
}

}  // namespace ratiomatch
