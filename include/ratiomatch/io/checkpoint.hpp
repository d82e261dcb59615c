#pragma once
/// @file
/// @brief Training checkpoints: versioned, checksummed, written atomically.
///
/// Layout (native byte order): the 8-byte magic `RMCKPT01`, a `u32` format version, a `u32`
/// scalar size (4 = float, 8 = double), a `u64` payload length, the payload, and the
/// payload's FNV-1a 64-bit checksum. The payload holds the iteration, the accumulated wall
/// time, a run tag, the parameters, the optimizer's step count and buffers, and the random
/// engine's state as text; format version 2 adds the open log window (loss and gradient-norm
/// sums and their count) and the estimator's state (`EstimatorState`: a list of `float`
/// matrices, then a list of `double` matrices, each as `u64` rows, `u64` cols and the entries in
/// column-major order). Version 1 files are still read (with no estimator state and an empty
/// log window). A file is written to `path.tmp` and renamed onto `path`, so a crash never leaves
/// a half-written checkpoint.

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "ratiomatch/core/estimator_state.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/io/atomic_file.hpp"

namespace ratiomatch {

/// @brief A checkpoint could not be read: missing, truncated, corrupt, or of another kind.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief Everything needed to continue a training run bit for bit.
template <class S>
struct TrainingSnapshot {
  std::uint64_t iteration = 0;                ///< updates done
  double wall_seconds = 0;                    ///< training time so far
  std::string tag;                            ///< describes the run; checked on resume
  Vector<S> params;                           ///< the model's parameters
  std::uint64_t optimizer_steps = 0;          ///< the optimizer's step count
  std::vector<Vector<S>> optimizer_buffers;   ///< the optimizer's state vectors (e.g. Adam's m, v)
  std::string rng_state;                      ///< the engine's state (`operator<<` text)
  double window_loss = 0;                     ///< sum of the losses of the open log window (format ≥ 2)
  double window_norm = 0;                     ///< sum of the gradient norms of the open log window (format ≥ 2)
  std::uint64_t window_count = 0;             ///< iterations in the open log window (format ≥ 2)
  /// The estimator's state (format ≥ 2; empty for a stateless estimator); absent when read
  /// from a version 1 file, which did not store it.
  std::optional<EstimatorState> estimator_state = EstimatorState{};
};

namespace detail {

inline constexpr char checkpoint_magic[8] = {'R', 'M', 'C', 'K', 'P', 'T', '0', '1'};
inline constexpr std::uint32_t checkpoint_version = 2;

inline std::uint64_t fnv1a64(const std::string& bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

class PayloadWriter {
 public:
  template <class T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes_.append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  void put_string(const std::string& s) {
    put<std::uint64_t>(s.size());
    bytes_.append(s);
  }
  template <class S>
  void put_matrix(const Matrix<S>& A) {
    put<std::uint64_t>(static_cast<std::uint64_t>(A.rows()));
    put<std::uint64_t>(static_cast<std::uint64_t>(A.cols()));
    if (A.size()) bytes_.append(reinterpret_cast<const char*>(A.data()), sizeof(S) * static_cast<std::size_t>(A.size()));
  }
  template <class S>
  void put_vector(const Vector<S>& v) {
    put<std::uint64_t>(static_cast<std::uint64_t>(v.size()));
    if (v.size()) bytes_.append(reinterpret_cast<const char*>(v.data()), sizeof(S) * static_cast<std::size_t>(v.size()));
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

class PayloadReader {
 public:
  PayloadReader(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  template <class T>
  T get() {
    T value;
    need(sizeof(T));
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  std::string get_string() {
    const auto n = get<std::uint64_t>();
    need(n);
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  template <class S>
  Vector<S> get_vector() {
    const auto n = get<std::uint64_t>();
    need_elements(n, sizeof(S));
    Vector<S> v(static_cast<Index>(n));
    if (n) std::memcpy(v.data(), bytes_.data() + pos_, n * sizeof(S));  // an empty vector has no data pointer
    pos_ += n * sizeof(S);
    return v;
  }
  template <class S>
  Matrix<S> get_matrix() {
    const auto rows = get<std::uint64_t>();
    const auto cols = get<std::uint64_t>();
    // Each dimension must be a valid Index even when the other is 0 (an empty matrix has no
    // bytes to check it against).
    constexpr auto largest = static_cast<std::uint64_t>(std::numeric_limits<Index>::max());
    if (rows > largest || cols > largest) truncated();
    if (cols != 0 && rows > (bytes_.size() - pos_) / cols) truncated();
    const std::uint64_t n = rows * cols;
    need_elements(n, sizeof(S));
    Matrix<S> A(static_cast<Index>(rows), static_cast<Index>(cols));
    if (n) std::memcpy(A.data(), bytes_.data() + pos_, n * sizeof(S));
    pos_ += n * sizeof(S);
    return A;
  }
  /// A count of items that each take at least `min_bytes` in what remains.
  std::uint64_t get_count(std::uint64_t min_bytes) {
    const auto n = get<std::uint64_t>();
    need_elements(n, min_bytes);
    return n;
  }
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  void need_elements(std::uint64_t n, std::uint64_t size) const {
    if (n > (bytes_.size() - pos_) / size) truncated();
  }
  void need(std::uint64_t n) const {
    if (n > bytes_.size() - pos_) truncated();
  }
  [[noreturn]] void truncated() const {
    throw CheckpointError("ratiomatch::load_checkpoint: '" + path_ + "' is truncated or corrupt");
  }
  const std::string& bytes_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

}  // namespace detail

/// @brief Writes `snapshot` to `path` so that it is never half-written (`write_file_atomically`:
/// a temporary file flushed to the device, then renamed): a crash or a full disk leaves the
/// previous checkpoint.
/// @throws std::runtime_error naming the path and the reason if it cannot be written
template <class S>
void save_checkpoint(const std::string& path, const TrainingSnapshot<S>& snapshot) {
  detail::PayloadWriter payload;
  payload.put(snapshot.iteration);
  payload.put(snapshot.wall_seconds);
  payload.put_string(snapshot.tag);
  payload.put_vector(snapshot.params);
  payload.put(snapshot.optimizer_steps);
  payload.put<std::uint64_t>(snapshot.optimizer_buffers.size());
  for (const auto& buffer : snapshot.optimizer_buffers) payload.put_vector(buffer);
  payload.put_string(snapshot.rng_state);
  payload.put(snapshot.window_loss);
  payload.put(snapshot.window_norm);
  payload.put(snapshot.window_count);
  const EstimatorState none;
  const EstimatorState& estimator = snapshot.estimator_state ? *snapshot.estimator_state : none;
  payload.put<std::uint64_t>(estimator.single.size());
  for (const auto& A : estimator.single) payload.put_matrix(A);
  payload.put<std::uint64_t>(estimator.twice.size());
  for (const auto& A : estimator.twice) payload.put_matrix(A);

  detail::PayloadWriter file;
  const std::string& body = payload.bytes();
  std::string header(detail::checkpoint_magic, sizeof(detail::checkpoint_magic));
  file.put(detail::checkpoint_version);
  file.put<std::uint32_t>(sizeof(S));
  file.put<std::uint64_t>(body.size());
  std::string bytes = header + file.bytes() + body;
  const std::uint64_t checksum = detail::fnv1a64(body);
  bytes.append(reinterpret_cast<const char*>(&checksum), sizeof(checksum));
  write_file_atomically(path, bytes, "ratiomatch::save_checkpoint");
}

/// @brief Reads a checkpoint written by `save_checkpoint` with the same scalar type (format
/// version 2, or version 1 without estimator state and log window).
/// @throws CheckpointError naming the file if it is missing, not a checkpoint, of an unknown
///         version or another scalar type, truncated, or fails its checksum
template <class S>
TrainingSnapshot<S> load_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError("ratiomatch::load_checkpoint: cannot open '" + path + "'");
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  constexpr std::size_t header_size = sizeof(detail::checkpoint_magic) + 4 + 4 + 8;
  if (file.size() < header_size + 8 || file.compare(0, 8, detail::checkpoint_magic, 8) != 0)
    throw CheckpointError("ratiomatch::load_checkpoint: '" + path + "' is not a ratiomatch checkpoint");
  const std::string head = file.substr(8, header_size - 8);
  detail::PayloadReader header(head, path);
  const auto version = header.get<std::uint32_t>();
  const auto scalar = header.get<std::uint32_t>();
  const auto length = header.get<std::uint64_t>();
  if (version != 1 && version != detail::checkpoint_version)
    throw CheckpointError("ratiomatch::load_checkpoint: '" + path + "' has format version " + std::to_string(version) +
                          ", expected 1 to " + std::to_string(detail::checkpoint_version));
  if (scalar != sizeof(S))
    throw CheckpointError("ratiomatch::load_checkpoint: '" + path + "' holds " + std::to_string(scalar) +
                          "-byte scalars, expected " + std::to_string(sizeof(S)));
  if (length != file.size() - header_size - 8)
    throw CheckpointError("ratiomatch::load_checkpoint: '" + path + "' is truncated or corrupt");
  const std::string body = file.substr(header_size, length);
  std::uint64_t checksum;
  std::memcpy(&checksum, file.data() + header_size + length, sizeof(checksum));
  if (checksum != detail::fnv1a64(body))
    throw CheckpointError("ratiomatch::load_checkpoint: '" + path + "' fails its checksum (corrupt file)");
  detail::PayloadReader payload(body, path);
  TrainingSnapshot<S> snapshot;
  snapshot.iteration = payload.get<std::uint64_t>();
  snapshot.wall_seconds = payload.get<double>();
  snapshot.tag = payload.get_string();
  snapshot.params = payload.template get_vector<S>();
  snapshot.optimizer_steps = payload.get<std::uint64_t>();
  const auto buffers = payload.get<std::uint64_t>();
  if (buffers > 64) throw CheckpointError("ratiomatch::load_checkpoint: '" + path + "' is corrupt");
  for (std::uint64_t k = 0; k < buffers; ++k) snapshot.optimizer_buffers.push_back(payload.template get_vector<S>());
  snapshot.rng_state = payload.get_string();
  if (version >= 2) {
    snapshot.window_loss = payload.get<double>();
    snapshot.window_norm = payload.get<double>();
    snapshot.window_count = payload.get<std::uint64_t>();
    EstimatorState& estimator = snapshot.estimator_state.emplace();
    const auto singles = payload.get_count(16);
    for (std::uint64_t k = 0; k < singles; ++k) estimator.single.push_back(payload.template get_matrix<float>());
    const auto twices = payload.get_count(16);
    for (std::uint64_t k = 0; k < twices; ++k) estimator.twice.push_back(payload.template get_matrix<double>());
  } else {
    snapshot.estimator_state.reset();
  }
  if (!payload.at_end()) throw CheckpointError("ratiomatch::load_checkpoint: '" + path + "' is corrupt");
  return snapshot;
}

}  // namespace ratiomatch
