// The `ratiomatch._core` extension: exceptions, the engine, Adam and Sgd, data, metrics on arrays,
// the estimators' and samplers' Python classes, the trainer; the models come from their own
// translation units.
#include "wrappers.hpp"

namespace rmpy {

std::map<TypeKey, EstimatorCall>& estimator_calls() {
  static std::map<TypeKey, EstimatorCall> calls;
  return calls;
}
std::map<TypeKey, SamplerCalls>& sampler_calls() {
  static std::map<TypeKey, SamplerCalls> calls;
  return calls;
}
py::object call_estimator(py::handle estimator, py::handle model, py::handle X, Engine& engine, bool with_gradient) {
  const auto found = estimator_calls().find(key_of(estimator, model));
  if (found == estimator_calls().end())
    no_pairing(estimator, model, pairing_rule(estimator));
  return found->second(estimator, model, X, engine, with_gradient);
}

std::map<TypeKey, TrainerFactory>& trainer_factories() {
  static std::map<TypeKey, TrainerFactory> factories;
  return factories;
}

py::dict train_result_dict(const TrainResult& r) {
  py::dict d;
  d["iterations"] = r.iterations;
  d["final_loss"] = r.final_loss;
  d["wall_seconds"] = r.wall_seconds;
  d["eval_seconds"] = r.eval_seconds;
  d["iterations_per_second"] = r.iterations_per_second;
  d["failed"] = r.failed;
  d["out_of_time"] = r.out_of_time;
  d["message"] = r.message;
  return d;
}

namespace {

const SamplerCalls& find_sampler(py::handle sampler, py::handle model) {
  const auto found = sampler_calls().find(key_of(sampler, model));
  if (found == sampler_calls().end()) no_pairing(sampler, model, "block Gibbs needs a BernoulliRBM; all need a binary model");
  return found->second;
}

template <class W>
void add_sampler_methods(py::class_<W>& cls) {
  cls.def(
         "sample",
         [](py::handle self, py::handle model, Index chains, Index steps, Engine& engine) {
           return find_sampler(self, model).sample(self, model, chains, steps, engine);
         },
         py::arg("model"), py::arg("num_chains"), py::arg("steps"), py::arg("engine"),
         "num_chains chains from uniform random bits, each advanced `steps` transitions; returns (num_chains, dim).")
      .def(
          "run",
          [](py::handle self, py::handle model, py::handle X, Index steps, Engine& engine) {
            return find_sampler(self, model).run(self, model, X, steps, engine);
          },
          py::arg("model"), py::arg("X"), py::arg("steps"), py::arg("engine"),
          "Advances every row of X (n, dim) by `steps` transitions; returns the new rows (X is not changed).");
}

/// `params` as a writable map: a contiguous 1-D array of `num_params` entries of dtype `S`.
template <class S>
Eigen::Map<Vector<S>> writable_params(py::handle params, Index num_params) {
  auto p = checked_array<S>(params, "params");
  if (p.ndim() != 1 || p.shape(0) != num_params || p.strides(0) != static_cast<py::ssize_t>(sizeof(S)))
    throw py::value_error("params: expected a contiguous 1-D array of " + std::to_string(num_params) +
                          " entries, got shape " + shape_string(p) +
                          (p.ndim() == 1 ? " with stride " + std::to_string(p.strides(0)) : std::string()));
  if (!p.writeable()) throw py::value_error("params: the array is read-only");
  return Eigen::Map<Vector<S>>(static_cast<S*>(p.mutable_data()), p.shape(0));
}

/// The members Adam and Sgd share: step, num_params, step_count, lr.
template <class O>
void add_optimizer_methods(py::class_<O>& cls) {
  using S = typename O::Scalar;
  cls.def(
         "step",
         [](O& optimizer, py::handle params, py::handle grad) {
           Eigen::Map<Vector<S>> target = writable_params<S>(params, optimizer.num_params());
           const Vector<S> g = vector_arg<S>(grad, "grad", optimizer.num_params());
           optimizer.step(target, g);
         },
         py::arg("params"), py::arg("grad"), "One update of params (in place, e.g. model.params) from grad.")
      .def_property_readonly("num_params", &O::num_params)
      .def_property_readonly("step_count", &O::step_count)
      .def_property("lr", [](const O& o) { return o.options().lr; }, &O::set_learning_rate);
}

template <class S>
void bind_optimizers_as(py::module_& m) {
  py::class_<Adam<S>> adam(m, (std::string("Adam_") + dtype_name<S>()).c_str(),
                           "Adam (Kingma & Ba 2015) with PyTorch's semantics; weight_decay adds lambda * theta to the "
                           "gradient (L2, not AdamW).");
  adam.def(py::init([](Index num_params, double lr, double beta1, double beta2, double eps, double weight_decay) {
             return Adam<S>(num_params, AdamOptions{.lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps, .weight_decay = weight_decay});
           }),
           py::arg("num_params"), py::arg("lr") = 1e-3, py::arg("beta1") = 0.9, py::arg("beta2") = 0.999,
           py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0);
  add_optimizer_methods(adam);
  py::class_<Sgd<S>> sgd(m, (std::string("Sgd_") + dtype_name<S>()).c_str(),
                         "Stochastic gradient descent with the update of torch.optim.SGD: weight_decay adds lambda * "
                         "theta to the gradient; with momentum mu the buffer b = mu b + (1 - dampening) g (b = g at "
                         "the first step) replaces g, or g + mu b with nesterov; theta -= lr g.");
  sgd.def(py::init([](Index num_params, double lr, double momentum, double dampening, double weight_decay,
                      bool nesterov) {
            return Sgd<S>(num_params, SgdOptions{.lr = lr, .momentum = momentum, .dampening = dampening,
                                                 .weight_decay = weight_decay, .nesterov = nesterov});
          }),
          py::arg("num_params"), py::arg("lr") = 1e-2, py::arg("momentum") = 0.0, py::arg("dampening") = 0.0,
          py::arg("weight_decay") = 0.0, py::arg("nesterov") = false);
  add_optimizer_methods(sgd);
}

template <class S>
double clip_as(py::handle grad, double max_norm) {
  auto g = checked_array<S>(grad, "grad");
  if (g.ndim() != 1 || g.strides(0) != static_cast<py::ssize_t>(sizeof(S)) || !g.writeable())
    throw py::value_error("grad: expected a writable contiguous 1-D array");
  Eigen::Map<Vector<S>> target(static_cast<S*>(g.mutable_data()), g.shape(0));
  return static_cast<double>(ratiomatch::clip_gradient_norm<S>(target, max_norm));
}

template <class S>
double mmd_as(py::handle X, py::handle Y, const std::string& kernel) {
  MatrixArg<S> x(X, "X", -1), y(Y, "Y", x.map().cols());
  const Matrix<S>& a = x.matrix();
  const Matrix<S>& b = y.matrix();
  if (kernel == "hamming") return mmd_squared<HammingKernel>(a, b);
  if (kernel == "exp-hamming") return mmd_squared<ExpHammingKernel>(a, b);
  throw py::value_error("kernel: expected 'hamming' or 'exp-hamming', got '" + kernel + "'");
}

/// An estimator whose only setting is the ratio objective.
template <class W, template <class> class E>
void bind_objective_estimator(py::module_& m, const char* name, const char* doc) {
  py::class_<W> cls(m, name, doc);
  cls.def(py::init([](const std::string& objective) { return W{make_per_objective<E>(objective), objective}; }),
          py::arg("objective") = "squared")
      .def_readonly("objective", &W::objective);
  add_estimator_methods(cls);
}

}  // namespace

void bind_common(py::module_& m) {
  static py::exception<NumericalError> numerical(m, "NumericalError", PyExc_ArithmeticError);
  static py::exception<CheckpointError> checkpoint(m, "CheckpointError", PyExc_RuntimeError);
  static py::exception<IdxError> idx(m, "IdxError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const NumericalError& e) {
      numerical(e.what());
    } catch (const CheckpointError& e) {
      checkpoint(e.what());
    } catch (const IdxError& e) {
      idx(e.what());
    }
  });

  py::class_<Engine>(m, "Engine", "The random engine (std::mt19937_64) every sampled call draws from.")
      .def(py::init<std::uint64_t>(), py::arg("seed"), "An engine seeded with seed (0 <= seed < 2**64).")
      .def(
          "seed", [](Engine& e, std::uint64_t seed) { e.rng.seed(seed); }, py::arg("seed"))
      .def(
          "next", [](Engine& e) { return static_cast<std::uint64_t>(e.rng()); }, "The next 64-bit output.")
      .def(py::pickle(
          [](const Engine& e) {
            std::ostringstream s;
            s << e.rng;
            return s.str();
          },
          [](const std::string& state) {
            // A std::mt19937_64 state is 312 words and a position: 313 decimal numbers.
            std::istringstream words(state);
            std::string word;
            std::size_t count = 0;
            bool digits = true;
            while (words >> word) {
              ++count;
              digits = digits && word.find_first_not_of("0123456789") == std::string::npos;
            }
            if (count != std::mt19937_64::state_size + 1 || !digits)
              throw py::value_error("Engine state: not a std::mt19937_64 state (313 decimal numbers)");
            Engine e(0);
            std::istringstream s(state);
            s >> e.rng;
            return e;
          }));

  bind_optimizers_as<float>(m);
  bind_optimizers_as<double>(m);
  m.def(
      "clip_gradient_norm",
      [](py::handle grad, double max_norm) {
        if (is_array_of<float>(grad))
          return clip_as<float>(grad, max_norm);
        return clip_as<double>(grad, max_norm);
      },
      py::arg("grad"), py::arg("max_norm"),
      "Scales grad (float32 or float64, 1-D) in place to 2-norm at most max_norm (torch.nn.utils.clip_grad_norm_); "
      "returns the norm before.");

  m.def(
      "mmd_squared",
      [](py::handle X, py::handle Y, const std::string& kernel) {
        if (is_array_of<float>(X))
          return mmd_as<float>(X, Y, kernel);
        return mmd_as<double>(X, Y, kernel);
      },
      py::arg("X"), py::arg("Y"), py::arg("kernel") = "hamming",
      "Unbiased MMD^2 between the rows of X (m, d) and Y (n, d), binary, both float32 or both float64, with the "
      "kernel 'hamming' (k = d - Hamming distance; the RMwGGIS paper's 'MMD') or 'exp-hamming' (exp(-H/d)).");

  // Data.
  std::vector<std::string> toy_names;
  for (const auto toy : all_toy2d()) toy_names.emplace_back(to_string(toy));
  m.attr("TOY_DATASETS") = toy_names;
  m.def(
      "sample_toy2d",
      [](const std::string& name, Index n, Engine& engine) {
        Toy2d toy = parse_toy2d(name);
        Points2d P = sample_toy2d(toy, n, engine.rng);
        Matrix<double> out = P;
        return to_numpy(std::move(out));
      },
      py::arg("name"), py::arg("n"), py::arg("engine"),
      "n points (n, 2) of a 2-D toy data set (TOY_DATASETS: 2spirals, 8gaussians, circles, moons, pinwheel, "
      "swissroll, checkerboard), as in the RMwGGIS and ebm code.");
  py::class_<GrayCodeEncoder>(m, "GrayCodeEncoder",
                              "Codes 2-D points as dim-bit Gray codes (dim/2 bits per coordinate), as RMwGGIS does.")
      .def(py::init<Index, double>(), py::arg("dim"), py::arg("int_scale"))
      .def_static(
          "fit",
          [](Index dim, py::handle points) {
            MatrixArg<double> p(points, "points", 2);
            const Points2d P = p.map();
            return GrayCodeEncoder::fit(dim, P);
          },
          py::arg("dim"), py::arg("points"), "The protocol's encoder for the data set of which points (n, 2) are samples.")
      .def_property_readonly("dim", &GrayCodeEncoder::dim)
      .def_property_readonly("int_scale", &GrayCodeEncoder::int_scale)
      .def(
          "encode",
          [](const GrayCodeEncoder& enc, py::handle points, py::object dtype) {
            MatrixArg<double> p(points, "points", 2);
            const Points2d P = p.map();
            if (names_float32(dtype, "dtype")) return py::object(to_numpy(enc.encode<float>(P)));
            return py::object(to_numpy(enc.encode<double>(P)));
          },
          py::arg("points"), py::arg("dtype") = py::dtype::of<double>(),
          "Bits (n, dim) of points (n, 2) (float64), of the given dtype (float32 or float64).")
      .def(
          "decode",
          [](const GrayCodeEncoder& enc, py::handle X) -> py::object {
            if (is_array_of<float>(X)) {
              MatrixArg<float> x(X, "X", enc.dim());
              Matrix<double> out = enc.decode(x.map());
              return to_numpy(std::move(out));
            }
            MatrixArg<double> x(X, "X", enc.dim());
            Matrix<double> out = enc.decode(x.map());
            return to_numpy(std::move(out));
          },
          py::arg("X"), "Points (n, 2) of the codes X (n, dim).");

  m.def(
      "read_idx_images",
      [](const std::string& path) {
        IdxImages images;
        {
          py::gil_scoped_release nogil;
          images = read_idx_images(path);
        }
        py::array_t<std::uint8_t> out({images.count, images.rows, images.cols});
        std::copy(images.pixels.begin(), images.pixels.end(), out.mutable_data());
        return out;
      },
      py::arg("path"), "Images of an IDX file (gzip or plain) as uint8 (count, rows, cols). Raises IdxError.");
  m.def(
      "read_idx_labels",
      [](const std::string& path) {
        std::vector<std::uint8_t> labels = read_idx_labels(path);
        py::array_t<std::uint8_t> out(static_cast<py::ssize_t>(labels.size()));
        std::copy(labels.begin(), labels.end(), out.mutable_data());
        return out;
      },
      py::arg("path"), "Labels of an IDX file as uint8 (count,). Raises IdxError.");
  m.def(
      "read_fashion_mnist",
      [](const std::string& split, const std::string& data_dir, const std::string& binarize, int threshold,
         py::object engine, py::object dtype) -> py::object {
        if (binarize != "threshold" && binarize != "stochastic" && binarize != "dequantize")
          throw py::value_error("binarize: expected 'threshold', 'stochastic' or 'dequantize', got '" + binarize + "'");
        const bool single = names_float32(dtype, "dtype");
        if (binarize != "threshold" && engine.is_none())
          throw py::value_error("engine: needed for binarize='" + binarize + "'");
        IdxImages images;
        {
          py::gil_scoped_release nogil;
          images = read_fashion_mnist_images(split, data_dir);
        }
        auto convert = [&](auto tag) -> py::object {
          using S = decltype(tag);
          if (binarize == "threshold") return to_numpy(binarize_by_threshold<S>(images, threshold));
          if (engine.is_none()) throw py::value_error("engine: needed for binarize='" + binarize + "'");
          Engine& e = engine.cast<Engine&>();
          if (binarize == "stochastic") return to_numpy(binarize_stochastically<S>(images, e.rng));
          if (binarize == "dequantize") return to_numpy(dequantize_pixels<S>(images, e.rng));
          throw py::value_error("binarize: expected 'threshold', 'stochastic' or 'dequantize', got '" + binarize + "'");
        };
        return single ? convert(float{}) : convert(double{});
      },
      py::arg("split") = "train", py::arg("data_dir") = std::string(fashion_mnist_default_dir),
      py::arg("binarize") = "threshold", py::arg("threshold") = 128, py::arg("engine") = py::none(),
      py::arg("dtype") = py::dtype::of<double>(),
      "Fashion-MNIST images (Debian's dataset-fashion-mnist) as rows (n, 784): binarised by pixel >= threshold, "
      "or stochastically (engine), or dequantised into (0, 1) (engine). Raises IdxError if the files are missing.");
}

void bind_estimators(py::module_& m) {
  bind_objective_estimator<RatioMatchingPy, RatioMatching>(
      m, "RatioMatching",
      "Ratio matching over all d flips (Hyvarinen 2007; RMwGGIS eq. 3):\n"
      "J(x) = sum_i f(E(x) - E(x_-i)) with the per-flip objective f of `objective`: "
      "'squared' (the paper's; learns p^(1/4)), 'hyvarinen' or 'sqrt' (consistent).");
  bind_objective_estimator<TaylorRatioMatchingPy, TaylorRatioMatching>(
      m, "TaylorRatioMatching",
      "First-order ratio matching: J(x) = sum_i f(-(2x-1)_i dE/dx_i), the gradient alone (no flipped "
      "evaluations). Exact for IsingModel.");
  {
    py::class_<UniformSampledRMPy> cls(m, "UniformSampledRM",
                                       "Ratio matching over `flips` bits drawn uniformly without replacement "
                                       "(importance-weighted, unbiased).");
    cls.def(py::init([](Index flips, const std::string& objective) {
              return UniformSampledRMPy{{make_per_objective<UniformSampledRM>(objective, flips), objective}, flips};
            }),
            py::arg("flips"), py::arg("objective") = "squared")
        .def_readonly("objective", &UniformSampledRMPy::objective)
        .def_readonly("flips", &UniformSampledRMPy::flips);
    add_estimator_methods(cls);
  }
  {
    py::class_<GradientGuidedRMPy> cls(m, "GradientGuidedRM",
                                       "RMwGGIS (Liu et al., ICLR 2023): `flips` flips drawn from "
                                       "softmax(2(2x-1) * dE/dx); variant 'basic' (eq. 7) or 'advanced' (eq. 9).");
    cls.def(py::init([](Index flips, const std::string& variant, const std::string& objective) {
              GuidedVariant v;
              if (variant == "basic")
                v = GuidedVariant::Basic;
              else if (variant == "advanced")
                v = GuidedVariant::Advanced;
              else
                throw py::value_error("variant: expected 'basic' or 'advanced', got '" + variant + "'");
              return GradientGuidedRMPy{{make_per_objective<GradientGuidedRM>(objective, flips, v), objective}, flips, variant};
            }),
            py::arg("flips") = 10, py::arg("variant") = "advanced", py::arg("objective") = "squared")
        .def_readonly("objective", &GradientGuidedRMPy::objective)
        .def_readonly("flips", &GradientGuidedRMPy::flips)
        .def_readonly("variant", &GradientGuidedRMPy::variant);
    add_estimator_methods(cls);
  }
  {
    py::class_<ContrastiveDivergencePy> cls(m, "ContrastiveDivergence",
                                            "CD-k: chains started at the batch, `steps` transitions of `sampler` "
                                            "('gibbs', 'gwg', or 'block' for a BernoulliRBM); gradient mean dE/dtheta(data) - "
                                            "mean dE/dtheta(chains).");
    cls.def(py::init([](Index steps, const std::string& sampler, double beta) {
              using Variant = decltype(ContrastiveDivergencePy::estimator);
              return ContrastiveDivergencePy{
                  std::visit([&](auto s) -> Variant { return ContrastiveDivergence<decltype(s)>(s, steps); },
                             make_sampler(sampler, beta)),
                  sampler};
            }),
            py::arg("steps") = 1, py::arg("sampler") = "gibbs", py::arg("beta") = 1.0)
        .def_readonly("sampler", &ContrastiveDivergencePy::sampler);
    add_estimator_methods(cls);
  }
  {
    py::class_<PersistentContrastiveDivergencePy> cls(m, "PersistentContrastiveDivergence",
                                                      "PCD-k (Tieleman 2008): num_chains persistent chains, `steps` "
                                                      "transitions per update. Holds the chains (state).");
    cls.def(py::init([](Index num_chains, Index steps, const std::string& sampler, double beta) {
              using Variant = decltype(PersistentContrastiveDivergencePy::estimator);
              return PersistentContrastiveDivergencePy{
                  std::visit([&](auto s) -> Variant { return PersistentContrastiveDivergence<decltype(s)>(s, num_chains, steps); },
                             make_sampler(sampler, beta)),
                  sampler};
            }),
            py::arg("num_chains"), py::arg("steps") = 1, py::arg("sampler") = "gibbs", py::arg("beta") = 1.0)
        .def_readonly("sampler", &PersistentContrastiveDivergencePy::sampler)
        .def(
            "chains",
            [](const PersistentContrastiveDivergencePy& w, py::object dtype) -> py::object {
              const int wanted = dtype.is_none() ? -1 : names_float32(dtype, "dtype") ? 1 : 0;
              Matrix<float> single;
              Matrix<double> twice;
              {
                py::gil_scoped_release nogil;  // the lock is only taken without the GIL
                std::lock_guard<std::recursive_mutex> hold(*w.mutex);
                std::visit(
                    [&](const auto& e) {
                      single = e.template chains<float>();
                      twice = e.template chains<double>();
                    },
                    w.estimator);
              }
              // The chains are kept per scalar type; without a dtype, those that exist.
              const bool use_float = wanted == 1 || (wanted == -1 && twice.size() == 0 && single.size() > 0);
              if (use_float) return to_numpy(std::move(single));
              return to_numpy(std::move(twice));
            },
            py::arg("dtype") = py::none(),
            "A copy of the persistent chains (num_chains, dim): those of the models trained so far (float64 if "
            "both dtypes were used, unless dtype says which); shape (0, 0) before the first update.")
        .def(
            "reset",
            [](PersistentContrastiveDivergencePy& w) {
              py::gil_scoped_release nogil;
              std::lock_guard<std::recursive_mutex> hold(*w.mutex);
              std::visit([](auto& e) { e.reset(); }, w.estimator);
            },
            "Forget the chains (the next call starts them at uniform random bits).");
    add_estimator_methods(cls);
  }
  {
    py::class_<ScoreMatchingPy> cls(m, "ScoreMatching",
                                    "Score matching (Hyvarinen 2005): J = mean(1/2 |grad_v F|^2 - laplacian_v F), for "
                                    "GaussianBernoulliRBM.");
    cls.def(py::init([] { return ScoreMatchingPy{}; }));
    add_estimator_methods(cls);
  }
  {
    py::class_<DenoisingScoreMatchingPy> cls(m, "DenoisingScoreMatching",
                                             "Denoising score matching (Vincent 2011) with Gaussian noise noise_std.");
    cls.def(py::init([](double noise_std) { return DenoisingScoreMatchingPy{DenoisingScoreMatching(noise_std)}; }),
            py::arg("noise_std"));
    add_estimator_methods(cls);
  }
  {
    py::class_<SlicedScoreMatchingPy> cls(m, "SlicedScoreMatching",
                                          "Sliced score matching (Song et al. 2019) with Rademacher projections.");
    cls.def(py::init([](Index projections) { return SlicedScoreMatchingPy{SlicedScoreMatching(projections)}; }),
            py::arg("num_projections") = 1);
    add_estimator_methods(cls);
  }
  {
    py::class_<GibbsSamplerPy> cls(m, "GibbsSampler", "Systematic-scan Gibbs sampling of exp(-beta E); a step is one sweep.");
    cls.def(py::init([](double beta) { return GibbsSamplerPy{GibbsSampler(beta)}; }), py::arg("beta") = 1.0);
    add_sampler_methods(cls);
  }
  {
    py::class_<GibbsWithGradientsPy> cls(m, "GibbsWithGradients",
                                         "Gibbs-with-Gradients (Grathwohl et al. 2021) of exp(-beta E); a step is one "
                                         "Metropolis-Hastings proposal per chain.");
    cls.def(py::init([](double beta) { return GibbsWithGradientsPy{GibbsWithGradients(beta)}; }), py::arg("beta") = 1.0);
    add_sampler_methods(cls);
  }
  {
    py::class_<BlockGibbsSamplerPy> cls(m, "BlockGibbsSampler", "Block Gibbs x -> h -> x of a BernoulliRBM.");
    cls.def(py::init([] { return BlockGibbsSamplerPy{}; }));
    add_sampler_methods(cls);
  }

  // The trainer: a type-erased Trainer for the model, estimator and optimizer it is given.
  py::class_<TrainerBase>(m, "Trainer",
                          "Trainer(model, estimator, optimizer, iterations, clip_norm=1.0, log_every=100, eval_every=0, "
                          "checkpoint_every=1000, out_dir='', tag='', progress=False, max_seconds=0.0, flush_denormals=True)\n\n"
                          "Trains model in place: each iteration next_batch(engine) -> X, the estimator's gradient, "
                          "clipping, optimizer.step (an Adam or Sgd of the model's dtype). With out_dir: log.csv and checkpoint.bin (resumable bit for bit). "
                          "flush_denormals: run with subnormal numbers flushed to zero (they can slow a long run "
                          "tenfold); False keeps gradual underflow.")
      .def(py::init([](py::object model, py::object estimator, py::object optimizer, Index iterations, double clip_norm,
                       Index log_every, Index eval_every, Index checkpoint_every, const std::string& out_dir,
                       const std::string& tag, bool progress, double max_seconds, bool flush_denormals) {
             const auto found = trainer_factories().find(key_of(estimator, model));
             if (found == trainer_factories().end())
               no_pairing(estimator, model, pairing_rule(estimator));
             TrainerOptions options{.iterations = iterations, .clip_norm = clip_norm, .log_every = log_every,
                                    .eval_every = eval_every, .checkpoint_every = checkpoint_every, .out_dir = out_dir,
                                    .tag = tag, .progress = progress, .max_seconds = max_seconds,
                                    .flush_denormals = flush_denormals};
             return found->second(model, estimator, optimizer, options);
           }),
           py::arg("model"), py::arg("estimator"), py::arg("optimizer"), py::arg("iterations"),
           py::arg("clip_norm") = 1.0, py::arg("log_every") = 100, py::arg("eval_every") = 0,
           py::arg("checkpoint_every") = 1000, py::arg("out_dir") = "", py::arg("tag") = "", py::arg("progress") = false,
           py::arg("max_seconds") = 0.0, py::arg("flush_denormals") = true)
      .def("run", &TrainerBase::run, py::arg("next_batch"), py::arg("engine"),
           "Runs to `iterations`; next_batch(engine) returns a batch (n, dim) of the model's dtype, drawn from engine "
           "only (so a resumed run repeats it). An exception raised by next_batch or the evaluator ends run() with that "
           "exception once the finished iterations are checkpointed (with out_dir); run() again, or resume(), goes on "
           "from them bit for bit. Returns a dict: iterations, final_loss, wall_seconds, eval_seconds, "
           "iterations_per_second, failed, out_of_time, message.")
      .def(
          "resume", [](TrainerBase& t, Engine& engine, const std::string& path) { t.resume(path, engine); },
          py::arg("engine"), py::arg("path") = "",
           "Restores model, optimizer, engine, estimator state and log window from a checkpoint (default: "
           "out_dir/checkpoint.bin). Raises CheckpointError for a mismatched file.")
      .def("set_evaluator", &TrainerBase::set_evaluator, py::arg("columns"), py::arg("evaluator"),
           "evaluator(iteration) -> list of floats, logged under columns every eval_every iterations. If it raises, "
           "the row of that iteration is left for the next run() to write, evaluating again.")
      .def_property_readonly("start_iteration", &TrainerBase::start_iteration)
      .def_property_readonly("checkpoint_path", &TrainerBase::checkpoint_path);
}

}  // namespace rmpy

PYBIND11_MODULE(_core, m) {
  m.doc() = "ratiomatch: energy-based models learned without the partition function (C++ core).";
  m.attr("__version__") = std::to_string(RATIOMATCH_VERSION_MAJOR) + "." + std::to_string(RATIOMATCH_VERSION_MINOR) + "." +
                          std::to_string(RATIOMATCH_VERSION_PATCH);
  rmpy::bind_common(m);
  rmpy::bind_estimators(m);
  rmpy::bind_ising(m);
  rmpy::bind_mlp(m);
  rmpy::bind_rbm(m);
  rmpy::bind_grbm(m);
}
