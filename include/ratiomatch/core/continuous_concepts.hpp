#pragma once
/// @file
/// @brief What the score matching family needs of an energy model over real-valued rows.

#include <concepts>
#include <string>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief An energy model over `v ∈ ℝ^d`, `p(v) ∝ exp(−F(v))`, with what every score matching
/// estimator needs. With `V` a real `n × d` batch, `D`, `U` real `n × d`, `c` a length-`n`
/// vector and `g` a length-`num_params()` vector:
/// - `m.dim()`, `m.num_params()`, `m.params()` as for `EnergyModel`;
/// - `m.energy(V, e)`: `e(r) = F(v_r)`, in nats;
/// - `m.input_gradient(V, G)`: `G.row(r) = ∇_v F(v_r)` (minus the model's score);
/// - `m.accumulate_param_gradient(V, c, g)`: `g += Σ_r c_r ∇_θ F(v_r)`;
/// - `m.accumulate_mixed_gradient(V, D, g)`: `g += ∇_θ Σ_r D_rᵀ ∇_v F(v_r)` (denoising and
///   sliced score matching's gradient);
/// - `m.hessian_quadratic(V, U, q)`: `q(r) = U_rᵀ ∇²_v F(v_r) U_r`, and
///   `m.accumulate_hessian_quadratic_gradient(V, U, c, g)`: `g += Σ_r c_r ∇_θ q(r)` (sliced
///   score matching).
template <class M>
concept ContinuousEnergyModel =
    ContinuousVisible<M> && requires { typename M::Scalar; } &&
    requires(M& m, const M& cm, const Matrix<typename M::Scalar>& V, Vector<typename M::Scalar>& e,
             Matrix<typename M::Scalar>& G, const Vector<typename M::Scalar>& c, Vector<typename M::Scalar>& g) {
      { cm.dim() } -> std::convertible_to<Index>;
      { cm.num_params() } -> std::convertible_to<Index>;
      { m.params() } -> std::convertible_to<Eigen::Ref<Vector<typename M::Scalar>>>;
      cm.energy(V, e);
      cm.input_gradient(V, G);
      cm.accumulate_param_gradient(V, c, g);
      cm.accumulate_mixed_gradient(V, V, g);
      cm.hessian_quadratic(V, V, e);
      cm.accumulate_hessian_quadratic_gradient(V, V, c, g);
    };

/// @brief Optional: the Laplacian `Δ_v F(v) = tr ∇²_v F(v)` in closed form and its parameter
/// gradient, which exact score matching needs: `m.laplacian(V, l)` (`l(r) = Δ_v F(v_r)`) and
/// `m.accumulate_laplacian_gradient(V, c, g)` (`g += Σ_r c_r ∇_θ Δ_v F(v_r)`).
template <class M>
concept HasLaplacian = ContinuousEnergyModel<M> &&
                       requires(const M& cm, const Matrix<typename M::Scalar>& V, Vector<typename M::Scalar>& l,
                                const Vector<typename M::Scalar>& c, Vector<typename M::Scalar>& g) {
                         cm.laplacian(V, l);
                         cm.accumulate_laplacian_gradient(V, c, g);
                       };

/// @brief The checks every entry point taking real-valued rows runs: non-empty, `dim`
/// columns, finite entries.
/// @throws std::invalid_argument on an empty batch or a wrong width
/// @throws NumericalError naming the first entry that is not finite
template <class Derived>
void check_real_batch(std::string_view where, const Eigen::MatrixBase<Derived>& V, Index dim,
                      std::string_view name = "V") {
  check_nonempty(where, V, name);
  check_size_match(where, std::string(name) + ".cols()", V.cols(), "model.dim()", dim);
  check_finite(where, name, V);
}

/// @brief `check_real_batch` of a second batch `U` that must have the shape of `V`.
template <class DV, class DU>
void check_same_shape(std::string_view where, const Eigen::MatrixBase<DV>& V, const Eigen::MatrixBase<DU>& U,
                      std::string_view name = "U") {
  check_size_match(where, std::string(name) + ".rows()", U.rows(), "V.rows()", V.rows());
  check_size_match(where, std::string(name) + ".cols()", U.cols(), "V.cols()", V.cols());
  check_finite(where, name, U);
}

}  // namespace ratiomatch
