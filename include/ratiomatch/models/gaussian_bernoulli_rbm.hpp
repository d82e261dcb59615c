#pragma once
/// @file
/// @brief `GaussianBernoulliRBM`: a restricted Boltzmann machine with real-valued (Gaussian)
/// visible units and binary hidden units, learned by the score matching family.

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/continuous_concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/models/bernoulli_rbm.hpp"  // detail::softplus

namespace ratiomatch {

/// @brief Gaussian–Bernoulli RBM with `d` real visible and `m` binary hidden units.
///
/// Joint energy, with `σ_i = e^{s_i}` (the log standard deviations `s` are the parameters, as
/// in the BiSM reference code) and `v ∈ ℝ^d`, `h ∈ {0,1}^m`:
///
///     E(v, h) = ½ Σ_i (v_i − b_i)² e^{−2 s_i} − cᵀh − hᵀW v.
///
/// As an energy model its energy is the free energy, with `z = c + W v`,
///
///     F(v) = ½ Σ_i (v_i − b_i)² e^{−2 s_i} − Σ_j softplus(z_j),   p(v) ∝ exp(−F(v)).
///
/// With `π = σ(z)` (logistic), `π' = π(1 − π)`, `π'' = π'(1 − 2π)` and `λ_i = e^{−2 s_i}`:
/// - `∇_v F = λ ⊙ (v − b) − Wᵀπ`;
/// - `∇²_v F = diag(λ) − Wᵀ diag(π') W`, so `Δ_v F = Σ_i λ_i − Σ_j π'_j ‖W_j‖²` and
///   `uᵀ∇²_v F u = Σ_i λ_i u_i² − Σ_j π'_j (W_j·u)²`;
/// - `∂F/∂W_j = −π_j vᵀ`, `∂F/∂b = −λ ⊙ (v − b)`, `∂F/∂c = −π`, `∂F/∂s = −λ ⊙ (v − b)²`;
/// - conditionals `p(h_j = 1 | v) = σ(c_j + W_j·v)` and `p(v | h) = N(b + σ² ⊙ Wᵀh, diag σ²)`;
/// - `log Z = (d/2) log 2π + Σ_i s_i + log Σ_h exp(cᵀh + Σ_i (b_i a_i + ½ σ_i² a_i²))`,
///   `a = Wᵀh` (for each `h` the integral over `v` is Gaussian).
///
/// `params()` order: `W` (hidden × visible, row-major), `b` (visible), `c` (hidden), `s`
/// (visible). The model holds its parameters only (a const model can be shared by threads);
/// every member checks its batch (non-empty, `d` columns, finite: `check_real_batch`).
/// @tparam S `float` or `double`
template <class S>
class GaussianBernoulliRBM {
 public:
  using Scalar = S;
  /// Real-valued visible units: for the score matching family, not the binary estimators.
  static constexpr bool continuous_visible = true;

  /// @brief An RBM with `W = 0`, `b = 0`, `c = 0` and `s = 0` (unit variances).
  /// @throws std::invalid_argument unless `visible` and `hidden` are positive
  GaussianBernoulliRBM(Index visible, Index hidden) : visible_(visible), hidden_(hidden) {
    check_positive("ratiomatch::GaussianBernoulliRBM::GaussianBernoulliRBM", "visible", visible);
    check_positive("ratiomatch::GaussianBernoulliRBM::GaussianBernoulliRBM", "hidden", hidden);
    theta_.setZero(hidden * visible + visible + hidden + visible);
  }

  Index dim() const { return visible_; }
  Index num_hidden() const { return hidden_; }
  Index num_params() const { return theta_.size(); }
  Eigen::Map<Vector<S>> params() { return {theta_.data(), theta_.size()}; }
  Eigen::Map<const Vector<S>> params() const { return {theta_.data(), theta_.size()}; }

  /// @brief `W` (hidden × visible), a view into `params()`.
  Eigen::Map<RowMajorMatrix<S>> weight() { return {theta_.data(), hidden_, visible_}; }
  Eigen::Map<const RowMajorMatrix<S>> weight() const { return {theta_.data(), hidden_, visible_}; }
  /// @brief Visible bias (mean offset) `b`, a view into `params()`.
  Eigen::Map<Vector<S>> visible_bias() { return {theta_.data() + offset_b(), visible_}; }
  Eigen::Map<const Vector<S>> visible_bias() const { return {theta_.data() + offset_b(), visible_}; }
  /// @brief Hidden bias `c`, a view into `params()`.
  Eigen::Map<Vector<S>> hidden_bias() { return {theta_.data() + offset_c(), hidden_}; }
  Eigen::Map<const Vector<S>> hidden_bias() const { return {theta_.data() + offset_c(), hidden_}; }
  /// @brief Log standard deviations `s = log σ` of the visible units, a view into `params()`.
  Eigen::Map<Vector<S>> log_std() { return {theta_.data() + offset_s(), visible_}; }
  Eigen::Map<const Vector<S>> log_std() const { return {theta_.data() + offset_s(), visible_}; }

  /// @brief `W ~ N(0, weight_std²)` entrywise; `b`, `c`, `s` zero.
  template <std::uniform_random_bit_generator Rng>
  void initialize(Rng& rng, double weight_std = 0.01) {
    auto W = weight();
    for (Index j = 0; j < hidden_; ++j)
      for (Index i = 0; i < visible_; ++i) W(j, i) = static_cast<S>(weight_std * standard_normal(rng));
    visible_bias().setZero();
    hidden_bias().setZero();
    log_std().setZero();
  }

  /// @brief `b` and `s` of the independent Gaussian fitted to `V` (per column: mean, log of the
  /// standard deviation, at least `min_std`), so that with `W = 0` the model is that Gaussian.
  /// @throws std::invalid_argument on an empty or wrong-width `V`, or `min_std <= 0`
  /// @throws NumericalError on a non-finite entry
  void set_visible_from_data(const Eigen::Ref<const Matrix<S>>& V, double min_std = 1e-3) {
    constexpr std::string_view where = "ratiomatch::GaussianBernoulliRBM::set_visible_from_data";
    check_real_batch(where, V, visible_);
    check_positive(where, "min_std", min_std);
    const Eigen::MatrixXd Vd = V.template cast<double>();
    const Eigen::RowVectorXd mean = Vd.colwise().mean();
    const Eigen::RowVectorXd var = (Vd.rowwise() - mean).array().square().colwise().mean();
    visible_bias() = mean.transpose().template cast<S>();
    log_std() = var.array().sqrt().max(min_std).log().transpose().matrix().template cast<S>();
  }

  /// @brief `e(r) = F(v_r)`, the free energy in nats.
  void energy(const Eigen::Ref<const Matrix<S>>& V, Vector<S>& e) const {
    check_real_batch("ratiomatch::GaussianBernoulliRBM::energy", V, visible_);
    Matrix<S>& Z = scratch().Z;
    pre_activation(V, Z);
    const Vector<S> lambda = precision();
    e = S(0.5) * ((V.rowwise() - visible_bias().transpose()).array().square().rowwise() * lambda.transpose().array())
                     .rowwise()
                     .sum() -
        detail::softplus(Z.array()).rowwise().sum();
  }

  /// @brief `G.row(r) = ∇_v F(v_r) = λ ⊙ (v_r − b) − Wᵀσ(c + W v_r)`.
  void input_gradient(const Eigen::Ref<const Matrix<S>>& V, Matrix<S>& G) const {
    check_real_batch("ratiomatch::GaussianBernoulliRBM::input_gradient", V, visible_);
    Matrix<S>& P = scratch().Z;
    hidden_probabilities_unchecked(V, P);
    G.noalias() = P * weight();
    const Vector<S> lambda = precision();
    G = ((V.rowwise() - visible_bias().transpose()).array().rowwise() * lambda.transpose().array() - G.array()).matrix();
  }

  /// @brief `g += Σ_r c_r ∇_θ F(v_r)` (see the class for `∇_θ F`).
  /// @throws std::invalid_argument on a bad `V`, `c.size() != n` or `g.size() != num_params()`
  void accumulate_param_gradient(const Eigen::Ref<const Matrix<S>>& V, const Eigen::Ref<const Vector<S>>& c,
                                 Eigen::Ref<Vector<S>> g) const {
    constexpr std::string_view where = "ratiomatch::GaussianBernoulliRBM::accumulate_param_gradient";
    check_real_batch(where, V, visible_);
    check_coefficients(where, V, c, g);
    Scratch& ws = scratch();
    hidden_probabilities_unchecked(V, ws.Z);
    ws.A = ws.Z.array().colwise() * c.array();  // diag(c) π
    weight_gradient(g).noalias() -= ws.A.transpose() * V;
    hidden_gradient(g).noalias() -= ws.Z.transpose() * c;
    ws.B = V.rowwise() - visible_bias().transpose();
    visible_gradient(g).noalias() -= (ws.B.transpose() * c).cwiseProduct(precision());
    log_std_gradient(g).noalias() -= (ws.B.array().square().matrix().transpose() * c).cwiseProduct(precision());
  }

  /// @brief `g += ∇_θ Σ_r D_rᵀ ∇_v F(v_r)`: with `A = D Wᵀ`,
  /// `∂/∂W = −(π' ⊙ A)ᵀV − πᵀD`, `∂/∂c = −1ᵀ(π' ⊙ A)`, `∂/∂b = −λ ⊙ Dᵀ1`,
  /// `∂/∂s = −2λ ⊙ (D ⊙ (V − 1bᵀ))ᵀ1`.
  /// @throws std::invalid_argument on a bad `V`, a `D` not shaped like `V`, or a wrong `g` size
  void accumulate_mixed_gradient(const Eigen::Ref<const Matrix<S>>& V, const Eigen::Ref<const Matrix<S>>& D,
                                 Eigen::Ref<Vector<S>> g) const {
    constexpr std::string_view where = "ratiomatch::GaussianBernoulliRBM::accumulate_mixed_gradient";
    check_real_batch(where, V, visible_);
    check_same_shape(where, V, D, "D");
    check_size_match(where, "g.size()", g.size(), "model.num_params()", num_params());
    Scratch& ws = scratch();
    hidden_probabilities_unchecked(V, ws.Z);
    ws.A.noalias() = D * weight().transpose();
    ws.A.array() *= ws.Z.array() * (S(1) - ws.Z.array());  // π' ⊙ A
    weight_gradient(g).noalias() -= ws.A.transpose() * V;
    weight_gradient(g).noalias() -= ws.Z.transpose() * D;
    hidden_gradient(g) -= ws.A.colwise().sum().transpose();
    visible_gradient(g) -= D.colwise().sum().transpose().cwiseProduct(precision());
    ws.B = V.rowwise() - visible_bias().transpose();
    log_std_gradient(g) -=
        S(2) * (D.array() * ws.B.array()).colwise().sum().transpose().matrix().cwiseProduct(precision());
  }

  /// @brief `l(r) = Δ_v F(v_r) = Σ_i λ_i − Σ_j π'_rj ‖W_j‖²`.
  void laplacian(const Eigen::Ref<const Matrix<S>>& V, Vector<S>& l) const {
    check_real_batch("ratiomatch::GaussianBernoulliRBM::laplacian", V, visible_);
    Matrix<S>& P = scratch().Z;
    hidden_probabilities_unchecked(V, P);
    const Vector<S> row_norms = weight().rowwise().squaredNorm();
    l.noalias() = (P.array() * (S(1) - P.array())).matrix() * row_norms;
    l = precision().sum() - l.array();
  }

  /// @brief `g += Σ_r c_r ∇_θ Δ_v F(v_r)`: with `Q = diag(c)(π'' ⊙ 1‖W‖²ᵀ)`,
  /// `∂/∂W = −QᵀV − 2 diag(Σ_r c_r π'_r) W`, `∂/∂c = −Qᵀ1`, `∂/∂b = 0`, `∂/∂s = −2λ Σ_r c_r`.
  void accumulate_laplacian_gradient(const Eigen::Ref<const Matrix<S>>& V, const Eigen::Ref<const Vector<S>>& c,
                                     Eigen::Ref<Vector<S>> g) const {
    constexpr std::string_view where = "ratiomatch::GaussianBernoulliRBM::accumulate_laplacian_gradient";
    check_real_batch(where, V, visible_);
    check_coefficients(where, V, c, g);
    Scratch& ws = scratch();
    hidden_probabilities_unchecked(V, ws.Z);
    const Vector<S> row_norms = weight().rowwise().squaredNorm();
    ws.A = ws.Z.array() * (S(1) - ws.Z.array());  // π'
    const Vector<S> weighted_slope = ws.A.transpose() * c;  // Σ_r c_r π'_rj
    ws.A.array() *= (S(1) - S(2) * ws.Z.array());           // π''
    ws.A.array().colwise() *= c.array();
    ws.A.array().rowwise() *= row_norms.transpose().array();  // Q
    weight_gradient(g).noalias() -= ws.A.transpose() * V;
    weight_gradient(g) -= S(2) * (weight().array().colwise() * weighted_slope.array()).matrix();
    hidden_gradient(g) -= ws.A.colwise().sum().transpose();
    log_std_gradient(g) -= S(2) * c.sum() * precision();
  }

  /// @brief `q(r) = U_rᵀ ∇²_v F(v_r) U_r = Σ_i λ_i U_ri² − Σ_j π'_rj (W_j·U_r)²`.
  void hessian_quadratic(const Eigen::Ref<const Matrix<S>>& V, const Eigen::Ref<const Matrix<S>>& U,
                         Vector<S>& q) const {
    constexpr std::string_view where = "ratiomatch::GaussianBernoulliRBM::hessian_quadratic";
    check_real_batch(where, V, visible_);
    check_same_shape(where, V, U);
    Scratch& ws = scratch();
    hidden_probabilities_unchecked(V, ws.Z);
    ws.A.noalias() = U * weight().transpose();
    const Vector<S> lambda = precision();
    q = (U.array().square().rowwise() * lambda.transpose().array()).rowwise().sum() -
        (ws.Z.array() * (S(1) - ws.Z.array()) * ws.A.array().square()).rowwise().sum();
  }

  /// @brief `g += Σ_r c_r ∇_θ (U_rᵀ ∇²_v F(v_r) U_r)`: with `A = U Wᵀ`,
  /// `∂/∂W = −(diag(c)(π'' ⊙ A²))ᵀV − 2(diag(c)(π' ⊙ A))ᵀU`, `∂/∂c = −(diag(c)(π'' ⊙ A²))ᵀ1`,
  /// `∂/∂b = 0`, `∂/∂s = −2λ ⊙ (U²)ᵀc`.
  void accumulate_hessian_quadratic_gradient(const Eigen::Ref<const Matrix<S>>& V, const Eigen::Ref<const Matrix<S>>& U,
                                             const Eigen::Ref<const Vector<S>>& c, Eigen::Ref<Vector<S>> g) const {
    constexpr std::string_view where = "ratiomatch::GaussianBernoulliRBM::accumulate_hessian_quadratic_gradient";
    check_real_batch(where, V, visible_);
    check_same_shape(where, V, U);
    check_coefficients(where, V, c, g);
    Scratch& ws = scratch();
    hidden_probabilities_unchecked(V, ws.Z);
    ws.A.noalias() = U * weight().transpose();
    // B = diag(c)(π' ⊙ A), whose product with (1 − 2π) ⊙ A is then diag(c)(π'' ⊙ A²).
    ws.B = (ws.Z.array() * (S(1) - ws.Z.array()) * ws.A.array()).colwise() * c.array();
    weight_gradient(g).noalias() -= S(2) * (ws.B.transpose() * U);
    ws.A = ws.B.array() * (S(1) - S(2) * ws.Z.array()) * ws.A.array();
    weight_gradient(g).noalias() -= ws.A.transpose() * V;
    hidden_gradient(g) -= ws.A.colwise().sum().transpose();
    log_std_gradient(g) -= S(2) * (U.array().square().matrix().transpose() * c).cwiseProduct(precision());
  }

  /// @brief `P(r, j) = p(h_j = 1 | v_r) = σ(c_j + W_j·v_r)`, `P` resized to `n × m`.
  void hidden_probabilities(const Eigen::Ref<const Matrix<S>>& V, Matrix<S>& P) const {
    check_real_batch("ratiomatch::GaussianBernoulliRBM::hidden_probabilities", V, visible_);
    hidden_probabilities_unchecked(V, P);
  }

  /// @brief `M(r, ·) = E[v | h_r] = b + σ² ⊙ Wᵀh_r`, `M` resized to `n × d`.
  /// @throws std::invalid_argument on an empty batch, a wrong width (`m`) or a non-binary entry
  void visible_mean(const Eigen::Ref<const Matrix<S>>& H, Matrix<S>& M) const {
    constexpr std::string_view where = "ratiomatch::GaussianBernoulliRBM::visible_mean";
    check_nonempty(where, H, "H");
    check_size_match(where, "H.cols()", H.cols(), "model.num_hidden()", hidden_);
    check_binary(where, H, "H");
    visible_mean_unchecked(H, M);
  }

  /// @brief `steps` block Gibbs steps `v → h → v` of every chain (row of `V`), in place:
  /// `h ~ p(h | v)` (one `uniform_open01` per hidden unit, column by column), then
  /// `v ~ N(b + σ² ⊙ Wᵀh, diag σ²)` (one `standard_normal` per visible unit, column by column).
  /// @throws std::invalid_argument if `steps < 0`, on an empty or wrong-width `V`
  /// @throws NumericalError on a non-finite entry of `V`
  template <std::uniform_random_bit_generator Rng>
  void gibbs_steps(Matrix<S>& V, Index steps, Rng& rng) const {
    constexpr std::string_view where = "ratiomatch::GaussianBernoulliRBM::gibbs_steps";
    if (steps < 0) throw std::invalid_argument(detail::message(where, "steps (", steps, ") must be non-negative"));
    check_real_batch(where, V, visible_);
    Scratch& ws = scratch();
    const Vector<S> std_dev = log_std().array().exp();
    for (Index t = 0; t < steps; ++t) {
      hidden_probabilities_unchecked(V, ws.Z);
      for (Index j = 0; j < hidden_; ++j)
        for (Index r = 0; r < V.rows(); ++r)
          ws.Z(r, j) = uniform_open01(rng) < static_cast<double>(ws.Z(r, j)) ? S(1) : S(0);
      visible_mean_unchecked(ws.Z, V);
      for (Index i = 0; i < visible_; ++i)
        for (Index r = 0; r < V.rows(); ++r) V(r, i) += std_dev(i) * static_cast<S>(standard_normal(rng));
    }
  }

  /// @brief `log Z = log ∫ exp(−F(v)) dv` exactly, in nats (see the class), in double,
  /// log-sum-exp over the `2^m` hidden states by blocks.
  /// @throws std::invalid_argument if the model has more than 20 hidden units
  double log_partition() const {
    constexpr std::string_view where = "ratiomatch::GaussianBernoulliRBM::log_partition";
    constexpr Index max_hidden = 20;
    if (hidden_ > max_hidden)
      throw std::invalid_argument(detail::message(where, "num_hidden() (", hidden_, ") must be at most ", max_hidden,
                                                  " for exact summation over the hidden states"));
    const Eigen::MatrixXd W = weight().template cast<double>();
    const Eigen::VectorXd b = visible_bias().template cast<double>(), c = hidden_bias().template cast<double>();
    const Eigen::VectorXd s = log_std().template cast<double>();
    const Eigen::ArrayXd variance = (2.0 * s.array()).exp();
    Eigen::MatrixXd a;
    const double over_hidden = detail::log_sum_exp_over_binary_states(
        hidden_, [&](const Eigen::MatrixXd& states, Eigen::VectorXd& log_weight) {
          a = states * W;  // a = Wᵀh, one row per state
          log_weight = states * c + a * b +
                       0.5 * (a.array().square().rowwise() * variance.transpose()).rowwise().sum().matrix();
        });
    const double d = static_cast<double>(visible_);
    return 0.5 * d * std::log(2.0 * std::numbers::pi) + s.sum() + over_hidden;
  }

  /// @brief Mean log-density `(1/n) Σ_r log p(v_r) = −(1/n) Σ_r F(v_r) − log Z` in nats per
  /// row, with `log Z` from `log_partition()`, in double.
  /// @throws as `energy` and `log_partition`
  double mean_log_likelihood(const Eigen::Ref<const Matrix<S>>& V) const {
    Vector<S> e;
    energy(V, e);
    return -e.template cast<double>().mean() - log_partition();
  }

 private:
  Index offset_b() const { return hidden_ * visible_; }
  Index offset_c() const { return offset_b() + visible_; }
  Index offset_s() const { return offset_c() + hidden_; }

  Eigen::Map<RowMajorMatrix<S>> weight_gradient(Eigen::Ref<Vector<S>> g) const {
    return {g.data(), hidden_, visible_};
  }
  auto visible_gradient(Eigen::Ref<Vector<S>> g) const { return g.segment(offset_b(), visible_); }
  auto hidden_gradient(Eigen::Ref<Vector<S>> g) const { return g.segment(offset_c(), hidden_); }
  auto log_std_gradient(Eigen::Ref<Vector<S>> g) const { return g.segment(offset_s(), visible_); }

  // λ = e^{−2s}, the visible precisions.
  Vector<S> precision() const { return (S(-2) * log_std().array()).exp(); }

  void check_coefficients(std::string_view where, const Eigen::Ref<const Matrix<S>>& V,
                          const Eigen::Ref<const Vector<S>>& c, const Eigen::Ref<Vector<S>>& g) const {
    check_size_match(where, "c.size()", c.size(), "V.rows()", V.rows());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", num_params());
  }

  void pre_activation(const Eigen::Ref<const Matrix<S>>& V, Matrix<S>& Z) const {
    Z.noalias() = V * weight().transpose();
    Z.rowwise() += hidden_bias().transpose();
  }
  void hidden_probabilities_unchecked(const Eigen::Ref<const Matrix<S>>& V, Matrix<S>& P) const {
    pre_activation(V, P);
    P = P.array().logistic();
  }
  template <class D>
  void visible_mean_unchecked(const Eigen::MatrixBase<D>& H, Matrix<S>& M) const {
    M.noalias() = H * weight();
    M = (M.array().rowwise() * (S(2) * log_std().array()).exp().transpose()).rowwise() +
        visible_bias().transpose().array();
  }

  // The members' workspace, one per thread and scalar type.
  struct Scratch {
    Matrix<S> Z, A, B;  // n × m, n × m, n × m or n × d
  };
  static Scratch& scratch() {
    thread_local Scratch ws;
    return ws;
  }

  Index visible_, hidden_;
  Vector<S> theta_;
};

}  // namespace ratiomatch
