// Compile-time checks of the model concepts with minimal archetypes: a type with every
// member is a model; a type missing any one member is not.
#include <catch2/catch.hpp>

#include <ratiomatch/core/concepts.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/models/mlp_energy.hpp>

using namespace ratiomatch;

namespace archetype {

struct Complete {
  using Scalar = double;
  Index dim() const { return 1; }
  Index num_params() const { return 1; }
  Eigen::Map<Vector<double>> params() { return {theta.data(), 1}; }
  void energy(const Eigen::Ref<const Matrix<double>>&, Vector<double>&) const {}
  void input_gradient(const Eigen::Ref<const Matrix<double>>&, Matrix<double>&) const {}
  void accumulate_param_gradient(const Eigen::Ref<const Matrix<double>>&, const Eigen::Ref<const Vector<double>>&,
                                 Eigen::Ref<Vector<double>>) const {}
  Vector<double> theta = Vector<double>::Zero(1);
};

struct WithFlipDeltas : Complete {
  void flip_deltas(const Eigen::Ref<const Matrix<double>>&, Matrix<double>&) const {}
};

// Templated members are accepted too (a requires-expression checks calls, not signatures).
struct Templated : Complete {
  template <class D>
  void flip_deltas(const Eigen::MatrixBase<D>&, Matrix<double>&) const {}
};

struct NoScalar {
  Index dim() const { return 1; }
  Index num_params() const { return 1; }
  Eigen::Map<Vector<double>> params();
  void energy(const Matrix<double>&, Vector<double>&) const {}
  void input_gradient(const Matrix<double>&, Matrix<double>&) const {}
  void accumulate_param_gradient(const Matrix<double>&, const Vector<double>&, Vector<double>&) const {}
};

struct NoEnergy {
  using Scalar = double;
  Index dim() const { return 1; }
  Index num_params() const { return 1; }
  Eigen::Map<Vector<double>> params();
  void input_gradient(const Matrix<double>&, Matrix<double>&) const {}
  void accumulate_param_gradient(const Matrix<double>&, const Vector<double>&, Vector<double>&) const {}
};

struct NoInputGradient {
  using Scalar = double;
  Index dim() const { return 1; }
  Index num_params() const { return 1; }
  Eigen::Map<Vector<double>> params();
  void energy(const Matrix<double>&, Vector<double>&) const {}
  void accumulate_param_gradient(const Matrix<double>&, const Vector<double>&, Vector<double>&) const {}
};

struct NoParamGradient {
  using Scalar = double;
  Index dim() const { return 1; }
  Index num_params() const { return 1; }
  Eigen::Map<Vector<double>> params();
  void energy(const Matrix<double>&, Vector<double>&) const {}
  void input_gradient(const Matrix<double>&, Matrix<double>&) const {}
};

struct NoParams {
  using Scalar = double;
  Index dim() const { return 1; }
  Index num_params() const { return 1; }
  void energy(const Matrix<double>&, Vector<double>&) const {}
  void input_gradient(const Matrix<double>&, Matrix<double>&) const {}
  void accumulate_param_gradient(const Matrix<double>&, const Vector<double>&, Vector<double>&) const {}
};

// energy only callable on a non-const object: estimators take const models, so this is no model.
struct MutableEnergy {
  using Scalar = double;
  Index dim() const { return 1; }
  Index num_params() const { return 1; }
  Eigen::Map<Vector<double>> params();
  void energy(const Matrix<double>&, Vector<double>&) {}
  void input_gradient(const Matrix<double>&, Matrix<double>&) const {}
  void accumulate_param_gradient(const Matrix<double>&, const Vector<double>&, Vector<double>&) const {}
};

// params() returning a copy-like read-only vector is not a writable view.
struct ReadOnlyParams {
  using Scalar = double;
  Index dim() const { return 1; }
  Index num_params() const { return 1; }
  const Vector<double>& params() const;
  void energy(const Matrix<double>&, Vector<double>&) const {}
  void input_gradient(const Matrix<double>&, Matrix<double>&) const {}
  void accumulate_param_gradient(const Matrix<double>&, const Vector<double>&, Vector<double>&) const {}
};

}  // namespace archetype

static_assert(EnergyModel<archetype::Complete>);
static_assert(!HasFlipDeltas<archetype::Complete>);
static_assert(HasFlipDeltas<archetype::WithFlipDeltas>);
static_assert(HasFlipDeltas<archetype::Templated>);
static_assert(!EnergyModel<archetype::NoScalar>);
static_assert(!EnergyModel<archetype::NoEnergy>);
static_assert(!EnergyModel<archetype::NoInputGradient>);
static_assert(!EnergyModel<archetype::NoParamGradient>);
static_assert(!EnergyModel<archetype::NoParams>);
static_assert(!EnergyModel<archetype::MutableEnergy>);
static_assert(!EnergyModel<archetype::ReadOnlyParams>);
static_assert(!EnergyModel<int>);

static_assert(EnergyModel<IsingModel<float>> && EnergyModel<IsingModel<double>>);
static_assert(EnergyModel<MlpEnergy<float>> && EnergyModel<MlpEnergy<double>>);
static_assert(HasFlipDeltas<IsingModel<double>> && HasFlipDeltas<MlpEnergy<double>>);
static_assert(HasSelectedFlipDeltas<IsingModel<float>> && HasSelectedFlipDeltas<MlpEnergy<float>>);
static_assert(HasRelaxedEnergy<IsingModel<double>> && HasRelaxedEnergy<MlpEnergy<double>>);

TEST_CASE("the model concepts accept complete models and reject incomplete ones", "[core][concepts]") {
  // The checks above are static_asserts: this file compiling is the test. Restated at run
  // time so that the result appears in the test log.
  CHECK(EnergyModel<archetype::Complete>);
  CHECK_FALSE(EnergyModel<archetype::NoEnergy>);
  CHECK(HasFlipDeltas<IsingModel<double>>);
}
