// IsingModel<float>, IsingModel<double>.
#include "model_support.hpp"

namespace rmpy {

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
}

}  // namespace rmpy
