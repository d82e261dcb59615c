#pragma once
/// @file
/// @brief Error types. Bad arguments are `std::invalid_argument`; numerical
/// failures (a non-finite energy, loss or gradient) are `NumericalError`.

#include <stdexcept>
#include <string>

namespace ratiomatch {

/// @brief A computation produced a non-finite value (overflow, NaN).
///
/// Derived from `std::runtime_error`; the message names the function and the
/// quantity, e.g. `ratiomatch::RatioMatching::loss_and_gradient: loss is not finite (inf)`.
class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace ratiomatch

/// @brief Debug-only invariant for hot loops (compiled out under NDEBUG).
#ifndef RATIOMATCH_ASSERT
#include <cassert>
#define RATIOMATCH_ASSERT(cond) assert(cond)
#endif
