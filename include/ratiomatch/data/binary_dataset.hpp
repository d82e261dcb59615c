#pragma once
/// @file
/// @brief Reading and writing binary data files: one sample per line, entries `0` or `1`
/// separated by spaces, tabs or commas. Blank lines and lines whose first non-blank
/// character is `#` are ignored. Every parse error names the source, the line and the
/// column (1-based) and what was found there, e.g.
/// `ratiomatch::read_binary_data: data.txt:3:5: expected 0 or 1, found '2'`.

#include <fstream>
#include <istream>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/io/atomic_file.hpp"

namespace ratiomatch {

namespace detail::binary_dataset {

inline bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
inline bool is_separator(char c) { return is_blank(c) || c == ','; }

/// How a token is shown in an error message: quoted, cut after 20 characters.
inline std::string quoted(std::string_view token) {
  constexpr std::size_t limit = 20;
  if (token.size() > limit) return "'" + std::string(token.substr(0, limit)) + "...'";
  return "'" + std::string(token) + "'";
}

[[noreturn]] inline void parse_error(std::string_view source, std::size_t line, std::size_t column,
                                     const std::string& what) {
  throw std::invalid_argument(detail::message("ratiomatch::read_binary_data", source, ":", line, ":", column, ": ", what));
}

/// Parses one line, appending its 0/1 values to `out`; returns the number of entries (0 for
/// a blank or comment line). Grammar: `blanks? entry (blanks? ','? blanks? entry)* blanks?`,
/// where an entry is exactly `0` or `1`; so every comma must be followed by an entry.
inline std::size_t parse_line(std::string_view text, std::string_view source, std::size_t line_number,
                              std::vector<unsigned char>& out) {
  std::size_t pos = 0;
  while (pos < text.size() && is_blank(text[pos])) ++pos;
  if (pos == text.size() || text[pos] == '#') return 0;
  std::size_t count = 0;
  while (true) {
    // An entry is expected at pos: the maximal run of non-separator characters.
    std::size_t end = pos;
    while (end < text.size() && !is_separator(text[end])) ++end;
    const std::string_view token = text.substr(pos, end - pos);
    if (token == "0" || token == "1") {
      out.push_back(token == "1" ? 1 : 0);
      ++count;
    } else if (token.empty()) {
      parse_error(source, line_number, pos + 1,
                  std::string("expected 0 or 1, found ") + (pos < text.size() ? "','" : "end of line"));
    } else {
      parse_error(source, line_number, pos + 1, "expected 0 or 1, found " + quoted(token));
    }
    // A separator: blanks, at most one comma, blanks.
    pos = end;
    while (pos < text.size() && is_blank(text[pos])) ++pos;
    if (pos == text.size()) return count;
    if (text[pos] == ',') {
      ++pos;
      while (pos < text.size() && is_blank(text[pos])) ++pos;
    }
  }
}

}  // namespace detail::binary_dataset

/// @brief Reads a binary data set from a text stream (format in the file comment).
///
/// A line's entries are `0` or `1` separated by blanks (spaces, tabs) and/or one comma;
/// a comma must be followed by an entry. Blank lines and lines starting (after blanks) with
/// `#` are skipped; a UTF-8 byte-order mark and Windows line ends (`\r\n`) are accepted.
/// Every data line must have as many entries as the first. Lines and columns in messages
/// are 1-based and physical (comment and blank lines count; a column counts bytes, a tab is
/// one). A found token longer than 20 characters is shown cut, ending in `...`; a comment
/// after data on the same line is an error (`found '#'`).
/// @tparam S the scalar type of the returned batch (float or double)
/// @param in the stream to read to its end
/// @param source the name used in error messages (a file path, or "<stream>")
/// @return an `n × d` batch, one sample per data line, entries exactly 0 or 1
/// @throws std::invalid_argument `ratiomatch::read_binary_data: <source>:<line>:<column>: expected 0 or 1,
///   found '<token>'` for a bad entry, `<source>:<line>: row has <k> entries, expected <d> (from line <l>)`
///   for a ragged row, and `<source>: no data ...` when there is no data line at all
/// @throws std::runtime_error if the stream fails while reading
template <class S = float>
Matrix<S> read_binary_data(std::istream& in, std::string_view source = "<stream>") {
  namespace bd = detail::binary_dataset;
  std::vector<unsigned char> values;
  std::string line;
  std::size_t line_number = 0, width = 0, width_line = 0;
  Index rows = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::string_view text = line;
    if (line_number == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    const std::size_t count = bd::parse_line(text, source, line_number, values);
    if (count == 0) continue;
    if (width == 0) {
      width = count;
      width_line = line_number;
    } else if (count != width) {
      throw std::invalid_argument(detail::message("ratiomatch::read_binary_data", source, ":", line_number,
                                                  ": row has ", count, " entries, expected ", width, " (from line ",
                                                  width_line, ")"));
    }
    ++rows;
  }
  if (in.bad())
    throw std::runtime_error(detail::message("ratiomatch::read_binary_data", source, ": read error after line ",
                                             line_number));
  if (rows == 0)
    throw std::invalid_argument(detail::message("ratiomatch::read_binary_data", source,
                                                ": no data (the input is empty or has only blank and comment lines)"));
  const auto d = static_cast<Index>(width);
  Matrix<S> X(rows, d);
  for (Index r = 0; r < rows; ++r)
    for (Index j = 0; j < d; ++j) X(r, j) = static_cast<S>(values[static_cast<std::size_t>(r * d + j)]);
  return X;
}

/// @brief Reads a binary data file (format in the file comment); see `read_binary_data`.
/// @tparam S the scalar type of the returned batch (float or double)
/// @param path the file; error messages name it as given
/// @throws std::runtime_error `ratiomatch::load_binary_data: cannot open '<path>' for reading` when the
///   file is missing or unreadable
/// @throws std::invalid_argument for a parse error, with `<path>:<line>:<column>` (see `read_binary_data`)
template <class S = float>
Matrix<S> load_binary_data(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error(detail::message("ratiomatch::load_binary_data", "cannot open '", path, "' for reading"));
  return read_binary_data<S>(in, path);
}

/// @brief Writes `X` as text, one row per line, entries `0`/`1` separated by single spaces,
/// after an optional header of comment lines.
/// @tparam Derived any Eigen matrix expression, e.g. `Matrix<S>` (S float or double)
/// @param out the stream written to
/// @param X the batch, one sample per row, entries exactly 0 or 1
/// @param header text written first, each of its lines as a comment line `# <line>` (which
///   `read_binary_data` skips); empty: no header
/// @throws std::invalid_argument if an entry of `X` is not exactly 0 or 1 (nothing is written)
/// @throws std::runtime_error if the stream fails
template <class Derived>
void write_binary_data(std::ostream& out, const Eigen::MatrixBase<Derived>& X, std::string_view header = {}) {
  using S = typename Derived::Scalar;
  check_binary("ratiomatch::write_binary_data", X);
  while (!header.empty()) {
    const auto end = header.find('\n');
    out << "# " << header.substr(0, end) << '\n';
    header.remove_prefix(end == std::string_view::npos ? header.size() : end + 1);
  }
  std::string row;
  row.reserve(static_cast<std::size_t>(2 * X.cols()));
  for (Index r = 0; r < X.rows(); ++r) {
    row.clear();
    for (Index j = 0; j < X.cols(); ++j) {
      if (j) row.push_back(' ');
      row.push_back(X(r, j) == S(1) ? '1' : '0');
    }
    row.push_back('\n');
    out.write(row.data(), static_cast<std::streamsize>(row.size()));
  }
  if (!out) throw std::runtime_error("ratiomatch::write_binary_data: the stream failed while writing");
}

/// @brief Saves `X` to `path` in the format `load_binary_data` reads, never half-written
/// (`write_file_atomically`: a temporary file beside `path`, flushed to the device, then renamed
/// onto it), so a crash or a full disk leaves an existing file at `path` as it was.
/// @tparam Derived any Eigen matrix expression, e.g. `Matrix<S>` (S float or double)
/// @param path the file to create or replace; its directory must exist
/// @param X the batch, one sample per row, entries exactly 0 or 1
/// @param header comment lines written first (see `write_binary_data`); empty: none
/// @throws std::invalid_argument if `X` is empty (no rows or no columns) or not binary
/// @throws std::runtime_error naming the path and the reason if the file cannot be written
template <class Derived>
void save_binary_data(const std::string& path, const Eigen::MatrixBase<Derived>& X, std::string_view header = {}) {
  constexpr std::string_view where = "ratiomatch::save_binary_data";
  check_nonempty(where, X);
  if (X.cols() == 0) throw std::invalid_argument(detail::message(where, "X.cols() (0) must be positive"));
  check_binary(where, X);
  std::ostringstream bytes;
  write_binary_data(bytes, X, header);
  write_file_atomically(path, bytes.str(), where);
}

}  // namespace ratiomatch
