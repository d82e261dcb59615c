#pragma once
/// @file
/// @brief `MlpEnergy`: a fully connected network whose scalar output is the energy.

#include <cmath>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/models/activation.hpp"

namespace ratiomatch {

/// @brief Multi-layer perceptron energy `d → h_1 → … → h_k → 1`.
///
/// Layer `l` computes `z_l = W_l a_{l−1} + b_l` with `a_0 = x`, `a_l = act(z_l)` after every
/// hidden layer and `E(x) = z_{k+1}` (no activation on the output). Batches are processed as
/// matrix products with one sample per row (`Z_l = A_{l−1} W_lᵀ + 1 b_lᵀ`).
///
/// Backward pass with per-row weights `c` (`δ_{k+1} = c`):
/// `∂/∂W_l = δ_lᵀ A_{l−1}`, `∂/∂b_l = δ_lᵀ 1`, `δ_{l−1} = (δ_l W_l) ⊙ act'(Z_{l−1})`, and the
/// input gradient is `δ_1 W_1` with `c = 1`.
///
/// `flip_deltas` uses the rank-1 structure of the first layer: flipping bit `i` of `x` changes
/// `z_1` by `(1 − 2x_i) W_1[:, i]`, so a flipped row costs the layers above the first only.
///
/// `params()` order: for each layer its `W` (out × in, row-major) then its `b`, the order of
/// PyTorch's `nn.Linear` parameters. Const members reuse mutable workspaces (no allocation
/// once sized): one instance must not be used from two threads at once.
/// @tparam S `float` or `double`
template <class S>
class MlpEnergy {
 public:
  using Scalar = S;

  /// @brief Rows of flipped inputs evaluated at once by `flip_deltas` (bounds its memory).
  static constexpr Index flip_block_rows = 512;

  /// @brief A network with layer widths `dim, hidden..., 1`; parameters start at zero
  /// (call `initialize`).
  /// @throws std::invalid_argument if `dim` or any hidden width is not positive
  MlpEnergy(Index dim, std::vector<Index> hidden, Activation activation = Activation::Swish)
      : activation_(activation) {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::MlpEnergy";
    check_positive(where, "dim", dim);
    widths_.push_back(dim);
    for (std::size_t l = 0; l < hidden.size(); ++l) {
      check_positive(where, "hidden[" + std::to_string(l) + "]", hidden[l]);
      widths_.push_back(hidden[l]);
    }
    widths_.push_back(1);
    Index offset = 0;
    for (Index l = 0; l < num_layers(); ++l) {
      weight_offset_.push_back(offset);
      offset += widths_[l + 1] * widths_[l] + widths_[l + 1];
    }
    theta_.setZero(offset);
  }

  Index dim() const { return widths_.front(); }
  Index num_params() const { return theta_.size(); }
  /// @brief Number of affine layers (hidden layers + the output layer).
  Index num_layers() const { return static_cast<Index>(widths_.size()) - 1; }
  /// @brief Layer widths `d, h_1, …, h_k, 1`.
  const std::vector<Index>& widths() const { return widths_; }
  Activation activation() const { return activation_; }

  /// @brief All parameters as one writable vector (per layer: `W` row-major, then `b`).
  Eigen::Map<Vector<S>> params() { return {theta_.data(), theta_.size()}; }
  Eigen::Map<const Vector<S>> params() const { return {theta_.data(), theta_.size()}; }

  /// @brief Weight `W_l` (out × in) of layer `l` (0-based), a view into `params()`.
  Eigen::Map<RowMajorMatrix<S>> weight(Index l) { return {theta_.data() + weight_offset_[l], widths_[l + 1], widths_[l]}; }
  Eigen::Map<const RowMajorMatrix<S>> weight(Index l) const {
    return {theta_.data() + weight_offset_[l], widths_[l + 1], widths_[l]};
  }
  /// @brief Bias `b_l` of layer `l`, a view into `params()`.
  Eigen::Map<Vector<S>> bias(Index l) { return {theta_.data() + bias_offset(l), widths_[l + 1]}; }
  Eigen::Map<const Vector<S>> bias(Index l) const { return {theta_.data() + bias_offset(l), widths_[l + 1]}; }

  /// @brief Draws every weight and bias of a layer uniformly from `±1/√fan_in`, as
  /// `torch.nn.Linear` does by default.
  template <std::uniform_random_bit_generator Rng>
  void initialize(Rng& rng) {
    for (Index l = 0; l < num_layers(); ++l) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(widths_[l]));
      auto draw = [&] { return static_cast<S>((2.0 * uniform_open01(rng) - 1.0) * bound); };
      auto W = weight(l);
      for (Index r = 0; r < W.rows(); ++r)
        for (Index c = 0; c < W.cols(); ++c) W(r, c) = draw();
      auto b = bias(l);
      for (Index r = 0; r < b.size(); ++r) b(r) = draw();
    }
  }

  /// @brief `e(r) = E(X.row(r))`.
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  void energy(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    check_batch("ratiomatch::MlpEnergy::energy", X, dim());
    forward(batch_, X);
    e = output(batch_, X.rows());
  }

  /// @brief The network at real-valued `X` (no binary check): the continuous extension.
  void relaxed_energy(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::relaxed_energy";
    check_nonempty(where, X);
    check_size_match(where, "X.cols()", X.cols(), "model.dim()", dim());
    forward(batch_, X);
    e = output(batch_, X.rows());
  }

  /// @brief `G.row(r) = ∂E/∂x` at `X.row(r)` (backward pass with `c = 1`).
  void input_gradient(const Eigen::Ref<const Matrix<S>>& X, Matrix<S>& G) const {
    check_batch("ratiomatch::MlpEnergy::input_gradient", X, dim());
    forward(batch_, X);
    batch_.dz[num_layers() - 1].topRows(X.rows()).setOnes();
    backward(batch_, X, nullptr, &G);
  }

  /// @brief `g += Σ_r c(r) ∇_θ E(X.row(r))`.
  /// @throws std::invalid_argument on bad `X`, `c.size() != n` or `g.size() != num_params()`
  void accumulate_param_gradient(const Eigen::Ref<const Matrix<S>>& X, const Eigen::Ref<const Vector<S>>& c,
                                 Eigen::Ref<Vector<S>> g) const {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::accumulate_param_gradient";
    check_batch(where, X, dim());
    check_size_match(where, "c.size()", c.size(), "X.rows()", X.rows());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", num_params());
    forward(batch_, X);
    batch_.dz[num_layers() - 1].col(0).head(X.rows()) = c;
    backward(batch_, X, &g, nullptr);
  }

  /// @brief `D(r, i) = E(x_r with bit i flipped) − E(x_r)` for all bits, in blocks of
  /// `flip_block_rows` flipped rows through the layers above the first.
  void flip_deltas(const Eigen::Ref<const Matrix<S>>& X, Matrix<S>& D) const {
    check_batch("ratiomatch::MlpEnergy::flip_deltas", X, dim());
    const Index n = X.rows(), d = dim();
    forward(batch_, X);
    D.resize(n, d);
    const Index total = n * d;
    flip_rows_.resize(flip_block_rows);
    flip_bits_.resize(flip_block_rows);
    for (Index start = 0; start < total; start += flip_block_rows) {
      const Index count = std::min(flip_block_rows, total - start);
      for (Index k = 0; k < count; ++k) {
        flip_rows_(k) = (start + k) / d;
        flip_bits_(k) = (start + k) % d;
      }
      flipped_energy_block(X, flip_rows_, flip_bits_, 0, count);
      for (Index k = 0; k < count; ++k)
        D(flip_rows_(k), flip_bits_(k)) = flips_.z[num_layers() - 1](k, 0) - batch_energy(flip_rows_(k));
    }
  }

  /// @brief `delta(t) = E(x_{rows(t)} with bit bits(t) flipped) − E(x_{rows(t)})`.
  /// @throws std::invalid_argument on bad `X`, mismatched lengths or an index out of range
  void flip_deltas(const Eigen::Ref<const Matrix<S>>& X, const IndexVector& rows, const IndexVector& bits,
                   Vector<S>& delta) const {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::flip_deltas";
    check_batch(where, X, dim());
    check_size_match(where, "bits.size()", bits.size(), "rows.size()", rows.size());
    if (rows.size() > 0 && (rows.minCoeff() < 0 || rows.maxCoeff() >= X.rows()))
      throw std::invalid_argument(detail::message(where, "a row index is outside [0, ", X.rows(), ")"));
    if (bits.size() > 0 && (bits.minCoeff() < 0 || bits.maxCoeff() >= dim()))
      throw std::invalid_argument(detail::message(where, "a bit index is outside [0, ", dim(), ")"));
    forward(batch_, X);
    delta.resize(rows.size());
    for (Index start = 0; start < rows.size(); start += flip_block_rows) {
      const Index count = std::min(flip_block_rows, rows.size() - start);
      flipped_energy_block(X, rows, bits, start, count);
      for (Index k = 0; k < count; ++k)
        delta(start + k) = flips_.z[num_layers() - 1](k, 0) - batch_energy(rows(start + k));
    }
  }

 private:
  // Pre-activations, activations and backward deltas per layer; grown, never shrunk,
  // and used through topRows(n) so that a smaller batch does not reallocate.
  struct Workspace {
    std::vector<Matrix<S>> z, a, dz;
  };

  Index bias_offset(Index l) const { return weight_offset_[l] + widths_[l + 1] * widths_[l]; }

  void reserve(Workspace& ws, Index rows) const {
    const Index L = num_layers();
    if (static_cast<Index>(ws.z.size()) == L && ws.z[0].rows() >= rows) return;
    ws.z.resize(L);
    ws.a.resize(L);
    ws.dz.resize(L);
    for (Index l = 0; l < L; ++l) {
      ws.z[l].resize(rows, widths_[l + 1]);
      ws.dz[l].resize(rows, widths_[l + 1]);
      if (l + 1 < L) ws.a[l].resize(rows, widths_[l + 1]);
    }
  }

  auto output(const Workspace& ws, Index rows) const { return ws.z[num_layers() - 1].col(0).head(rows); }
  S batch_energy(Index r) const { return batch_.z[num_layers() - 1](r, 0); }

  void forward(Workspace& ws, const Eigen::Ref<const Matrix<S>>& X) const {
    const Index n = X.rows();
    reserve(ws, n);
    auto z0 = ws.z[0].topRows(n);
    z0.noalias() = X * weight(0).transpose();
    z0.rowwise() += bias(0).transpose();
    forward_above_first(ws, n);
  }

  // Given the first pre-activation in ws.z[0], completes the forward pass.
  void forward_above_first(Workspace& ws, Index n) const {
    for (Index l = 1; l < num_layers(); ++l) {
      detail::activate(activation_, ws.z[l - 1].topRows(n).array(), ws.a[l - 1].topRows(n).array());
      auto zl = ws.z[l].topRows(n);
      zl.noalias() = ws.a[l - 1].topRows(n) * weight(l).transpose();
      zl.rowwise() += bias(l).transpose();
    }
  }

  // Expects ws.dz[L−1] to hold the output weights; accumulates the parameter gradient
  // into *g and/or writes the input gradient into *G.
  void backward(Workspace& ws, const Eigen::Ref<const Matrix<S>>& X, Eigen::Ref<Vector<S>>* g,
                Matrix<S>* G) const {
    const Index n = X.rows();
    for (Index l = num_layers() - 1; l >= 0; --l) {
      auto dz = ws.dz[l].topRows(n);
      if (g != nullptr) {
        Eigen::Map<RowMajorMatrix<S>> gW(g->data() + weight_offset_[l], widths_[l + 1], widths_[l]);
        if (l == 0)
          gW.noalias() += dz.transpose() * X;
        else
          gW.noalias() += dz.transpose() * ws.a[l - 1].topRows(n);
        g->segment(bias_offset(l), widths_[l + 1]).noalias() += dz.colwise().sum().transpose();
      }
      if (l > 0) {
        auto dz_below = ws.dz[l - 1].topRows(n);
        dz_below.noalias() = dz * weight(l);
        detail::multiply_by_derivative(activation_, ws.z[l - 1].topRows(n).array(), ws.a[l - 1].topRows(n).array(),
                                       dz_below.array());
      } else if (G != nullptr) {
        G->resize(n, dim());
        G->noalias() = dz * weight(0);
      }
    }
  }

  // Energies of flips start..start+count−1 of the list into flips_.z[L−1](0..count−1, 0);
  // needs batch_ to hold the forward pass of X.
  void flipped_energy_block(const Eigen::Ref<const Matrix<S>>& X, const IndexVector& rows, const IndexVector& bits,
                            Index start, Index count) const {
    reserve(flips_, flip_block_rows);
    flip_sign_.resize(flip_block_rows);
    for (Index k = 0; k < count; ++k) flip_sign_(k) = S(1) - S(2) * X(rows(start + k), bits(start + k));
    const auto W0 = weight(0);
    const auto& Z0 = batch_.z[0];
    auto& z0 = flips_.z[0];
    for (Index j = 0; j < widths_[1]; ++j) {
      const S* w_row = W0.row(j).data();
      for (Index k = 0; k < count; ++k)
        z0(k, j) = Z0(rows(start + k), j) + flip_sign_(k) * w_row[bits(start + k)];
    }
    forward_above_first(flips_, count);
  }

  std::vector<Index> widths_;
  std::vector<Index> weight_offset_;
  Activation activation_;
  Vector<S> theta_;
  mutable Workspace batch_, flips_;
  mutable IndexVector flip_rows_, flip_bits_;
  mutable Vector<S> flip_sign_;
};

}  // namespace ratiomatch
