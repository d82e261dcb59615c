// What every bound model gets: the common members (params as a view, energy, gradients), the
// estimator and sampler calls of the registries, and one trainer per model type.
#pragma once

#include <filesystem>
#include <optional>
#include <variant>

#include "wrappers.hpp"

namespace rmpy {

/// An estimator seen through its step (and its loss alone, where it has one), so that one
/// `Trainer` per model type serves every estimator (compiling a trainer per estimator type made
/// the module's build three times longer).
template <class M>
struct ErasedEstimator {
  using S = typename M::Scalar;
  std::function<S(const M&, const Matrix<S>&, std::mt19937_64&, Vector<S>&)> step;
  std::function<S(const M&, const Matrix<S>&, std::mt19937_64&)> value;  // empty: no loss alone
  S loss_and_gradient(const M& model, const Matrix<S>& X, std::mt19937_64& rng, Vector<S>& grad) const {
    return step(model, X, rng, grad);
  }
  S loss(const M& model, const Matrix<S>& X, std::mt19937_64& rng) const {
    if (!value) throw py::type_error("this estimator has no loss alone: call loss_and_gradient");
    return value(model, X, rng);
  }
  /// `estimator` by raw pointer (its Python object outlives the erased form) or by shared pointer.
  template <class Pointer>
  static ErasedEstimator of(Pointer estimator) {
    ErasedEstimator erased;
    erased.step = [estimator](const M& model, const Matrix<S>& X, std::mt19937_64& rng, Vector<S>& grad) {
      return estimator->loss_and_gradient(model, X, rng, grad);
    };
    if constexpr (requires(const M& model, const Matrix<S>& X, std::mt19937_64& rng) { estimator->loss(model, X, rng); })
      erased.value = [estimator](const M& model, const Matrix<S>& X, std::mt19937_64& rng) {
        return estimator->loss(model, X, rng);
      };
    return erased;
  }
};

/// The same for an estimator with state (PCD's chains, BiSM's posterior): the state goes into
/// checkpoints exactly as with the estimator itself.
template <class M>
struct ErasedStatefulEstimator : ErasedEstimator<M> {
  std::function<EstimatorState()> buffers;
  std::function<void(const EstimatorState&)> check, restore;
  EstimatorState state_buffers() const { return buffers(); }
  void check_state(const EstimatorState& state) const { check(state); }
  void restore_state(const EstimatorState& state) const { restore(state); }
  template <class Pointer>
  static ErasedStatefulEstimator of(Pointer estimator) {
    ErasedStatefulEstimator erased;
    static_cast<ErasedEstimator<M>&>(erased) = ErasedEstimator<M>::of(estimator);
    erased.buffers = [estimator] { return estimator->state_buffers(); };
    erased.check = [estimator](const EstimatorState& state) { estimator->check_state(state); };
    erased.restore = [estimator](const EstimatorState& state) { estimator->restore_state(state); };
    return erased;
  }
};

template <class M>
using AnyErasedEstimator = std::variant<ErasedEstimator<M>, ErasedStatefulEstimator<M>>;

/// An estimator object's erased form for model type `M`, and the lock of the C++ estimator it uses.
template <class M>
struct ErasedFor {
  AnyErasedEstimator<M> estimator;
  ObjectLock lock;
};

/// How to erase each estimator object applied to model type `M`, by the object's Python type;
/// filled by `register_estimator` (and for `Penalized`).
template <class M>
std::map<PyTypeObject*, std::function<ErasedFor<M>(py::handle estimator, py::handle model)>>& erasers() {
  static std::map<PyTypeObject*, std::function<ErasedFor<M>(py::handle, py::handle)>> found;
  return found;
}

/// The erased form of `estimator` (a bound estimator object) for `model`, or TypeError.
template <class M>
ErasedFor<M> erase_estimator(py::handle estimator, py::handle model) {
  const auto found = erasers<M>().find(reinterpret_cast<PyTypeObject*>(py::type::handle_of(estimator).ptr()));
  if (found == erasers<M>().end())
    no_pairing(estimator, model, pairing_rule(estimator));
  return found->second(estimator, model);
}

/// An Adam or Sgd object seen through what the trainer needs of an optimizer.
template <class S>
struct ErasedOptimizer {
  std::function<void(Eigen::Ref<Vector<S>>, const Eigen::Ref<const Vector<S>>&)> take_step;
  std::function<Index()> steps, size;
  std::function<std::vector<Vector<S>>()> buffers;
  std::function<void(Index, const std::vector<Vector<S>>&)> check, restore;

  void step(Eigen::Ref<Vector<S>> params, const Eigen::Ref<const Vector<S>>& grad) { take_step(params, grad); }
  Index step_count() const { return steps(); }
  Index num_params() const { return size(); }
  std::vector<Vector<S>> state_buffers() const { return buffers(); }
  void check_state(Index step_count, const std::vector<Vector<S>>& state) const { check(step_count, state); }
  void restore_state(Index step_count, const std::vector<Vector<S>>& state) { restore(step_count, state); }

  template <class O>
  static ErasedOptimizer of(O& o) {
    ErasedOptimizer erased;
    erased.take_step = [&o](Eigen::Ref<Vector<S>> params, const Eigen::Ref<const Vector<S>>& grad) { o.step(params, grad); };
    erased.steps = [&o] { return o.step_count(); };
    erased.size = [&o] { return o.num_params(); };
    erased.buffers = [&o] { return o.state_buffers(); };
    erased.check = [&o](Index step_count, const std::vector<Vector<S>>& state) { o.check_state(step_count, state); };
    erased.restore = [&o](Index step_count, const std::vector<Vector<S>>& state) { o.restore_state(step_count, state); };
    return erased;
  }

  /// The optimizer inside a bound Adam or Sgd of dtype `S`, or TypeError.
  static ErasedOptimizer of_object(py::handle optimizer) {
    if (py::isinstance<Adam<S>>(optimizer)) return of(optimizer.cast<Adam<S>&>());
    if (py::isinstance<Sgd<S>>(optimizer)) return of(optimizer.cast<Sgd<S>&>());
    throw py::type_error(std::string("optimizer: expected an Adam or Sgd of dtype ") + dtype_name<S>() +
                         " (the model's), got " + public_name(optimizer));
  }
};

/// `Trainer<M, E, optimizer>` behind the type-erased interface, `E` an erased estimator; holds
/// the Python objects it references, so they outlive it.
template <class M, class E>
class TrainerImpl final : public TrainerBase {
  using S = typename M::Scalar;

 public:
  TrainerImpl(py::object model, py::object estimator, ObjectLock lock, E erased, py::object optimizer,
              const TrainerOptions& options)
      : model_(std::move(model)), estimator_(std::move(estimator)), optimizer_(std::move(optimizer)),
        lock_(std::move(lock)), erased_(std::move(erased)), erased_optimizer_(ErasedOptimizer<S>::of_object(optimizer_)),
        trainer_(model_.cast<M&>(), erased_, erased_optimizer_, options) {
    const Index expected = model_.cast<const M&>().num_params(), got = erased_optimizer_.num_params();
    if (expected != got)
      throw py::value_error("optimizer: made for " + std::to_string(got) + " parameters, the model has " +
                            std::to_string(expected));
  }
  py::dict run(py::object next_batch, Engine& engine) override {
    py::object engine_object = py::cast(&engine, py::return_value_policy::reference);
    const Index dim = model_.cast<const M&>().dim();
    auto source = [&](Matrix<S>& batch, std::mt19937_64&) {
      py::gil_scoped_acquire gil;
      const py::object rows = next_batch(engine_object);
      copy_matrix(checked_matrix<S>(rows, "next_batch(engine) result", dim), batch);  // reuses batch's storage
    };
    TrainResult result;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::recursive_mutex> hold(*lock_);
      result = trainer_.run(source, engine.rng);
    }
    return train_result_dict(result);
  }
  void resume(const std::string& path, Engine& engine) override {
    py::gil_scoped_release nogil;
    std::lock_guard<std::recursive_mutex> hold(*lock_);
    trainer_.resume(path.empty() ? trainer_.checkpoint_path() : path, engine.rng);
  }
  void set_evaluator(std::vector<std::string> columns, py::object evaluator) override {
    evaluator_ = std::move(evaluator);
    const std::size_t count = columns.size();
    trainer_.set_evaluator(std::move(columns), [this, count](Index iteration) {
      py::gil_scoped_acquire gil;
      const py::object values = evaluator_(iteration);
      std::vector<double> out;
      try {
        out = values.template cast<std::vector<double>>();
      } catch (const py::cast_error&) {
        throw py::type_error("evaluator(iteration): expected a list of " + std::to_string(count) + " floats, got " +
                             std::string(py::str(py::type::handle_of(values).attr("__name__"))));
      }
      if (out.size() != count)
        throw py::value_error("evaluator(iteration): expected " + std::to_string(count) + " values (one per column), got " +
                              std::to_string(out.size()));
      return out;
    });
  }
  Index start_iteration() const override { return trainer_.start_iteration(); }
  std::string checkpoint_path() const override { return trainer_.checkpoint_path(); }

 private:
  py::object model_, estimator_, optimizer_, evaluator_;
  ObjectLock lock_;
  E erased_;
  ErasedOptimizer<S> erased_optimizer_;
  Trainer<M, E, ErasedOptimizer<S>> trainer_;
};

/// `loss_and_gradient` (or `loss`) of any estimator object on model type `M`, through its erased
/// form: returns `(loss, gradient)` or the loss.
template <class M>
py::object call_erased(py::handle est, py::handle model_handle, py::handle X, Engine& engine, bool with_gradient) {
  using S = typename M::Scalar;
  const M& model = model_handle.cast<const M&>();
  ErasedFor<M> erased = erase_estimator<M>(est, model_handle);
  MatrixArg<S> arg(X, "X", model.dim());
  const Matrix<S>& batch = arg.matrix();
  Vector<S> grad;
  S loss = 0;
  bool has_loss = true;
  {
    py::gil_scoped_release nogil;
    std::lock_guard<std::recursive_mutex> hold(*erased.lock);
    std::visit(
        [&](const auto& e) {
          if (with_gradient)
            loss = e.loss_and_gradient(model, batch, engine.rng, grad);
          else if (e.value)
            loss = e.loss(model, batch, engine.rng);
          else
            has_loss = false;
        },
        erased.estimator);
  }
  if (!has_loss) throw py::type_error(public_name(est) + " has no loss alone: call loss_and_gradient");
  if (!with_gradient) return py::float_(static_cast<double>(loss));
  return py::make_tuple(static_cast<double>(loss), to_numpy(std::move(grad)));
}

/// Registers the trainer of estimator object type `W` and model type `M` (`W` erased by `erasers<M>()`).
template <class W, class M>
void register_trainer() {
  trainer_factories()[key_of<W, M>()] = [](py::object model, py::object est, py::object optimizer,
                                            const TrainerOptions& options) -> std::unique_ptr<TrainerBase> {
    ErasedFor<M> erased = erase_estimator<M>(est, model);
    return std::visit(
        [&](auto& e) -> std::unique_ptr<TrainerBase> {
          return std::make_unique<TrainerImpl<M, std::decay_t<decltype(e)>>>(model, est, erased.lock, std::move(e),
                                                                            optimizer, options);
        },
        erased.estimator);
  };
}

/// Registers estimator wrapper `W` (with `visit`) for model `M`: its calls and its trainer.
template <class W, class M>
void register_estimator() {
  estimator_calls()[key_of<W, M>()] = call_erased<M>;
  erasers<M>()[reinterpret_cast<PyTypeObject*>(py::type::of<W>().ptr())] = [](py::handle est, py::handle model) {
    const W& wrapper = est.cast<const W&>();
    std::optional<AnyErasedEstimator<M>> erased;
    wrapper.visit([&](const auto& estimator) {
      using E = std::decay_t<decltype(estimator)>;
      if constexpr (estimator_fits<E, M>()) {
        if constexpr (StatefulEstimator<E>)
          erased = ErasedStatefulEstimator<M>::of(&estimator);
        else
          erased = ErasedEstimator<M>::of(&estimator);
      }
    });
    if (!erased) no_pairing(est, model, "block Gibbs needs a BernoulliRBM");
    return ErasedFor<M>{std::move(*erased), wrapper.mutex};
  };
  register_trainer<W, M>();
}

/// Registers sampler wrapper `W` (holding `.sampler`) for model `M`.
template <class W, class M>
void register_sampler() {
  using S = typename M::Scalar;
  using Sampler = decltype(W::sampler);
  if constexpr (sampler_fits<Sampler, M>()) {
    SamplerCalls calls;
    calls.sample = [](py::handle sampler, py::handle model_handle, Index chains, Index steps, Engine& engine) -> py::object {
      const W& wrapper = sampler.cast<const W&>();
      const Sampler& s = wrapper.sampler;
      const M& model = model_handle.cast<const M&>();
      if (chains <= 0) throw py::value_error("num_chains (" + std::to_string(chains) + ") must be positive");
      if (steps < 0) throw py::value_error("steps (" + std::to_string(steps) + ") must not be negative");
      Matrix<S> X;
      {
        py::gil_scoped_release nogil;
        std::lock_guard<std::recursive_mutex> hold(*wrapper.mutex);
        if constexpr (requires { s.sample(model, chains, steps, engine.rng); }) {
          X = s.sample(model, chains, steps, engine.rng);
        } else {  // chains from uniform random bits, as the other samplers' `sample`
          X = ratiomatch::detail::uniform_bits<S>(chains, model.dim(), engine.rng);
          s.run(model, X, steps, engine.rng);
        }
      }
      return to_numpy(std::move(X));
    };
    calls.run = [](py::handle sampler, py::handle model_handle, py::handle X0, Index steps, Engine& engine) -> py::object {
      const W& wrapper = sampler.cast<const W&>();
      const Sampler& s = wrapper.sampler;
      const M& model = model_handle.cast<const M&>();
      MatrixArg<S> arg(X0, "X", model.dim());
      Matrix<S> X = arg.map();
      {
        py::gil_scoped_release nogil;
        std::lock_guard<std::recursive_mutex> hold(*wrapper.mutex);
        s.run(model, X, steps, engine.rng);
      }
      return to_numpy(std::move(X));
    };
    sampler_calls()[key_of<W, M>()] = std::move(calls);
  }
}

/// The members every model has; `X` is `(n, dim)` of the model's dtype.
template <class M>
void bind_model_basics(py::class_<M>& cls) {
  using S = typename M::Scalar;
  cls.def_property_readonly("dim", &M::dim, "Number of visible units d.")
      .def_property_readonly("num_params", &M::num_params, "Number of parameters.")
      .def_property_readonly("dtype", [](const M&) { return py::dtype::of<S>(); }, "numpy dtype of the parameters.")
      .def_property(
          "params",
          [](py::object self) {
            auto p = self.cast<M&>().params();
            return view<S>(p.data(), p.size(), self);
          },
          [](M& model, py::handle value) { model.params() = vector_arg<S>(value, "params", model.num_params()); },
          "All parameters, shape (num_params,): a writable view of the model's storage (no copy). Assigning "
          "an array copies it in.")
      .def(
          "energy",
          [](const M& model, py::handle X) {
            MatrixArg<S> arg(X, "X", model.dim());
            Vector<S> e;
            {
              py::gil_scoped_release nogil;
              model.energy(arg.map(), e);
            }
            return to_numpy(std::move(e));
          },
          py::arg("X"), "E(x) of each row of X (n, dim) in nats; returns shape (n,).")
      .def(
          "input_gradient",
          [](const M& model, py::handle X) {
            MatrixArg<S> arg(X, "X", model.dim());
            Matrix<S> G;
            {
              py::gil_scoped_release nogil;
              model.input_gradient(arg.map(), G);
            }
            return to_numpy(std::move(G));
          },
          py::arg("X"), "dE/dx of each row of X (n, dim); returns shape (n, dim).")
      .def(
          "param_gradient",
          [](const M& model, py::handle X, py::object weights) {
            MatrixArg<S> arg(X, "X", model.dim());
            const Index n = arg.map().rows();
            const Vector<S> c = weights.is_none() ? Vector<S>::Constant(n, S(1) / S(std::max<Index>(n, 1)))
                                                  : vector_arg<S>(weights, "weights", n);
            Vector<S> g = Vector<S>::Zero(model.num_params());
            {
              py::gil_scoped_release nogil;
              model.accumulate_param_gradient(arg.map(), c, g);
            }
            return to_numpy(std::move(g));
          },
          py::arg("X"), py::arg("weights") = py::none(),
          "sum_r weights[r] * dE(X[r])/dtheta, shape (num_params,); weights default to 1/n (the batch mean).");
}

/// Estimators, samplers and metrics of binary-data models.
template <class M>
void bind_binary_model(py::module_& m, py::class_<M>& cls) {
  using S = typename M::Scalar;
  bind_model_basics(cls);
  register_estimator<RatioMatchingPy, M>();
  register_estimator<UniformSampledRMPy, M>();
  register_estimator<GradientGuidedRMPy, M>();
  register_estimator<TaylorRatioMatchingPy, M>();
  register_estimator<ContrastiveDivergencePy, M>();
  register_estimator<PersistentContrastiveDivergencePy, M>();
  register_sampler<GibbsSamplerPy, M>();
  register_sampler<GibbsWithGradientsPy, M>();
  register_sampler<BlockGibbsSamplerPy, M>();

  m.def(
      "log_partition",
      [](const M& model, double beta) {
        py::gil_scoped_release nogil;
        return ratiomatch::log_partition(model, beta);
      },
      py::arg("model"), py::arg("beta") = 1.0,
      "Exact log Z(beta) = log sum_x exp(-beta E(x)) in nats, by enumerating all 2^dim states (dim <= 24).");
  m.def(
      "log_probabilities",
      [](const M& model, double beta) {
        Vector<double> p;
        {
          py::gil_scoped_release nogil;
          p = ratiomatch::log_probabilities(model, beta);
        }
        return to_numpy(std::move(p));
      },
      py::arg("model"), py::arg("beta") = 1.0,
      "Exact log p(x) of every state (2^dim,), state k having bit i = (k >> i) & 1.");
  m.def(
      "mean_log_likelihood",
      [](const M& model, py::handle X, double beta) {
        MatrixArg<S> arg(X, "X", model.dim());
        const Matrix<S>& batch = arg.matrix();
        py::gil_scoped_release nogil;
        return ratiomatch::mean_log_likelihood(model, batch, beta);
      },
      py::arg("model"), py::arg("X"), py::arg("beta") = 1.0,
      "Exact mean log-likelihood of the rows of X (n, dim) in nats, log Z by enumeration.");
  m.def(
      "pseudo_log_likelihood",
      [](const M& model, py::handle X, double beta) {
        MatrixArg<S> arg(X, "X", model.dim());
        const Matrix<S>& batch = arg.matrix();
        py::gil_scoped_release nogil;
        return ratiomatch::pseudo_log_likelihood(model, batch, beta);
      },
      py::arg("model"), py::arg("X"), py::arg("beta") = 1.0,
      "Besag's pseudo-log-likelihood (1/n) sum_r sum_i log p(x_ri | x_r,-i) in nats: the held-out criterion.");
  m.def(
      "annealed_log_partition_single_site",
      [](const M& model, py::handle base_visible_bias, Index runs, Index temperatures, Engine& engine) {
        const Vector<S> base = vector_arg<S>(base_visible_bias, "base_visible_bias", model.dim());
        LogPartitionEstimate e;
        {
          py::gil_scoped_release nogil;
          e = ratiomatch::annealed_log_partition_single_site(
              model, base, AisOptions{.runs = runs, .temperatures = temperatures}, engine.rng);
        }
        return log_partition_estimate_dict(e);
      },
      py::arg("model"), py::arg("base_visible_bias"), py::arg("runs") = 100, py::arg("temperatures"),
      py::arg("engine"),
      "log Z of any binary model by annealed importance sampling with single-site Gibbs transitions (one bit per "
      "distribution, bit (k-1) mod dim), from the base-rate model with log-odds base_visible_bias; choose "
      "temperatures a good multiple of dim (e.g. 100 * dim). Returns a dict: log_partition, standard_error, "
      "log_partition_base, log_weights (nats).");
}

}  // namespace rmpy
