#pragma once
/// @file
/// @brief The input checks run once at every public entry point. Every message
/// has one shape: `ratiomatch::<Type>::<function>: <what> (<value>) <requirement>`.

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

namespace detail {

/// Joins the pieces of a message into one string (streams: libstdc++ 12 has no std::format).
template <class... Parts>
std::string message(std::string_view where, const Parts&... parts) {
  std::ostringstream out;
  out.precision(9);
  out << where << ": ";
  (out << ... << parts);
  return out.str();
}

}  // namespace detail

/// @brief Throws `std::invalid_argument` unless every entry of `X` is exactly 0 or 1.
/// @param where the qualified name of the calling function, e.g. `ratiomatch::MlpEnergy::energy`
/// @throws std::invalid_argument naming the first offending row, column and value
template <class Derived>
void check_binary(std::string_view where, const Eigen::MatrixBase<Derived>& X, std::string_view name = "X") {
  using S = typename Derived::Scalar;
  // Vectorised test first: Σ|x(x−1)| is 0 exactly when every entry is 0 or 1 (NaN and ±inf
  // fail it); the branchy scan below only runs to name the offending entry.
  if ((X.array() * (X.array() - S(1))).abs().sum() == S(0)) return;
  for (Index j = 0; j < X.cols(); ++j)
    for (Index i = 0; i < X.rows(); ++i) {
      const S v = X(i, j);
      if (v != S(0) && v != S(1))
        throw std::invalid_argument(detail::message(where, name, "(", i, ", ", j, ") = ", v,
                                                    " is not binary (entries must be exactly 0 or 1)"));
    }
}

/// @brief Throws `std::invalid_argument` unless `actual == expected`.
inline void check_size_match(std::string_view where, std::string_view actual_name, Index actual,
                             std::string_view expected_name, Index expected) {
  if (actual != expected)
    throw std::invalid_argument(
        detail::message(where, actual_name, " (", actual, ") must equal ", expected_name, " (", expected, ")"));
}

/// @brief Throws `std::invalid_argument` unless `value > 0`.
template <class T>
void check_positive(std::string_view where, std::string_view name, T value) {
  if (!(value > T(0))) throw std::invalid_argument(detail::message(where, name, " (", value, ") must be positive"));
}

/// @brief Throws `std::invalid_argument` unless the batch has at least one row.
template <class Derived>
void check_nonempty(std::string_view where, const Eigen::MatrixBase<Derived>& X, std::string_view name = "X") {
  if (X.rows() == 0)
    throw std::invalid_argument(detail::message(where, name, ".rows() (0) must be positive: the batch is empty"));
}

/// @brief The checks every batch entry point runs: non-empty, `dim` columns, binary entries.
template <class Derived>
void check_batch(std::string_view where, const Eigen::MatrixBase<Derived>& X, Index dim) {
  check_nonempty(where, X);
  check_size_match(where, "X.cols()", X.cols(), "model.dim()", dim);
  check_binary(where, X);
}

/// @brief The checks of a list of single-bit flips `(rows(t), bits(t))` of an `n × d` batch:
/// equal lengths, every row in `[0, n)`, every bit in `[0, d)`.
/// @throws std::invalid_argument naming the first offending flip
inline void check_flip_list(std::string_view where, Index n, Index d, const IndexVector& rows, const IndexVector& bits) {
  check_size_match(where, "bits.size()", bits.size(), "rows.size()", rows.size());
  for (Index t = 0; t < rows.size(); ++t) {
    if (rows(t) < 0 || rows(t) >= n)
      throw std::invalid_argument(detail::message(where, "rows(", t, ") (", rows(t), ") is outside [0, ", n, ")"));
    if (bits(t) < 0 || bits(t) >= d)
      throw std::invalid_argument(detail::message(where, "bits(", t, ") (", bits(t), ") is outside [0, ", d, ")"));
  }
}

/// @brief Throws `NumericalError` unless the scalar `value` is finite.
template <class T>
  requires std::is_arithmetic_v<T>
void check_finite(std::string_view where, std::string_view name, T value) {
  if (!std::isfinite(static_cast<double>(value)))
    throw NumericalError(detail::message(where, name, " is not finite (", value, ")"));
}

/// @brief Whether every entry of `A` is finite. `Σ 0·a` is 0 exactly when every `a` is finite
/// (`0·±∞` and `0·NaN` are NaN), and a sum is vectorised where Eigen's `allFinite` is a scalar
/// loop: this check runs on every gradient and parameter vector of every training step.
template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& A) {
  using Scalar = typename Derived::Scalar;
  if constexpr (std::is_floating_point_v<Scalar>)
    return std::isfinite((A.derived().array() * Scalar(0)).sum());
  else
    return A.allFinite();
}

/// @brief Throws `NumericalError` unless every entry of `A` is finite; names the first bad entry.
template <class Derived>
void check_finite(std::string_view where, std::string_view name, const Eigen::MatrixBase<Derived>& A) {
  if (all_finite(A)) return;
  for (Index j = 0; j < A.cols(); ++j)
    for (Index i = 0; i < A.rows(); ++i)
      if (!std::isfinite(static_cast<double>(A(i, j))))
        throw NumericalError(detail::message(where, name, "(", i, A.cols() == 1 ? "" : ", ",
                                             A.cols() == 1 ? std::string() : std::to_string(j), ") is not finite (",
                                             A(i, j), ")"));
}

}  // namespace ratiomatch
