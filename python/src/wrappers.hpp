// The Python-facing estimator and sampler objects: each holds the C++ estimator (one
// alternative per ratio objective or sampler, chosen at construction) and hands it to
// `visit` for the model it is applied to.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <variant>

#include "common.hpp"
#include "ratiomatch/data/idx_reader.hpp"

namespace rmpy {

using namespace ratiomatch;

/// Each estimator and sampler object has a lock: their C++ objects keep workspaces (and PCD its
/// chains) that one call at a time may use, and calls run without the GIL. Taken only after the
/// GIL is released; recursive, so a trainer's data callback may use the estimator between steps.
using ObjectLock = std::shared_ptr<std::recursive_mutex>;
inline ObjectLock new_lock() { return std::make_shared<std::recursive_mutex>(); }

template <template <class> class E>
using PerObjective = std::variant<E<SquaredRatio>, E<HyvarinenRatio>, E<SqrtRatio>>;

/// The estimator for the objective named `objective` ("squared", "hyvarinen", "sqrt").
template <template <class> class E, class... Args>
PerObjective<E> make_per_objective(const std::string& objective, Args&&... args) {
  if (objective == "squared") return E<SquaredRatio>(args...);
  if (objective == "hyvarinen") return E<HyvarinenRatio>(args...);
  if (objective == "sqrt") return E<SqrtRatio>(args...);
  throw py::value_error("objective: expected 'squared', 'hyvarinen' or 'sqrt', got '" + objective + "'");
}

/// A binary-data estimator with one alternative per ratio objective.
template <template <class> class E>
struct RatioEstimatorPy {
  PerObjective<E> estimator;
  std::string objective;
  ObjectLock mutex = new_lock();
  template <class F>
  void visit(F&& f) const {
    std::visit(f, estimator);
  }
};
using RatioMatchingPy = RatioEstimatorPy<RatioMatching>;
using TaylorRatioMatchingPy = RatioEstimatorPy<TaylorRatioMatching>;
struct UniformSampledRMPy : RatioEstimatorPy<UniformSampledRM> {
  Index flips = 0;
};
struct GradientGuidedRMPy : RatioEstimatorPy<GradientGuidedRM> {
  Index flips = 0;
  std::string variant;
};

/// Samplers usable inside CD and PCD.
using SamplerVariant = std::variant<GibbsSampler, GibbsWithGradients, BlockGibbsSampler>;

inline SamplerVariant make_sampler(const std::string& name, double beta) {
  if (name == "gibbs") return GibbsSampler(beta);
  if (name == "gwg" || name == "gibbs-with-gradients") return GibbsWithGradients(beta);
  if (name == "block" || name == "block-gibbs") {
    if (beta != 1.0) throw py::value_error("beta: block Gibbs samples the model itself (beta must be 1)");
    return BlockGibbsSampler();
  }
  throw py::value_error("sampler: expected 'gibbs', 'gwg' or 'block', got '" + name + "'");
}

struct ContrastiveDivergencePy {
  std::variant<ContrastiveDivergence<GibbsSampler>, ContrastiveDivergence<GibbsWithGradients>,
               ContrastiveDivergence<BlockGibbsSampler>>
      estimator;
  std::string sampler;
  ObjectLock mutex = new_lock();
  template <class F>
  void visit(F&& f) const {
    std::visit(f, estimator);
  }
};

struct PersistentContrastiveDivergencePy {
  std::variant<PersistentContrastiveDivergence<GibbsSampler>, PersistentContrastiveDivergence<GibbsWithGradients>,
               PersistentContrastiveDivergence<BlockGibbsSampler>>
      estimator;
  std::string sampler;
  ObjectLock mutex = new_lock();
  template <class F>
  void visit(F&& f) const {
    std::visit(f, estimator);
  }
};

/// The sampler alone (`sample`, `run`), bound as its own class per kind.
struct GibbsSamplerPy {
  GibbsSampler sampler;
  ObjectLock mutex = new_lock();
};
struct GibbsWithGradientsPy {
  GibbsWithGradients sampler;
  ObjectLock mutex = new_lock();
};
struct BlockGibbsSamplerPy {
  BlockGibbsSampler sampler;
  ObjectLock mutex = new_lock();
};

/// An estimator with one C++ type (the score matching family, BiSM, Gaussian-RBM CD).
template <class E>
struct SingleEstimatorPy {
  E estimator;
  ObjectLock mutex = new_lock();
  template <class F>
  void visit(F&& f) const {
    f(estimator);
  }
};
using ScoreMatchingPy = SingleEstimatorPy<ScoreMatching>;
using DenoisingScoreMatchingPy = SingleEstimatorPy<DenoisingScoreMatching>;
using SlicedScoreMatchingPy = SingleEstimatorPy<SlicedScoreMatching>;

/// An estimator object plus the L1 penalty on an Ising model's couplings (C++ `Penalized`).
struct PenalizedPy {
  py::object estimator;  // the inner estimator object, kept alive
  IsingCouplingL1 penalty;
};

/// Which models an estimator object applies to, for the TypeError of a wrong pairing.
inline const char* pairing_rule(py::handle estimator) {
  if (py::isinstance<PenalizedPy>(estimator))
    return "IsingCouplingL1 penalizes an IsingModel's couplings, of the inner estimator's kind";
  return "binary-data estimators need a binary model, score matching a GaussianBernoulliRBM of the estimator's dtype";
}

/// Whether the C++ estimator `E` can train model `M` (block Gibbs needs an RBM's conditionals).
template <class E, class M>
constexpr bool estimator_fits() {
  if constexpr (requires { typename E::sampler_type; })
    if constexpr (std::is_same_v<typename E::sampler_type, BlockGibbsSampler>)
      return std::is_same_v<M, BernoulliRBM<typename M::Scalar>>;
  return true;
}

template <class Sampler, class M>
constexpr bool sampler_fits() {
  if constexpr (std::is_same_v<Sampler, BlockGibbsSampler>) return std::is_same_v<M, BernoulliRBM<typename M::Scalar>>;
  return true;
}

inline constexpr const char* loss_and_gradient_doc =
    "loss_and_gradient(model, X, engine) -> (loss, gradient)\n\n"
    "The estimator's loss on the batch X (n, model.dim, the model's dtype) and its gradient with respect to "
    "model.params (shape (num_params,)). Random draws come from engine. Raises TypeError for a wrong dtype or "
    "an estimator that does not apply to the model, ValueError for a wrong shape or a non-binary entry, "
    "NumericalError for a non-finite result.";
inline constexpr const char* loss_doc =
    "loss(model, X, engine) -> float: the loss alone, making the same draws as loss_and_gradient from the same "
    "engine state (PCD's loss also advances its chains).";

template <class W>
void add_estimator_methods(py::class_<W>& cls) {
  cls.def(
         "loss_and_gradient",
         [](py::handle self, py::handle model, py::handle X, Engine& engine) { return call_estimator(self, model, X, engine, true); },
         py::arg("model"), py::arg("X"), py::arg("engine"), loss_and_gradient_doc)
      .def(
          "loss", [](py::handle self, py::handle model, py::handle X, Engine& engine) { return call_estimator(self, model, X, engine, false); },
          py::arg("model"), py::arg("X"), py::arg("engine"), loss_doc);
}

}  // namespace rmpy
