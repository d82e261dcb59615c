#pragma once
/// @file
/// @brief NumPy `.npy` exchange of matrices and of model parameters (RBMs and `MlpEnergy`, one
/// file per tensor). Written by xtensor's writer (Debian's `libxtensor-dev`; only this header
/// needs it); read by a strict reader of the format's header that checks the data length.

#include <algorithm>
#include <bit>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xnpy.hpp>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/io/atomic_file.hpp"
#include "ratiomatch/models/bernoulli_rbm.hpp"
#include "ratiomatch/models/gaussian_bernoulli_rbm.hpp"
#include "ratiomatch/models/mlp_energy.hpp"

namespace ratiomatch {

namespace detail {
/// What an `.npy` header says about its array.
struct NpyHeader {
  std::string descr;  // e.g. "<f8"
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

/// Parses an `.npy` header (format 1.0 or 2.0): a Python dictionary literal with the keys
/// 'descr', 'fortran_order' and 'shape', in any order, ended by a newline. Strict: anything
/// else is an error. Returns what is wrong, or nothing.
inline std::string parse_npy_header(std::string_view text, NpyHeader& header) {
  const std::string dictionary(text);
  static const std::regex whole(R"(^\s*\{.*\}\s*$)");
  static const std::regex descr(R"('descr'\s*:\s*'([^']*)')");
  static const std::regex fortran(R"('fortran_order'\s*:\s*(True|False)\b)");
  static const std::regex shape(R"('shape'\s*:\s*\(([^()]*)\))");
  std::smatch match;
  if (dictionary.empty() || dictionary.back() != '\n' || !std::regex_match(dictionary, whole))
    return "not a dictionary ended by a newline";
  if (!std::regex_search(dictionary, match, descr)) return "no 'descr'";
  header.descr = match[1];
  if (!std::regex_search(dictionary, match, fortran)) return "no 'fortran_order'";
  header.fortran_order = match[1] == "True";
  if (!std::regex_search(dictionary, match, shape)) return "no 'shape'";
  const std::string extents = match[1];
  header.shape.clear();
  std::size_t begin = 0;
  while (begin <= extents.size()) {
    const std::size_t end = std::min(extents.find(',', begin), extents.size());
    std::string_view token = std::string_view(extents).substr(begin, end - begin);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token.empty()) {
      // Only a trailing comma, as in "(4,)", or no extent at all, "()", leaves an empty token.
      if (end < extents.size() || header.shape.empty() != (begin == 0)) return "invalid shape '(" + extents + ")'";
      break;
    }
    std::uint64_t extent = 0;
    const auto [last, error] = std::from_chars(token.data(), token.data() + token.size(), extent);
    if (error != std::errc() || last != token.data() + token.size())
      return "invalid shape '(" + extents + ")'";
    header.shape.push_back(extent);
    begin = end + 1;
  }
  return {};
}

// The bytes of a C-order `.npy` file of row-major `buffer` with `shape` (xtensor's writer).
template <class S>
std::string npy_bytes(std::vector<S>& buffer, const std::vector<std::size_t>& shape) {
  return xt::dump_npy(xt::adapt(buffer, shape));
}

template <class Derived>
std::string npy_bytes(const Eigen::MatrixBase<Derived>& A, bool as_vector) {
  using S = typename Derived::Scalar;
  std::vector<S> buffer(static_cast<std::size_t>(A.size()));
  for (Index r = 0; r < A.rows(); ++r)
    for (Index c = 0; c < A.cols(); ++c) buffer[static_cast<std::size_t>(r * A.cols() + c)] = A(r, c);
  if (as_vector) return npy_bytes(buffer, {static_cast<std::size_t>(A.size())});
  return npy_bytes(buffer, {static_cast<std::size_t>(A.rows()), static_cast<std::size_t>(A.cols())});
}
}  // namespace detail

/// @brief Writes `A` as a C-order `.npy` array of its scalar type: shape `(rows, cols)`, or
/// `(size,)` with `as_vector`. The file is never half-written (`write_file_atomically`): a crash
/// or a full disk leaves the previous file under `path`.
/// @throws std::runtime_error naming `path` and the reason if it cannot be written
template <class Derived>
void save_npy(const std::filesystem::path& path, const Eigen::MatrixBase<Derived>& A, bool as_vector = false) {
  write_file_atomically(path, detail::npy_bytes(A, as_vector), "ratiomatch::save_npy");
}

/// @brief Writes `value` as a 0-dimensional `.npy` array (shape `()`, like a PyTorch scalar
/// parameter), never half-written, as `save_npy`.
/// @throws std::runtime_error naming `path` and the reason if it cannot be written
template <class S>
  requires std::floating_point<S>
void save_scalar_npy(const std::filesystem::path& path, S value) {
  std::vector<S> buffer{value};
  write_file_atomically(path, detail::npy_bytes(buffer, {}), "ratiomatch::save_npy");
}

/// @brief Reads a 0-D, 1-D or 2-D `.npy` array of scalar type `S` (C or Fortran order) as a
/// matrix (a 1-D array becomes one column, a 0-D one a 1 × 1 matrix). The header is parsed
/// strictly and checked against the file before anything is allocated: the data must be exactly
/// as long as its shape says.
/// @throws std::runtime_error naming `path` if it cannot be read, is not an `.npy` file of
///         `S` (little-endian float32 for float, float64 for double), has more than two
///         dimensions, or is truncated or longer than its shape
template <class S>
Matrix<S> load_npy(const std::filesystem::path& path) {
  const auto fail = [&](const auto&... what) -> Matrix<S> {
    throw std::runtime_error(detail::message("ratiomatch::load_npy", "cannot read ", path.string(), ": ", what...));
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot open it");
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return fail("reading it failed");
  // Preamble: "\x93NUMPY", major and minor version, header length (2 bytes in version 1, 4 in 2).
  constexpr std::string_view magic("\x93NUMPY", 6);
  if (file.size() < 10 || std::string_view(file).substr(0, 6) != magic) return fail("not an .npy file");
  const auto byte = [&](std::size_t k) { return static_cast<std::uint64_t>(static_cast<unsigned char>(file[k])); };
  const auto major = byte(6);
  if (major != 1 && major != 2) return fail(".npy format version ", major, " is not supported (1 or 2)");
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  if (file.size() < 8 + length_bytes) return fail("truncated header");
  std::uint64_t header_length = 0;
  for (std::size_t k = 0; k < length_bytes; ++k) header_length |= byte(8 + k) << (8 * k);
  const std::size_t data_offset = 8 + length_bytes + static_cast<std::size_t>(header_length);
  if (data_offset > file.size()) return fail("truncated header");
  detail::NpyHeader header;
  if (const std::string error = detail::parse_npy_header(std::string_view(file).substr(8 + length_bytes, header_length),
                                                         header);
      !error.empty())
    return fail("invalid header (", error, ")");
  const std::vector<std::uint64_t>& shape = header.shape;
  const std::string expected = std::string(std::endian::native == std::endian::little ? "<" : ">") + "f" +
                               std::to_string(sizeof(S));
  if (header.descr != expected) return fail("holds '", header.descr, "' data; expected '", expected, "'");
  if (shape.size() > 2) return fail("it has ", shape.size(), " dimensions; at most 2 are supported");
  std::uint64_t count = 1;
  for (const std::uint64_t extent : shape) {
    if (extent > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()) ||
        (extent != 0 && count > std::numeric_limits<std::uint64_t>::max() / sizeof(S) / extent))
      return fail("the shape in its header is too large");
    count *= extent;
  }
  const std::uint64_t data_bytes = file.size() - data_offset;
  if (data_bytes != count * sizeof(S))
    return fail("its header's shape needs ", count * sizeof(S), " bytes of data, the file has ", data_bytes,
                data_bytes < count * sizeof(S) ? " (truncated)" : "");
  const auto rows = static_cast<Index>(shape.empty() ? 1 : shape[0]);
  const auto cols = static_cast<Index>(shape.size() == 2 ? shape[1] : 1);
  Matrix<S> A(rows, cols);  // column-major: a Fortran-order file is its memory layout, a C-order one its transpose
  if (count == 0) return A;
  const char* data = file.data() + data_offset;
  if (header.fortran_order || shape.size() < 2) {
    std::memcpy(A.data(), data, count * sizeof(S));
  } else {
    Matrix<S> transposed(cols, rows);
    std::memcpy(transposed.data(), data, count * sizeof(S));
    A = transposed.transpose();
  }
  return A;
}

namespace detail {
// A model's parameter files, all staged before any is renamed into place: a write that fails
// (a full disk) leaves every old file as it was; only a crash during the renames can mix old
// and new files.
class ParameterFiles {
 public:
  explicit ParameterFiles(std::filesystem::path folder) : folder_(std::move(folder)) {
    std::error_code error;
    std::filesystem::create_directories(folder_, error);
    if (error)
      throw std::runtime_error(message("ratiomatch::save_params_npy", "cannot create ", folder_.string(), ": ",
                                       error.message()));
  }
  void add(const std::string& name, const std::string& bytes) {
    staged_.emplace_back(folder_ / name, bytes, "ratiomatch::save_params_npy");
  }
  void commit() {
    for (auto& file : staged_) file.commit();
  }

 private:
  std::filesystem::path folder_;
  std::vector<StagedFile> staged_;
};

template <class S>
Matrix<S> load_shaped_npy(const std::filesystem::path& path, Index rows, Index cols) {
  Matrix<S> A = load_npy<S>(path);
  if (A.rows() != rows || A.cols() != cols)
    throw std::runtime_error(message("ratiomatch::load_params_npy", path.string(), " has shape (", A.rows(), ", ",
                                     A.cols(), "); the model needs (", rows, ", ", cols, ")"));
  if (!all_finite(A))
    throw std::runtime_error(message("ratiomatch::load_params_npy", path.string(),
                                     " holds a value that is not finite; a model's parameters must be"));
  return A;
}
}  // namespace detail

/// @brief Writes an RBM's tensors into `folder` (created if needed): `W.npy` (hidden ×
/// visible), `b.npy`, `c.npy` and, for the Gaussian–Bernoulli RBM, `s.npy` (log σ): the
/// parameter exchange of DESIGN §6, readable by `numpy.load` and `torch.from_numpy`. Every
/// file is written and flushed before any replaces its old version, so a failed write (a full
/// disk) changes none of them.
/// @throws std::runtime_error naming the file and the reason if one cannot be written
template <class Model>
  requires std::same_as<Model, BernoulliRBM<typename Model::Scalar>> ||
           std::same_as<Model, GaussianBernoulliRBM<typename Model::Scalar>>
void save_params_npy(const Model& model, const std::filesystem::path& folder) {
  detail::ParameterFiles files(folder);
  files.add("W.npy", detail::npy_bytes(model.weight(), false));
  files.add("b.npy", detail::npy_bytes(model.visible_bias(), true));
  files.add("c.npy", detail::npy_bytes(model.hidden_bias(), true));
  if constexpr (std::same_as<Model, GaussianBernoulliRBM<typename Model::Scalar>>)
    files.add("s.npy", detail::npy_bytes(model.log_std(), true));
  files.commit();
}

/// @brief Reads the tensors `save_params_npy` writes into `model`, whose sizes they must
/// match; all files are read and checked before any parameter changes (strong guarantee).
/// @throws std::runtime_error naming the file that is missing, unreadable, of another shape
///         or holds a value that is not finite
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
/// the values of `model.to_torch().state_dict()` in the Python module. Every file is written
/// and flushed before any replaces its old version, as for the RBMs.
/// @throws std::runtime_error naming the file and the reason if one cannot be written
template <class S>
void save_params_npy(const MlpEnergy<S>& model, const std::filesystem::path& folder) {
  detail::ParameterFiles files(folder);
  for (Index l = 0; l < model.num_layers(); ++l) {
    const std::string layer = "layer" + std::to_string(l);
    files.add(layer + ".weight.npy", detail::npy_bytes(model.weight(l), false));
    files.add(layer + ".bias.npy", detail::npy_bytes(model.bias(l), true));
  }
  if (model.has_slope()) {
    std::vector<S> beta{model.slope()};
    files.add("swish_beta.npy", detail::npy_bytes(beta, {}));
  }
  files.commit();
}

/// @brief Reads the tensors `save_params_npy` writes into `model`, whose layer widths and
/// activation they must match; all files are read and checked before any parameter changes
/// (strong guarantee).
/// @throws std::runtime_error naming the file that is missing, unreadable, of another shape
///         or holds a value that is not finite, or `swish_beta.npy` when it is present but `model` has no learned slope
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
