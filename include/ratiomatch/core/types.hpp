#pragma once
/// @file
/// @brief Scalar, matrix and vector aliases used throughout ratiomatch.

#include <Eigen/Core>

namespace ratiomatch {

/// @brief Dense column-major matrix; a batch has one sample per row (n × d).
template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

/// @brief Dense column vector.
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

/// @brief Dense row-major matrix (the layout of stored weight matrices).
template <class S>
using RowMajorMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// @brief Index type of every size and position (Eigen's signed index).
using Index = Eigen::Index;

/// @brief A column of indices (rows or bits of a batch).
using IndexVector = Eigen::Matrix<Index, Eigen::Dynamic, 1>;

}  // namespace ratiomatch
