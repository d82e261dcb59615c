#pragma once
/// @file
/// @brief Random numbers from any uniform random bit generator, reproducible bit for bit
/// for a given engine and seed (no implementation-defined distributions on the hot path).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief 64 uniform random bits: one word of a 64-bit engine, two of a 32-bit one (high word
/// first); any other engine through `std::uniform_int_distribution`.
template <std::uniform_random_bit_generator Rng>
std::uint64_t random_bits64(Rng& rng) {
  using Word = typename Rng::result_type;
  constexpr auto range = static_cast<std::uint64_t>(Rng::max() - Rng::min());
  if constexpr (range == std::numeric_limits<std::uint64_t>::max()) {
    return static_cast<std::uint64_t>(rng() - Rng::min());
  } else if constexpr (range == 0xffffffffull) {
    const auto hi = static_cast<std::uint64_t>(static_cast<Word>(rng() - Rng::min()));
    const auto lo = static_cast<std::uint64_t>(static_cast<Word>(rng() - Rng::min()));
    return (hi << 32) | lo;
  } else {
    return std::uniform_int_distribution<std::uint64_t>()(rng);
  }
}

/// @brief Uniform double in the open interval (0, 1), from 53 random bits.
template <std::uniform_random_bit_generator Rng>
double uniform_open01(Rng& rng) {
  const std::uint64_t bits = random_bits64(rng) >> 11;
  // (bits + 0.5) / 2^53 lies strictly inside (0, 1).
  return (static_cast<double>(bits) + 0.5) * 0x1.0p-53;
}

/// @brief Uniform integer in [0, n), `n > 0`: Lemire's multiply-and-reject method on
/// `random_bits64` (D. Lemire, "Fast random integer generation in an interval", ACM TOMACS
/// 2019), exactly uniform and the same on every standard library, unlike
/// `std::uniform_int_distribution`, whose algorithm is implementation-defined.
template <std::uniform_random_bit_generator Rng>
Index uniform_index(Rng& rng, Index n) {
  RATIOMATCH_ASSERT(n > 0);
  __extension__ typedef unsigned __int128 Wide;
  const auto range = static_cast<std::uint64_t>(n);
  Wide product = static_cast<Wide>(random_bits64(rng)) * range;
  auto low = static_cast<std::uint64_t>(product);
  if (low < range) {
    const std::uint64_t threshold = (0 - range) % range;  // 2^64 mod n: the words to reject
    while (low < threshold) {
      product = static_cast<Wide>(random_bits64(rng)) * range;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<Index>(product >> 64);
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

namespace detail {
// The fills write `size()` entries from `data()` on: a view with gaps (a block, a strided Map)
// would be written outside itself.
template <class Derived>
void require_contiguous(const Derived& out, const char* where) {
  if (out.size() > 1 && (out.innerStride() != 1 || out.outerStride() != out.innerSize()))
    throw std::invalid_argument(std::string(where) + ": the output's storage must be contiguous");
}
}  // namespace detail

/// @brief Fills `out` with independent standard normal variates, both of each Box–Muller pair
/// used: entries `2k` and `2k + 1` in storage order (column by column for column-major) are
/// `R cos(2π U₂)` and `R sin(2π U₂)`, `R = sqrt(−2 log U₁)`, from two `uniform_open01` draws;
/// an odd last entry takes the cosine only. Half the uniforms and logarithms of calling
/// `standard_normal` per entry; reproducible bit for bit as that function is.
/// @param out a plain dense matrix or array, or a contiguous Map (its size is kept)
/// @param rng the engine
/// @throws std::invalid_argument if `out`'s storage is not contiguous
template <class Derived, std::uniform_random_bit_generator Rng>
void fill_standard_normal(Eigen::DenseBase<Derived>& out, Rng& rng) {
  constexpr double two_pi = 6.283185307179586476925286766559;
  using S = typename Derived::Scalar;
  detail::require_contiguous(out.derived(), "ratiomatch::fill_standard_normal");
  S* data = out.derived().data();
  const Index size = out.size();
  Index k = 0;
  for (; k + 1 < size; k += 2) {
    const double radius = std::sqrt(-2.0 * std::log(uniform_open01(rng)));
    const double angle = two_pi * uniform_open01(rng);
    data[k] = static_cast<S>(radius * std::cos(angle));
    data[k + 1] = static_cast<S>(radius * std::sin(angle));
  }
  if (k < size) data[k] = static_cast<S>(standard_normal(rng));
}

/// @brief Fills `out` with independent Rademacher signs (±1 with probability ½ each), in
/// storage order: from an engine with 32 or 64 random bits per call, entry `k` is −1 when bit
/// `width − 1 − (k mod width)` (highest first, the engine's best bits for LCG-like engines) of the
/// `⌊k / width⌋`-th word is set, so one call serves 32 or 64 entries; from any other engine, −1
/// when `uniform_open01(rng) < ½`.
/// @param out a plain dense matrix or array, or a contiguous Map (its size is kept)
/// @throws std::invalid_argument if `out`'s storage is not contiguous
/// @param rng the engine
template <class Derived, std::uniform_random_bit_generator Rng>
void fill_rademacher(Eigen::DenseBase<Derived>& out, Rng& rng) {
  using S = typename Derived::Scalar;
  detail::require_contiguous(out.derived(), "ratiomatch::fill_rademacher");
  S* data = out.derived().data();
  const Index size = out.size();
  constexpr auto range = static_cast<std::uint64_t>(Rng::max() - Rng::min());
  if constexpr (range == std::numeric_limits<std::uint64_t>::max() || range == 0xffffffffull) {
    constexpr Index width = range == 0xffffffffull ? 32 : 64;
    for (Index start = 0; start < size; start += width) {
      const auto word = static_cast<std::uint64_t>(rng() - Rng::min());
      const Index end = std::min(size, start + width);
      for (Index k = start; k < end; ++k) data[k] = ((word >> (width - 1 - (k - start))) & 1u) != 0 ? S(-1) : S(1);
    }
  } else {
    for (Index k = 0; k < size; ++k) data[k] = uniform_open01(rng) < 0.5 ? S(-1) : S(1);
  }
}

}  // namespace ratiomatch
