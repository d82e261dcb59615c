#pragma once
/// @file
/// @brief `UniformSampledRM`: ratio matching estimated from s uniformly drawn flips.

#include <cmath>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/workspace_cache.hpp"
#include "ratiomatch/estimators/flip_objective.hpp"
#include "ratiomatch/estimators/ratio_objective.hpp"

namespace ratiomatch {

/// @brief Uniformly sampled ratio matching: `(d/s) Σ_{t=1..s} f(ΔE_{i_t})`,
/// `i_t ~ Uniform{1..d}` with replacement — unbiased for the exact objective, and so is its
/// gradient `(1/n) Σ_r (d/s) Σ_t f'(ΔE_{i_t}) (∇_θE(x_{−i_t}) − ∇_θE(x))`.
/// Cost: s flipped energies per sample. Holds reusable workspaces: not for concurrent use.
/// @tparam Objective the ratio objective (default `SquaredRatio`)
template <RatioObjective Objective = SquaredRatio>
class UniformSampledRM {
 public:
  using objective_type = Objective;
  static constexpr double temperature = Objective::temperature;

  /// @param s flips drawn per sample
  /// @throws std::invalid_argument if `s <= 0`
  explicit UniformSampledRM(Index s) : s_(s) { check_positive("ratiomatch::UniformSampledRM::UniformSampledRM", "s", s); }

  Index flips() const { return s_; }

  /// @brief Batch-mean loss; writes its gradient into `grad` (resized to `num_params()`).
  /// The same engine state gives bit-identical results.
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  /// @throws NumericalError if the loss or the gradient is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng,
                                       Vector<typename M::Scalar>& grad) const {
    static_assert(EnergyModel<M>, "UniformSampledRM needs an EnergyModel: see docs/model_requirements.md");
    return run(where_gradient, model, X, rng, &grad);
  }

  /// @brief Batch-mean loss only.
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng) const {
    static_assert(EnergyModel<M>, "UniformSampledRM needs an EnergyModel: see docs/model_requirements.md");
    return run(where_loss, model, X, rng, nullptr);
  }

 private:
  static constexpr std::string_view where_gradient = "ratiomatch::UniformSampledRM::loss_and_gradient";
  static constexpr std::string_view where_loss = "ratiomatch::UniformSampledRM::loss";

  template <class M, class Rng>
  typename M::Scalar run(std::string_view where, const M& model, const Matrix<typename M::Scalar>& X, Rng& rng,
                         Vector<typename M::Scalar>* grad) const {
    using S = typename M::Scalar;
    check_batch(where, X, model.dim());
    auto& ws = workspaces_.template get<detail::EstimatorWorkspace<M>>();
    ws.evaluation.bind(model, X);
    const Index n = X.rows(), d = X.cols();
    auto& flips = ws.flips;
    flips.rows.resize(n * s_);
    flips.bits.resize(n * s_);
    for (Index r = 0; r < n; ++r)
      for (Index t = 0; t < s_; ++t) {
        flips.rows(r * s_ + t) = r;
        flips.bits(r * s_ + t) = uniform_index(rng, d);
      }
    flips.log_weight.setConstant(n * s_, std::log(static_cast<S>(d) / static_cast<S>(s_)));
    if (grad != nullptr) return detail::flip_objective_loss_and_gradient<Objective>(where, ws, *grad);
    ws.evaluation.flip_deltas(flips.rows, flips.bits, ws.delta);
    return detail::flip_objective_loss<Objective>(where, ws);
  }

  Index s_;
  mutable detail::WorkspaceCache workspaces_;
};

}  // namespace ratiomatch
