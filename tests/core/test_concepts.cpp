// Compile-time checks of the model concepts with minimal archetypes: a type with every
// member is a model; a type missing any one member is not.
#include <catch2/catch.hpp>

#include <type_traits>

#include <ratiomatch/core/batch_evaluation.hpp>
#include <ratiomatch/core/concepts.hpp>
#include <ratiomatch/core/required_only.hpp>
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

// A complete batch evaluation, its members templated where the protocol allows (a
// requires-expression checks calls, not signatures).
struct WithEvaluation : Complete {
  struct BatchEvaluation {
    using Model = WithEvaluation;
    using Scalar = double;
    void bind(const WithEvaluation&, const Eigen::Ref<const Matrix<double>>&) {}
    const WithEvaluation& model() const;
    const Matrix<double>& batch() const;
    const Vector<double>& energy() const;
    template <class D>
    void input_gradient(Eigen::PlainObjectBase<D>&) const {}
    void accumulate_param_gradient(const Eigen::Ref<const Vector<double>>&, Eigen::Ref<Vector<double>>) {}
    void flip_deltas(Matrix<double>&) {}
    void flip_deltas(const IndexVector&, const IndexVector&, Vector<double>&) {}
    template <class Fn>
    void accumulate_flip_gradient(const IndexVector&, const IndexVector&, Fn&&, Eigen::Ref<Vector<double>>) {}
    void accept_flips(const Eigen::Ref<const IndexVector>&) {}
  };
};

// An evaluation without accept_flips does not meet the protocol.
struct WithIncompleteEvaluation : Complete {
  struct BatchEvaluation {
    using Model = WithIncompleteEvaluation;
    using Scalar = double;
    void bind(const WithIncompleteEvaluation&, const Eigen::Ref<const Matrix<double>>&) {}
    const WithIncompleteEvaluation& model() const;
    const Matrix<double>& batch() const;
    const Vector<double>& energy() const;
    void input_gradient(Matrix<double>&) const {}
    void accumulate_param_gradient(const Eigen::Ref<const Vector<double>>&, Eigen::Ref<Vector<double>>) {}
    void flip_deltas(Matrix<double>&) {}
    void flip_deltas(const IndexVector&, const IndexVector&, Vector<double>&) {}
    template <class Fn>
    void accumulate_flip_gradient(const IndexVector&, const IndexVector&, Fn&&, Eigen::Ref<Vector<double>>) {}
  };
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
static_assert(!HasBatchEvaluation<archetype::Complete>);
static_assert(HasBatchEvaluation<archetype::WithEvaluation>);
static_assert(EnergyModel<archetype::WithIncompleteEvaluation> &&
              !HasBatchEvaluation<archetype::WithIncompleteEvaluation>);
static_assert(std::is_same_v<EvaluationFor<archetype::Complete>, GenericEvaluation<archetype::Complete>>);
static_assert(std::is_same_v<EvaluationFor<archetype::WithEvaluation>, archetype::WithEvaluation::BatchEvaluation>);
static_assert(BatchEvaluationOf<GenericEvaluation<archetype::Complete>, archetype::Complete>);
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
static_assert(HasBatchEvaluation<IsingModel<double>> && HasBatchEvaluation<MlpEnergy<double>>);
static_assert(HasBatchEvaluation<IsingModel<float>> && HasBatchEvaluation<MlpEnergy<float>>);
static_assert(!HasBatchEvaluation<RequiredOnly<MlpEnergy<float>>>);
static_assert(HasRelaxedEnergy<IsingModel<double>> && HasRelaxedEnergy<MlpEnergy<double>>);

TEST_CASE("the model concepts accept complete models and reject incomplete ones", "[core][concepts]") {
  // The checks above are static_asserts: this file compiling is the test. Restated at run
  // time so that the result appears in the test log.
  CHECK(EnergyModel<archetype::Complete>);
  CHECK_FALSE(EnergyModel<archetype::NoEnergy>);
  CHECK(HasBatchEvaluation<IsingModel<double>>);
  CHECK_FALSE(HasBatchEvaluation<archetype::WithIncompleteEvaluation>);
}
