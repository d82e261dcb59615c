#pragma once
/// @file
/// @brief `MlpEnergy`: a fully connected network whose scalar output is the energy.

#include <algorithm>
#include <cmath>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

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
    input_gradient_source_ = source_of(X);
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

  /// @brief `D(r, i) = E(x_r with bit i flipped) − E(x_r)` for all bits, in blocks of at most
  /// `flip_block_rows` flipped rows through the layers above the first (threads share the blocks).
  void flip_deltas(const Eigen::Ref<const Matrix<S>>& X, Matrix<S>& D) const {
    check_batch("ratiomatch::MlpEnergy::flip_deltas", X, dim());
    const Index n = X.rows(), d = dim();
    all_rows_.resize(n * d);
    all_bits_.resize(n * d);
    for (Index r = 0; r < n; ++r)
      for (Index i = 0; i < d; ++i) all_rows_(r * d + i) = r, all_bits_(r * d + i) = i;
    forward(batch_, X);
    D.resize(n, d);
    for_each_flip_block(all_rows_.size(), gather_first_layer(batch_, X, all_rows_, all_bits_),
                        [&](ThreadState& state, Index start, Index count) {
                          for (Index k = 0; k < count; ++k)
                            D(all_rows_(start + k), all_bits_(start + k)) = state.delta(k);
                        });
  }

  /// @brief `delta(t) = E(x_{rows(t)} with bit bits(t) flipped) − E(x_{rows(t)})`.
  /// @throws std::invalid_argument on bad `X`, mismatched lengths or an index out of range
  void flip_deltas(const Eigen::Ref<const Matrix<S>>& X, const IndexVector& rows, const IndexVector& bits,
                   Vector<S>& delta) const {
    check_flip_list("ratiomatch::MlpEnergy::flip_deltas", X, rows, bits);
    forward(batch_, X);
    delta.resize(rows.size());
    for_each_flip_block(rows.size(), gather_first_layer(batch_, X, rows, bits),
                        [&](ThreadState& state, Index start, Index count) {
                          delta.segment(start, count) = state.delta.head(count);
                        });
  }

  /// @brief Fused flipped energies and gradient (see `HasFlipGradient`): for each block of
  /// flips, `ΔE_t` from the rank-1 first layer, `c_t = coefficient(…)`, and
  /// `g += Σ_t c_t (∇_θE(x_{r_t} with bit i_t flipped) − ∇_θE(x_{r_t}))`.
  ///
  /// Each flipped row goes forward and backward once through the layers above the first. The
  /// first layer's weight gradient uses the same rank-1 structure: with `δ_t` the first-layer
  /// delta of flip `t` and `s_t = 1 − 2x_{r_t, i_t}`,
  /// `Σ_t δ_t (x_{r_t} + s_t e_{i_t})ᵀ = Σ_r (Σ_{t: r_t = r} δ_t) x_rᵀ + Σ_t s_t δ_t e_{i_t}ᵀ`,
  /// so it costs one product over the n base rows (shared with their own backward pass) plus a
  /// sparse correction per flip. Blocks are shared among OpenMP threads, each with its own
  /// workspace and gradient, summed in thread order.
  /// @param base_forward `BaseForward::Reuse` right after `input_gradient(X, …)` with unchanged
  ///        parameters skips the batch's forward pass
  /// @tparam CoefficientFn `void(Index start, const Eigen::Ref<const Vector<S>>& delta,
  ///         Eigen::Ref<Vector<S>> c)`, called once per block, possibly from several threads at
  ///         once for disjoint blocks; must not throw
  /// @throws std::invalid_argument on bad `X`, mismatched lengths, an index out of range or
  ///         `g.size() != num_params()`
  template <class CoefficientFn>
  void accumulate_flip_gradient(const Eigen::Ref<const Matrix<S>>& X, const IndexVector& rows,
                                const IndexVector& bits, CoefficientFn&& coefficient, Eigen::Ref<Vector<S>> g,
                                BaseForward base_forward = BaseForward::Compute) const {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::accumulate_flip_gradient";
    check_flip_list(where, X, rows, bits);
    check_size_match(where, "g.size()", g.size(), "model.num_params()", num_params());
    const Index n = X.rows(), L = num_layers(), h1 = widths_[1];
    // Reuse only what the last call, input_gradient on this very X, left in batch_.
    if (base_forward != BaseForward::Reuse || input_gradient_source_ != source_of(X)) forward(batch_, X);
    const Index used = for_each_flip_block(
        rows.size(), gather_first_layer(batch_, X, rows, bits),
        [&](ThreadState& state, Index start, Index count) {
          auto c = state.coefficient.head(count);
          coefficient(start, state.delta.head(count), c);
          flip_block_backward(rows, bits, start, count, state);
        },
        [&](ThreadState& state) {
          state.grad.setZero(num_params());
          state.row_delta.setZero(n, h1);
          state.row_coefficient.setZero(n);
        });
    // Sum the threads' parts in thread order (deterministic for a fixed thread count).
    auto base_seed = batch_.dz[L - 1].col(0).head(n);
    base_seed.setZero();
    for (Index k = 0; k < used; ++k) {
      g += thread_state_[k].grad;
      base_seed -= thread_state_[k].row_coefficient;
    }
    // The base rows' own backward pass, with the flips' first-layer deltas folded in.
    backward_above_first(batch_, n, g.data());
    auto dz0 = batch_.dz[0].topRows(n);
    for (Index k = 0; k < used; ++k) dz0 += thread_state_[k].row_delta;
    g.segment(bias_offset(0), h1).noalias() += dz0.colwise().sum().transpose();
    Eigen::Map<RowMajorMatrix<S>> gW0(g.data() + weight_offset_[0], h1, dim());
    gW0.noalias() += dz0.transpose() * X;
  }

  /// @brief Starts a scan of single-bit flips (see `HasFlipScan`): caches the first layer's
  /// pre-activation and the energy of every row of `X`.
  /// @throws std::invalid_argument on an empty batch, a wrong width or a non-binary entry
  void begin_flip_scan(const Eigen::Ref<const Matrix<S>>& X) const {
    check_batch("ratiomatch::MlpEnergy::begin_flip_scan", X, dim());
    const Index n = X.rows();
    forward(scan_, X);
    scan_sign_.resize(n);
    scan_delta_.resize(n);
    scan_bit_ = -1;
  }

  /// @brief `delta(r) = E(x_r with bit i flipped) − E(x_r)` for every row, in one pass of
  /// flipped rows through the layers above the first. Rows whose bit of the previous call
  /// changed since then take that flip's cached first layer and energy (a rank-1 update).
  /// @throws std::invalid_argument without `begin_flip_scan` on a batch of this size, if `i`
  ///         is out of range, or if the previous call's column is not binary
  void scan_flip_deltas(const Eigen::Ref<const Matrix<S>>& X, Index i, Vector<S>& delta) const {
    constexpr std::string_view where = "ratiomatch::MlpEnergy::scan_flip_deltas";
    const Index n = X.rows();
    if (scan_sign_.size() != n || n == 0)
      throw std::invalid_argument(detail::message(where, "call begin_flip_scan on a batch of ", n, " rows first"));
    check_size_match(where, "X.cols()", X.cols(), "model.dim()", dim());
    if (i < 0 || i >= dim())
      throw std::invalid_argument(detail::message(where, "bit (", i, ") is outside [0, ", dim(), ")"));
    const Index L = num_layers(), h1 = widths_[1], previous = scan_bit_;
    if (previous >= 0) check_binary(where, X.col(previous));
    const auto W0 = weight(0);
    delta.resize(n);
    // Each block first brings its rows up to date with the previous bit (a row that took the
    // flip moves by s·W_1[:, previous] and to the flipped energy), then evaluates bit i.
    for_each_flip_block(
        n,
        [&](ThreadState& state, Index start, Index count) {
          S* moved = state.coefficient.data();  // s_r if row r took the previous flip, else 0
          S* sign = state.sign.data();
          S* energy = scan_.z[L - 1].data();
          for (Index k = 0; k < count; ++k) {
            const Index r = start + k;
            const bool took = previous >= 0 && S(1) - S(2) * X(r, previous) != scan_sign_(r);
            moved[k] = took ? scan_sign_(r) : S(0);
            if (took) energy[r] += scan_delta_(r);
            sign[k] = S(1) - S(2) * X(r, i);
            state.delta(k) = energy[r];
          }
          for (Index j = 0; j < h1; ++j) {
            S* base = scan_.z[0].col(j).data() + start;
            S* out = state.ws.z[0].col(j).data();
            const S w_previous = previous >= 0 ? W0(j, previous) : S(0), w = W0(j, i);
            for (Index k = 0; k < count; ++k) {
              base[k] += moved[k] * w_previous;
              out[k] = base[k] + sign[k] * w;
            }
          }
        },
        [&](ThreadState& state, Index start, Index count) {
          delta.segment(start, count) = state.delta.head(count);
          scan_sign_.segment(start, count) = state.sign.head(count);
        });
    scan_delta_ = delta;
    scan_bit_ = i;
  }

 private:
  // Pre-activations, activations and backward deltas per layer; grown, never shrunk,
  // and used through topRows(n) so that a smaller batch does not reallocate.
  struct Workspace {
    std::vector<Matrix<S>> z, a, dz;
  };

  // What one thread needs for its blocks of flipped rows.
  struct ThreadState {
    Workspace ws;
    Vector<S> sign, delta, coefficient;  // per flip of the current block
    Vector<S> grad;                      // this thread's part of the gradient
    Matrix<S> row_delta;                 // Σ of first-layer deltas per base row (n × h1)
    Vector<S> row_coefficient;           // Σ of coefficients per base row
  };

  Index bias_offset(Index l) const { return weight_offset_[l] + widths_[l + 1] * widths_[l]; }

  void check_flip_list(std::string_view where, const Eigen::Ref<const Matrix<S>>& X, const IndexVector& rows,
                       const IndexVector& bits) const {
    check_batch(where, X, dim());
    check_size_match(where, "bits.size()", bits.size(), "rows.size()", rows.size());
    if (rows.size() > 0 && (rows.minCoeff() < 0 || rows.maxCoeff() >= X.rows()))
      throw std::invalid_argument(detail::message(where, "a row index is outside [0, ", X.rows(), ")"));
    if (bits.size() > 0 && (bits.minCoeff() < 0 || bits.maxCoeff() >= dim()))
      throw std::invalid_argument(detail::message(where, "a bit index is outside [0, ", dim(), ")"));
  }

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

  // Identifies the batch whose forward pass input_gradient left in batch_.
  struct BatchSource {
    const S* data = nullptr;
    Index rows = 0, cols = 0, stride = 0;
    bool operator==(const BatchSource&) const = default;
  };
  static BatchSource source_of(const Eigen::Ref<const Matrix<S>>& X) {
    return {X.data(), X.rows(), X.cols(), X.outerStride()};
  }

  void forward(Workspace& ws, const Eigen::Ref<const Matrix<S>>& X) const {
    if (&ws == &batch_) input_gradient_source_ = {};
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
    if (L > 1) detail::activate(activation_, ws.z[0].topRows(n).array(), ws.a[0].topRows(n).array());
    for (Index l = 1; l < L; ++l) {
      auto zl = ws.z[l].topRows(n);
      zl.noalias() = ws.a[l - 1].topRows(n) * weight(l).transpose();
      const auto b = bias(l);
      for (Index j = 0; j < zl.cols(); ++j) {
        auto column = zl.col(j).array();
        column += b(j);
        if (l + 1 < L) detail::activate(activation_, column, ws.a[l].col(j).head(n).array());
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
      dz_below.noalias() = dz * weight(l);
      detail::multiply_by_derivative(activation_, ws.z[l - 1].topRows(n).array(), ws.a[l - 1].topRows(n).array(),
                                     dz_below.array());
    }
  }

  // Expects ws.dz[L−1] to hold the output weights; accumulates the parameter gradient
  // into *g and/or writes the input gradient into *G.
  void backward(Workspace& ws, const Eigen::Ref<const Matrix<S>>& X, Eigen::Ref<Vector<S>>* g,
                Matrix<S>* G) const {
    const Index n = X.rows();
    backward_above_first(ws, n, g != nullptr ? g->data() : nullptr);
    auto dz = ws.dz[0].topRows(n);
    if (g != nullptr) {
      Eigen::Map<RowMajorMatrix<S>> gW(g->data() + weight_offset_[0], widths_[1], widths_[0]);
      gW.noalias() += dz.transpose() * X;
      g->segment(bias_offset(0), widths_[1]).noalias() += dz.colwise().sum().transpose();
    }
    if (G != nullptr) {
      G->resize(n, dim());
      G->noalias() = dz * weight(0);
    }
  }

  // Splits `total` flips into blocks shared among the threads. For each block,
  // first_layer(state, start, count) writes the flipped rows' first pre-activation into
  // state.ws.z[0], their signs s = 1 − 2x into state.sign and their base rows' energies into
  // state.delta; the layers above the first then turn state.delta into E(flipped) − E(base),
  // and body(state, start, count) runs. prepare(state) runs once per thread first. Returns the
  // number of thread states used.
  template <class FirstLayer, class Body, class Prepare = void (*)(ThreadState&)>
  Index for_each_flip_block(Index total, FirstLayer&& first_layer, Body&& body,
                            Prepare&& prepare = [](ThreadState&) {}) const {
    const Index threads = detail::available_threads();
    const Index block = detail::balanced_block_size(total, flip_block_rows, threads);
    const Index blocks = (total + block - 1) / block;
    const Index used = std::max<Index>(1, std::min(threads, blocks));
    if (static_cast<Index>(thread_state_.size()) < used) thread_state_.resize(used);
    for (Index k = 0; k < used; ++k) {
      ThreadState& state = thread_state_[k];
      reserve(state.ws, block);
      state.sign.resize(block);
      state.delta.resize(block);
      state.coefficient.resize(block);
      prepare(state);
    }
    const Index L = num_layers();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(used) if (used > 1)
#endif
    for (Index b = 0; b < blocks; ++b) {
      ThreadState& state = thread_state_[detail::thread_index()];
      const Index start = b * block, count = std::min(block, total - start);
      first_layer(state, start, count);
      forward_above_first(state.ws, count);
      state.delta.head(count) = state.ws.z[L - 1].col(0).head(count) - state.delta.head(count);
      body(state, start, count);
    }
    return used;
  }

  // The first layer of flips (rows(t), bits(t)) by the rank-1 update of the base rows'
  // pre-activation in `base` (the forward pass of X), for for_each_flip_block.
  auto gather_first_layer(const Workspace& base, const Eigen::Ref<const Matrix<S>>& X, const IndexVector& rows,
                          const IndexVector& bits) const {
    return [this, &base, &X, &rows, &bits](ThreadState& state, Index start, Index count) {
      const Index* r = rows.data() + start;
      const Index* i = bits.data() + start;
      const S* energy = base.z[num_layers() - 1].data();
      for (Index k = 0; k < count; ++k) {
        state.sign(k) = S(1) - S(2) * X(r[k], i[k]);
        state.delta(k) = energy[r[k]];
      }
      const auto W0 = weight(0);
      for (Index j = 0; j < widths_[1]; ++j) {
        const S* w_row = W0.row(j).data();
        const S* z0_base = base.z[0].col(j).data();
        S* out = state.ws.z[0].col(j).data();
        for (Index k = 0; k < count; ++k) out[k] = z0_base[r[k]] + state.sign(k) * w_row[i[k]];
      }
    };
  }

  // Backward pass of a block whose coefficients are in state.coefficient: the layers above the
  // first into state.grad, the first layer's deltas summed per base row (state.row_delta) and
  // as sparse corrections s_t δ_t e_{i_t}ᵀ of its weight gradient.
  void flip_block_backward(const IndexVector& rows, const IndexVector& bits, Index start, Index count,
                           ThreadState& state) const {
    const Index L = num_layers(), h1 = widths_[1];
    const Index* r = rows.data() + start;
    const Index* i = bits.data() + start;
    state.ws.dz[L - 1].col(0).head(count) = state.coefficient.head(count);
    for (Index k = 0; k < count; ++k) state.row_coefficient(r[k]) += state.coefficient(k);
    backward_above_first(state.ws, count, state.grad.data());
    const auto dz0 = state.ws.dz[0].topRows(count);
    // Per base row, the sum of its flips' first-layer deltas (they also give the first bias's
    // gradient, added with the base rows'). Flips come grouped by row, so a run of equal rows
    // is one column-wise sum.
    for (Index k0 = 0; k0 < count;) {
      Index k1 = k0 + 1;
      while (k1 < count && r[k1] == r[k0]) ++k1;
      state.row_delta.row(r[k0]) += dz0.middleRows(k0, k1 - k0).colwise().sum();
      k0 = k1;
    }
    // W_1 is stored row-major (h1 × d), i.e. as a column-major d × h1 matrix: column j of
    // that view is row j of W_1, so the corrections below are scatters within one column.
    Eigen::Map<Matrix<S>> gW0_t(state.grad.data() + weight_offset_[0], dim(), h1);
    for (Index j = 0; j < h1; ++j) {
      const S* delta_j = dz0.col(j).data();
      S* per_bit = gW0_t.col(j).data();
      for (Index k = 0; k < count; ++k) per_bit[i[k]] += state.sign(k) * delta_j[k];
    }
  }

  std::vector<Index> widths_;
  std::vector<Index> weight_offset_;
  Activation activation_;
  Vector<S> theta_;
  mutable Workspace batch_;
  mutable BatchSource input_gradient_source_;
  mutable std::vector<ThreadState> thread_state_;
  mutable IndexVector all_rows_, all_bits_;
  // The cached rows of a flip scan: first layer and energy in scan_, the last call's bit,
  // signs and energy changes.
  mutable Workspace scan_;
  mutable Vector<S> scan_sign_, scan_delta_;
  mutable Index scan_bit_ = -1;
};

}  // namespace ratiomatch
