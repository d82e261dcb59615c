#pragma once
/// @file
/// @brief `Penalized`: an estimator plus a parameter penalty (e.g. `IsingCouplingL1`, next to
/// `IsingModel`).

#include <cmath>
#include <concepts>
#include <random>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/estimator_state.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

namespace detail {

/// Empty unless the estimator `E` has a fixed-point `temperature`, which it then forwards.
template <class E>
struct ForwardTemperature {};
template <class E>
  requires requires {
    { E::temperature } -> std::convertible_to<double>;
  }
struct ForwardTemperature<E> {
  /// @brief The inner estimator's fixed-point temperature: the learned model of the data is
  /// `exp(−temperature · E)` (DESIGN §1).
  static constexpr double temperature = E::temperature;
};

/// Empty unless the estimator `E` has an `objective_type`, which it then forwards.
template <class E>
struct ForwardObjectiveType {};
template <class E>
  requires requires { typename E::objective_type; }
struct ForwardObjectiveType<E> {
  /// @brief The inner estimator's ratio objective.
  using objective_type = typename E::objective_type;
};

/// A penalty usable with model `M`: `penalty.add_value_and_gradient(model, grad)` returns the
/// penalty's value and adds its (sub)gradient to `grad`.
template <class P, class M>
concept PenaltyFor = requires(const P& penalty, const M& model, Vector<typename M::Scalar>& grad) {
  { penalty.add_value_and_gradient(model, grad) } -> std::convertible_to<double>;
};

/// Optional: the penalty's value alone, `penalty.value(model)`.
template <class P, class M>
concept HasPenaltyValue = requires(const P& penalty, const M& model) {
  { penalty.value(model) } -> std::convertible_to<double>;
};

}  // namespace detail

/// @brief An estimator with a parameter penalty added to its objective:
/// `loss = estimator loss + R(θ)`, `grad = estimator gradient + ∂R(θ)`.
///
/// The penalty is any class with `double add_value_and_gradient(const M& model, Vector<S>& grad) const`
/// that returns `R(θ)` and adds a (sub)gradient of `R` to `grad` (optionally also
/// `double value(const M& model) const`, used by `loss`). When the inner estimator has a
/// fixed-point `temperature` and an `objective_type` (the ratio-matching estimators), `Penalized`
/// exposes them too, so callers can scale learned couplings by the temperature. The penalty
/// acts on the model's own parameters `θ`; with an estimator of temperature `T` the learned
/// model of the data is `exp(−T·E)`, so the data-scale couplings are `T·J`, and a weight `λ`
/// on `J` is a weight `λ/T` on `T·J`.
/// @tparam Estimator an estimator with `loss_and_gradient(model, X, rng, grad)` and `loss(model, X, rng)`
/// @tparam Penalty a penalty as above, e.g. `IsingCouplingL1`
template <class Estimator, class Penalty>
class Penalized : public detail::ForwardTemperature<Estimator>, public detail::ForwardObjectiveType<Estimator> {
 public:
  using estimator_type = Estimator;
  using penalty_type = Penalty;

  /// @param estimator the inner estimator (copied)
  /// @param penalty the penalty (copied)
  Penalized(Estimator estimator, Penalty penalty) : estimator_(std::move(estimator)), penalty_(std::move(penalty)) {}

  /// @brief The inner estimator (mutable access, e.g. to `reset()` persistent chains).
  const Estimator& estimator() const { return estimator_; }
  Estimator& estimator() { return estimator_; }
  /// @brief The penalty.
  const Penalty& penalty() const { return penalty_; }

  /// @brief The inner estimator's loss plus `R(θ)`; writes the inner gradient plus the penalty's
  /// (sub)gradient into `grad` (resized to `num_params()`). Randomness as the inner estimator's.
  /// @throws whatever the inner estimator or the penalty throws (bad input → `std::invalid_argument`)
  /// @throws NumericalError naming `ratiomatch::Penalized::loss_and_gradient` if the penalty,
  ///   the total loss or the total gradient is not finite
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng,
                                       Vector<typename M::Scalar>& grad) const {
    using S = typename M::Scalar;
    static_assert(EnergyModel<M>, "Penalized needs an EnergyModel: see docs/model_requirements.md");
    static_assert(detail::PenaltyFor<Penalty, M>,
                  "Penalized: the penalty needs `double add_value_and_gradient(const M& model, Vector<S>& grad) const` "
                  "for this model type");
    constexpr std::string_view where = "ratiomatch::Penalized::loss_and_gradient";
    const S inner = estimator_.loss_and_gradient(model, X, rng, grad);
    check_size_match(where, "grad.size()", grad.size(), "model.num_params()", model.num_params());
    const double penalty = penalty_.add_value_and_gradient(model, grad);
    check_finite(where, "penalty", penalty);
    const S total = static_cast<S>(static_cast<double>(inner) + penalty);
    check_finite(where, "loss", total);
    check_finite(where, "gradient", grad);
    return total;
  }

  /// @brief The inner estimator's `loss` plus `R(θ)` (by `penalty.value(model)` when the penalty
  /// has it, otherwise by `add_value_and_gradient` into a scratch vector).
  /// @throws as `loss_and_gradient`, naming `ratiomatch::Penalized::loss`
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng) const {
    using S = typename M::Scalar;
    static_assert(EnergyModel<M>, "Penalized needs an EnergyModel: see docs/model_requirements.md");
    static_assert(detail::PenaltyFor<Penalty, M>,
                  "Penalized: the penalty needs `double add_value_and_gradient(const M& model, Vector<S>& grad) const` "
                  "for this model type");
    constexpr std::string_view where = "ratiomatch::Penalized::loss";
    const S inner = estimator_.loss(model, X, rng);
    double penalty = 0;
    if constexpr (detail::HasPenaltyValue<Penalty, M>) {
      penalty = penalty_.value(model);
    } else {
      Vector<S> scratch = Vector<S>::Zero(model.num_params());
      penalty = penalty_.add_value_and_gradient(model, scratch);
    }
    check_finite(where, "penalty", penalty);
    const S total = static_cast<S>(static_cast<double>(inner) + penalty);
    check_finite(where, "loss", total);
    return total;
  }

  /// @brief The inner estimator's state (`StatefulEstimator`), present when the inner estimator
  /// has one (e.g. PCD's chains); the penalty has none.
  EstimatorState state_buffers() const
    requires StatefulEstimator<Estimator>
  {
    return estimator_.state_buffers();
  }

  /// @brief Validates a state for the inner estimator without changing anything.
  /// @throws std::invalid_argument as the inner estimator's `check_state`
  void check_state(const EstimatorState& state) const
    requires StatefulEstimator<Estimator>
  {
    estimator_.check_state(state);
  }

  /// @brief Restores the inner estimator's state (strong guarantee, as the inner estimator's).
  /// @throws std::invalid_argument as the inner estimator's `restore_state`
  void restore_state(const EstimatorState& state) const
    requires StatefulEstimator<Estimator>
  {
    estimator_.restore_state(state);
  }

 private:
  Estimator estimator_;
  Penalty penalty_;
};

}  // namespace ratiomatch
