#pragma once
/// @file
/// @brief The 2-D ↔ binary code of the discrete synthetic experiments of Gibbs-with-Gradients
/// (Grathwohl et al. 2021) and RMwGGIS (Liu et al. 2023): each coordinate of a point becomes
/// a sign bit followed by the reflected Gray code of its truncated, scaled magnitude.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/data/points2d.hpp"

namespace ratiomatch {

/// @brief Encodes points of the plane as binary vectors of length `dim`, and back.
///
/// With `b = dim/2 − 1` magnitude bits and scale `s = int_scale()`, a coordinate `x` is
/// coded as
///
///     v = min(⌊|x| · s⌋, 2^b − 1)            (truncation toward zero in double, clamped)
///     sign bit = 0 if x ≥ 0, 1 if x < 0
///     g = v XOR (v >> 1)                     (reflected binary Gray code)
///     code(x) = [sign bit, g's b bits, most significant first]
///
/// and a point's row is `[code(x) | code(y)]`. Adjacent magnitudes `v, v + 1` differ in one
/// bit of `g`, so neighbouring cells of the plane are Hamming neighbours. Decoding inverts
/// this: Gray → binary (`v = g ⊕ g>>1 ⊕ g>>2 ⊕ …`), `x = ±v / s`, i.e.
/// `decode(encode(p)) = sign(p) · ⌊|p| s⌋ / s` for points inside the range.
/// This is the map of the public code (`float2bin`/`bin2float` with `binmode='gray'`), whose
/// protocol sets `s` from 5000 samples of the data set with `fit`.
///
/// Any even `dim` from 4 to 2048 works. Beyond `b = 53` magnitude bits, `⌊|x| · s⌋` is a double
/// with at most 53 significant bits, so the code's low bits are those of that double (mostly
/// zeros), exactly as in the public code, whose arbitrary-precision `int(|x| · s)` takes the
/// same double; RMwGGIS's high-dimensional 2spirals runs (d = 256) use this code.
class GrayCodeEncoder {
 public:
  /// @brief An encoder for `dim`-bit codes with magnitude scale `int_scale`.
  /// @param dim the code length: even, at least 4 and at most 2048 (so `2^b` is a finite double)
  /// @param int_scale the factor `s` applied to `|x|` before truncation; positive and finite
  /// @throws std::invalid_argument naming `dim` or `int_scale` when out of range
  GrayCodeEncoder(Index dim, double int_scale) : dim_(dim), int_scale_(int_scale) {
    constexpr std::string_view where = "ratiomatch::GrayCodeEncoder::GrayCodeEncoder";
    if (dim < 4 || dim % 2 != 0 || dim > max_dim)
      throw std::invalid_argument(
          detail::message(where, "dim (", dim, ") must be even, at least 4 and at most ", max_dim));
    if (!(int_scale > 0.0) || !std::isfinite(int_scale))
      throw std::invalid_argument(detail::message(where, "int_scale (", int_scale, ") must be positive and finite"));
  }

  /// @brief The protocol's encoder for a data set: `f_scale = max |x| + 1` over every
  /// coordinate of `samples`, `int_scale = 2^(dim/2 − 1) / (f_scale + 1)`, so every sample
  /// (and anything within 1 of the data's range) codes without clamping.
  /// @param dim the code length (see the constructor)
  /// @param samples points of the data set (the protocol uses 5000)
  /// @throws std::invalid_argument if `samples` is empty or `dim` is invalid
  /// @throws NumericalError if a sample is not finite
  static GrayCodeEncoder fit(Index dim, const Points2d& samples) {
    constexpr std::string_view where = "ratiomatch::GrayCodeEncoder::fit";
    if (samples.rows() == 0)
      throw std::invalid_argument(detail::message(where, "samples.rows() (0) must be positive: no samples"));
    check_finite(where, "samples", samples);
    const double f_scale = samples.cwiseAbs().maxCoeff() + 1.0;
    GrayCodeEncoder probe(dim, 1.0);  // validates dim before the power is taken
    return GrayCodeEncoder(dim, std::ldexp(1.0, static_cast<int>(probe.bits())) / (f_scale + 1.0));
  }

  /// @brief The code length `d` (bits per point).
  Index dim() const { return dim_; }
  /// @brief The magnitude scale `s`.
  double int_scale() const { return int_scale_; }
  /// @brief The number of magnitude bits per coordinate, `b = dim/2 − 1`.
  Index bits() const { return dim_ / 2 - 1; }

  /// @brief Encodes each point (row) of `points` as a row of `dim()` bits (see the class).
  /// @tparam S the scalar type of the binary batch
  /// @return an `n × dim()` batch with entries exactly 0 or 1
  /// @throws NumericalError if a coordinate is not finite
  template <class S = float>
  Matrix<S> encode(const Points2d& points) const {
    check_finite("ratiomatch::GrayCodeEncoder::encode", "points", points);
    const Index b = bits(), half = dim_ / 2;
    const double two_to_b = std::ldexp(1.0, static_cast<int>(b));
    Matrix<S> X(points.rows(), dim_);
    for (Index r = 0; r < points.rows(); ++r)
      for (Index c = 0; c < 2; ++c) {
        const double x = points(r, c);
        const double t = std::trunc(std::abs(x) * int_scale_);
        const Index offset = c * half;
        X(r, offset) = x < 0.0 ? S(1) : S(0);
        // Gray bit k (from the least significant) is binary bit k XOR binary bit k + 1; the
        // clamped value 2^b − 1 (all ones) has the Gray code 1 0 … 0.
        const bool clamped = t >= two_to_b;  // also |x| · s = ∞
        const BinaryDigits digits(clamped ? 0.0 : t);
        int higher = 0;  // binary bit k + 1, 0 above the top bit
        for (Index k = b - 1; k >= 0; --k) {
          const int bit = clamped ? 1 : digits(k);
          X(r, offset + b - k) = static_cast<S>(bit ^ higher);
          higher = bit;
        }
      }
    return X;
  }

  /// @brief Decodes each row of `dim()` bits into a point: `x = ±v / s` (see the class).
  /// @tparam Derived any Eigen matrix expression, e.g. `Matrix<S>` (S float or double)
  /// @param X an `n × dim()` batch with entries exactly 0 or 1
  /// @throws std::invalid_argument if `X.cols() != dim()` or an entry is not 0 or 1
  template <class Derived>
  Points2d decode(const Eigen::MatrixBase<Derived>& X) const {
    using S = typename Derived::Scalar;
    constexpr std::string_view where = "ratiomatch::GrayCodeEncoder::decode";
    check_size_match(where, "X.cols()", X.cols(), "dim()", dim_);
    check_binary(where, X);
    const Index b = bits(), half = dim_ / 2;
    Points2d P(X.rows(), 2);
    std::vector<unsigned char> binary(static_cast<std::size_t>(b));  // most significant first
    for (Index r = 0; r < X.rows(); ++r)
      for (Index c = 0; c < 2; ++c) {
        const Index offset = c * half;
        unsigned char bit = 0;  // Gray → binary: each binary bit is the XOR of the Gray bits above it
        for (Index k = 0; k < b; ++k) binary[static_cast<std::size_t>(k)] = bit ^= (X(r, offset + 1 + k) == S(1) ? 1 : 0);
        const double magnitude = assemble(binary) / int_scale_;
        P(r, c) = X(r, offset) == S(1) ? -magnitude : magnitude;
      }
    return P;
  }

 private:
  static constexpr Index max_dim = 2048;

  /// The binary digits of a non-negative integer-valued double `t = m · 2^shift`, with `m`
  /// its significand as a 64-bit integer, so digits above bit 63 are read without overflow.
  class BinaryDigits {
   public:
    explicit BinaryDigits(double t) {
      if (t == 0.0) return;
      int exponent = 0;
      const double fraction = std::frexp(t, &exponent);  // t = fraction · 2^exponent, fraction ∈ [0.5, 1)
      significand_ = static_cast<std::uint64_t>(std::ldexp(fraction, 64));
      shift_ = exponent - 64;
    }
    int operator()(Index k) const {
      const Index position = k - shift_;
      return position >= 0 && position < 64 ? static_cast<int>((significand_ >> position) & 1u) : 0;
    }

   private:
    std::uint64_t significand_ = 0;
    Index shift_ = 0;
  };

  /// The value of binary digits (most significant first) as a double: the top 64 digits from
  /// the highest set one are gathered exactly, then rounded once.
  static double assemble(const std::vector<unsigned char>& binary) {
    const auto n = static_cast<Index>(binary.size());
    Index top = 0;
    while (top < n && binary[static_cast<std::size_t>(top)] == 0) ++top;
    const Index end = std::min(n, top + 64);
    std::uint64_t window = 0;
    for (Index k = top; k < end; ++k) window = (window << 1) | binary[static_cast<std::size_t>(k)];
    return std::ldexp(static_cast<double>(window), static_cast<int>(n - end));
  }

  Index dim_;
  double int_scale_;
};

}  // namespace ratiomatch
