// IsingModel<float>, IsingModel<double>, and the L1 penalty on their couplings (IsingCouplingL1,
// Penalized).
#include "model_support.hpp"

namespace rmpy {

/// The calls, eraser and trainer of `Penalized` on `IsingModel<S>`: the inner estimator's erased
/// form inside the C++ `Penalized`, under the inner estimator's lock (through `erasers`, like
/// every other estimator object).
template <class S>
void register_penalized() {
  using M = IsingModel<S>;
  estimator_calls()[key_of<PenalizedPy, M>()] = call_erased<M>;
  erasers<M>()[reinterpret_cast<PyTypeObject*>(py::type::of<PenalizedPy>().ptr())] = [](py::handle est,
                                                                                      py::handle model) {
    const PenalizedPy& wrapper = est.cast<const PenalizedPy&>();
    ErasedFor<M> inner = erase_estimator<M>(wrapper.estimator, model);
    AnyErasedEstimator<M> erased = std::visit(
        [&](auto& e) -> AnyErasedEstimator<M> {
          using E = std::decay_t<decltype(e)>;
          auto penalized = std::make_shared<const Penalized<E, IsingCouplingL1>>(std::move(e), wrapper.penalty);
          if constexpr (StatefulEstimator<E>)
            return ErasedStatefulEstimator<M>::of(penalized);
          else
            return ErasedEstimator<M>::of(penalized);
        },
        inner.estimator);
    return ErasedFor<M>{std::move(erased), inner.lock};
  };
  register_trainer<PenalizedPy, M>();
}

namespace {

void check_lambda(double lambda) {
  if (!(lambda >= 0) || !std::isfinite(lambda))
    throw py::value_error("lam (" + std::string(py::repr(py::float_(lambda))) + ") must be finite and non-negative");
}

void bind_penalty(py::module_& m) {
  py::class_<IsingCouplingL1>(m, "IsingCouplingL1",
                              "IsingCouplingL1(lam): the L1 penalty R(J) = lam * sum_{i != j} |J_ij| on an IsingModel's "
                              "couplings (both triangles, each its own parameter; not the diagonal, not the bias). Its "
                              "subgradient lam * sign(J_ij) (0 at J_ij = 0) goes to the entries i * d + j of the "
                              "gradient. Use it through Penalized(estimator, IsingCouplingL1(lam)).")
      .def(py::init([](double lambda) {
             check_lambda(lambda);
             return IsingCouplingL1{lambda};
           }),
           py::arg("lam"))
      .def_property_readonly("lam", [](const IsingCouplingL1& p) { return p.lambda; }, "The weight lam (>= 0).")
      .def(
          "value", [](const IsingCouplingL1& p, const IsingModel<float>& model) { return p.value(model); },
          py::arg("model"), "R(J) of the model's couplings, in nats.")
      .def(
          "value", [](const IsingCouplingL1& p, const IsingModel<double>& model) { return p.value(model); },
          py::arg("model"));
  py::class_<PenalizedPy> penalized(m, "Penalized",
                                    "Penalized(estimator, penalty): the estimator's loss plus the penalty R(theta), and its "
                                    "gradient plus R's (sub)gradient. penalty is an IsingCouplingL1 (the model must "
                                    "then be an IsingModel). Shares the estimator object (and its lock, and PCD's "
                                    "chains). The penalty acts on the model's own couplings J: with the squared ratio "
                                    "(temperature T = 4) the model of the data is exp(-T E), its couplings T J, so lam "
                                    "on J is lam / T on the data-scale couplings.");
  penalized
      .def(py::init([](py::object estimator, const IsingCouplingL1& penalty) {
             const auto type = reinterpret_cast<PyTypeObject*>(py::type::handle_of(estimator).ptr());
             if (!erasers<IsingModel<double>>().count(type) && !erasers<IsingModel<float>>().count(type))
               throw py::type_error("estimator: expected a binary-data estimator object (e.g. RatioMatching()), got " +
                                    public_name(estimator));
             return PenalizedPy{std::move(estimator), penalty};
           }),
           py::arg("estimator"), py::arg("penalty"))
      .def_property_readonly("estimator", [](const PenalizedPy& p) { return p.estimator; })
      .def_property_readonly("penalty", [](const PenalizedPy& p) { return p.penalty; });
  add_estimator_methods(penalized);
}

}  // namespace

template <class S>
void bind_ising_as(py::module_& m) {
  using M = IsingModel<S>;
  py::class_<M> cls(m, (std::string("IsingModel_") + dtype_name<S>()).c_str(),
                    "Fully connected Ising model E(x) = -(sum_{i != j} J_ij s_i s_j + b^T s), spins s = 2x - 1, x in {0,1}^d.\n"
                    "params: J (d x d, row-major; each off-diagonal entry its own parameter) then b (d,).", py::is_final());
  cls.def(py::init<Index>(), py::arg("dim"), "A model over dim bits with J = 0, b = 0.")
      .def_static("periodic_lattice", &M::periodic_lattice, py::arg("side"), py::arg("sigma"),
                  "The lattice experiments' truth: side x side periodic lattice, J = sigma * adjacency, b = 0.");
  def_parameter_view(cls, "coupling", [](M& model) { return model.coupling(); }, "J, shape (d, d): a writable view into params.");
  def_parameter_view(cls, "bias", [](M& model) { return model.bias(); }, "b, shape (d,): a writable view into params.");
  bind_binary_model<M>(m, cls);
  m.def(
      "sample_ising_data",
      [](const M& model, Index n, Index sweeps, Engine& engine) {
        Matrix<S> X;
        {
          py::gil_scoped_release nogil;
          X = ratiomatch::sample_ising_data(model, n, sweeps, engine.rng);
        }
        return to_numpy(std::move(X));
      },
      py::arg("model"), py::arg("num_samples"), py::arg("sweeps"), py::arg("engine"),
      "num_samples independent Gibbs chains of `sweeps` sweeps from uniform bits; returns (num_samples, dim).");
  m.def(
      "coupling_rmse",
      [](const M& truth, const M& learned) { return ratiomatch::coupling_rmse(truth.coupling(), learned.coupling()); },
      py::arg("truth"), py::arg("learned"), "Root mean squared error between the two coupling matrices.");
}

void bind_ising(py::module_& m) {
  bind_ising_as<float>(m);
  bind_ising_as<double>(m);
  bind_penalty(m);
  register_penalized<float>();
  register_penalized<double>();
}

}  // namespace rmpy
