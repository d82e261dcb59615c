// Shared pieces of the Python module: numpy conversion, the engine, and the registries that
// connect estimators, samplers and the trainer (bound once) to every model type (bound in
// their own translation units, so that they compile in parallel).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>

#include "ratiomatch/ratiomatch.hpp"

namespace rmpy {

namespace py = pybind11;
using ratiomatch::Index;
using ratiomatch::Matrix;
using ratiomatch::Vector;

/// The random engine every sampled call draws from: `std::mt19937_64`, as in C++. Not for use
/// from two threads at once.
struct Engine {
  explicit Engine(std::uint64_t seed) : rng(seed) {}
  std::mt19937_64 rng;
};

template <class S>
constexpr const char* dtype_name() {
  return std::is_same_v<S, float> ? "float32" : "float64";
}

/// The name users see for a bound type, e.g. `MlpEnergy` for `MlpEnergy_float32`.
inline std::string public_name(py::handle obj) {
  std::string name = py::str(py::type::handle_of(obj).attr("__name__"));
  const auto underscore = name.rfind("_float");
  return underscore == std::string::npos ? name : name.substr(0, underscore);
}

/// Whether `obj` is a numpy array of a dtype equivalent to `S` (numpy's test, not identity: an
/// unpickled array has an equal but distinct dtype object).
template <class S>
bool is_array_of(py::handle obj) {
  return py::isinstance<py::array_t<S>>(obj);
}

/// The scalar type a `dtype=` argument names: true for float32, false for float64.
/// @throws TypeError for any other dtype
inline bool names_float32(py::handle dtype, const char* name) {
  const py::dtype d = py::dtype::from_args(py::reinterpret_borrow<py::object>(dtype));
  if (d.kind() == 'f' && d.itemsize() == 4) return true;
  if (d.kind() == 'f' && d.itemsize() == 8) return false;
  throw py::type_error(std::string(name) + ": expected float32 or float64, got " + std::string(py::str(static_cast<const py::handle&>(d))));
}

/// Raises TypeError unless `obj` is a numpy array of dtype `S`.
template <class S>
py::array checked_array(py::handle obj, const char* name) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(name) + ": expected a numpy array of dtype " + dtype_name<S>() + ", got " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  auto array = py::reinterpret_borrow<py::array>(obj);
  if (!is_array_of<S>(obj))
    throw py::type_error(std::string(name) + ": expected dtype " + dtype_name<S>() + ", got " +
                         std::string(py::str(array.dtype())) + "; convert with .astype(np." + dtype_name<S>() + ")");
  return array;
}

inline std::string shape_string(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t k = 0; k < a.ndim(); ++k) s << (k ? ", " : "") << a.shape(k);
  s << (a.ndim() == 1 ? ",)" : ")");
  return s.str();
}

/// `obj` as a 2-D array of dtype `S` and `cols` columns (any if negative), or TypeError / ValueError.
template <class S>
py::array checked_matrix(py::handle obj, const char* name, Index cols) {
  py::array array = checked_array<S>(obj, name);
  if (array.ndim() != 2)
    throw py::value_error(std::string(name) + ": expected a 2-D array (rows, " +
                          (cols >= 0 ? std::to_string(cols) : std::string("columns")) + "), got shape " +
                          shape_string(array));
  if (cols >= 0 && array.shape(1) != cols)
    throw py::value_error(std::string(name) + ": expected " + std::to_string(cols) + " columns (the model's dim), got shape " +
                          shape_string(array));
  return array;
}

/// Copies a checked 2-D array of dtype `S` (any strides) into `out`; no allocation when `out`
/// already has its shape.
template <class S>
void copy_matrix(const py::array& array, Matrix<S>& out) {
  out.resize(array.shape(0), array.shape(1));
  const auto* base = static_cast<const char*>(array.data());
  for (Index c = 0; c < out.cols(); ++c)
    for (Index r = 0; r < out.rows(); ++r)
      out(r, c) = *reinterpret_cast<const S*>(base + r * array.strides(0) + c * array.strides(1));
}

/// A 2-D argument of `cols` columns (any if negative) as an Eigen matrix: used in place when
/// the array is Fortran-ordered (column-major, ratiomatch's layout), else copied once.
template <class S>
class MatrixArg {
 public:
  MatrixArg(py::handle obj, const char* name, Index cols) : array_(checked_matrix<S>(obj, name, cols)) {
    const Index rows = array_.shape(0), n = array_.shape(1);
    const bool f_order = array_.strides(0) == static_cast<py::ssize_t>(sizeof(S)) &&
                         array_.strides(1) == static_cast<py::ssize_t>(sizeof(S) * std::max<Index>(rows, 1));
    if (f_order) {
      new (&map_) Eigen::Map<const Matrix<S>>(static_cast<const S*>(array_.data()), rows, n);
    } else {
      copy_matrix(array_, copy_);
      new (&map_) Eigen::Map<const Matrix<S>>(copy_.data(), rows, n);
    }
  }
  MatrixArg(const MatrixArg&) = delete;
  MatrixArg& operator=(const MatrixArg&) = delete;

  /// The matrix, without a copy.
  const Eigen::Map<const Matrix<S>>& map() const { return map_; }
  /// The matrix as an owned `Matrix<S>` (what the estimators take): copies only if it is a view.
  const Matrix<S>& matrix() {
    if (copy_.data() != map_.data()) {
      copy_ = map_;
      new (&map_) Eigen::Map<const Matrix<S>>(copy_.data(), copy_.rows(), copy_.cols());
    }
    return copy_;
  }

 private:
  py::array array_;
  Matrix<S> copy_;
  Eigen::Map<const Matrix<S>> map_{nullptr, 0, 0};
};

/// A 1-D argument of `size` entries (any if negative), copied.
template <class S>
Vector<S> vector_arg(py::handle obj, const char* name, Index size) {
  auto array = checked_array<S>(obj, name);
  if (array.ndim() != 1 || (size >= 0 && array.shape(0) != size))
    throw py::value_error(std::string(name) + ": expected shape (" +
                          (size >= 0 ? std::to_string(size) : std::string("n")) + ",), got " + shape_string(array));
  Vector<S> v(array.shape(0));
  const auto* base = static_cast<const char*>(array.data());
  for (Index k = 0; k < v.size(); ++k) v(k) = *reinterpret_cast<const S*>(base + k * array.strides(0));
  return v;
}

/// A numpy array that owns `m` (moved, no copy), Fortran-ordered.
template <class S>
py::array_t<S> to_numpy(Matrix<S>&& m) {
  auto* owned = new Matrix<S>(std::move(m));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<Matrix<S>*>(p); });
  return py::array_t<S>({owned->rows(), owned->cols()},
                        {static_cast<py::ssize_t>(sizeof(S)), static_cast<py::ssize_t>(sizeof(S) * owned->rows())},
                        owned->data(), free_when_done);
}

template <class S>
py::array_t<S> to_numpy(Vector<S>&& v) {
  auto* owned = new Vector<S>(std::move(v));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<Vector<S>*>(p); });
  return py::array_t<S>({owned->size()}, {static_cast<py::ssize_t>(sizeof(S))}, owned->data(), free_when_done);
}

/// A writable numpy view of `size` entries at `data`, keeping `owner` alive.
template <class S>
py::array_t<S> view(S* data, Index size, py::handle owner) {
  return py::array_t<S>({size}, {static_cast<py::ssize_t>(sizeof(S))}, data, owner);
}
/// A writable row-major `rows × cols` view at `data`, keeping `owner` alive.
template <class S>
py::array_t<S> view(S* data, Index rows, Index cols, py::handle owner) {
  return py::array_t<S>({rows, cols}, {static_cast<py::ssize_t>(sizeof(S) * cols), static_cast<py::ssize_t>(sizeof(S))},
                        data, owner);
}

/// Adds the read-only property `name` to `cls`: a writable numpy view of the tensor `part(model)`
/// returns (an Eigen map into the model's parameters), keeping the model alive.
template <class M, class Part>
void def_parameter_view(py::class_<M>& cls, const char* name, Part part, const char* doc) {
  cls.def_property_readonly(
      name,
      [part](py::object self) {
        auto tensor = part(self.cast<M&>());
        if constexpr (std::decay_t<decltype(tensor)>::ColsAtCompileTime == 1)
          return view(tensor.data(), tensor.size(), self);
        else
          return view(tensor.data(), tensor.rows(), tensor.cols(), self);
      },
      doc);
}

// ---- Registries: what to do for a (bound object type, model type) pair. ----

using TypeKey = std::pair<PyTypeObject*, PyTypeObject*>;

/// `loss_and_gradient` / `loss` of an estimator on a model: returns `(loss, gradient)` or the loss.
using EstimatorCall = std::function<py::object(py::handle estimator, py::handle model, py::handle X, Engine& engine,
                                               bool with_gradient)>;
std::map<TypeKey, EstimatorCall>& estimator_calls();
/// Finds and runs the call for this estimator and model, or raises TypeError.
py::object call_estimator(py::handle estimator, py::handle model, py::handle X, Engine& engine, bool with_gradient);

/// `sample` / `run` of a sampler on a model.
struct SamplerCalls {
  std::function<py::object(py::handle sampler, py::handle model, Index chains, Index steps, Engine& engine)> sample;
  std::function<py::object(py::handle sampler, py::handle model, py::handle X, Index steps, Engine& engine)> run;
};
std::map<TypeKey, SamplerCalls>& sampler_calls();

/// A type-erased `Trainer` (one per model and estimator type).
class TrainerBase {
 public:
  virtual ~TrainerBase() = default;
  virtual py::dict run(py::object next_batch, Engine& engine) = 0;
  virtual void resume(const std::string& path, Engine& engine) = 0;
  virtual void set_evaluator(std::vector<std::string> columns, py::object evaluator) = 0;
  virtual Index start_iteration() const = 0;
  virtual std::string checkpoint_path() const = 0;
};
using TrainerFactory = std::function<std::unique_ptr<TrainerBase>(py::object model, py::object estimator,
                                                                  py::object optimizer,
                                                                  const ratiomatch::TrainerOptions& options)>;
std::map<TypeKey, TrainerFactory>& trainer_factories();

template <class A, class B>
TypeKey key_of() {
  return {reinterpret_cast<PyTypeObject*>(py::type::of<A>().ptr()), reinterpret_cast<PyTypeObject*>(py::type::of<B>().ptr())};
}
inline TypeKey key_of(py::handle a, py::handle b) {
  return {reinterpret_cast<PyTypeObject*>(py::type::handle_of(a).ptr()),
          reinterpret_cast<PyTypeObject*>(py::type::handle_of(b).ptr())};
}

[[noreturn]] inline void no_pairing(py::handle what, py::handle model, const char* kind) {
  throw py::type_error(public_name(what) + " does not apply to " + public_name(model) + " (" + kind + ")");
}

py::dict train_result_dict(const ratiomatch::TrainResult& r);
py::dict log_partition_estimate_dict(const ratiomatch::LogPartitionEstimate& e);

// ---- Module parts, each in its own translation unit. ----
void bind_common(py::module_& m);
void bind_estimators(py::module_& m);
void bind_ising(py::module_& m);
void bind_mlp(py::module_& m);
void bind_rbm(py::module_& m);
void bind_grbm(py::module_& m);

}  // namespace rmpy
