#pragma once
/// @file
/// @brief `BernoulliRBM`: a restricted Boltzmann machine with binary visible and hidden units,
/// an energy model through its free energy.

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string_view>
#include <vector>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

namespace detail {
/// `log(1 + e^z)` without overflow, elementwise.
template <class D>
auto softplus(const Eigen::ArrayBase<D>& z) {
  using S = typename D::Scalar;
  return z.max(S(0)) + (-z.abs()).exp().log1p();
}

/// `log Σ_k exp(w_k)` over all `2^units` binary states, in double: `log_weights(states, w)`
/// fills `w` for a block of states (one row per state; bit u of state k in column u), and the
/// blocks of at most 4096 states are combined by a running log-sum-exp.
template <class LogWeights>
double log_sum_exp_over_binary_states(Index units, LogWeights&& log_weights) {
  const Index count = Index{1} << units, block = std::min<Index>(count, Index{1} << 12);
  Eigen::MatrixXd states(block, units);
  Eigen::VectorXd log_weight(block);
  double top = -std::numeric_limits<double>::infinity(), total = 0;
  for (Index first = 0; first < count; first += block) {
    for (Index u = 0; u < units; ++u)
      for (Index r = 0; r < block; ++r) states(r, u) = static_cast<double>(((first + r) >> u) & 1);
    log_weights(states, log_weight);
    const double block_top = log_weight.maxCoeff();
    if (block_top > top) {
      total *= std::exp(top - block_top);
      top = block_top;
    }
    total += (log_weight.array() - top).exp().sum();
  }
  return top + std::log(total);
}
}  // namespace detail

/// @brief Bernoulli–Bernoulli restricted Boltzmann machine with `d` visible and `m` hidden units.
///
/// Joint energy `E(x, h) = −bᵀx − cᵀh − hᵀW x`, `x ∈ {0,1}^d`, `h ∈ {0,1}^m`. As an
/// `EnergyModel` its energy is the **free energy** (the hidden units summed out):
///
///     F(x) = −bᵀx − Σ_j softplus(c_j + W_j·x),   p(x) ∝ exp(−F(x)),
///
/// with `z = c + W x` and `σ` the logistic function:
/// - `∂F/∂x = −b − Wᵀ σ(z)` (the continuous extension);
/// - `∂F/∂W = −σ(z) xᵀ`, `∂F/∂b = −x`, `∂F/∂c = −σ(z)`;
/// - conditionals `p(h_j = 1 | x) = σ(c_j + W_j·x)`, `p(x_i = 1 | h) = σ(b_i + W_{:,i}·h)`.
///
/// `params()` order: `W` (hidden × visible, row-major, like `torch.nn.Linear(visible,
/// hidden).weight`), then `b` (visible), then `c` (hidden). Its batch evaluation keeps `z` of
/// every row: flipping bit `i` moves `z` by `s W[:, i]` (`s = 1 − 2x_i`), so a flip costs
/// O(m), not O(d·m). The model holds its parameters only (a const model can be shared by
/// threads).
/// @tparam S `float` or `double`
template <class S>
class BernoulliRBM {
 public:
  using Scalar = S;

  /// @brief An RBM with all parameters zero.
  /// @throws std::invalid_argument unless `visible` and `hidden` are positive
  BernoulliRBM(Index visible, Index hidden) : visible_(visible), hidden_(hidden) {
    check_positive("ratiomatch::BernoulliRBM::BernoulliRBM", "visible", visible);
    check_positive("ratiomatch::BernoulliRBM::BernoulliRBM", "hidden", hidden);
    theta_.setZero(hidden * visible + visible + hidden);
  }

  Index dim() const { return visible_; }
  Index num_hidden() const { return hidden_; }
  Index num_params() const { return theta_.size(); }
  Eigen::Map<Vector<S>> params() { return {theta_.data(), theta_.size()}; }
  Eigen::Map<const Vector<S>> params() const { return {theta_.data(), theta_.size()}; }

  /// @brief `W` (hidden × visible), a view into `params()`.
  Eigen::Map<RowMajorMatrix<S>> weight() { return {theta_.data(), hidden_, visible_}; }
  Eigen::Map<const RowMajorMatrix<S>> weight() const { return {theta_.data(), hidden_, visible_}; }
  /// @brief Visible bias `b`, a view into `params()`.
  Eigen::Map<Vector<S>> visible_bias() { return {theta_.data() + hidden_ * visible_, visible_}; }
  Eigen::Map<const Vector<S>> visible_bias() const { return {theta_.data() + hidden_ * visible_, visible_}; }
  /// @brief Hidden bias `c`, a view into `params()`.
  Eigen::Map<Vector<S>> hidden_bias() { return {theta_.data() + hidden_ * visible_ + visible_, hidden_}; }
  Eigen::Map<const Vector<S>> hidden_bias() const {
    return {theta_.data() + hidden_ * visible_ + visible_, hidden_};
  }

  /// @brief `W ~ N(0, 0.01²)` entrywise, `b = 0`, `c = 0` (Hinton's practical guide).
  template <std::uniform_random_bit_generator Rng>
  void initialize(Rng& rng) {
    auto W = weight();
    for (Index j = 0; j < hidden_; ++j)
      for (Index i = 0; i < visible_; ++i) W(j, i) = static_cast<S>(0.01 * standard_normal(rng));
    visible_bias().setZero();
    hidden_bias().setZero();
  }

  /// @brief Visible biases from the data's marginals, `b_i = log(p_i / (1 − p_i))` with
  /// `p_i = (Σ_r x_ri + α) / (n + 2α)` (add-α smoothing keeps `b` finite for constant bits).
  /// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`, or `alpha <= 0`
  void set_visible_bias_from_data(const Eigen::Ref<const Matrix<S>>& X, double alpha = 1.0) {
    constexpr std::string_view where = "ratiomatch::BernoulliRBM::set_visible_bias_from_data";
    check_batch(where, X, visible_);
    check_positive(where, "alpha", alpha);
    const double n = static_cast<double>(X.rows());
    for (Index i = 0; i < visible_; ++i) {
      const double p = (static_cast<double>(X.col(i).template cast<double>().sum()) + alpha) / (n + 2 * alpha);
      visible_bias()(i) = static_cast<S>(std::log(p / (1 - p)));
    }
  }

  /// @brief `e(r) = F(X.row(r))`, the free energy.
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  void energy(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    check_batch("ratiomatch::BernoulliRBM::energy", X, visible_);
    free_energy(X, e);
  }

  /// @brief The free energy at real-valued `X` (no binary check): the continuous extension.
  void relaxed_energy(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    constexpr std::string_view where = "ratiomatch::BernoulliRBM::relaxed_energy";
    check_nonempty(where, X);
    check_size_match(where, "X.cols()", X.cols(), "model.dim()", visible_);
    free_energy(X, e);
  }

  /// @brief `G.row(r) = ∂F/∂x = −b − Wᵀ σ(c + W x_r)`.
  void input_gradient(const Eigen::Ref<const Matrix<S>>& X, Matrix<S>& G) const {
    check_batch("ratiomatch::BernoulliRBM::input_gradient", X, visible_);
    Matrix<S>& P = scratch().hidden;
    hidden_probabilities_unchecked(X, P);
    gradient_from_probabilities(P, G);
  }

  /// @brief `g += Σ_r c(r) ∇_θ F(x_r)`: `g_W −= (diag(c) σ(Z))ᵀ X`, `g_b −= Xᵀ c`, `g_c −= σ(Z)ᵀ c`.
  /// @throws std::invalid_argument on bad `X`, `c.size() != n` or `g.size() != num_params()`
  void accumulate_param_gradient(const Eigen::Ref<const Matrix<S>>& X, const Eigen::Ref<const Vector<S>>& c,
                                 Eigen::Ref<Vector<S>> g) const {
    constexpr std::string_view where = "ratiomatch::BernoulliRBM::accumulate_param_gradient";
    check_batch(where, X, visible_);
    check_size_match(where, "c.size()", c.size(), "X.rows()", X.rows());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", num_params());
    Matrix<S>& P = scratch().hidden;
    hidden_probabilities_unchecked(X, P);
    add_param_gradient(X, P, c, g);
  }

  /// @brief `P(r, j) = p(h_j = 1 | x_r) = σ(c_j + W_j·x_r)`, `P` resized to `n × m`.
  /// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`
  void hidden_probabilities(const Eigen::Ref<const Matrix<S>>& X, Matrix<S>& P) const {
    check_batch("ratiomatch::BernoulliRBM::hidden_probabilities", X, visible_);
    hidden_probabilities_unchecked(X, P);
  }

  /// @brief `Q(r, i) = p(x_i = 1 | h_r) = σ(b_i + W_{:,i}·h_r)`, `Q` resized to `n × d`.
  /// @throws std::invalid_argument on an empty batch, a wrong width (`m`) or a non-binary entry
  void visible_probabilities(const Eigen::Ref<const Matrix<S>>& H, Matrix<S>& Q) const {
    constexpr std::string_view where = "ratiomatch::BernoulliRBM::visible_probabilities";
    check_nonempty(where, H, "H");
    check_size_match(where, "H.cols()", H.cols(), "model.num_hidden()", hidden_);
    check_binary(where, H, "H");
    Q.noalias() = H * weight();
    Q.rowwise() += visible_bias().transpose();
    Q = Q.array().logistic();
  }

  /// @brief `log Z = log Σ_x exp(−F(x))` exactly, in nats, by summing over the smaller layer:
  /// over `h` as `Σ_h exp(cᵀh + Σ_i softplus(b_i + W_{:,i}·h))`, or over `x` as
  /// `Σ_x exp(−F(x))`; in double, log-sum-exp by blocks.
  /// @throws std::invalid_argument if both layers have more than 24 units
  double log_partition() const {
    constexpr std::string_view where = "ratiomatch::BernoulliRBM::log_partition";
    constexpr Index max_units = 24;
    if (std::min(visible_, hidden_) > max_units)
      throw std::invalid_argument(detail::message(where, "the smaller layer (", std::min(visible_, hidden_),
                                                  " units) must have at most ", max_units,
                                                  " units for exact summation; use annealed importance sampling"));
    const bool over_hidden = hidden_ <= visible_;
    const Eigen::MatrixXd W = weight().template cast<double>();
    const Eigen::VectorXd b = visible_bias().template cast<double>(), c = hidden_bias().template cast<double>();
    Eigen::MatrixXd field;
    return detail::log_sum_exp_over_binary_states(
        over_hidden ? hidden_ : visible_, [&](const Eigen::MatrixXd& states, Eigen::VectorXd& log_weight) {
          if (over_hidden) {  // log Σ_x exp(−E(x, h)) = cᵀh + Σ_i softplus(b_i + W_{:,i}·h)
            field = states * W;
            field.rowwise() += b.transpose();
            log_weight = states * c + detail::softplus(field.array()).rowwise().sum().matrix();
          } else {  // −F(x)
            field = states * W.transpose();
            field.rowwise() += c.transpose();
            log_weight = states * b + detail::softplus(field.array()).rowwise().sum().matrix();
          }
        });
  }

  class BatchEvaluation;

 private:
  void hidden_probabilities_unchecked(const Eigen::Ref<const Matrix<S>>& X, Matrix<S>& P) const {
    P.noalias() = X * weight().transpose();
    P.rowwise() += hidden_bias().transpose();
    P = P.array().logistic();
  }

  // The direct members' workspace, one per thread and scalar type: once sized, they allocate nothing.
  struct Scratch {
    Matrix<S> hidden, weighted;
  };
  static Scratch& scratch() {
    thread_local Scratch ws;
    return ws;
  }

  void free_energy(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    Matrix<S>& Z = scratch().hidden;
    Z.noalias() = X * weight().transpose();
    Z.rowwise() += hidden_bias().transpose();
    // The product first, in place: inside the sum it would be evaluated into a temporary.
    e.noalias() = X * visible_bias();
    e = -e - detail::softplus(Z.array()).rowwise().sum().matrix();
  }

  // G = −1bᵀ − P W from the hidden probabilities P = σ(Z).
  template <class D>
  void gradient_from_probabilities(const Eigen::MatrixBase<D>& P, Matrix<S>& G) const {
    // Negated last (the same numbers): a negated product would be evaluated into a temporary.
    G.noalias() = P * weight();
    G.rowwise() += visible_bias().transpose();
    G = -G;
  }

  // g += Σ_r c_r ∇F(x_r) from the hidden probabilities P = σ(Z) of X.
  template <class D>
  void add_param_gradient(const Eigen::Ref<const Matrix<S>>& X, const Eigen::MatrixBase<D>& P,
                          const Eigen::Ref<const Vector<S>>& c, Eigen::Ref<Vector<S>> g) const {
    Eigen::Map<RowMajorMatrix<S>> gW(g.data(), hidden_, visible_);
    // diag(c) σ(Z) into the workspace (as an expression the product would copy it anyway), whose
    // rows only grow: PCD alternates data and chain batches of different sizes.
    auto rows = detail::grown_top_rows(scratch().weighted, X.rows(), hidden_);
    rows.array() = P.array().colwise() * c.array();
    gW.noalias() -= rows.transpose() * X;
    g.segment(hidden_ * visible_, visible_).noalias() -= X.transpose() * c;
    g.tail(hidden_).noalias() -= P.transpose() * c;
  }

  Index visible_, hidden_;
  Vector<S> theta_;
};

/// @brief The batch evaluation of a `BernoulliRBM` (see `core/batch_evaluation.hpp`): keeps
/// `Z = X Wᵀ + 1cᵀ` and `σ(Z)` of its batch. A flip of bit `i` (`s = 1 − 2x_i`) gives
/// `z' = z + s W[:, i]` and `ΔF = −s b_i − Σ_j (softplus(z'_j) − softplus(z_j))`, O(m). The
/// fused flip gradient needs no flipped rows: with `σ' = σ(z')`,
/// `∇F(x') − ∇F(x)` is `−(σ' − σ) xᵀ − s σ' e_iᵀ` on `W`, `−s e_i` on `b` and `−(σ' − σ)` on
/// `c`, so the per-row sums `R_r = Σ_{t: r_t = r} c_t (σ'_t − σ_r)` give `g_W −= Rᵀ X` (one
/// product) plus a column correction per flip, O(m).
template <class S>
class BernoulliRBM<S>::BatchEvaluation {
 public:
  using Model = BernoulliRBM<S>;
  using Scalar = S;

  /// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`
  void bind(const BernoulliRBM& model, const Eigen::Ref<const Matrix<S>>& X) {
    check_batch("ratiomatch::BernoulliRBM::BatchEvaluation::bind", X, model.dim());
    model_ = &model;
    batch_ = X;
    Z_.noalias() = batch_ * model.weight().transpose();
    Z_.rowwise() += model.hidden_bias().transpose();
    Wt_ = model.weight().transpose();  // column i of W as a contiguous row
    energy_.noalias() = batch_ * model.visible_bias();  // in place, as in energy()
    energy_ = -energy_ - detail::softplus(Z_.array()).rowwise().sum().matrix();
    probabilities_current_ = false;
    last_flips_.forget();
  }

  const BernoulliRBM& model() const { return *model_; }
  const Matrix<S>& batch() const { return batch_; }
  const Vector<S>& energy() const { return energy_; }

  void input_gradient(Matrix<S>& G) {
    refresh_probabilities();
    model_->gradient_from_probabilities(P_, G);
  }

  /// @throws std::invalid_argument if `c.size() != n` or `g.size() != num_params()`
  void accumulate_param_gradient(const Eigen::Ref<const Vector<S>>& c, Eigen::Ref<Vector<S>> g) {
    constexpr std::string_view where = "ratiomatch::BernoulliRBM::BatchEvaluation::accumulate_param_gradient";
    check_size_match(where, "c.size()", c.size(), "X.rows()", batch_.rows());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", model_->num_params());
    refresh_probabilities();
    model_->add_param_gradient(batch_, P_, c, g);
  }

  /// @brief `g += ∇_θ Σ_r V_rᵀ ∇ₓF(x_r)` (concept `HasMixedGradient`). With `∇ₓF = −b − Wᵀσ(z)`
  /// and `U = V Wᵀ` (`U_rj = W_j·v_r`): `−(σ'(Z) ⊙ U)ᵀ X − σ(Z)ᵀ V` on `W`, `−Vᵀ1` on `b` and
  /// `−(σ'(Z) ⊙ U)ᵀ 1` on `c`, where `σ' = σ(1 − σ)`.
  /// @throws std::invalid_argument unless `V` is `n × d` and `g.size() == num_params()`
  void accumulate_mixed_gradient(const Eigen::Ref<const Matrix<S>>& V, Eigen::Ref<Vector<S>> g) {
    constexpr std::string_view where = "ratiomatch::BernoulliRBM::BatchEvaluation::accumulate_mixed_gradient";
    check_size_match(where, "V.rows()", V.rows(), "X.rows()", batch_.rows());
    check_size_match(where, "V.cols()", V.cols(), "X.cols()", batch_.cols());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", model_->num_params());
    refresh_probabilities();
    const Index m = model_->num_hidden(), d = batch_.cols();
    row_sum_.noalias() = V * Wt_;                          // U (workspace shared with the flip gradient)
    row_sum_.array() *= P_.array() * (S(1) - P_.array());  // σ'(Z) ⊙ U
    Eigen::Map<RowMajorMatrix<S>> gW(g.data(), m, d);
    gW.noalias() -= row_sum_.transpose() * batch_;
    gW.noalias() -= P_.transpose() * V;
    g.segment(m * d, d).noalias() -= V.colwise().sum().transpose();
    g.tail(m).noalias() -= row_sum_.colwise().sum().transpose();
  }

  void flip_deltas(Matrix<S>& D) const {
    const Index n = batch_.rows(), d = batch_.cols();
    D.resize(n, d);
    for (Index r = 0; r < n; ++r)
      for (Index i = 0; i < d; ++i) D(r, i) = flip_delta(r, i);
  }

  void flip_deltas(const IndexVector& rows, const IndexVector& bits, Vector<S>& delta) {
    check_flip_list("ratiomatch::BernoulliRBM::BatchEvaluation::flip_deltas", batch_.rows(), batch_.cols(), rows,
                    bits);
    delta.resize(rows.size());
    for (Index t = 0; t < rows.size(); ++t) delta(t) = flip_delta(rows(t), bits(t));
    last_flips_.remember(rows, bits, delta);
  }

  /// @tparam CoefficientFn called once, for the whole list as one block
  template <class CoefficientFn>
  void accumulate_flip_gradient(const IndexVector& rows, const IndexVector& bits, CoefficientFn&& coefficient,
                                Eigen::Ref<Vector<S>> g) {
    constexpr std::string_view where = "ratiomatch::BernoulliRBM::BatchEvaluation::accumulate_flip_gradient";
    check_flip_list(where, batch_.rows(), batch_.cols(), rows, bits);
    check_size_match(where, "g.size()", g.size(), "model.num_params()", model_->num_params());
    refresh_probabilities();
    const Index m = model_->num_hidden(), d = model_->dim(), flips = rows.size();
    delta_.resize(flips);
    for (Index t = 0; t < flips; ++t) delta_(t) = flip_delta(rows(t), bits(t));
    coefficient_.resize(flips);
    coefficient(Index{0}, Eigen::Ref<const Vector<S>>(delta_), Eigen::Ref<Vector<S>>(coefficient_));
    Eigen::Map<RowMajorMatrix<S>> gW(g.data(), m, d);
    auto gb = g.segment(m * d, d);
    auto gc = g.tail(m);
    row_sum_.setZero(batch_.rows(), m);
    flipped_probability_.resize(m);
    for (Index t = 0; t < flips; ++t) {
      const Index r = rows(t), i = bits(t);
      const S sign = S(1) - S(2) * batch_(r, i), c = coefficient_(t);
      flipped_probability_ = (Z_.row(r) + sign * Wt_.row(i)).transpose().array().logistic();
      row_sum_.row(r) += c * (flipped_probability_ - P_.row(r).transpose()).transpose();
      gW.col(i) -= (c * sign) * flipped_probability_;
      gb(i) -= c * sign;
    }
    gW.noalias() -= row_sum_.transpose() * batch_;
    gc -= row_sum_.colwise().sum().transpose();
  }

  void accept_flips(const Eigen::Ref<const IndexVector>& accepted) {
    last_flips_.accept("ratiomatch::BernoulliRBM::BatchEvaluation::accept_flips", accepted, batch_.rows(),
                       [&](Index r, Index i, S delta) {
                         const S sign = S(1) - S(2) * batch_(r, i);
                         Z_.row(r) += sign * Wt_.row(i);
                         batch_(r, i) = S(1) - batch_(r, i);
                         energy_(r) += delta;
                       });
    if (accepted.size() > 0) probabilities_current_ = false;
  }


 private:
  S flip_delta(Index r, Index i) const {
    const S sign = S(1) - S(2) * batch_(r, i);
    const auto z = Z_.row(r).array();
    return -sign * model_->visible_bias()(i) -
           (detail::softplus(z + sign * Wt_.row(i).array()) - detail::softplus(z)).sum();
  }

  void refresh_probabilities() {
    if (probabilities_current_) return;
    P_ = Z_.array().logistic();
    probabilities_current_ = true;
  }

  const BernoulliRBM* model_ = nullptr;
  Matrix<S> batch_;
  Vector<S> energy_;
  RowMajorMatrix<S> Z_, P_, row_sum_;  // z = c + W x and σ(z) per row (n × m); per-row sums of the flip gradient
  RowMajorMatrix<S> Wt_;               // Wᵀ (d × m)
  bool probabilities_current_ = false;
  Vector<S> delta_, coefficient_, flipped_probability_;
  detail::LastFlipList<S> last_flips_;
};

}  // namespace ratiomatch
