// Repeated model calls with same-size inputs must not allocate: Eigen's runtime malloc
// guard aborts the test on any heap allocation inside the guarded region.
#define EIGEN_RUNTIME_NO_MALLOC
#include <catch2/catch.hpp>

#include <random>

#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/models/mlp_energy.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;

namespace {

template <class Model>
void exercise(const Model& model, const Matrix<typename Model::Scalar>& X, const Vector<typename Model::Scalar>& c,
              Vector<typename Model::Scalar>& e, Matrix<typename Model::Scalar>& G,
              Vector<typename Model::Scalar>& g, Matrix<typename Model::Scalar>& D) {
  model.energy(X, e);
  model.input_gradient(X, G);
  model.accumulate_param_gradient(X, c, g);
  model.flip_deltas(X, D);
}

}  // namespace

TEMPLATE_TEST_CASE("model calls do not allocate once their workspaces are sized", "[models][allocation]", float,
                   double) {
  std::mt19937_64 rng(31);
  const Index n = 8, d = 12;
  MlpEnergy<TestType> mlp(d, {16, 16}, Activation::Swish);
  mlp.initialize(rng);
  const IsingModel<TestType> ising(d);
  const auto X = random_binary<TestType>(n, d, rng);
  const Vector<TestType> c = Vector<TestType>::Ones(n);
  Vector<TestType> e, g_mlp = Vector<TestType>::Zero(mlp.num_params()), g_ising = Vector<TestType>::Zero(ising.num_params());
  Matrix<TestType> G, D;
  exercise(mlp, X, c, e, G, g_mlp, D);  // sizes every workspace
  exercise(ising, X, c, e, G, g_ising, D);
  Eigen::internal::set_is_malloc_allowed(false);
  exercise(mlp, X, c, e, G, g_mlp, D);
  exercise(ising, X, c, e, G, g_ising, D);
  Eigen::internal::set_is_malloc_allowed(true);
  SUCCEED("no heap allocation by Eigen in the second round of calls");
}
