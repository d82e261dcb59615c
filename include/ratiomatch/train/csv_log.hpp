#pragma once
/// @file
/// @brief `CsvLog`: a training log in CSV, one row per logged iteration.

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/io/atomic_file.hpp"

namespace ratiomatch {

/// @brief Appends rows of numbers under a fixed header; empty cells for missing values.
///
/// The first column must be the iteration. Opening with `resume_after = k` keeps the
/// existing rows with iteration ≤ k and drops later ones (written after the checkpoint a
/// run resumes from), so a resumed run's log equals an uninterrupted run's. The kept rows are
/// written through `write_file_atomically`, so a crash while opening never loses them.
class CsvLog {
 public:
  /// @throws std::runtime_error naming the file and the reason if it cannot be written;
  ///         std::invalid_argument on an empty header
  CsvLog(const std::string& path, std::vector<std::string> columns, std::optional<long long> resume_after = {})
      : path_(path), columns_(std::move(columns)) {
    if (columns_.empty()) throw std::invalid_argument("ratiomatch::CsvLog::CsvLog: the header has no columns");
    std::string kept = header_line() + "\n";
    if (resume_after) {
      std::ifstream in(path);
      std::string line;
      bool first = true;
      while (std::getline(in, line)) {
        if (first) { first = false; continue; }
        // A row cut short (a full disk, a crash while appending) has no newline or too few
        // cells: it is dropped, whatever its first cell reads.
        const bool complete = !in.eof() && static_cast<std::size_t>(std::count(line.begin(), line.end(), ',')) + 1 ==
                                               columns_.size();
        if (!complete) continue;
        std::istringstream cell(line.substr(0, line.find(',')));
        long long iteration = 0;
        if (cell >> iteration && cell.eof() && iteration <= *resume_after) {
          kept += line + "\n";
          last_iteration_ = iteration;
        }
      }
    }
    write_file_atomically(path, kept, "ratiomatch::CsvLog::CsvLog");
    out_.open(path, std::ios::app);
    if (!out_) throw std::runtime_error("ratiomatch::CsvLog::CsvLog: cannot open '" + path + "' to append rows");
  }

  /// @brief Writes one row; NaN values are written as empty cells.
  /// @throws std::invalid_argument unless there is one value per column
  /// @throws std::runtime_error naming the file if the row cannot be written (e.g. a full disk);
  ///         a resumed log drops a row cut short
  void row(const std::vector<double>& values) {
    check_size_match("ratiomatch::CsvLog::row", "values.size()", static_cast<Index>(values.size()), "columns",
                     static_cast<Index>(columns_.size()));
    for (std::size_t k = 0; k < values.size(); ++k) {
      if (k) out_ << ',';
      if (values[k] == values[k]) out_ << std::setprecision(10) << values[k];
    }
    out_ << '\n' << std::flush;
    if (!out_) throw std::runtime_error("ratiomatch::CsvLog::row: cannot append a row to '" + path_ + "'");
    last_iteration_ = static_cast<long long>(values[0]);
  }

  /// @brief The iteration of the last row in the file (kept on opening or written since), if any.
  std::optional<long long> last_iteration() const { return last_iteration_; }

  const std::vector<std::string>& columns() const { return columns_; }
  const std::string& path() const { return path_; }

 private:
  std::string header_line() const {
    std::string line;
    for (std::size_t k = 0; k < columns_.size(); ++k) line += (k ? "," : "") + columns_[k];
    return line;
  }
  std::string path_;
  std::vector<std::string> columns_;
  std::ofstream out_;
  std::optional<long long> last_iteration_;
};

}  // namespace ratiomatch
