#pragma once
/// @file
/// @brief `IsingModel`: a fully connected Ising model over binary vectors.

#include <string_view>

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
/// `params()` is `J` row-major (`d²` entries), then `b` (`d` entries).
/// Const members reuse mutable workspaces: one instance must not be used from two threads at once.
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
    energy_unchecked(X, e);
  }

  /// @brief The continuous extension of the energy at real-valued `X` (no binary check).
  void relaxed_energy(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    check_nonempty("ratiomatch::IsingModel::relaxed_energy", X);
    check_size_match("ratiomatch::IsingModel::relaxed_energy", "X.cols()", X.cols(), "model.dim()", dim_);
    energy_unchecked(X, e);
  }

  /// @brief `G.row(r) = ∂E/∂x = −2 (K s_r + b)` at `X.row(r)`.
  void input_gradient(const Eigen::Ref<const Matrix<S>>& X, Matrix<S>& G) const {
    check_batch("ratiomatch::IsingModel::input_gradient", X, dim_);
    local_field(X);
    G = S(-2) * field_;
  }

  /// @brief `g += Σ_r c(r) ∇_θ E(X.row(r))`: `g_J −= Sᵀ diag(c) S` off the diagonal, `g_b −= Sᵀ c`.
  /// @throws std::invalid_argument on bad `X`, `c.size() != n` or `g.size() != num_params()`
  void accumulate_param_gradient(const Eigen::Ref<const Matrix<S>>& X, const Eigen::Ref<const Vector<S>>& c,
                                 Eigen::Ref<Vector<S>> g) const {
    constexpr std::string_view where = "ratiomatch::IsingModel::accumulate_param_gradient";
    check_batch(where, X, dim_);
    check_size_match(where, "c.size()", c.size(), "X.rows()", X.rows());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", num_params());
    spins_ = S(2) * X.array() - S(1);
    weighted_spins_ = spins_.array().colwise() * c.array();
    Eigen::Map<RowMajorMatrix<S>> gJ(g.data(), dim_, dim_);
    // The diagonal carries no energy: keep its entries of g exactly as they were.
    saved_diagonal_ = gJ.diagonal();
    gJ.noalias() -= weighted_spins_.transpose() * spins_;
    gJ.diagonal() = saved_diagonal_;
    g.tail(dim_).noalias() -= spins_.transpose() * c;
  }

  /// @brief `D(r, i) = ΔE_i(x_r) = 2 s_ri h_ri`, exact, in O(d) per flip.
  void flip_deltas(const Eigen::Ref<const Matrix<S>>& X, Matrix<S>& D) const {
    check_batch("ratiomatch::IsingModel::flip_deltas", X, dim_);
    local_field(X);
    D = S(2) * (spins_.array() * field_.array());
  }

  /// @brief `delta(t) = ΔE_{bits(t)}(x_{rows(t)}) = 2 s_{r,i} h_{r,i}` for a list of flips
  /// `(r, i) = (rows(t), bits(t))`, exact, with `h_{r,i} = K.col(i) · s_r + b_i`.
  ///
  /// Two routes, the same numbers up to rounding:
  /// - every bit equal (`bits = i`, the Gibbs sampler's call with `rows = 0..n−1`): one
  ///   matrix-vector product over the batch with the single column `k = K.col(i)`, using
  ///   `S k = (2X − 1) k = 2 X k − (1ᵀk) 1`, so `h_{·,i} = 2 X k − 1ᵀk + b_i`: O(n d) for
  ///   the whole list, contiguous, and `K` itself is never formed (O(d) for `k`);
  /// - any other list: the spins of the batch are transposed once into a `d × n` workspace
  ///   (row `r` of the batch becomes a contiguous column) and each flip is a contiguous dot
  ///   product with `K.col(i)` (`K` is symmetric): O(n d + d² + k d).
  ///
  /// Rows and bits may repeat. Workspaces are reused: no allocation when the sizes repeat.
  /// @param X the batch, `n × d`, binary
  /// @param rows row of each flip, in `[0, n)`
  /// @param bits bit of each flip, in `[0, d)`
  /// @param delta resized to `rows.size()`
  /// @throws std::invalid_argument on an empty batch, a wrong width, a non-binary entry or
  ///   `bits.size() != rows.size()` (indices out of range are a debug assertion)
  void flip_deltas(const Eigen::Ref<const Matrix<S>>& X, const IndexVector& rows, const IndexVector& bits,
                   Vector<S>& delta) const {
    constexpr std::string_view where = "ratiomatch::IsingModel::flip_deltas";
    check_batch(where, X, dim_);
    check_size_match(where, "bits.size()", bits.size(), "rows.size()", rows.size());
    const Index count = rows.size();
    delta.resize(count);
    if (count == 0) return;
    const Index first_bit = bits(0);
    if ((bits.array() == first_bit).all()) {
      const Index i = first_bit;
      RATIOMATCH_ASSERT(i >= 0 && i < dim_);
      const auto J = coupling();
      column_ = J.row(i).transpose() + J.col(i);  // K.col(i) = J.col(i) + J.row(i)ᵀ
      column_(i) = S(0);
      field_column_.noalias() = X * column_;  // X k
      const S offset = theta_(dim_ * dim_ + i) - column_.sum();
      for (Index t = 0; t < count; ++t) {
        const Index r = rows(t);
        RATIOMATCH_ASSERT(r >= 0 && r < X.rows());
        const S s_i = S(2) * X(r, i) - S(1);
        delta(t) = S(2) * s_i * (S(2) * field_column_(r) + offset);
      }
      return;
    }
    coupling_sum();
    spins_transposed_ = S(2) * X.transpose().array() - S(1);
    for (Index t = 0; t < count; ++t) {
      const Index r = rows(t), i = bits(t);
      RATIOMATCH_ASSERT(r >= 0 && r < X.rows() && i >= 0 && i < dim_);
      const S h_i = K_.col(i).dot(spins_transposed_.col(r)) + theta_(dim_ * dim_ + i);
      delta(t) = S(2) * spins_transposed_(i, r) * h_i;
    }
  }

 private:
  // K = J + Jᵀ with a zero diagonal: the symmetric coupling that the energy actually sees.
  void coupling_sum() const {
    const auto J = coupling();
    K_ = J + J.transpose();
    K_.diagonal().setZero();
  }

  // spins_ = 2X − 1, field_ = S K + 1 bᵀ (one row per sample).
  void local_field(const Eigen::Ref<const Matrix<S>>& X) const {
    coupling_sum();
    spins_ = S(2) * X.array() - S(1);
    field_.noalias() = spins_ * K_;
    field_.rowwise() += bias().transpose();
  }

  void energy_unchecked(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    coupling_sum();
    spins_ = S(2) * X.array() - S(1);
    field_.noalias() = spins_ * K_;
    // Σ_{i≠j} J_ij s_i s_j = ½ sᵀ K s.
    e = -(S(0.5) * (field_.array() * spins_.array()).rowwise().sum().matrix() + spins_ * bias());
  }

  Index dim_;
  Vector<S> theta_;
  mutable Matrix<S> K_, spins_, field_, weighted_spins_;
  mutable Matrix<S> spins_transposed_;       // selected flips, general list: (2X − 1)ᵀ, d × n
  mutable Vector<S> column_, field_column_;  // selected flips, one bit i: K.col(i) and X K.col(i)
  mutable Vector<S> saved_diagonal_;
};

}  // namespace ratiomatch
