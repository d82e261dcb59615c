// MlpEnergy<float>, MlpEnergy<double>.
#include "model_support.hpp"

namespace rmpy {

inline Activation activation_from_name(const std::string& name) {
  for (const Activation a :
       {Activation::Swish, Activation::Tanh, Activation::Elu, Activation::Softplus, Activation::LearnableSwish})
    if (name == to_string(a)) return a;
  throw py::value_error("activation: expected 'swish', 'learnable-swish', 'tanh', 'elu' or 'softplus', got '" + name + "'");
}

template <class S>
void bind_mlp_as(py::module_& m) {
  using M = MlpEnergy<S>;
  py::class_<M> cls(m, (std::string("MlpEnergy_") + dtype_name<S>()).c_str(),
                    "Multilayer perceptron energy E(x) = network(x): layers dim -> hidden... -> 1, the activation "
                    "after every hidden layer.\nparams: per layer W (out x in, row-major, as torch.nn.Linear.weight) "
                    "then b; with 'learnable-swish' the shared slope beta last.", py::is_final());
  cls.def(py::init([](Index dim, std::vector<Index> hidden, const std::string& activation) {
            return M(dim, std::move(hidden), activation_from_name(activation));
          }),
          py::arg("dim"), py::arg("hidden"), py::arg("activation") = "swish",
          "A network of widths dim, hidden..., 1 with parameters 0 (call initialize). Raises ValueError on a "
          "non-positive width or an unknown activation.")
      .def(
          "initialize", [](M& model, Engine& engine) { model.initialize(engine.rng); }, py::arg("engine"),
          "Weights and biases uniform in +-1/sqrt(fan_in) (torch.nn.Linear's default); beta = 1.")
      .def_property_readonly("widths", &M::widths, "Layer widths [dim, hidden..., 1].")
      .def_property_readonly("num_layers", &M::num_layers, "Number of affine layers.")
      .def_property_readonly("activation", [](const M& model) { return std::string(to_string(model.activation())); })
      .def_property_readonly("slope", [](const M& model) { return static_cast<double>(model.slope()); },
                             "The activation's slope beta (1 unless 'learnable-swish').")
      .def(
          "weight",
          [](py::object self, Index l) {
            M& model = self.cast<M&>();
            if (l < 0 || l >= model.num_layers())
              throw py::index_error("layer " + std::to_string(l) + " out of range [0, " + std::to_string(model.num_layers()) + ")");
            auto W = model.weight(l);
            return view<S>(W.data(), W.rows(), W.cols(), self);
          },
          py::arg("layer"), "W of a layer, shape (out, in): a writable view into params.")
      .def(
          "bias",
          [](py::object self, Index l) {
            M& model = self.cast<M&>();
            if (l < 0 || l >= model.num_layers())
              throw py::index_error("layer " + std::to_string(l) + " out of range [0, " + std::to_string(model.num_layers()) + ")");
            auto b = model.bias(l);
            return view<S>(b.data(), b.size(), self);
          },
          py::arg("layer"), "b of a layer, shape (out,): a writable view into params.");
  bind_binary_model<M>(m, cls);
}

void bind_mlp(py::module_& m) {
  bind_mlp_as<float>(m);
  bind_mlp_as<double>(m);
}

}  // namespace rmpy
