// BernoulliRBM<float>, BernoulliRBM<double>, and AIS for it.
#include "model_support.hpp"

namespace rmpy {

py::dict log_partition_estimate_dict(const LogPartitionEstimate& e) {
  py::dict d;
  d["log_partition"] = e.log_partition;
  d["standard_error"] = e.standard_error;
  d["log_partition_base"] = e.log_partition_base;
  d["log_weights"] = e.log_weights;
  return d;
}

template <class S>
void bind_rbm_as(py::module_& m) {
  using M = BernoulliRBM<S>;
  py::class_<M> cls(m, (std::string("BernoulliRBM_") + dtype_name<S>()).c_str(),
                    "Bernoulli RBM E(x, h) = -b^T x - c^T h - h^T W x; as an energy model its energy is the free "
                    "energy F(x) = -b^T x - sum_j softplus(c_j + W_j x).\nparams: W (hidden x visible, row-major, as "
                    "torch.nn.Linear(visible, hidden).weight), b (visible), c (hidden).", py::is_final());
  cls.def(py::init<Index, Index>(), py::arg("visible"), py::arg("hidden"), "Parameters 0 (call initialize).")
      .def(
          "initialize", [](M& model, Engine& engine) { model.initialize(engine.rng); }, py::arg("engine"),
          "W ~ N(0, 0.01^2), b = 0, c = 0.")
      .def(
          "set_visible_bias_from_data",
          [](M& model, py::handle X, double alpha) {
            MatrixArg<S> arg(X, "X", model.dim());
            model.set_visible_bias_from_data(arg.map(), alpha);
          },
          py::arg("X"), py::arg("alpha") = 1.0, "b_i = log(p_i / (1 - p_i)) from the add-alpha smoothed marginals of X.")
      .def_property_readonly("num_hidden", &M::num_hidden)
      .def(
          "hidden_probabilities",
          [](const M& model, py::handle X) {
            MatrixArg<S> arg(X, "X", model.dim());
            Matrix<S> P;
            model.hidden_probabilities(arg.map(), P);
            return to_numpy(std::move(P));
          },
          py::arg("X"), "p(h_j = 1 | x) for each row, shape (n, hidden).")
      .def(
          "visible_probabilities",
          [](const M& model, py::handle H) {
            MatrixArg<S> arg(H, "H", model.num_hidden());
            Matrix<S> Q;
            model.visible_probabilities(arg.map(), Q);
            return to_numpy(std::move(Q));
          },
          py::arg("H"), "p(x_i = 1 | h) for each row of H (n, hidden), shape (n, visible).")
      .def(
          "log_partition",
          [](const M& model) {
            py::gil_scoped_release nogil;
            return model.log_partition();
          },
          "Exact log Z in nats, summing over the smaller layer (at most 24 units).");
  def_parameter_view(cls, "weight", [](M& model) { return model.weight(); }, "W, shape (hidden, visible): a writable view into params.");
  def_parameter_view(cls, "visible_bias", [](M& model) { return model.visible_bias(); }, "b, shape (visible,): a writable view into params.");
  def_parameter_view(cls, "hidden_bias", [](M& model) { return model.hidden_bias(); }, "c, shape (hidden,): a writable view into params.");
  bind_binary_model<M>(m, cls);
  m.def(
      "annealed_log_partition",
      [](const M& model, py::handle base_visible_bias, Index runs, Index temperatures, Engine& engine) {
        const Vector<S> base = vector_arg<S>(base_visible_bias, "base_visible_bias", model.dim());
        LogPartitionEstimate e;
        {
          py::gil_scoped_release nogil;
          e = ratiomatch::annealed_log_partition(model, base, AisOptions{.runs = runs, .temperatures = temperatures},
                                                 engine.rng);
        }
        return log_partition_estimate_dict(e);
      },
      py::arg("model"), py::arg("base_visible_bias"), py::arg("runs") = 100, py::arg("temperatures") = 14500,
      py::arg("engine"),
      "log Z of a BernoulliRBM by annealed importance sampling (Salakhutdinov & Murray 2008) from the base-rate "
      "model with visible biases base_visible_bias (e.g. the smoothed log-odds of the training marginals). "
      "Returns a dict: log_partition, standard_error, log_partition_base, log_weights (nats).");
}

void bind_rbm(py::module_& m) {
  bind_rbm_as<float>(m);
  bind_rbm_as<double>(m);
}

}  // namespace rmpy
