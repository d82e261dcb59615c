#pragma once
/// @file
/// @brief NumPy `.npy` exchange of matrices and of model parameters (RBMs and `MlpEnergy`, one
/// file per tensor), through xtensor's reader and writer (Debian's `libxtensor-dev`; only this
/// header needs it).

#include <concepts>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/models/bernoulli_rbm.hpp"
#include "ratiomatch/models/gaussian_bernoulli_rbm.hpp"
#include "ratiomatch/models/mlp_energy.hpp"

namespace ratiomatch {

namespace detail {
// Writes row-major `buffer` with `shape` through a temporary file beside `path`, then renames it.
template <class S>
void write_npy(const std::filesystem::path& path, std::vector<S>& buffer, const std::vector<std::size_t>& shape) {
  const auto array = xt::adapt(buffer, shape);
  const std::filesystem::path temporary = path.string() + ".tmp";
  try {
    xt::dump_npy(temporary.string(), array);
  } catch (const std::exception& e) {
    throw std::runtime_error(message("ratiomatch::save_npy", "cannot write ", path.string(), ": ", e.what()));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error)
    throw std::runtime_error(message("ratiomatch::save_npy", "cannot write ", path.string(), ": ", error.message()));
}
}  // namespace detail

/// @brief Writes `A` as a C-order `.npy` array of its scalar type: shape `(rows, cols)`, or
/// `(size,)` with `as_vector`. Written to a temporary file beside `path`, then renamed, so a
/// crash never leaves a half-written file under `path`.
/// @throws std::runtime_error naming `path` if it cannot be written
template <class Derived>
void save_npy(const std::filesystem::path& path, const Eigen::MatrixBase<Derived>& A, bool as_vector = false) {
  using S = typename Derived::Scalar;
  std::vector<S> buffer(static_cast<std::size_t>(A.size()));
  for (Index r = 0; r < A.rows(); ++r)
    for (Index c = 0; c < A.cols(); ++c) buffer[static_cast<std::size_t>(r * A.cols() + c)] = A(r, c);
  std::vector<std::size_t> shape;
  if (as_vector)
    shape = {static_cast<std::size_t>(A.size())};
  else
    shape = {static_cast<std::size_t>(A.rows()), static_cast<std::size_t>(A.cols())};
  detail::write_npy(path, buffer, shape);
}

/// @brief Writes `value` as a 0-dimensional `.npy` array (shape `()`, like a PyTorch scalar
/// parameter), through a temporary file as `save_npy`.
/// @throws std::runtime_error naming `path` if it cannot be written
template <class S>
  requires std::floating_point<S>
void save_scalar_npy(const std::filesystem::path& path, S value) {
  std::vector<S> buffer{value};
  detail::write_npy(path, buffer, {});
}

/// @brief Reads a 0-D, 1-D or 2-D `.npy` array of scalar type `S` (C or Fortran order) as a
/// matrix (a 1-D array becomes one column, a 0-D one a 1 × 1 matrix).
/// @throws std::runtime_error naming `path` if it cannot be read, is not an `.npy` file of
///         `S` (float32 for float, float64 for double), or has more than two dimensions
template <class S>
Matrix<S> load_npy(const std::filesystem::path& path) {
  constexpr std::string_view where = "ratiomatch::load_npy";
  xt::xarray<S> array;
  try {
    array = xt::load_npy<S>(path.string());
  } catch (const std::exception& e) {
    throw std::runtime_error(detail::message(where, "cannot read ", path.string(), ": ", e.what()));
  }
  if (array.dimension() > 2)
    throw std::runtime_error(detail::message(where, path.string(), " has ", array.dimension(),
                                             " dimensions; at most 2 are supported"));
  const auto rows = static_cast<Index>(array.dimension() == 0 ? 1 : array.shape()[0]);
  const auto cols = static_cast<Index>(array.dimension() == 2 ? array.shape()[1] : 1);
  Matrix<S> A(rows, cols);
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < cols; ++c)
      A(r, c) = array.dimension() == 2 ? array(static_cast<std::size_t>(r), static_cast<std::size_t>(c))
                                       : array.flat(static_cast<std::size_t>(r));
  return A;
}

namespace detail {
template <class S>
Matrix<S> load_shaped_npy(const std::filesystem::path& path, Index rows, Index cols) {
  Matrix<S> A = load_npy<S>(path);
  if (A.rows() != rows || A.cols() != cols)
    throw std::runtime_error(message("ratiomatch::load_params_npy", path.string(), " has shape (", A.rows(), ", ",
                                     A.cols(), "); the model needs (", rows, ", ", cols, ")"));
  return A;
}
}  // namespace detail

/// @brief Writes an RBM's tensors into `folder` (created if needed): `W.npy` (hidden ×
/// visible), `b.npy`, `c.npy` and, for the Gaussian–Bernoulli RBM, `s.npy` (log σ): the
/// parameter exchange of DESIGN §6, readable by `numpy.load` and `torch.from_numpy`.
/// @throws std::runtime_error if a file cannot be written
template <class Model>
  requires std::same_as<Model, BernoulliRBM<typename Model::Scalar>> ||
           std::same_as<Model, GaussianBernoulliRBM<typename Model::Scalar>>
void save_params_npy(const Model& model, const std::filesystem::path& folder) {
  std::filesystem::create_directories(folder);
  save_npy(folder / "W.npy", model.weight());
  save_npy(folder / "b.npy", model.visible_bias(), true);
  save_npy(folder / "c.npy", model.hidden_bias(), true);
  if constexpr (std::same_as<Model, GaussianBernoulliRBM<typename Model::Scalar>>)
    save_npy(folder / "s.npy", model.log_std(), true);
}

/// @brief Reads the tensors `save_params_npy` writes into `model`, whose sizes they must
/// match; all files are read and checked before any parameter changes (strong guarantee).
/// @throws std::runtime_error naming the file that is missing, unreadable or of another shape
template <class Model>
  requires std::same_as<Model, BernoulliRBM<typename Model::Scalar>> ||
           std::same_as<Model, GaussianBernoulliRBM<typename Model::Scalar>>
void load_params_npy(Model& model, const std::filesystem::path& folder) {
  using S = typename Model::Scalar;
  const Index d = model.dim(), m = model.num_hidden();
  const Matrix<S> W = detail::load_shaped_npy<S>(folder / "W.npy", m, d);
  const Matrix<S> b = detail::load_shaped_npy<S>(folder / "b.npy", d, 1);
  const Matrix<S> c = detail::load_shaped_npy<S>(folder / "c.npy", m, 1);
  if constexpr (std::same_as<Model, GaussianBernoulliRBM<S>>) {
    const Matrix<S> s = detail::load_shaped_npy<S>(folder / "s.npy", d, 1);
    model.log_std() = s.col(0);
  }
  model.weight() = W;
  model.visible_bias() = b.col(0);
  model.hidden_bias() = c.col(0);
}

/// @brief Writes an `MlpEnergy`'s tensors into `folder` (created if needed), with PyTorch's
/// shapes: `layer{k}.weight.npy` (out × in) and `layer{k}.bias.npy` (out) for k = 0 … L−1
/// from the input, and `swish_beta.npy` (shape `()`) when the slope is learned
/// (`Activation::LearnableSwish`): the parameter exchange of DESIGN §6. `numpy.load` gives
/// the values of `model.to_torch().state_dict()` in the Python module.
/// @throws std::runtime_error if a file cannot be written
template <class S>
void save_params_npy(const MlpEnergy<S>& model, const std::filesystem::path& folder) {
  std::filesystem::create_directories(folder);
  for (Index l = 0; l < model.num_layers(); ++l) {
    const std::string layer = "layer" + std::to_string(l);
    save_npy(folder / (layer + ".weight.npy"), model.weight(l));
    save_npy(folder / (layer + ".bias.npy"), model.bias(l), true);
  }
  if (model.has_slope()) save_scalar_npy(folder / "swish_beta.npy", model.slope());
}

/// @brief Reads the tensors `save_params_npy` writes into `model`, whose layer widths and
/// activation they must match; all files are read and checked before any parameter changes
/// (strong guarantee).
/// @throws std::runtime_error naming the file that is missing, unreadable or of another shape,
///         or `swish_beta.npy` when it is present but `model` has no learned slope
template <class S>
void load_params_npy(MlpEnergy<S>& model, const std::filesystem::path& folder) {
  std::vector<Matrix<S>> weights, biases;
  for (Index l = 0; l < model.num_layers(); ++l) {
    const std::string layer = "layer" + std::to_string(l);
    const auto W = model.weight(l);
    weights.push_back(detail::load_shaped_npy<S>(folder / (layer + ".weight.npy"), W.rows(), W.cols()));
    biases.push_back(detail::load_shaped_npy<S>(folder / (layer + ".bias.npy"), W.rows(), 1));
  }
  const std::filesystem::path beta_path = folder / "swish_beta.npy";
  S beta = S(1);
  if (model.has_slope())
    beta = detail::load_shaped_npy<S>(beta_path, 1, 1)(0, 0);
  else if (std::filesystem::exists(beta_path))
    throw std::runtime_error(detail::message("ratiomatch::load_params_npy", beta_path.string(),
                                             " holds a learned Swish slope, but the model's activation has none"));
  for (Index l = 0; l < model.num_layers(); ++l) {
    model.weight(l) = weights[static_cast<std::size_t>(l)];
    model.bias(l) = biases[static_cast<std::size_t>(l)].col(0);
  }
  if (model.has_slope()) model.params()(model.num_params() - 1) = beta;
}

}  // namespace ratiomatch
