#pragma once
/// @file
/// @brief `RequiredOnly`: a view of a model that hides its batch evaluation.

#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Forwards exactly the members `EnergyModel` requires to the model it views, and
/// nothing else, so estimators and samplers use `GenericEvaluation` (flipped rows materialised
/// block by block). For comparing a fast path with the fallback in tests and benchmarks.
/// @tparam M an `EnergyModel`; the view holds a pointer and must not outlive the model
template <EnergyModel M>
class RequiredOnly {
 public:
  using Scalar = typename M::Scalar;

  explicit RequiredOnly(M& model) : model_(&model) {}

  Index dim() const { return model_->dim(); }
  Index num_params() const { return model_->num_params(); }
  auto params() { return model_->params(); }
  void energy(const Matrix<Scalar>& X, Vector<Scalar>& e) const { model_->energy(X, e); }
  void input_gradient(const Matrix<Scalar>& X, Matrix<Scalar>& G) const { model_->input_gradient(X, G); }
  void accumulate_param_gradient(const Matrix<Scalar>& X, const Vector<Scalar>& c, Vector<Scalar>& g) const {
    model_->accumulate_param_gradient(X, c, g);
  }

 private:
  M* model_;
};

}  // namespace ratiomatch
