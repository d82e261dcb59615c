#pragma once
/// @file
/// @brief `IsingModel`: a fully connected Ising model over binary vectors.

#include <string_view>
#include <vector>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Ising energy `E(x) = −(Σ_{i≠j} J_ij s_i s_j + bᵀs)` with spins `s = 2x − 1`.
///
/// `J` is a dense `d × d` matrix whose off-diagonal entries are each a parameter (the
/// diagonal carries no energy and gets gradient 0); `b` is the bias. With
/// `K = J + Jᵀ` (zero diagonal) and local field `h = K s + b`:
/// - `∂E/∂x = −2 h` (continuous extension, `∂s/∂x = 2`);
/// - `ΔE_i = E(x_{−i}) − E(x) = 2 s_i h_i`, exactly (the energy is linear in each spin,
///   so the first-order flip estimate `−(2x−1)_i ∂_iE` is exact);
/// - `∂E/∂J_ij = −s_i s_j` (i ≠ j), `∂E/∂b = −s`.
///
/// `params()` is `J` row-major (`d²` entries), then `b` (`d` entries). The model holds its
/// parameters only (a const model can be shared by threads; its direct members use a workspace
/// of the calling thread); steps that repeat use its batch evaluation,
/// `IsingModel::BatchEvaluation`, which caches spins and local fields.
/// @tparam S `float` or `double`
template <class S>
class IsingModel {
 public:
  using Scalar = S;

  /// @brief A model over `dim` bits with `J = 0`, `b = 0`.
  /// @throws std::invalid_argument if `dim <= 0`
  explicit IsingModel(Index dim) : dim_(dim) {
    check_positive("ratiomatch::IsingModel::IsingModel", "dim", dim);
    theta_.setZero(dim * dim + dim);
  }

  /// @brief Ground truth of the lattice experiments: a `side × side` periodic 2-D lattice,
  /// `J = sigma · A` with `A` its adjacency matrix (each site has 4 neighbours), `b = 0`.
  /// @throws std::invalid_argument if `side < 3` (smaller tori have repeated neighbours)
  static IsingModel periodic_lattice(Index side, S sigma) {
    if (side < 3)
      throw std::invalid_argument(
          detail::message("ratiomatch::IsingModel::periodic_lattice", "side (", side, ") must be at least 3"));
    IsingModel model(side * side);
    auto J = model.coupling();
    for (Index r = 0; r < side; ++r)
      for (Index c = 0; c < side; ++c) {
        const Index i = r * side + c;
        const Index right = r * side + (c + 1) % side;
        const Index down = ((r + 1) % side) * side + c;
        J(i, right) = J(right, i) = sigma;
        J(i, down) = J(down, i) = sigma;
      }
    return model;
  }

  Index dim() const { return dim_; }
  Index num_params() const { return theta_.size(); }

  /// @brief All parameters as one writable vector (`J` row-major, then `b`).
  Eigen::Map<Vector<S>> params() { return {theta_.data(), theta_.size()}; }
  Eigen::Map<const Vector<S>> params() const { return {theta_.data(), theta_.size()}; }

  /// @brief The coupling matrix `J` (a view into `params()`).
  Eigen::Map<RowMajorMatrix<S>> coupling() { return {theta_.data(), dim_, dim_}; }
  Eigen::Map<const RowMajorMatrix<S>> coupling() const { return {theta_.data(), dim_, dim_}; }

  /// @brief The bias `b` (a view into `params()`).
  Eigen::Map<Vector<S>> bias() { return {theta_.data() + dim_ * dim_, dim_}; }
  Eigen::Map<const Vector<S>> bias() const { return {theta_.data() + dim_ * dim_, dim_}; }

  /// @brief `e(r) = E(X.row(r))`.
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  void energy(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    check_batch("ratiomatch::IsingModel::energy", X, dim_);
    relaxed_energy_unchecked(X, e);
  }

  /// @brief The continuous extension of the energy at real-valued `X` (no binary check).
  void relaxed_energy(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    check_nonempty("ratiomatch::IsingModel::relaxed_energy", X);
    check_size_match("ratiomatch::IsingModel::relaxed_energy", "X.cols()", X.cols(), "model.dim()", dim_);
    relaxed_energy_unchecked(X, e);
  }

  /// @brief `G.row(r) = ∂E/∂x = −2 (K s_r + b)` at `X.row(r)`.
  void input_gradient(const Eigen::Ref<const Matrix<S>>& X, Matrix<S>& G) const {
    check_batch("ratiomatch::IsingModel::input_gradient", X, dim_);
    Scratch& ws = scratch();
    ws.spins = S(2) * X.array() - S(1);
    coupling_sum(ws.K);
    // −2 applied last: a scaled bias would be evaluated into a temporary row by rowwise().
    G.noalias() = ws.spins * ws.K;
    G.rowwise() += bias().transpose();
    G *= S(-2);
  }

  /// @brief `g += Σ_r c(r) ∇_θ E(X.row(r))`: `g_J −= Sᵀ diag(c) S` off the diagonal, `g_b −= Sᵀ c`.
  /// @throws std::invalid_argument on bad `X`, `c.size() != n` or `g.size() != num_params()`
  void accumulate_param_gradient(const Eigen::Ref<const Matrix<S>>& X, const Eigen::Ref<const Vector<S>>& c,
                                 Eigen::Ref<Vector<S>> g) const {
    constexpr std::string_view where = "ratiomatch::IsingModel::accumulate_param_gradient";
    check_batch(where, X, dim_);
    check_size_match(where, "c.size()", c.size(), "X.rows()", X.rows());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", num_params());
    Scratch& ws = scratch();
    ws.spins = S(2) * X.array() - S(1);
    add_weighted_spin_products(ws.spins, c, S(-1), ws.weighted, ws.saved, g);
  }

  class BatchEvaluation;

 private:
  // The direct members' workspace: one per thread (not per model), reused from call to call,
  // so that repeated calls allocate nothing and a const model stays shareable between threads.
  struct Scratch {
    RowMajorMatrix<S> K, spins, quadratic, weighted;
    Vector<S> saved;
  };
  static Scratch& scratch() {
    thread_local Scratch ws;
    return ws;
  }

  // K = J + Jᵀ with a zero diagonal: the symmetric coupling that the energy actually sees.
  void coupling_sum(RowMajorMatrix<S>& K) const {
    K = coupling() + coupling().transpose();
    K.diagonal().setZero();
  }

  void relaxed_energy_unchecked(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    Scratch& ws = scratch();
    ws.spins = S(2) * X.array() - S(1);
    coupling_sum(ws.K);
    ws.quadratic.noalias() = ws.spins * ws.K;
    // Σ_{i≠j} J_ij s_i s_j = ½ sᵀ K s.
    // The linear term first, in place: a product inside the sum would be evaluated into a temporary.
    e.noalias() = ws.spins * bias();
    e = -(S(0.5) * (ws.quadratic.array() * ws.spins.array()).rowwise().sum().matrix() + e);
  }

  // g_J += scale · Aᵀ S over the off-diagonal entries and g_b += scale · Aᵀ 1, with A = diag(w) S
  // (A = S scaled row by row): the parameter gradient Σ_r w_r ∇_θE(x_r) for scale = −1.
  // `weighted` and `saved` are workspaces.
  void add_weighted_spin_products(const RowMajorMatrix<S>& spins, const Eigen::Ref<const Vector<S>>& w, S scale,
                                  RowMajorMatrix<S>& weighted, Vector<S>& saved, Eigen::Ref<Vector<S>> g) const {
    weighted = spins.array().colwise() * w.array();
    Eigen::Map<RowMajorMatrix<S>> gJ(g.data(), dim_, dim_);
    saved = gJ.diagonal();  // the diagonal carries no energy: keep its entries of g as they were
    gJ.noalias() += scale * (weighted.transpose() * spins);
    gJ.diagonal() = saved;
    g.tail(dim_).noalias() += scale * (spins.transpose() * w);
  }

  Index dim_;
  Vector<S> theta_;
};

/// @brief The batch evaluation of an `IsingModel` (see `core/batch_evaluation.hpp`): caches the
/// spins `s = 2x − 1` and local fields `h = K s + b` of its batch, so that
/// - a flip's energy change is `ΔE_i = 2 s_i h_i`, O(1) per flip;
/// - the input gradient is `−2 h`;
/// - the fused flip gradient is exact and needs no flipped rows: flipping spin `k` changes
///   `∂E/∂J_kj` and `∂E/∂J_jk` (j ≠ k) by `2 s_k s_j` and `∂E/∂b_k` by `2 s_k`, so with
///   `A(r, k) = s_rk Σ_{t: (r_t, i_t) = (r, k)} c_t`,
///   `Σ_t c_t (∇_θE(x_{r_t} with bit i_t flipped) − ∇_θE(x_{r_t}))` is `2 (AᵀS + SᵀA)` on the
///   off-diagonal of `J` and `2 Aᵀ1` on `b`: one `d × n × d` product for any list of flips;
/// - an accepted flip of spin `i` in row `r` moves that row's field by `−2 s_ri K[i, :]`, O(d).
template <class S>
class IsingModel<S>::BatchEvaluation {
 public:
  using Model = IsingModel<S>;
  using Scalar = S;

  /// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`
  void bind(const IsingModel& model, const Eigen::Ref<const Matrix<S>>& X) {
    check_batch("ratiomatch::IsingModel::BatchEvaluation::bind", X, model.dim());
    model_ = &model;
    batch_ = X;
    K_ = model.coupling() + model.coupling().transpose();
    K_.diagonal().setZero();
    spins_ = S(2) * X.array() - S(1);
    field_.noalias() = spins_ * K_;
    energy_.noalias() = spins_ * model.bias();  // in place, as in relaxed_energy_unchecked
    energy_ = -(S(0.5) * (field_.array() * spins_.array()).rowwise().sum().matrix() + energy_);
    field_.rowwise() += model.bias().transpose();
    last_flips_.forget();
  }

  const IsingModel& model() const { return *model_; }
  const Matrix<S>& batch() const { return batch_; }
  const Vector<S>& energy() const { return energy_; }

  void input_gradient(Matrix<S>& G) const { G = S(-2) * field_; }

  /// @throws std::invalid_argument if `c.size() != n` or `g.size() != num_params()`
  void accumulate_param_gradient(const Eigen::Ref<const Vector<S>>& c, Eigen::Ref<Vector<S>> g) {
    constexpr std::string_view where = "ratiomatch::IsingModel::BatchEvaluation::accumulate_param_gradient";
    check_size_match(where, "c.size()", c.size(), "X.rows()", batch_.rows());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", model_->num_params());
    model_->add_weighted_spin_products(spins_, c, S(-1), weighted_, saved_diagonal_, g);
  }

  /// @brief `g += ∇_θ Σ_r V_rᵀ ∇ₓE(x_r)` (concept `HasMixedGradient`). With `∇ₓE = −2(K s + b)`
  /// this is `−2 (VᵀS + SᵀV)` on the off-diagonal of `J` (its diagonal unchanged) and `−2 Vᵀ1` on `b`.
  /// @throws std::invalid_argument unless `V` is `n × d` and `g.size() == num_params()`
  void accumulate_mixed_gradient(const Eigen::Ref<const Matrix<S>>& V, Eigen::Ref<Vector<S>> g) {
    constexpr std::string_view where = "ratiomatch::IsingModel::BatchEvaluation::accumulate_mixed_gradient";
    check_size_match(where, "V.rows()", V.rows(), "X.rows()", batch_.rows());
    check_size_match(where, "V.cols()", V.cols(), "X.cols()", batch_.cols());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", model_->num_params());
    const Index d = batch_.cols();
    Eigen::Map<RowMajorMatrix<S>> gJ(g.data(), d, d);
    saved_diagonal_ = gJ.diagonal();
    product_.noalias() = V.transpose() * spins_;
    gJ -= S(2) * (product_ + product_.transpose());
    gJ.diagonal() = saved_diagonal_;
    g.tail(d).noalias() -= S(2) * V.colwise().sum().transpose();
  }

  void flip_deltas(Matrix<S>& D) const { D = S(2) * (spins_.array() * field_.array()); }

  void flip_deltas(const IndexVector& rows, const IndexVector& bits, Vector<S>& delta) {
    check_flip_list("ratiomatch::IsingModel::BatchEvaluation::flip_deltas", batch_.rows(), batch_.cols(), rows, bits);
    selected_deltas(rows, bits, delta);
    last_flips_.remember(rows, bits, delta);
  }

  /// @tparam CoefficientFn called once, for the whole list as one block
  template <class CoefficientFn>
  void accumulate_flip_gradient(const IndexVector& rows, const IndexVector& bits, CoefficientFn&& coefficient,
                                Eigen::Ref<Vector<S>> g) {
    constexpr std::string_view where = "ratiomatch::IsingModel::BatchEvaluation::accumulate_flip_gradient";
    check_flip_list(where, batch_.rows(), batch_.cols(), rows, bits);
    check_size_match(where, "g.size()", g.size(), "model.num_params()", model_->num_params());
    selected_deltas(rows, bits, delta_);
    coefficient_.resize(rows.size());
    coefficient(Index{0}, Eigen::Ref<const Vector<S>>(delta_), Eigen::Ref<Vector<S>>(coefficient_));
    flip_weight_.setZero(batch_.rows(), batch_.cols());
    for (Index t = 0; t < rows.size(); ++t)
      flip_weight_(rows(t), bits(t)) += coefficient_(t) * spins_(rows(t), bits(t));
    const Index d = batch_.cols();
    Eigen::Map<RowMajorMatrix<S>> gJ(g.data(), d, d);
    saved_diagonal_ = gJ.diagonal();
    product_.noalias() = flip_weight_.transpose() * spins_;
    gJ += S(2) * (product_ + product_.transpose());
    gJ.diagonal() = saved_diagonal_;
    g.tail(d).noalias() += S(2) * flip_weight_.colwise().sum().transpose();
  }

  void accept_flips(const Eigen::Ref<const IndexVector>& accepted) {
    last_flips_.accept("ratiomatch::IsingModel::BatchEvaluation::accept_flips", accepted, batch_.rows(),
                       [&](Index r, Index i, S delta) {
                         const S old_spin = spins_(r, i);
                         field_.row(r) -= S(2) * old_spin * K_.row(i);  // K_ii = 0: h_ri itself is unchanged
                         spins_(r, i) = -old_spin;
                         batch_(r, i) = S(1) - batch_(r, i);
                         energy_(r) += delta;
                       });
  }


 private:
  void selected_deltas(const IndexVector& rows, const IndexVector& bits, Vector<S>& delta) const {
    delta.resize(rows.size());
    for (Index t = 0; t < rows.size(); ++t) delta(t) = S(2) * spins_(rows(t), bits(t)) * field_(rows(t), bits(t));
  }

  const IsingModel* model_ = nullptr;
  Matrix<S> batch_;
  Vector<S> energy_;
  RowMajorMatrix<S> K_, spins_, field_;  // K = J + Jᵀ (zero diagonal), s = 2x − 1, h = S K + 1 bᵀ
  RowMajorMatrix<S> weighted_, flip_weight_, product_;
  Vector<S> delta_, coefficient_, saved_diagonal_;
  detail::LastFlipList<S> last_flips_;
};

}  // namespace ratiomatch
