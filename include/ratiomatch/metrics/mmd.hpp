#pragma once
/// @file
/// @brief `mmd_squared`: the unbiased squared maximum mean discrepancy between two sets of
/// binary samples, with a Hamming-distance kernel chosen as a policy.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief The kernel of the RMwGGIS paper: `k(x, y) = d − H(x, y)`, with `H` the Hamming distance.
///
/// `d − H(x, y) = Σ_i [x_i y_i + (1 − x_i)(1 − y_i)] = φ(x)·φ(y)` with the feature map
/// `φ(x) = [x, 1 − x] ∈ {0,1}^{2d}`: a linear kernel, so MMD² with it is the squared distance of
/// the feature means, `‖μ_P − μ_Q‖² = 2 Σ_i (P(x_i = 1) − Q(x_i = 1))²`; it compares the
/// one-bit marginals only.
struct HammingKernel {
  /// @brief `k` as a function of the Hamming distance `hamming` in dimension `dim`.
  static double value(double hamming, Index dim) { return static_cast<double>(dim) - hamming; }
  /// @brief Replaces each Hamming distance in `H` by its kernel value, in place.
  static void apply(Eigen::Ref<Eigen::MatrixXd> H, Index dim) { H.array() = static_cast<double>(dim) - H.array(); }
};

/// @brief The exponential Hamming kernel `k(x, y) = exp(−H(x, y) / d)`.
///
/// A product of per-bit kernels, `Π_i exp(−|x_i − y_i| / d)`; characteristic on `{0,1}^d`
/// (it sees all interactions, not only the marginals). Values in `[exp(−1), 1]`.
struct ExpHammingKernel {
  /// @brief `k` as a function of the Hamming distance `hamming` in dimension `dim`.
  static double value(double hamming, Index dim) { return std::exp(-hamming / static_cast<double>(dim)); }
  /// @brief Replaces each Hamming distance in `H` by its kernel value, in place.
  static void apply(Eigen::Ref<Eigen::MatrixXd> H, Index dim) {
    H.array() = (H.array() * (-1.0 / static_cast<double>(dim))).exp();
  }
};

/// @brief A kernel policy for `mmd_squared`: a function of the Hamming distance and the dimension,
/// as a scalar `K::value(h, d)` and in place over a block of distances `K::apply(H, d)`.
template <class K>
concept HammingDistanceKernel = requires(double h, Index d, Eigen::MatrixXd& H) {
  { K::value(h, d) } -> std::convertible_to<double>;
  K::apply(H, d);
};

namespace detail {

/// Rows per block of the kernel matrix: at most `mmd_block_rows²` kernel values are held at once.
inline constexpr Index mmd_block_rows = 1024;

/// Workspaces of the blocked kernel sums, sized once per call.
struct MmdWorkspace {
  Eigen::MatrixXd A, B, H;
  Eigen::VectorXd a, b;
};

/// Copies rows [first, first + count) of `X` into `A` (as doubles) and their bit counts into `a`.
template <class S>
void mmd_load_rows(const Matrix<S>& X, Index first, Index count, Eigen::MatrixXd& A, Eigen::VectorXd& a) {
  A.topRows(count) = X.middleRows(first, count).template cast<double>();
  a.head(count) = A.topRows(count).rowwise().sum();
}

/// `Σ_{r, c} k(X_r, Y_c)` (when `same`, `Y` is `X` and the diagonal `r = c` is left out),
/// in blocks: the Hamming distances of a block are `|x| 1ᵀ + 1 |y|ᵀ − 2 X Yᵀ`, exact in double.
/// With `same`, only blocks on and above the diagonal are formed and the others counted twice.
template <class Kernel, class S>
double kernel_sum(const Matrix<S>& X, const Matrix<S>& Y, bool same, MmdWorkspace& ws) {
  const Index m = X.rows(), n = Y.rows(), d = X.cols();
  const Index block = mmd_block_rows;
  ws.A.resize(std::min(m, block), d);
  ws.a.resize(ws.A.rows());
  ws.B.resize(std::min(n, block), d);
  ws.b.resize(ws.B.rows());
  ws.H.resize(ws.A.rows(), ws.B.rows());
  double total = 0.0;
  for (Index r0 = 0; r0 < m; r0 += block) {
    const Index rows = std::min(block, m - r0);
    mmd_load_rows(X, r0, rows, ws.A, ws.a);
    for (Index c0 = same ? r0 : 0; c0 < n; c0 += block) {
      const Index cols = std::min(block, n - c0);
      mmd_load_rows(Y, c0, cols, ws.B, ws.b);
      Eigen::Ref<Eigen::MatrixXd> H = ws.H.topLeftCorner(rows, cols);
      H.noalias() = -2.0 * ws.A.topRows(rows) * ws.B.topRows(cols).transpose();
      H.colwise() += ws.a.head(rows);
      H.rowwise() += ws.b.head(cols).transpose();
      Kernel::apply(H, d);
      if (same && c0 == r0) H.diagonal().setZero();
      total += (same && c0 != r0 ? 2.0 : 1.0) * H.sum();
    }
  }
  return total;
}

}  // namespace detail

/// @brief Unbiased squared maximum mean discrepancy between the samples `X` (m × d) and `Y` (n × d).
///
/// The U-statistic (Gretton et al. 2012, eq. 3), diagonal terms excluded:
///
///     MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i, y_j) − 2/(mn) Σ_{i,j} k(x_i, y_j)
///
/// Its expectation is the population `MMD²(P, Q) = ‖μ_P − μ_Q‖²_H`, exactly; being unbiased it
/// can be negative when `P = Q`. Hamming distances come from matrix products,
/// `H(x, y) = |x| + |y| − 2 x·y`, over blocks of at most 1024 × 1024 pairs (memory independent
/// of m·n); sums accumulate in double. Cost O((m² + n² + mn) d).
///
/// The numbers published by the RMwGGIS paper (Liu et al. 2023) under the name "MMD" are this
/// quantity, MMD², with `HammingKernel` (not its square root): compare them with `mmd_squared`.
/// @tparam Kernel `HammingKernel` (default; `k = d − H`) or `ExpHammingKernel` (`k = exp(−H/d)`)
/// @tparam S `float` or `double`
/// @param X samples of P, one per row, entries exactly 0 or 1
/// @param Y samples of Q, same width as `X`
/// @return MMD²_u, in the kernel's units (with `HammingKernel`, scale O(d))
/// @throws std::invalid_argument if either set has fewer than 2 rows, the widths differ or are 0,
///   or an entry is not 0 or 1
template <class Kernel = HammingKernel, class S>
double mmd_squared(const Matrix<S>& X, const Matrix<S>& Y) {
  static_assert(HammingDistanceKernel<Kernel>,
                "mmd_squared needs a kernel policy with static value(h, d) and apply(H, d): see HammingKernel");
  constexpr std::string_view where = "ratiomatch::mmd_squared";
  if (X.rows() < 2)
    throw std::invalid_argument(detail::message(where, "X.rows() (", X.rows(), ") must be at least 2"));
  if (Y.rows() < 2)
    throw std::invalid_argument(detail::message(where, "Y.rows() (", Y.rows(), ") must be at least 2"));
  check_size_match(where, "Y.cols()", Y.cols(), "X.cols()", X.cols());
  check_positive(where, "X.cols()", X.cols());
  check_binary(where, X, "X");
  check_binary(where, Y, "Y");

  const double m = static_cast<double>(X.rows()), n = static_cast<double>(Y.rows());
  detail::MmdWorkspace ws;
  const double kxx = detail::kernel_sum<Kernel>(X, X, true, ws);
  const double kyy = detail::kernel_sum<Kernel>(Y, Y, true, ws);
  const double kxy = detail::kernel_sum<Kernel>(X, Y, false, ws);
  return kxx / (m * (m - 1.0)) + kyy / (n * (n - 1.0)) - 2.0 * kxy / (m * n);
}

}  // namespace ratiomatch
