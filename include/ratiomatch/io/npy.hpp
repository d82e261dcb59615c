#pragma once
/// @file
/// @brief NumPy `.npy` exchange of matrices and of RBM parameters (one file per tensor), through
/// xtensor's reader and writer (Debian's `libxtensor-dev`; only this header needs it).

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

namespace ratiomatch {

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
  const auto array = xt::adapt(buffer, shape);
  const std::filesystem::path temporary = path.string() + ".tmp";
  try {
    xt::dump_npy(temporary.string(), array);
  } catch (const std::exception& e) {
    throw std::runtime_error(detail::message("ratiomatch::save_npy", "cannot write ", path.string(), ": ", e.what()));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error)
    throw std::runtime_error(
        detail::message("ratiomatch::save_npy", "cannot write ", path.string(), ": ", error.message()));
}

/// @brief Reads a 1-D or 2-D `.npy` array of scalar type `S` (C or Fortran order) as a matrix
/// (a 1-D array becomes one column).
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

}  // namespace ratiomatch
