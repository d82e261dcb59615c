#pragma once
/// @file
/// @brief `IsingDataProvenance`: how a file of Ising lattice samples was drawn, stored in the
/// file's header so that a file is never reused for another experiment; `save_ising_data` and
/// `load_ising_data` write and check it.

#include <cstdint>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/data/binary_dataset.hpp"

namespace ratiomatch {

/// @brief The settings that determine a file of lattice Ising samples (`sample_ising_data` of
/// `IsingModel::periodic_lattice(side, sigma)`): lattice side, coupling, sample count, Gibbs
/// sweeps per sample and the seed the sampling engine was derived from.
///
/// Stored as the first comment line of the data file, e.g.
/// `# ratiomatch-ising-data side=10 sigma=0.25 samples=2000 sweeps=10000 seed=1`
/// (`sigma` with 17 significant digits, so it reads back exactly).
struct IsingDataProvenance {
  Index side = 0;           ///< lattice side (D = side² spins)
  double sigma = 0;         ///< coupling strength of the ground truth
  Index samples = 0;        ///< number of samples (rows)
  Index sweeps = 0;         ///< Gibbs sweeps per sample
  std::uint64_t seed = 0;   ///< the seed of the sampling engine

  /// @brief The keyword that starts the header line.
  static constexpr std::string_view keyword = "ratiomatch-ising-data";

  /// @brief The header line, without the comment mark: `ratiomatch-ising-data side=… seed=…`.
  std::string to_line() const {
    std::ostringstream out;
    out << keyword << " side=" << side << " sigma=" << std::setprecision(17) << sigma << " samples=" << samples
        << " sweeps=" << sweeps << " seed=" << seed;
    return out.str();
  }

  /// @brief The settings as command-line flags, e.g. `--side 10 --sigma 0.25 --samples 2000 --sweeps 10000 --seed 1`.
  std::string to_flags() const {
    std::ostringstream out;
    out << "--side " << side << " --sigma " << std::setprecision(17) << sigma << " --samples " << samples
        << " --sweeps " << sweeps << " --seed " << seed;
    return out.str();
  }

  /// @brief The fields that differ from `file` (the provenance a file holds), each as
  /// `--name <this> (file: <file's>)`; empty when equal.
  std::vector<std::string> differences(const IsingDataProvenance& file) const {
    std::vector<std::string> out;
    auto compare = [&](std::string_view name, const auto& mine, const auto& theirs) {
      if (mine != theirs) {
        std::ostringstream text;
        text << "--" << name << ' ' << std::setprecision(17) << mine << " (file: " << theirs << ")";
        out.push_back(text.str());
      }
    };
    compare("side", side, file.side);
    compare("sigma", sigma, file.sigma);
    compare("samples", samples, file.samples);
    compare("sweeps", sweeps, file.sweeps);
    compare("seed", seed, file.seed);
    return out;
  }

  bool operator==(const IsingDataProvenance&) const = default;

  /// @brief Finds and parses the provenance line among the leading comment lines of `in`.
  /// @param source the name used in messages (a path)
  /// @throws std::invalid_argument naming the source if there is no provenance line before the
  ///   first data line, or it lacks a field or has a malformed one
  static IsingDataProvenance read(std::istream& in, std::string_view source) {
    constexpr std::string_view where = "ratiomatch::IsingDataProvenance::read";
    std::string line;
    while (std::getline(in, line)) {
      std::string_view text = line;
      while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
      if (text.empty() || text.front() != '#') {
        if (text.empty() || text == "\r") continue;
        break;  // the first data line: no provenance before it
      }
      text.remove_prefix(1);
      while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
      if (text.substr(0, keyword.size()) != keyword) continue;
      return parse(text, source);
    }
    throw std::invalid_argument(detail::message(where, source, ": no '# ", keyword,
                                                " ...' line (how the data were drawn) before the data"));
  }

 private:
  static IsingDataProvenance parse(std::string_view text, std::string_view source) {
    constexpr std::string_view where = "ratiomatch::IsingDataProvenance::read";
    std::istringstream fields{std::string(text.substr(keyword.size()))};
    IsingDataProvenance p;
    bool seen[5] = {false, false, false, false, false};
    std::string field;
    while (fields >> field) {
      const auto eq = field.find('=');
      const std::string name = field.substr(0, eq);
      std::istringstream value(eq == std::string::npos ? std::string() : field.substr(eq + 1));
      bool ok = false;
      if (name == "side") ok = static_cast<bool>(value >> p.side), seen[0] = true;
      else if (name == "sigma") ok = static_cast<bool>(value >> p.sigma), seen[1] = true;
      else if (name == "samples") ok = static_cast<bool>(value >> p.samples), seen[2] = true;
      else if (name == "sweeps") ok = static_cast<bool>(value >> p.sweeps), seen[3] = true;
      else if (name == "seed") ok = static_cast<bool>(value >> p.seed), seen[4] = true;
      else continue;  // unknown fields are ignored (written by a later version)
      if (!ok || !value.eof())
        throw std::invalid_argument(detail::message(where, source, ": malformed provenance field '", field, "'"));
    }
    const char* names[5] = {"side", "sigma", "samples", "sweeps", "seed"};
    for (int k = 0; k < 5; ++k)
      if (!seen[k])
        throw std::invalid_argument(detail::message(where, source, ": the provenance line lacks '", names[k], "='"));
    return p;
  }
};

/// @brief Saves lattice Ising samples with their provenance as the file's first line
/// (atomically, as `save_binary_data`).
/// @throws std::invalid_argument if `X` is empty or not binary, or its shape disagrees with
///   `provenance` (`samples` rows, `side²` columns)
/// @throws std::runtime_error naming the path if the file cannot be written
template <class Derived>
void save_ising_data(const std::string& path, const Eigen::MatrixBase<Derived>& X,
                     const IsingDataProvenance& provenance) {
  constexpr std::string_view where = "ratiomatch::save_ising_data";
  check_size_match(where, "X.rows()", X.rows(), "provenance.samples", provenance.samples);
  check_size_match(where, "X.cols()", X.cols(), "provenance.side²", provenance.side * provenance.side);
  save_binary_data(path, X, provenance.to_line());
}

/// @brief Loads lattice Ising samples saved by `save_ising_data`, refusing a file drawn with
/// other settings than `expected`.
/// @tparam S the scalar type of the returned batch
/// @return the samples, `expected.samples × expected.side²`
/// @throws std::invalid_argument naming the file and, for a mismatch, every differing setting
///   with the expected and the file's value (`--sigma 0.25 (file: 0.5)`); also for a file with
///   no provenance line, or whose data's shape disagrees with its provenance, or a parse error
/// @throws std::runtime_error if the file cannot be opened
template <class S = float>
Matrix<S> load_ising_data(const std::string& path, const IsingDataProvenance& expected) {
  constexpr std::string_view where = "ratiomatch::load_ising_data";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(detail::message(where, "cannot open '", path, "' for reading"));
  const IsingDataProvenance found = IsingDataProvenance::read(in, path);
  const auto differences = expected.differences(found);
  if (!differences.empty()) {
    std::string list;
    for (const auto& d : differences) list += (list.empty() ? "" : ", ") + d;
    throw std::invalid_argument(detail::message(where, "'", path, "' was drawn with ", found.to_flags(),
                                                ", not with the requested ", expected.to_flags(), ": ", list,
                                                "; use another --data-file or delete it"));
  }
  Matrix<S> X = load_binary_data<S>(path);
  if (X.rows() != found.samples || X.cols() != found.side * found.side)
    throw std::invalid_argument(detail::message(where, "'", path, "' holds ", X.rows(), " × ", X.cols(),
                                                " samples, its provenance says ", found.samples, " × ",
                                                found.side * found.side));
  return X;
}

}  // namespace ratiomatch
