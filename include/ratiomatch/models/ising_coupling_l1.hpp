#pragma once
/// @file
/// @brief `IsingCouplingL1`: the L1 penalty on the couplings of an `IsingModel`, for `Penalized`.

#include <cmath>
#include <stdexcept>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/models/ising_model.hpp"

namespace ratiomatch {

/// @brief L1 penalty on the couplings of an `IsingModel`: `R(J) = λ Σ_{i≠j} |J_ij|` over all
/// off-diagonal entries of `J` (both triangles, each its own parameter; the diagonal, which
/// carries no energy, is excluded, and so is the bias).
///
/// Subgradient: `∂R/∂J_ij = λ sign(J_ij)` for `i ≠ j` (0 where `J_ij = 0`), 0 on the diagonal
/// and the bias. In the flat gradient (the order of `params()`: `J` row-major, `d²` entries,
/// then `b`) entry `i·d + j` receives `λ sign(J_ij)`.
///
/// Aggregate: `IsingCouplingL1{0.01}` or `IsingCouplingL1{.lambda = 0.01}`.
struct IsingCouplingL1 {
  double lambda = 0;  ///< the penalty weight `λ` (finite, ≥ 0)

  /// @brief `λ Σ_{i≠j} |J_ij|`, summed in double.
  /// @throws std::invalid_argument unless `lambda` is finite and non-negative
  template <class S>
  double value(const IsingModel<S>& model) const {
    check_lambda("ratiomatch::IsingCouplingL1::value");
    const auto J = model.coupling();
    const Index d = model.dim();
    double total = 0;
    for (Index i = 0; i < d; ++i)
      for (Index j = 0; j < d; ++j)
        if (i != j) total += std::abs(static_cast<double>(J(i, j)));
    return lambda * total;
  }

  /// @brief Returns `λ Σ_{i≠j} |J_ij|` and adds `λ sign(J_ij)` to `grad(i·d + j)` for every `i ≠ j`.
  /// @param grad a gradient of length `model.num_params()`; diagonal and bias entries are left as they were
  /// @throws std::invalid_argument unless `lambda` is finite and non-negative, or if
  ///   `grad.size() != model.num_params()`
  template <class S>
  double add_value_and_gradient(const IsingModel<S>& model, Vector<S>& grad) const {
    constexpr std::string_view where = "ratiomatch::IsingCouplingL1::add_value_and_gradient";
    check_lambda(where);
    check_size_match(where, "grad.size()", grad.size(), "model.num_params()", model.num_params());
    const auto J = model.coupling();
    const Index d = model.dim();
    const S step = static_cast<S>(lambda);
    double total = 0;
    for (Index i = 0; i < d; ++i)
      for (Index j = 0; j < d; ++j) {
        if (i == j) continue;
        const S a = J(i, j);
        total += std::abs(static_cast<double>(a));
        if (a > S(0))
          grad(i * d + j) += step;
        else if (a < S(0))
          grad(i * d + j) -= step;
      }
    return lambda * total;
  }

 private:
  void check_lambda(std::string_view where) const {
    if (!(lambda >= 0) || !std::isfinite(lambda))
      throw std::invalid_argument(detail::message(where, "lambda (", lambda, ") must be finite and non-negative"));
  }
};

}  // namespace ratiomatch
