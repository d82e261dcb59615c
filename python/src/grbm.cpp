// GaussianBernoulliRBM<float>, GaussianBernoulliRBM<double> and the continuous-data estimators
// (score matching, denoising and sliced score matching, BiSM, Gaussian-RBM CD/PCD).
#include "model_support.hpp"

namespace rmpy {

template <class S>
void bind_grbm_as(py::module_& m) {
  using M = GaussianBernoulliRBM<S>;
  const std::string suffix = std::string("_") + dtype_name<S>();
  py::class_<M> cls(m, ("GaussianBernoulliRBM" + suffix).c_str(),
                    "Gaussian-Bernoulli RBM E(v, h) = 1/2 sum_i (v_i - b_i)^2 exp(-2 s_i) - c^T h - h^T W v, v real, "
                    "h binary; as an energy model its energy is the free energy F(v).\nparams: W (hidden x visible, "
                    "row-major), b (visible), c (hidden), s = log sigma (visible).", py::is_final());
  cls.def(py::init<Index, Index>(), py::arg("visible"), py::arg("hidden"), "W = 0, b = 0, c = 0, s = 0.")
      .def(
          "initialize", [](M& model, Engine& engine, double weight_std) { model.initialize(engine.rng, weight_std); },
          py::arg("engine"), py::arg("weight_std") = 0.01, "W ~ N(0, weight_std^2), b = c = s = 0.")
      .def(
          "set_visible_from_data",
          [](M& model, py::handle V, double min_std) {
            MatrixArg<S> arg(V, "V", model.dim());
            model.set_visible_from_data(arg.map(), min_std);
          },
          py::arg("V"), py::arg("min_std") = 1e-3, "b = the data mean, s = log of the data's standard deviation.")
      .def_property_readonly("num_hidden", &M::num_hidden)
      .def(
          "laplacian",
          [](const M& model, py::handle V) {
            MatrixArg<S> arg(V, "V", model.dim());
            Vector<S> l;
            model.laplacian(arg.map(), l);
            return to_numpy(std::move(l));
          },
          py::arg("V"), "Laplacian of the free energy, sum_i d^2F/dv_i^2, per row; shape (n,).")
      .def(
          "hidden_probabilities",
          [](const M& model, py::handle V) {
            MatrixArg<S> arg(V, "V", model.dim());
            Matrix<S> P;
            model.hidden_probabilities(arg.map(), P);
            return to_numpy(std::move(P));
          },
          py::arg("V"), "p(h_j = 1 | v) per row, shape (n, hidden).")
      .def(
          "visible_mean",
          [](const M& model, py::handle H) {
            MatrixArg<S> arg(H, "H", model.num_hidden());
            Matrix<S> Mean;
            model.visible_mean(arg.map(), Mean);
            return to_numpy(std::move(Mean));
          },
          py::arg("H"), "E[v | h] = b + sigma^2 * W^T h per row of H (n, hidden); shape (n, visible).")
      .def(
          "gibbs",
          [](const M& model, py::handle V0, Index steps, Engine& engine) {
            MatrixArg<S> arg(V0, "V", model.dim());
            Matrix<S> V = arg.map();
            {
              py::gil_scoped_release nogil;
              model.gibbs_steps(V, steps, engine.rng);
            }
            return to_numpy(std::move(V));
          },
          py::arg("V"), py::arg("steps"), py::arg("engine"),
          "steps block Gibbs steps v -> h -> v from each row of V; returns the new rows (V is not changed).")
      .def(
          "log_partition",
          [](const M& model) {
            py::gil_scoped_release nogil;
            return model.log_partition();
          },
          "Exact log Z in nats (enumerating h: at most 20 hidden units).")
      .def(
          "mean_log_likelihood",
          [](const M& model, py::handle V) {
            MatrixArg<S> arg(V, "V", model.dim());
            py::gil_scoped_release nogil;
            return model.mean_log_likelihood(arg.map());
          },
          py::arg("V"), "Mean log-density of the rows of V in nats per row, with the exact log Z.");
  def_parameter_view(cls, "weight", [](M& model) { return model.weight(); }, "W, shape (hidden, visible): a writable view into params.");
  def_parameter_view(cls, "visible_bias", [](M& model) { return model.visible_bias(); }, "b, shape (visible,): a writable view into params.");
  def_parameter_view(cls, "hidden_bias", [](M& model) { return model.hidden_bias(); }, "c, shape (hidden,): a writable view into params.");
  def_parameter_view(cls, "log_std", [](M& model) { return model.log_std(); }, "s = log sigma, shape (visible,): a writable view into params.");
  bind_model_basics(cls);
  m.def(
      "annealed_log_partition",
      [](const M& model, Index runs, Index temperatures, Engine& engine) {
        LogPartitionEstimate e;
        {
          py::gil_scoped_release nogil;
          e = ratiomatch::annealed_log_partition(model, AisOptions{.runs = runs, .temperatures = temperatures}, engine.rng);
        }
        return log_partition_estimate_dict(e);
      },
      py::arg("model"), py::arg("runs") = 100, py::arg("temperatures") = 14500, py::arg("engine"),
      "log Z of a GaussianBernoulliRBM by annealed importance sampling from the model's own Gaussian (W = 0, c = 0). "
      "Returns a dict: log_partition, standard_error, log_partition_base, log_weights (nats).");

  register_estimator<ScoreMatchingPy, M>();
  register_estimator<DenoisingScoreMatchingPy, M>();
  register_estimator<SlicedScoreMatchingPy, M>();

  using BiSMW = SingleEstimatorPy<BiSM<S>>;
  py::class_<BiSMW> bism_class(m, ("BiSM" + suffix).c_str(),
                    "Bi-level score matching (Bao et al., NeurIPS 2020) for a GaussianBernoulliRBM with the variational "
                    "posterior q(h | v) = prod_j Bernoulli(sigmoid(A v + a)): K Adam steps on the posterior, then the "
                    "hypergradient through N unrolled steps. Holds the posterior (state).");
  bism_class.def(py::init([](Index visible, Index hidden, const std::string& objective, double noise_std, Index inner_steps,
                       Index unroll_steps, double lr, double beta1, double beta2, double eps) {
             BiSMOptions o;
             if (objective == "denoising" || objective == "dsm")
               o.objective = BiSMObjective::Denoising;
             else if (objective == "sliced" || objective == "ssm")
               o.objective = BiSMObjective::Sliced;
             else
               throw py::value_error("objective: expected 'denoising' or 'sliced', got '" + objective + "'");
             o.noise_std = noise_std;
             o.inner_steps = inner_steps;
             o.unroll_steps = unroll_steps;
             o.posterior_optimizer = AdamOptions{.lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps};
             return BiSMW{BiSM<S>(visible, hidden, o)};
           }),
           py::arg("visible"), py::arg("hidden"), py::arg("objective") = "denoising", py::arg("noise_std") = 0.05,
           py::arg("inner_steps") = 5, py::arg("unroll_steps") = 5, py::arg("lr") = 1e-3, py::arg("beta1") = 0.9,
           py::arg("beta2") = 0.95, py::arg("eps") = 1e-8)
      .def_property_readonly(
          "posterior_params",
          [](py::object self) {
            auto p = self.cast<BiSMW&>().estimator.posterior_params();
            return view<S>(p.data(), p.size(), self);
          },
          "phi = (A (hidden x visible, row-major), a): a writable view.")
      .def(
          "initialize_posterior", [](BiSMW& w, Engine& engine) { w.estimator.initialize_posterior(engine.rng); },
          py::arg("engine"), "A, a ~ U(-1/sqrt(d), 1/sqrt(d)).")
      .def(
          "set_posterior_to_true", [](BiSMW& w, const M& model) { w.estimator.set_posterior_to_true(model); },
          py::arg("model"), "A = W, a = c: the model's exact posterior.");
  add_estimator_methods(bism_class);
  register_estimator<BiSMW, M>();

  using CDW = SingleEstimatorPy<GaussianRBMContrastiveDivergence<S>>;
  py::class_<CDW> cd_class(m, ("GaussianRBMContrastiveDivergence" + suffix).c_str(),
                           "CD-k (or PCD-k with persistent=True) for a GaussianBernoulliRBM by its block Gibbs sampler.");
  cd_class.def(py::init([](Index steps, bool persistent) { return CDW{GaussianRBMContrastiveDivergence<S>(steps, persistent)}; }),
           py::arg("steps") = 1, py::arg("persistent") = false);
  add_estimator_methods(cd_class);
  register_estimator<CDW, M>();
}

void bind_grbm(py::module_& m) {
  bind_grbm_as<float>(m);
  bind_grbm_as<double>(m);
}

}  // namespace rmpy
