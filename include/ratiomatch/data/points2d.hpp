#pragma once
/// @file
/// @brief The type of a set of points in the plane: the output of the 2-D toy
/// distributions and the input of the Gray-code encoder.

#include <Eigen/Core>

namespace ratiomatch {

/// @brief `n × 2` matrix of points in the plane, one point `(x, y)` per row.
using Points2d = Eigen::Matrix<double, Eigen::Dynamic, 2>;

}  // namespace ratiomatch
