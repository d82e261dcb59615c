#pragma once
/// @file
/// @brief `MlpEnergy`: a fully connected network whose scalar output is the energy.

#include <algorithm>
#include <cmath>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/parallel.hpp"
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
/// Its batch evaluation (`MlpEnergy::BatchEvaluation`) keeps the forward pass of a batch and
/// uses the rank-1 structure of the first layer: flipping bit `i` of `x` changes `z_1` by
/// `(1 − 2x_i) W_1[:, i]`, so a flipped row costs the layers above the first only.
///
/// With `Activation::LearnableSwish`, `a(z) = z σ(βz)` with one slope `β` shared by every
/// hidden layer; its gradient is `∂E/∂β = Σ_l Σ_units (δ_l W_l) ⊙ z_{l−1} a_{l−1} (1 − σ(βz_{l−1}))`
/// (the gradient with respect to each activation times `∂a/∂β`), accumulated in every backward
/// pass that accumulates a parameter gradient, the flipped rows' included.
///
/// `params()` order: for each layer its `W` (out × in, row-major) then its `b`, the order of
/// PyTorch's `nn.Linear` parameters; with `LearnableSwish`, `β` last, after the output layer's
/// bias (`initialize` sets it to 1). The model holds its parameters only: a const model can be
/// used from several threads at once. The direct members (`energy`, `input_gradient`, …) use a
/// workspace of the calling thread, reused from call to call; steps that repeat use a batch
/// evaluation, whose state the caller owns.
/// @tparam S `float` or `double`
template <class S>
class MlpEnergy {
 public:
  using Scalar = S;

  /// @brief Rows of flipped inputs evaluated at once by the batch evaluation (bounds its memory).
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
    if (activation == Activation::LearnableSwish) ++offset;  // β, last
    theta_.setZero(offset);
    if (activation == Activation::LearnableSwish) theta_(offset - 1) = S(1);
  }

  Index dim() const { return widths_.front(); }
  Index num_params() const { return theta_.size(); }
  /// @brief Number of affine layers (hidden layers + the output layer).
  Index num_layers() const { return static_cast<Index>(widths_.size()) - 1; }
  /// @brief Layer widths `d, h_1, …, h_k, 1`.
  const std::vector<Index>& widths() const { return widths_; }
  Activation activation() const { return activation_; }
  /// @brief Whether the activation has a learned slope `β` (`Activation::LearnableSwish`).
  bool has_slope() const { return activation_ == Activation::LearnableSwish; }
  /// @brief The activation's slope `β`: the last parameter with `LearnableSwish`, else 1.
  S slope() const { return has_slope() ? theta_(theta_.size() - 1) : S(1); }

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
    if (has_slope()) theta_(theta_.size() - 1) = S(1);
  }

  /// @brief `e(r) = E(X.row(r))`.
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  void energy(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    check_batch("ratiomatch::MlpEnergy::energy", X, dim());
    Workspace& ws = scratch();
    forward(ws, X);
    e = output(ws, X.rows());
  }

  /// @brief The network at real-valued `X` (no binary check): the continuous extension.
  void relaxed_energy(const Eigen::Ref<const Matrix<S>>& X, Vector<S>& e) const {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::relaxed_energy";
    check_nonempty(where, X);
    check_size_match(where, "X.cols()", X.cols(), "model.dim()", dim());
    Workspace& ws = scratch();
    forward(ws, X);
    e = output(ws, X.rows());
  }

  /// @brief `G.row(r) = ∂E/∂x` at `X.row(r)` (backward pass with `c = 1`).
  void input_gradient(const Eigen::Ref<const Matrix<S>>& X, Matrix<S>& G) const {
    check_batch("ratiomatch::MlpEnergy::input_gradient", X, dim());
    Workspace& ws = scratch();
    forward(ws, X);
    ws.dz[num_layers() - 1].topRows(X.rows()).setOnes();
    backward(ws, X, nullptr, &G);
  }

  /// @brief `g += Σ_r c(r) ∇_θ E(X.row(r))`.
  /// @throws std::invalid_argument on bad `X`, `c.size() != n` or `g.size() != num_params()`
  void accumulate_param_gradient(const Eigen::Ref<const Matrix<S>>& X, const Eigen::Ref<const Vector<S>>& c,
                                 Eigen::Ref<Vector<S>> g) const {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::accumulate_param_gradient";
    check_batch(where, X, dim());
    check_size_match(where, "c.size()", c.size(), "X.rows()", X.rows());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", num_params());
    Workspace& ws = scratch();
    forward(ws, X);
    ws.dz[num_layers() - 1].col(0).head(X.rows()) = c;
    backward(ws, X, g.data(), nullptr);
  }

  class BatchEvaluation;

 private:
  // Pre-activations, activations and backward deltas per layer; grown, never shrunk,
  // and used through topRows(n) so that a smaller batch does not reallocate.
  struct Workspace {
    std::vector<Matrix<S>> z, a, dz;
  };

  Index bias_offset(Index l) const { return weight_offset_[l] + widths_[l + 1] * widths_[l]; }

  // The direct members' workspace: one per thread (not per model), grown and reused, so that
  // repeated calls allocate nothing and a const model stays shareable between threads.
  static Workspace& scratch() {
    thread_local Workspace ws;
    return ws;
  }

  void reserve(Workspace& ws, Index rows) const {
    const Index L = num_layers();
    // A workspace may have served another network (the per-thread scratch): check every layer.
    bool fits = static_cast<Index>(ws.z.size()) == L;
    for (Index l = 0; fits && l < L; ++l) fits = ws.z[l].rows() >= rows && ws.z[l].cols() == widths_[l + 1];
    if (fits) return;
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

  void forward(Workspace& ws, const Eigen::Ref<const Matrix<S>>& X) const {
    const Index n = X.rows();
    reserve(ws, n);
    auto z0 = ws.z[0].topRows(n);
    z0.noalias() = X * weight(0).transpose();
    z0.rowwise() += bias(0).transpose();
    forward_above_first(ws, n);
  }

  // Given the first pre-activation in ws.z[0], completes the forward pass. Each layer's bias
  // and activation are applied column by column right after its product, while the column
  // is still in cache.
  void forward_above_first(Workspace& ws, Index n) const {
    const Index L = num_layers();
    const S beta = slope();
    if (L > 1) detail::activate(activation_, ws.z[0].topRows(n).array(), ws.a[0].topRows(n).array(), beta);
    for (Index l = 1; l < L; ++l) {
      auto zl = ws.z[l].topRows(n);
      zl.noalias() = ws.a[l - 1].topRows(n) * weight(l).transpose();
      const auto b = bias(l);
      for (Index j = 0; j < zl.cols(); ++j) {
        auto column = zl.col(j).array();
        column += b(j);
        if (l + 1 < L) detail::activate(activation_, column, ws.a[l].col(j).head(n).array(), beta);
      }
    }
  }

  // From the output weights in ws.dz[L−1] down to the first layer's deltas in ws.dz[0];
  // accumulates the weight and bias gradients of the layers above the first into g (if given).
  void backward_above_first(Workspace& ws, Index n, S* g) const {
    for (Index l = num_layers() - 1; l >= 1; --l) {
      auto dz = ws.dz[l].topRows(n);
      if (g != nullptr) {
        Eigen::Map<RowMajorMatrix<S>> gW(g + weight_offset_[l], widths_[l + 1], widths_[l]);
        gW.noalias() += dz.transpose() * ws.a[l - 1].topRows(n);
        Eigen::Map<Vector<S>>(g + bias_offset(l), widths_[l + 1]).noalias() += dz.colwise().sum().transpose();
      }
      auto dz_below = ws.dz[l - 1].topRows(n);
      dz_below.noalias() = dz * weight(l);  // the gradient with respect to the activations a_{l−1}
      const auto z = ws.z[l - 1].topRows(n).array();
      const auto a = ws.a[l - 1].topRows(n).array();
      if (g != nullptr && has_slope()) g[num_params() - 1] += detail::slope_gradient(z, a, dz_below.array(), slope());
      detail::multiply_by_derivative(activation_, z, a, dz_below.array(), slope());
    }
  }

  // Expects ws.dz[L−1] to hold the output weights; accumulates the parameter gradient
  // into g and/or writes the input gradient into *G (each if not null).
  void backward(Workspace& ws, const Eigen::Ref<const Matrix<S>>& X, S* g, Matrix<S>* G) const {
    const Index n = X.rows();
    backward_above_first(ws, n, g);
    auto dz = ws.dz[0].topRows(n);
    if (g != nullptr) {
      Eigen::Map<RowMajorMatrix<S>> gW(g + weight_offset_[0], widths_[1], widths_[0]);
      gW.noalias() += dz.transpose() * X;
      Eigen::Map<Vector<S>>(g + bias_offset(0), widths_[1]).noalias() += dz.colwise().sum().transpose();
    }
    if (G != nullptr) {
      G->resize(n, dim());
      G->noalias() = dz * weight(0);
    }
  }

  std::vector<Index> widths_;
  std::vector<Index> weight_offset_;
  Activation activation_;
  Vector<S> theta_;
};

/// @brief The batch evaluation of an `MlpEnergy` (see `core/batch_evaluation.hpp` for the
/// protocol): owns the forward pass of its batch and per-thread workspaces, so that a const
/// model can be shared by threads, each with its own evaluation.
///
/// Flips use the rank-1 structure of the first layer: flipping bit `i` of `x` moves `z_1` by
/// `s W_1[:, i]` with `s = 1 − 2x_i`, so a flipped row costs the layers above the first only
/// (blocks of at most `MlpEnergy::flip_block_rows` flipped rows, shared among OpenMP threads,
/// each with its own workspace and gradient, summed in thread order: a fixed thread count is
/// bit-identical). The fused gradient `accumulate_flip_gradient` goes forward and backward
/// once per flipped row; the first layer's weight gradient uses the same structure,
/// `Σ_t δ_t (x_{r_t} + s_t e_{i_t})ᵀ = Σ_r (Σ_{t: r_t = r} δ_t) x_rᵀ + Σ_t s_t δ_t e_{i_t}ᵀ`,
/// one product over the `n` base rows (shared with their own backward pass) plus a sparse
/// correction per flip. `accept_flips` moves the accepted rows' first layer by the same rank-1
/// step and their energy by the evaluated `ΔE`; the layers above the first are brought up to
/// date only when a member needs them (input and parameter gradients).
template <class S>
class MlpEnergy<S>::BatchEvaluation {
 public:
  using Model = MlpEnergy<S>;
  using Scalar = S;

  /// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`
  void bind(const MlpEnergy& model, const Eigen::Ref<const Matrix<S>>& X) {
    check_batch("ratiomatch::MlpEnergy::BatchEvaluation::bind", X, model.dim());
    model_ = &model;
    batch_ = X;
    model.forward(forward_, batch_);
    energy_ = model.output(forward_, batch_.rows());
    above_first_current_ = true;
    last_flips_.forget();
  }

  const MlpEnergy& model() const { return *model_; }
  const Matrix<S>& batch() const { return batch_; }
  const Vector<S>& energy() const { return energy_; }

  /// @brief `G.row(r) = ∂E/∂x` at row `r` (one backward pass, the forward pass reused).
  void input_gradient(Matrix<S>& G) {
    refresh_above_first();
    const Index n = batch_.rows();
    forward_.dz[model_->num_layers() - 1].topRows(n).setOnes();
    model_->backward(forward_, batch_, nullptr, &G);
  }

  /// @brief `g += Σ_r c(r) ∇_θE(x_r)` (one backward pass, the forward pass reused).
  /// @throws std::invalid_argument if `c.size() != n` or `g.size() != num_params()`
  void accumulate_param_gradient(const Eigen::Ref<const Vector<S>>& c, Eigen::Ref<Vector<S>> g) {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::BatchEvaluation::accumulate_param_gradient";
    check_size_match(where, "c.size()", c.size(), "X.rows()", batch_.rows());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", model_->num_params());
    refresh_above_first();
    forward_.dz[model_->num_layers() - 1].col(0).head(batch_.rows()) = c;
    model_->backward(forward_, batch_, g.data(), nullptr);
  }

  void flip_deltas(Matrix<S>& D) {
    const Index n = batch_.rows(), d = batch_.cols();
    detail::list_all_flips(n, d, all_rows_, all_bits_);
    D.resize(n, d);
    for_each_flip_block(all_rows_, all_bits_, [&](ThreadState& state, Index start, Index count) {
      for (Index k = 0; k < count; ++k) D(all_rows_(start + k), all_bits_(start + k)) = state.delta(k);
    });
  }

  void flip_deltas(const IndexVector& rows, const IndexVector& bits, Vector<S>& delta) {
    check_flip_list("ratiomatch::MlpEnergy::BatchEvaluation::flip_deltas", batch_.rows(), batch_.cols(), rows, bits);
    delta.resize(rows.size());
    for_each_flip_block(rows, bits, [&](ThreadState& state, Index start, Index count) {
      delta.segment(start, count) = state.delta.head(count);
    });
    last_flips_.remember(rows, bits, delta);
  }

  /// @tparam CoefficientFn `void(Index start, const Eigen::Ref<const Vector<S>>& delta,
  ///         Eigen::Ref<Vector<S>> c)`, called once per block, possibly from several threads at
  ///         once for disjoint blocks; must not throw
  template <class CoefficientFn>
  void accumulate_flip_gradient(const IndexVector& rows, const IndexVector& bits, CoefficientFn&& coefficient,
                                Eigen::Ref<Vector<S>> g) {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::BatchEvaluation::accumulate_flip_gradient";
    check_flip_list(where, batch_.rows(), batch_.cols(), rows, bits);
    check_size_match(where, "g.size()", g.size(), "model.num_params()", model_->num_params());
    refresh_above_first();
    const MlpEnergy& m = *model_;
    const Index n = batch_.rows(), L = m.num_layers(), h1 = m.widths_[1];
    const Index used = for_each_flip_block(
        rows, bits,
        [&](ThreadState& state, Index start, Index count) {
          auto c = state.coefficient.head(count);
          coefficient(start, state.delta.head(count), c);
          flip_block_backward(rows, bits, start, count, state);
        },
        [&](ThreadState& state) {
          state.grad.setZero(m.num_params());
          state.row_delta.setZero(n, h1);
          state.row_coefficient.setZero(n);
        });
    // Sum the threads' parts in thread order (deterministic for a fixed thread count).
    auto base_seed = forward_.dz[L - 1].col(0).head(n);
    base_seed.setZero();
    for (Index k = 0; k < used; ++k) {
      g += threads_[k].grad;
      base_seed -= threads_[k].row_coefficient;
    }
    // The base rows' own backward pass, with the flips' first-layer deltas folded in.
    m.backward_above_first(forward_, n, g.data());
    auto dz0 = forward_.dz[0].topRows(n);
    for (Index k = 0; k < used; ++k) dz0 += threads_[k].row_delta;
    g.segment(m.bias_offset(0), h1).noalias() += dz0.colwise().sum().transpose();
    Eigen::Map<RowMajorMatrix<S>> gW0(g.data() + m.weight_offset_[0], h1, m.dim());
    gW0.noalias() += dz0.transpose() * batch_;
  }

  /// @brief `g += ∇_θ Σ_r V_rᵀ ∇ₓE(x_r)` (concept `HasMixedGradient`), forward over reverse: the
  /// tangents `Ż_0 = V W_0ᵀ`, `Ȧ_l = a'(Z_l) ⊙ Ż_l`, `Ż_l = Ȧ_{l−1} W_lᵀ` ride along the input
  /// gradient's backward pass (`D^a_l` the gradient with respect to `A_l`, `D^z_l = D^a_l ⊙ a'(Z_l)`,
  /// output weight 1), whose tangent is `Ḋ^z_l = Ḋ^a_l ⊙ a'(Z_l) + D^a_l ⊙ a''(Z_l) ⊙ Ż_l`,
  /// `Ḋ^a_{l−1} = Ḋ^z_l W_l` (`Ḋ` = 0 at the output). Then `∂/∂W_l = Ḋ^z_lᵀ A_{l−1} + D^z_lᵀ Ȧ_{l−1}`
  /// (`A_{−1} = X`, `Ȧ_{−1} = V`), `∂/∂b_l = Ḋ^z_lᵀ 1`, and with `LearnableSwish`
  /// `∂/∂β = Σ_l Σ (Ḋ^a_l ⊙ ∂a/∂β + D^a_l ⊙ Ż_l ⊙ ∂²a/∂z∂β)`. Cost: about two backward passes.
  /// @throws std::invalid_argument unless `V` is `n × d` and `g.size() == num_params()`
  void accumulate_mixed_gradient(const Eigen::Ref<const Matrix<S>>& V, Eigen::Ref<Vector<S>> g) {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::BatchEvaluation::accumulate_mixed_gradient";
    const MlpEnergy& m = *model_;
    check_size_match(where, "V.rows()", V.rows(), "X.rows()", batch_.rows());
    check_size_match(where, "V.cols()", V.cols(), "X.cols()", batch_.cols());
    check_size_match(where, "g.size()", g.size(), "model.num_params()", m.num_params());
    refresh_above_first();
    const Index n = batch_.rows(), L = m.num_layers(), hidden = L - 1;
    const S beta = m.slope();
    auto& t = mixed_;
    t.da.resize(hidden);
    t.dz.resize(hidden);
    t.z_tangent.resize(hidden);
    t.a_tangent.resize(hidden);
    // The input gradient's backward pass, keeping D^a and D^z of every hidden layer.
    for (Index l = hidden - 1; l >= 0; --l) {
      if (l == hidden - 1)
        t.da[l] = m.weight(L - 1).row(0).replicate(n, 1);
      else
        t.da[l].noalias() = t.dz[l + 1] * m.weight(l + 1);
      t.dz[l] = t.da[l];
      detail::multiply_by_derivative(m.activation_, forward_.z[l].topRows(n).array(), forward_.a[l].topRows(n).array(),
                                     t.dz[l].array(), beta);
    }
    // Tangents of the forward pass along V.
    for (Index l = 0; l < hidden; ++l) {
      if (l == 0)
        t.z_tangent[l].noalias() = V * m.weight(0).transpose();
      else
        t.z_tangent[l].noalias() = t.a_tangent[l - 1] * m.weight(l).transpose();
      t.a_tangent[l] = t.z_tangent[l];
      detail::multiply_by_derivative(m.activation_, forward_.z[l].topRows(n).array(), forward_.a[l].topRows(n).array(),
                                     t.a_tangent[l].array(), beta);
    }
    auto below = [&](Index l) -> Eigen::Ref<const Matrix<S>> {
      return l == 0 ? Eigen::Ref<const Matrix<S>>(batch_) : Eigen::Ref<const Matrix<S>>(forward_.a[l - 1].topRows(n));
    };
    auto below_tangent = [&](Index l) -> const Eigen::Ref<const Matrix<S>> {
      return l == 0 ? Eigen::Ref<const Matrix<S>>(V) : Eigen::Ref<const Matrix<S>>(t.a_tangent[l - 1]);
    };
    // Output layer: Ḋ^z = 0, D^z = 1.
    Eigen::Map<RowMajorMatrix<S>>(g.data() + m.weight_offset_[L - 1], 1, m.widths_[L - 1]).noalias() +=
        below_tangent(L - 1).colwise().sum();
    // The tangent of the backward pass, down through the hidden layers.
    for (Index l = hidden - 1; l >= 0; --l) {
      const auto z = forward_.z[l].topRows(n).array();
      const auto a = forward_.a[l].topRows(n).array();
      if (l == hidden - 1)
        t.dz_tangent.setZero(n, m.widths_[l + 1]);
      else
        t.dz_tangent.noalias() = t.dz_below * m.weight(l + 1);  // Ḋ^a_l
      if (m.has_slope())
        g(m.num_params() - 1) += detail::slope_gradient(z, a, t.dz_tangent.array(), beta) +
                                 detail::slope_mixed_term(z, t.da[l].array(), t.z_tangent[l].array(), beta);
      detail::multiply_by_derivative(m.activation_, z, a, t.dz_tangent.array(), beta);
      t.curvature = t.da[l];
      t.curvature.array() *= t.z_tangent[l].array();
      detail::multiply_by_second_derivative(m.activation_, z, a, t.curvature.array(), beta);
      t.dz_tangent += t.curvature;  // Ḋ^z_l
      Eigen::Map<RowMajorMatrix<S>> gW(g.data() + m.weight_offset_[l], m.widths_[l + 1], m.widths_[l]);
      gW.noalias() += t.dz_tangent.transpose() * below(l);
      gW.noalias() += t.dz[l].transpose() * below_tangent(l);
      Eigen::Map<Vector<S>>(g.data() + m.bias_offset(l), m.widths_[l + 1]).noalias() +=
          t.dz_tangent.colwise().sum().transpose();
      t.dz_below.swap(t.dz_tangent);
    }
  }

  void accept_flips(const Eigen::Ref<const IndexVector>& accepted) {
    const auto W0 = model_->weight(0);
    last_flips_.accept("ratiomatch::MlpEnergy::BatchEvaluation::accept_flips", accepted, batch_.rows(),
                       [&](Index r, Index i, S delta) {
                         energy_(r) += delta;
                         const S sign = S(1) - S(2) * batch_(r, i);
                         batch_(r, i) = S(1) - batch_(r, i);
                         forward_.z[0].row(r) += sign * W0.col(i).transpose();
                       });
    if (accepted.size() > 0) above_first_current_ = model_->num_layers() == 1;
  }


 private:
  // What one thread needs for its blocks of flipped rows.
  struct ThreadState {
    Workspace ws;
    Vector<S> sign, delta, coefficient;  // per flip of the current block
    Vector<S> grad;                      // this thread's part of the gradient
    Matrix<S> row_delta;                 // Σ of first-layer deltas per base row (n × h1)
    Vector<S> row_coefficient;           // Σ of coefficients per base row
  };

  // The mixed gradient's workspace: per hidden layer D^a, D^z, Ż and Ȧ; the running Ḋ.
  struct MixedWorkspace {
    std::vector<Matrix<S>> da, dz, z_tangent, a_tangent;
    Matrix<S> dz_tangent, dz_below, curvature;
  };

  // After accept_flips the first layer and the energies are current, the layers above not.
  void refresh_above_first() {
    if (above_first_current_) return;
    model_->forward_above_first(forward_, batch_.rows());
    energy_ = model_->output(forward_, batch_.rows());
    above_first_current_ = true;
  }

  // Splits the flips (rows(t), bits(t)) into blocks shared among the threads. For each block
  // the flipped rows' first pre-activation is the base rows' plus s W_1[:, i] (their signs go
  // to state.sign), the layers above the first give state.delta = E(flipped) − E(base), and
  // body(state, start, count) runs. prepare(state) runs once per thread first. Returns the
  // number of thread states used.
  template <class Body, class Prepare = void (*)(ThreadState&)>
  Index for_each_flip_block(const IndexVector& rows, const IndexVector& bits, Body&& body,
                            Prepare&& prepare = [](ThreadState&) {}) {
    const MlpEnergy& m = *model_;
    const Index total = rows.size();
    // A flipped row costs the layers above the first: Σ_{l≥1} in_l · out_l multiply-adds.
    double row_cost = 0;
    for (Index l = 1; l < m.num_layers(); ++l) row_cost += static_cast<double>(m.widths_[l] * m.widths_[l + 1]);
    const Index threads = detail::worthwhile_threads(detail::available_threads(), static_cast<double>(total) * row_cost);
    const Index block = detail::balanced_block_size(total, flip_block_rows, threads);
    const Index blocks = (total + block - 1) / block;
    const Index used = std::max<Index>(1, std::min(threads, blocks));
    if (static_cast<Index>(threads_.size()) < used) threads_.resize(used);
    for (Index k = 0; k < used; ++k) {
      ThreadState& state = threads_[k];
      m.reserve(state.ws, block);
      state.sign.resize(block);
      state.delta.resize(block);
      state.coefficient.resize(block);
      prepare(state);
    }
    const Index L = m.num_layers(), h1 = m.widths_[1];
    const auto W0 = m.weight(0);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(used) if (used > 1)
#endif
    for (Index b = 0; b < blocks; ++b) {
      ThreadState& state = threads_[detail::thread_index()];
      const Index start = b * block, count = std::min(block, total - start);
      const Index* r = rows.data() + start;
      const Index* i = bits.data() + start;
      for (Index k = 0; k < count; ++k) state.sign(k) = S(1) - S(2) * batch_(r[k], i[k]);
      for (Index j = 0; j < h1; ++j) {
        const S* w_row = W0.row(j).data();
        const S* z0_base = forward_.z[0].col(j).data();
        S* out = state.ws.z[0].col(j).data();
        for (Index k = 0; k < count; ++k) out[k] = z0_base[r[k]] + state.sign(k) * w_row[i[k]];
      }
      m.forward_above_first(state.ws, count);
      for (Index k = 0; k < count; ++k) state.delta(k) = state.ws.z[L - 1](k, 0) - energy_(r[k]);
      body(state, start, count);
    }
    return used;
  }

  // Backward pass of a block whose coefficients are in state.coefficient: the layers above the
  // first into state.grad, the first layer's deltas summed per base row (state.row_delta) and
  // as sparse corrections s_t δ_t e_{i_t}ᵀ of its weight gradient.
  void flip_block_backward(const IndexVector& rows, const IndexVector& bits, Index start, Index count,
                           ThreadState& state) const {
    const MlpEnergy& m = *model_;
    const Index L = m.num_layers(), h1 = m.widths_[1];
    const Index* r = rows.data() + start;
    const Index* i = bits.data() + start;
    state.ws.dz[L - 1].col(0).head(count) = state.coefficient.head(count);
    for (Index k = 0; k < count; ++k) state.row_coefficient(r[k]) += state.coefficient(k);
    m.backward_above_first(state.ws, count, state.grad.data());
    const auto dz0 = state.ws.dz[0].topRows(count);
    // Per base row, the sum of its flips' first-layer deltas (they also give the first bias's
    // gradient, added with the base rows'). Estimators list flips grouped by row, so a run of
    // equal rows is one column-wise sum.
    for (Index k0 = 0; k0 < count;) {
      Index k1 = k0 + 1;
      while (k1 < count && r[k1] == r[k0]) ++k1;
      state.row_delta.row(r[k0]) += dz0.middleRows(k0, k1 - k0).colwise().sum();
      k0 = k1;
    }
    // W_1 is stored row-major (h1 × d), i.e. as a column-major d × h1 matrix: column j of
    // that view is row j of W_1, so the corrections below are scatters within one column.
    Eigen::Map<Matrix<S>> gW0_t(state.grad.data() + m.weight_offset_[0], m.dim(), h1);
    for (Index j = 0; j < h1; ++j) {
      const S* delta_j = dz0.col(j).data();
      S* per_bit = gW0_t.col(j).data();
      for (Index k = 0; k < count; ++k) per_bit[i[k]] += state.sign(k) * delta_j[k];
    }
  }

  const MlpEnergy* model_ = nullptr;
  Matrix<S> batch_;
  Vector<S> energy_;
  Workspace forward_;  // the batch's forward pass (and its backward deltas)
  MixedWorkspace mixed_;
  bool above_first_current_ = true;
  std::vector<ThreadState> threads_;
  IndexVector all_rows_, all_bits_;
  detail::LastFlipList<S> last_flips_;
};

}  // namespace ratiomatch
