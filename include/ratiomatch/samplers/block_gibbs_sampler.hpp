#pragma once
/// @file
/// @brief `BlockGibbsSampler`: alternating block Gibbs sampling `x → h → x` of models with a
/// hidden layer whose two conditionals factorise (restricted Boltzmann machines).

#include <concepts>
#include <random>
#include <string_view>

#include "ratiomatch/core/batch_evaluation.hpp"
#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/core/workspace_cache.hpp"
#include "ratiomatch/samplers/sampler_support.hpp"

namespace ratiomatch {

/// @brief A model with binary hidden units whose conditionals factorise: `m.num_hidden()`,
/// `m.hidden_probabilities(X, P)` (`P(r, j) = p(h_j = 1 | x_r)`, `n × m`) and
/// `m.visible_probabilities(H, Q)` (`Q(r, i) = p(x_i = 1 | h_r)`, `n × d`). `BernoulliRBM` is one.
template <class M>
concept HasFactorisedConditionals =
    EnergyModel<M> && requires(const M& cm, const Matrix<typename M::Scalar>& X, Matrix<typename M::Scalar>& P) {
      { cm.num_hidden() } -> std::convertible_to<Index>;
      cm.hidden_probabilities(X, P);
      cm.visible_probabilities(X, P);
    };

namespace detail {
template <class S>
struct BlockGibbsScratch {
  Matrix<S> P, H, Q, X;  // p(h | x), h, p(x | h), the new x
};

/// Bernoulli draws `B(r, c) = [u < P(r, c)]`, one `uniform_open01` per entry, column by column.
template <class S, class Rng>
void bernoulli_draws(const Matrix<S>& P, Matrix<S>& B, Rng& rng) {
  B.resize(P.rows(), P.cols());
  for (Index c = 0; c < P.cols(); ++c)
    for (Index r = 0; r < P.rows(); ++r) B(r, c) = uniform_open01(rng) < static_cast<double>(P(r, c)) ? S(1) : S(0);
}
}  // namespace detail

/// @brief Block Gibbs sampler of an RBM's visible distribution `p(x) ∝ exp(−F(x))`: one step
/// draws `h ~ p(h | x)` for every chain (row), then `x ~ p(x | h)`. The joint `p(x, h)` is
/// invariant under each half-step, so `p(x)` is invariant under a step.
///
/// Randomness: per step, one `uniform_open01(rng)` per hidden unit of every chain (column by
/// column), then one per visible unit (column by column); the same engine state gives
/// bit-identical chains. Samples the model itself (inverse temperature 1). Holds reusable
/// workspaces: one instance must not be used from two threads at once.
class BlockGibbsSampler {
 public:
  /// @brief One step `x → h → x` of every chain (row of `X`), in place.
  /// @throws std::invalid_argument on an empty, wrong-width or non-binary `X`
  template <HasFactorisedConditionals M, std::uniform_random_bit_generator Rng>
  void step(const M& model, Matrix<typename M::Scalar>& X, Rng& rng) const {
    check_batch("ratiomatch::BlockGibbsSampler::step", X, model.dim());
    step_unchecked(model, X, rng);
  }

  /// @brief `steps` successive steps (none if `steps == 0`).
  /// @throws std::invalid_argument if `steps < 0`, or on an empty, wrong-width or non-binary `X`
  template <HasFactorisedConditionals M, std::uniform_random_bit_generator Rng>
  void run(const M& model, Matrix<typename M::Scalar>& X, Index steps, Rng& rng) const {
    constexpr std::string_view where = "ratiomatch::BlockGibbsSampler::run";
    detail::check_nonnegative_count(where, "steps", steps);
    check_batch(where, X, model.dim());
    for (Index t = 0; t < steps; ++t) step_unchecked(model, X, rng);
  }

  /// @brief `num_chains` chains from independent uniform random bits, `steps` steps each.
  /// @throws std::invalid_argument if `num_chains <= 0` or `steps < 0`
  template <HasFactorisedConditionals M, std::uniform_random_bit_generator Rng>
  Matrix<typename M::Scalar> sample(const M& model, Index num_chains, Index steps, Rng& rng) const {
    constexpr std::string_view where = "ratiomatch::BlockGibbsSampler::sample";
    check_positive(where, "num_chains", num_chains);
    detail::check_nonnegative_count(where, "steps", steps);
    Matrix<typename M::Scalar> X = detail::uniform_bits<typename M::Scalar>(num_chains, model.dim(), rng);
    for (Index t = 0; t < steps; ++t) step_unchecked(model, X, rng);
    return X;
  }

  /// @brief The sampler's transition, as `GibbsSampler`'s (persistent chains use it): one step
  /// of the chains held by a bound batch evaluation, which is then bound to the new chains.
  template <class Evaluation, std::uniform_random_bit_generator Rng>
  void transition(Evaluation& evaluation, Rng& rng) const {
    static_assert(HasFactorisedConditionals<typename Evaluation::Model>,
                  "BlockGibbsSampler needs a model with num_hidden, hidden_probabilities and visible_probabilities");
    auto& scratch = scratch_.template get<detail::BlockGibbsScratch<typename Evaluation::Scalar>>();
    scratch.X = evaluation.batch();
    step_unchecked(evaluation.model(), scratch.X, rng);
    evaluation.bind(evaluation.model(), scratch.X);
  }

 private:
  template <class M, class Rng>
  void step_unchecked(const M& model, Matrix<typename M::Scalar>& X, Rng& rng) const {
    auto& scratch = scratch_.template get<detail::BlockGibbsScratch<typename M::Scalar>>();
    model.hidden_probabilities(X, scratch.P);
    detail::bernoulli_draws(scratch.P, scratch.H, rng);
    model.visible_probabilities(scratch.H, scratch.Q);
    detail::bernoulli_draws(scratch.Q, X, rng);
  }

  mutable detail::WorkspaceCache scratch_;
};

}  // namespace ratiomatch
