#pragma once
/// @file
/// @brief `SlicedScoreMatching`: score matching along random projections (Song et al. 2019).

#include <random>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/continuous_concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Sliced score matching (Song, Garg, Shi and Ermon 2019, eq. 7) with Rademacher
/// projections `u ∈ {−1, +1}^d`, `M = num_projections` per row:
///
///     J(θ) = (1/(nM)) Σ_r Σ_k [ ½ (u_rkᵀ ∇_v F(v_r))² − u_rkᵀ ∇²_v F(v_r) u_rk ].
///
/// With `E[uuᵀ] = I` its expectation over the projections is exact score matching's
/// objective, loss and gradient; it needs Hessian–vector products only, never the whole
/// Laplacian. Gradient: the mixed gradient with `D_r = (u_rᵀ∇_v F(v_r)) u_r / (nM)` minus
/// `(1/(nM)) Σ ∇_θ (uᵀ∇²_v F u)` (the model's Hessian-quadratic gradient).
///
/// Randomness: `fill_rademacher(u, rng)` (column by column), projection after projection. Units: nats per unit² of `v`.
/// Holds no state.
class SlicedScoreMatching {
 public:
  /// @throws std::invalid_argument unless `num_projections` is positive
  explicit SlicedScoreMatching(Index num_projections = 1) : num_projections_(num_projections) {
    check_positive("ratiomatch::SlicedScoreMatching::SlicedScoreMatching", "num_projections", num_projections);
  }

  Index num_projections() const { return num_projections_; }

  /// @brief Batch-mean loss at fresh projections; writes its gradient into `grad`.
  /// @throws std::invalid_argument on an empty batch or a wrong width
  /// @throws NumericalError on a non-finite entry, loss or gradient
  template <ContinuousEnergyModel M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& V, Rng& rng,
                                       Vector<typename M::Scalar>& grad) const {
    return run("ratiomatch::SlicedScoreMatching::loss_and_gradient", model, V, rng, &grad);
  }

  /// @brief Batch-mean loss at fresh projections (the same draws as `loss_and_gradient`).
  template <ContinuousEnergyModel M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& V, Rng& rng) const {
    return run("ratiomatch::SlicedScoreMatching::loss", model, V, rng, nullptr);
  }

 private:
  template <class M, class Rng>
  typename M::Scalar run(std::string_view where, const M& model, const Matrix<typename M::Scalar>& V, Rng& rng,
                         Vector<typename M::Scalar>* grad) const {
    using S = typename M::Scalar;
    check_real_batch(where, V, model.dim());
    Matrix<S> G, U(V.rows(), V.cols());
    Vector<S> projected, quadratic;
    model.input_gradient(V, G);
    const double count = static_cast<double>(V.rows() * num_projections_);
    const S inv_count = static_cast<S>(1.0 / count);
    double total = 0;
    if (grad != nullptr) grad->setZero(model.num_params());
    for (Index k = 0; k < num_projections_; ++k) {
      fill_rademacher(U, rng);
      projected = (U.array() * G.array()).rowwise().sum();  // uᵀ∇F
      model.hessian_quadratic(V, U, quadratic);
      total += 0.5 * projected.template cast<double>().squaredNorm() - quadratic.template cast<double>().sum();
      if (grad == nullptr) continue;
      model.accumulate_mixed_gradient(V, (U.array().colwise() * (projected.array() * inv_count)).matrix(), *grad);
      model.accumulate_hessian_quadratic_gradient(V, U, Vector<S>::Constant(V.rows(), -inv_count), *grad);
    }
    const S loss = static_cast<S>(total / count);
    check_finite(where, "loss", loss);
    if (grad != nullptr) check_finite(where, "gradient", *grad);
    return loss;
  }

  Index num_projections_;
};

}  // namespace ratiomatch
