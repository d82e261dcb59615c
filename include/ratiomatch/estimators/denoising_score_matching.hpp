#pragma once
/// @file
/// @brief `DenoisingScoreMatching`: Vincent's (2011) denoising score matching with Gaussian noise.

#include <cmath>
#include <random>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/continuous_concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Denoising score matching (Vincent 2011, eq. 7) with the Gaussian kernel
/// `q(ṽ | v) = N(v, σ² I)`, `σ = noise_std`:
///
///     ṽ_r = v_r + σ ε_r,  ε_r ~ N(0, I),
///     J(θ) = (1/n) Σ_r ½ ‖∇_v F(ṽ_r) − ε_r / σ‖²,
///
/// the squared distance between the model's score `−∇_v F(ṽ)` and the kernel's score
/// `∇_ṽ log q(ṽ | v) = −ε/σ`. Its minimiser is the data distribution convolved with the
/// kernel (bias O(σ²)); it needs no second derivative. Gradient:
/// `∇_θ J = ∇_θ Σ_r D_rᵀ ∇_v F(ṽ_r)` with `D_r = (∇_v F(ṽ_r) − ε_r/σ)/n` (the mixed gradient).
///
/// Randomness: `fill_standard_normal(noise, rng)` (column by column); the same engine state
/// gives the same loss and gradient. Units: nats per unit² of `v`. Holds no state.
class DenoisingScoreMatching {
 public:
  /// @throws std::invalid_argument unless `noise_std` is positive and finite
  explicit DenoisingScoreMatching(double noise_std) : noise_std_(noise_std) {
    if (!(noise_std > 0.0) || !std::isfinite(noise_std))
      throw std::invalid_argument(detail::message("ratiomatch::DenoisingScoreMatching::DenoisingScoreMatching",
                                                  "noise_std (", noise_std, ") must be positive and finite"));
  }

  double noise_std() const { return noise_std_; }

  /// @brief Batch-mean loss at fresh noise; writes its gradient into `grad`.
  /// @throws std::invalid_argument on an empty batch or a wrong width
  /// @throws NumericalError on a non-finite entry, loss or gradient
  template <ContinuousEnergyModel M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& V, Rng& rng,
                                       Vector<typename M::Scalar>& grad) const {
    return run("ratiomatch::DenoisingScoreMatching::loss_and_gradient", model, V, rng, &grad);
  }

  /// @brief Batch-mean loss at fresh noise (the same draws as `loss_and_gradient`).
  template <ContinuousEnergyModel M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& V, Rng& rng) const {
    return run("ratiomatch::DenoisingScoreMatching::loss", model, V, rng, nullptr);
  }

 private:
  template <class M, class Rng>
  typename M::Scalar run(std::string_view where, const M& model, const Matrix<typename M::Scalar>& V, Rng& rng,
                         Vector<typename M::Scalar>* grad) const {
    using S = typename M::Scalar;
    check_real_batch(where, V, model.dim());
    Matrix<S> noise(V.rows(), V.cols()), G;
    fill_standard_normal(noise, rng);
    const Matrix<S> noisy = V + static_cast<S>(noise_std_) * noise;
    model.input_gradient(noisy, G);
    G -= noise / static_cast<S>(noise_std_);  // the residual ∇F(ṽ) − ε/σ
    const double n = static_cast<double>(V.rows());
    const S loss = static_cast<S>(0.5 * G.template cast<double>().squaredNorm() / n);
    check_finite(where, "loss", loss);
    if (grad == nullptr) return loss;
    grad->setZero(model.num_params());
    G /= static_cast<S>(n);
    model.accumulate_mixed_gradient(noisy, G, *grad);
    check_finite(where, "gradient", *grad);
    return loss;
  }

  double noise_std_;
};

}  // namespace ratiomatch
