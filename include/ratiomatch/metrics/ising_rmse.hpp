#pragma once
/// @file
/// @brief `coupling_rmse`: root-mean-square error between a true and a learned Ising coupling matrix.

#include <cmath>
#include <string_view>
#include <type_traits>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

namespace detail {

template <class DerivedA, class DerivedB>
double coupling_rmse(const Eigen::MatrixBase<DerivedA>& J_true, const Eigen::MatrixBase<DerivedB>& J_learned) {
  constexpr std::string_view where = "ratiomatch::coupling_rmse";
  check_positive(where, "J_true.rows()", J_true.rows());
  check_size_match(where, "J_true.cols()", J_true.cols(), "J_true.rows()", J_true.rows());
  check_size_match(where, "J_learned.rows()", J_learned.rows(), "J_true.rows()", J_true.rows());
  check_size_match(where, "J_learned.cols()", J_learned.cols(), "J_true.cols()", J_true.cols());
  const double squared = (J_true.template cast<double>() - J_learned.template cast<double>()).squaredNorm();
  return std::sqrt(squared / static_cast<double>(J_true.size()));
}

}  // namespace detail

/// @brief `RMSE(J, Ĵ) = sqrt( (1/D²) Σ_{i,j} (J_ij − Ĵ_ij)² )` over all `D²` entries, diagonal included.
///
/// The metric of the Ising experiments (RMwGGIS, after Grathwohl et al. 2021). The entries are
/// compared as stored: `IsingModel::coupling()` of a learned model holds `J` with each
/// off-diagonal entry its own parameter, so a learned `J` need not be symmetric; symmetrise it
/// first (`(Ĵ + Ĵᵀ)/2`, the same energy) when comparing with a symmetric ground truth.
/// Accumulates in double.
/// @tparam S `float` or `double`
/// @param J_true, J_learned `D × D` matrices
/// @throws std::invalid_argument if `J_true` is empty or not square, or the shapes differ
template <class S>
double coupling_rmse(const Eigen::Ref<const RowMajorMatrix<S>>& J_true,
                     const Eigen::Ref<const RowMajorMatrix<S>>& J_learned) {
  return detail::coupling_rmse(J_true, J_learned);
}

/// @brief `coupling_rmse` for any two Eigen matrices (e.g. `J_true` and `model.coupling()`),
/// deducing their scalars, which may differ (the error is computed in double).
/// @throws std::invalid_argument if `J_true` is empty or not square, or the shapes differ
// Expression types constrained left to right rather than `MatrixBase<Derived>` parameters: Clang
// would instantiate (and reject) `MatrixBase<double>` for a call `coupling_rmse<double>(...)`.
template <class DerivedA, class DerivedB>
  requires(!std::is_arithmetic_v<DerivedA> && std::is_base_of_v<Eigen::MatrixBase<DerivedA>, DerivedA> &&
           std::is_base_of_v<Eigen::MatrixBase<DerivedB>, DerivedB>)
double coupling_rmse(const DerivedA& J_true, const DerivedB& J_learned) {
  return detail::coupling_rmse(J_true, J_learned);
}

}  // namespace ratiomatch
