#pragma once
/// @file
/// @brief `EstimatorState`: the state an estimator carries from one training step to the next
/// (e.g. the persistent chains of PCD), and `StatefulEstimator`, the optional hook through
/// which the trainer saves it in checkpoints and restores it on resume.

#include <concepts>
#include <vector>

#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief An estimator's state between steps, as plain matrices of both scalar types.
///
/// An estimator keeps its state per scalar type (a `float` and a `double` model may share one
/// estimator object), so the state has a list of `float` matrices and a list of `double`
/// matrices; what each entry means is the estimator's business (`PersistentContrastiveDivergence`:
/// one matrix of chains of each type, `0 × 0` when not started). A checkpoint stores both lists
/// whatever the model's scalar type, so resuming restores exactly what was saved.
struct EstimatorState {
  std::vector<Matrix<float>> single;   ///< state kept for `float` models
  std::vector<Matrix<double>> twice;   ///< state kept for `double` models

  /// @brief Whether the state holds no matrix at all (what a stateless estimator has).
  bool empty() const { return single.empty() && twice.empty(); }
};

/// @brief Optional estimator capability: state that a resumed run needs to continue bit for bit.
///
/// - `e.state_buffers()` returns the current `EstimatorState` (a copy);
/// - `e.check_state(state)` validates a state without changing anything and throws
///   `std::invalid_argument` naming what does not fit (number or shape of matrices, entries);
/// - `e.restore_state(state)` assigns a state that passed `check_state`; it changes nothing if
///   it throws (only `std::bad_alloc` is possible).
///
/// All three are `const`: estimator state is `mutable`, as the training step that updates it is
/// `const` (the trainer holds its estimator by `const&`). `Trainer` saves and restores the state
/// of an estimator that has the capability and checks that a checkpoint of a stateless
/// estimator holds none.
template <class E>
concept StatefulEstimator = requires(const E& estimator, const EstimatorState& state) {
  { estimator.state_buffers() } -> std::convertible_to<EstimatorState>;
  estimator.check_state(state);
  estimator.restore_state(state);
};

}  // namespace ratiomatch
