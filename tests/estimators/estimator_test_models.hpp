#pragma once
// Models used only by the estimator tests: an adapter that freezes a model's input
// gradient, and a fully flexible table of energies.

#include <ratiomatch/core/checks.hpp>
#include <ratiomatch/core/concepts.hpp>
#include <ratiomatch/core/types.hpp>

namespace ratiomatch::testing {

/// `M` with its input gradient frozen at the batch `X` it was made with: the gradient-guided
/// proposal then no longer depends on the parameters, so finite differences of a sampled loss
/// differentiate exactly what the estimators' stop-gradient formula does.
template <class M>
struct FrozenInputGradient {
  using Scalar = typename M::Scalar;
  M* model;
  Matrix<Scalar> frozen;
  FrozenInputGradient(M& m, const Matrix<Scalar>& X) : model(&m) { m.input_gradient(X, frozen); }
  Index dim() const { return model->dim(); }
  Index num_params() const { return model->num_params(); }
  auto params() { return model->params(); }
  void energy(const Matrix<Scalar>& X, Vector<Scalar>& e) const { model->energy(X, e); }
  void input_gradient(const Matrix<Scalar>&, Matrix<Scalar>& G) const { G = frozen; }
  void accumulate_param_gradient(const Matrix<Scalar>& X, const Vector<Scalar>& c, Vector<Scalar>& g) const {
    model->accumulate_param_gradient(X, c, g);
  }
};

/// A free energy for every one of the 2^d states, `E(x) = θ_{k(x)}` with `k(x) = Σ_i x_i 2^i`,
/// extended to real x multilinearly: `E(x) = Σ_k θ_k Π_i x_i^{k_i} (1 − x_i)^{1−k_i}`. The
/// extension is linear in each x_i, so the first-order flip estimate is exact.
struct TableEnergy {
  using Scalar = double;
  Index d;
  Vector<double> theta;
  explicit TableEnergy(Index dim) : d(dim), theta(Vector<double>::Zero(Index{1} << dim)) {}
  Index dim() const { return d; }
  Index num_params() const { return theta.size(); }
  Eigen::Map<Vector<double>> params() { return {theta.data(), theta.size()}; }
  static Index state_index(const Matrix<double>& X, Index r) {
    Index k = 0;
    for (Index i = 0; i < X.cols(); ++i) k |= static_cast<Index>(X(r, i)) << i;
    return k;
  }
  void energy(const Matrix<double>& X, Vector<double>& e) const {
    check_batch("TableEnergy::energy", X, d);
    e.resize(X.rows());
    for (Index r = 0; r < X.rows(); ++r) e(r) = theta(state_index(X, r));
  }
  // ∂E/∂x_i = E(x with x_i = 1) − E(x with x_i = 0) at a binary x.
  void input_gradient(const Matrix<double>& X, Matrix<double>& G) const {
    G.resize(X.rows(), d);
    for (Index r = 0; r < X.rows(); ++r) {
      const Index k = state_index(X, r);
      for (Index i = 0; i < d; ++i) {
        const Index bit = Index{1} << i;
        G(r, i) = theta(k | bit) - theta(k & ~bit);
      }
    }
  }
  void accumulate_param_gradient(const Matrix<double>& X, const Vector<double>& c, Vector<double>& g) const {
    for (Index r = 0; r < X.rows(); ++r) g(state_index(X, r)) += c(r);
  }
};

}  // namespace ratiomatch::testing
