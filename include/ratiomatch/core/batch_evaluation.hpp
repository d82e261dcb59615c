#pragma once
/// @file
/// @brief The batch-evaluation protocol: `GenericEvaluation` (built from the six required
/// members of any `EnergyModel`), `EvaluationFor<M>` (the one place where a model's own
/// evaluation is preferred to the generic one), and the free functions `flip_deltas`.
///
/// A batch evaluation is bound to one model and one batch `X` (`n × d`, binary rows) and owns
/// what is cached about it — a copy of the batch, its energies and whatever forward state the
/// model keeps — so the caller sees where the state of a step lives and how long it is valid:
/// from `bind` until the model's parameters change or the evaluation is bound again. Its
/// members (`S` the model's scalar; `ΔE_t = E(x_{r_t} with bit i_t flipped) − E(x_{r_t})`):
///
/// | member | what it does |
/// |---|---|
/// | `bind(model, X)` | copies `X`, evaluates its energies (and the model's cached forward state); throws `std::invalid_argument` on an empty, wrong-width or non-binary `X` |
/// | `model()`, `batch()`, `energy()` | the bound model, the batch (`n × d`, current after `accept_flips`), `E` of every row (`n`) |
/// | `input_gradient(G)` | `G.row(r) = ∂E/∂x` at row `r`, `G` resized to `n × d` |
/// | `accumulate_param_gradient(c, g)` | `g += Σ_r c(r) ∇_θE(x_r)` |
/// | `flip_deltas(D)` | `D(r, i) = E(x_r with bit i flipped) − E(x_r)`, `D` resized to `n × d` |
/// | `flip_deltas(rows, bits, delta)` | `delta(t) = ΔE_t` for the listed flips; remembers the list for `accept_flips` |
/// | `accumulate_flip_gradient(rows, bits, coefficient, g)` | block by block: `ΔE_t`, then `coefficient(start, delta, c)` writes `c_t`, and `g += Σ_t c_t (∇_θE(x_{r_t} with bit i_t flipped) − ∇_θE(x_{r_t}))`; every flip passes through `coefficient` once; blocks may be processed concurrently (the callback must not throw) |
/// | `accept_flips(accepted)` | flips bit `i_t` of row `r_t` of the batch for each position `t` in `accepted` (positions into the list of the last `flip_deltas(rows, bits, delta)`, each row at most once), keeping energies and cache current (Gibbs chains) |
///
/// Flip lists and coefficients are checked (`std::invalid_argument` naming the entry).

#include <algorithm>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

namespace detail {

/// Flipped rows materialised at once by the generic evaluation: at most this many entries
/// (and at most 1024 rows), so its memory is independent of n·d.
inline constexpr Index flip_block_entries = Index{1} << 18;
inline constexpr Index flip_block_max_rows = 1024;

inline Index flip_block_rows(Index d) { return std::clamp<Index>(flip_block_entries / d, 1, flip_block_max_rows); }

/// The first `rows` rows of workspace `m`, grown (never shrunk) to hold them with `cols` columns:
/// batches of varying sizes then reuse one allocation.
template <class Dense>
auto grown_top_rows(Dense& m, Index rows, Index cols) {
  if (m.rows() < rows || m.cols() != cols) m.resize(std::max(rows, m.rows()), cols);
  return m.topRows(rows);
}

/// The list of every flip of an `n × d` batch, row by row (`t = r·d + i`).
inline void list_all_flips(Index n, Index d, IndexVector& rows, IndexVector& bits) {
  rows.resize(n * d);
  bits.resize(n * d);
  for (Index r = 0; r < n; ++r)
    for (Index i = 0; i < d; ++i) rows(r * d + i) = r, bits(r * d + i) = i;
}

/// Checks the positions given to `accept_flips`: inside the last flip list, each row once.
/// `seen` is scratch of any size.
inline void check_accepted_flips(std::string_view where, const Eigen::Ref<const IndexVector>& accepted,
                                 const Eigen::Ref<const IndexVector>& rows,
                                 Index n, std::vector<char>& seen) {
  seen.assign(static_cast<std::size_t>(n), char{0});
  for (Index k = 0; k < accepted.size(); ++k) {
    const Index t = accepted(k);
    if (t < 0 || t >= rows.size())
      throw std::invalid_argument(message(where, "accepted(", k, ") (", t, ") is outside the last flip list [0, ",
                                          rows.size(), ")"));
    char& row_seen = seen[static_cast<std::size_t>(rows(t))];
    if (row_seen)
      throw std::invalid_argument(message(where, "accepted(", k, ") flips row ", rows(t), " a second time"));
    row_seen = 1;
  }
}

/// The list of the last `flip_deltas(rows, bits, delta)` call of an evaluation, for
/// `accept_flips`: checked, applied flip by flip through `flip(r, i, delta)`, then forgotten.
template <class S>
class LastFlipList {
 public:
  // Copied into storage that only grows, and forgotten by count: a steady state of Gibbs or
  // Gibbs-with-Gradients transitions allocates nothing here.
  void remember(const IndexVector& rows, const IndexVector& bits, const Vector<S>& delta) {
    count_ = rows.size();
    grown_top_rows(rows_, count_, 1) = rows;
    grown_top_rows(bits_, count_, 1) = bits;
    grown_top_rows(delta_, count_, 1) = delta;
  }
  void forget() { count_ = 0; }
  template <class Flip>
  void accept(std::string_view where, const Eigen::Ref<const IndexVector>& accepted, Index n, Flip&& flip) {
    check_accepted_flips(where, accepted, rows_.head(count_), n, seen_);
    for (Index k = 0; k < accepted.size(); ++k) {
      const Index t = accepted(k);
      flip(rows_(t), bits_(t), delta_(t));
    }
    forget();
  }

 private:
  IndexVector rows_, bits_;
  Vector<S> delta_;
  Index count_ = 0;
  std::vector<char> seen_;
};

}  // namespace detail

/// @brief The batch evaluation every model has: built only from the six required members of
/// `EnergyModel`, flipped rows materialised block by block (at most `detail::flip_block_rows(d)`
/// rows at once, so memory never grows with `n·d`).
///
/// Costs: `bind` one `energy` call; a list of `k` flips `⌈k / block⌉` calls of `energy` on
/// flipped rows (and of `accumulate_param_gradient` for the fused gradient, plus one on the
/// batch). Workspaces are reused: once sized, a steady state allocates nothing in here.
/// @tparam M an `EnergyModel`; the evaluation keeps a pointer to the bound model, which must
/// outlive its use
template <EnergyModel M>
class GenericEvaluation {
 public:
  using Model = M;
  using Scalar = typename M::Scalar;

  /// @brief Binds to `model` and a copy of `X`, and evaluates the batch's energies.
  /// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`
  void bind(const M& model, const Eigen::Ref<const Matrix<Scalar>>& X) {
    check_batch("ratiomatch::GenericEvaluation::bind", X, model.dim());
    model_ = &model;
    batch_ = X;
    model.energy(batch_, energy_);
    last_flips_.forget();
  }

  const M& model() const { return *model_; }
  const Matrix<Scalar>& batch() const { return batch_; }
  const Vector<Scalar>& energy() const { return energy_; }

  void input_gradient(Matrix<Scalar>& G) const { model_->input_gradient(batch_, G); }

  void accumulate_param_gradient(const Vector<Scalar>& c, Vector<Scalar>& g) const {
    model_->accumulate_param_gradient(batch_, c, g);
  }

  void flip_deltas(Matrix<Scalar>& D) {
    const Index n = batch_.rows(), d = batch_.cols();
    detail::list_all_flips(n, d, all_rows_, all_bits_);
    D.resize(n, d);
    for_each_flipped_block(all_rows_, all_bits_, [&](Index start, Index count, const Matrix<Scalar>&,
                                                     Vector<Scalar>& energies) {
      for (Index k = 0; k < count; ++k) {
        const Index t = start + k;
        D(all_rows_(t), all_bits_(t)) = energies(k) - energy_(all_rows_(t));
      }
    });
  }

  void flip_deltas(const IndexVector& rows, const IndexVector& bits, Vector<Scalar>& delta) {
    check_flip_list("ratiomatch::GenericEvaluation::flip_deltas", batch_.rows(), batch_.cols(), rows, bits);
    delta.resize(rows.size());
    for_each_flipped_block(rows, bits, [&](Index start, Index count, const Matrix<Scalar>&, Vector<Scalar>& energies) {
      for (Index k = 0; k < count; ++k) delta(start + k) = energies(k) - energy_(rows(start + k));
    });
    last_flips_.remember(rows, bits, delta);
  }

  template <class CoefficientFn>
  void accumulate_flip_gradient(const IndexVector& rows, const IndexVector& bits, CoefficientFn&& coefficient,
                                Vector<Scalar>& g) {
    constexpr std::string_view where = "ratiomatch::GenericEvaluation::accumulate_flip_gradient";
    check_flip_list(where, batch_.rows(), batch_.cols(), rows, bits);
    check_size_match(where, "g.size()", g.size(), "model.num_params()", model_->num_params());
    base_coefficient_.setZero(batch_.rows());
    for_each_flipped_block(rows, bits, [&](Index start, Index count, const Matrix<Scalar>& block,
                                           Vector<Scalar>& energies) {
      Vector<Scalar>& c = &block == &block_ ? block_coefficient_ : tail_coefficient_;
      c.resize(count);
      for (Index k = 0; k < count; ++k) energies(k) -= energy_(rows(start + k));  // now ΔE
      coefficient(start, Eigen::Ref<const Vector<Scalar>>(energies), Eigen::Ref<Vector<Scalar>>(c));
      for (Index k = 0; k < count; ++k) base_coefficient_(rows(start + k)) -= c(k);
      model_->accumulate_param_gradient(block, c, g);
    });
    model_->accumulate_param_gradient(batch_, base_coefficient_, g);
  }

  void accept_flips(const Eigen::Ref<const IndexVector>& accepted) {
    last_flips_.accept("ratiomatch::GenericEvaluation::accept_flips", accepted, batch_.rows(),
                       [&](Index r, Index i, Scalar delta) {
                         batch_(r, i) = Scalar(1) - batch_(r, i);
                         energy_(r) += delta;
                       });
  }


 private:
  // Calls fn(start, count, block, energies) for consecutive blocks of the list, with the flipped
  // rows start … start+count−1 in block (block_, or tail_block_ for a last, shorter block) and
  // their energies.
  // Full and tail blocks keep their sizes from call to call, so nothing is reallocated.
  template <class Fn>
  void for_each_flipped_block(const IndexVector& rows, const IndexVector& bits, Fn&& fn) {
    const Index total = rows.size(), d = batch_.cols(), capacity = detail::flip_block_rows(d);
    for (Index start = 0; start < total; start += capacity) {
      const Index count = std::min(capacity, total - start);
      const bool full = count == capacity;
      Matrix<Scalar>& block = full ? block_ : tail_block_;
      Vector<Scalar>& energies = full ? block_energy_ : tail_energy_;
      block.resize(count, d);
      for (Index k = 0; k < count; ++k) {
        const Index r = rows(start + k), i = bits(start + k);
        block.row(k) = batch_.row(r);
        block(k, i) = Scalar(1) - block(k, i);
      }
      model_->energy(block, energies);
      fn(start, count, std::as_const(block), energies);
    }
  }

  const M* model_ = nullptr;
  Matrix<Scalar> batch_;
  Vector<Scalar> energy_;
  Matrix<Scalar> block_, tail_block_;
  Vector<Scalar> block_energy_, tail_energy_, block_coefficient_, tail_coefficient_, base_coefficient_;
  IndexVector all_rows_, all_bits_;
  detail::LastFlipList<Scalar> last_flips_;
};

namespace detail {
template <class M>
struct EvaluationChoice {
  static_assert(!requires { typename M::BatchEvaluation; },
                "M::BatchEvaluation does not meet the batch-evaluation protocol (BatchEvaluationOf): "
                "see docs/model_requirements.md");
  using type = GenericEvaluation<M>;
};
template <HasBatchEvaluation M>
struct EvaluationChoice<M> {
  using type = typename M::BatchEvaluation;
};
}  // namespace detail

/// @brief The batch evaluation used for model `M`: its own `M::BatchEvaluation` when it has
/// one (`HasBatchEvaluation`), otherwise `GenericEvaluation<M>`. The only place that asks.
template <EnergyModel M>
using EvaluationFor = typename detail::EvaluationChoice<M>::type;

/// @brief All single-bit energy changes of a batch, for any model:
/// `D(r, i) = E(x_r with bit i flipped) − E(x_r)`, by the model's own evaluation when it has one.
/// @param X the batch, `n × d`, binary
/// @param D resized to `n × d`
/// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`
template <EnergyModel M>
void flip_deltas(const M& model, const Matrix<typename M::Scalar>& X, Matrix<typename M::Scalar>& D) {
  check_batch("ratiomatch::flip_deltas", X, model.dim());
  EvaluationFor<M> evaluation;
  evaluation.bind(model, X);
  evaluation.flip_deltas(D);
}

/// @brief The energy changes of a list of single-bit flips, for any model:
/// `delta(t) = E(x_{rows(t)} with bit bits(t) flipped) − E(x_{rows(t)})`. Rows and bits may repeat.
/// @param delta resized to `rows.size()`
/// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`, lists of different
///         lengths, or an index out of range
template <EnergyModel M>
void flip_deltas(const M& model, const Matrix<typename M::Scalar>& X, const IndexVector& rows, const IndexVector& bits,
                 Vector<typename M::Scalar>& delta) {
  constexpr std::string_view where = "ratiomatch::flip_deltas";
  check_batch(where, X, model.dim());
  check_flip_list(where, X.rows(), X.cols(), rows, bits);
  EvaluationFor<M> evaluation;
  evaluation.bind(model, X);
  evaluation.flip_deltas(rows, bits, delta);
}

}  // namespace ratiomatch
