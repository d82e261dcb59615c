#pragma once
/// @file
/// @brief Training checkpoints: versioned, checksummed, written atomically.
///
/// Layout (native byte order): the 8-byte magic `RMCKPT01`, a `u32` format version, a `u32`
/// scalar size (4 = float, 8 = double), a `u64` payload length, the payload, and the
/// payload's FNV-1a 64-bit checksum. The payload holds the iteration, the accumulated wall
/// time, a run tag, the parameters, the optimizer's step count and buffers, and the random
/// engine's state as text. A file is written to `path.tmp` and renamed onto `path`, so a
/// crash never leaves a half-written checkpoint.

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "ratiomatch/core/types.hpp"

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
};

namespace detail {

inline constexpr char checkpoint_magic[8] = {'R', 'M', 'C', 'K', 'P', 'T', '0', '1'};
inline constexpr std::uint32_t checkpoint_version = 1;

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
  void put_vector(const Vector<S>& v) {
    put<std::uint64_t>(static_cast<std::uint64_t>(v.size()));
    bytes_.append(reinterpret_cast<const char*>(v.data()), sizeof(S) * static_cast<std::size_t>(v.size()));
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
    need(n * sizeof(S));
    Vector<S> v(static_cast<Index>(n));
    std::memcpy(v.data(), bytes_.data() + pos_, n * sizeof(S));
    pos_ += n * sizeof(S);
    return v;
  }
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  void need(std::uint64_t n) const {
    if (n > bytes_.size() - pos_)
      throw CheckpointError("ratiomatch::load_checkpoint: '" + path_ + "' is truncated or corrupt");
  }
  const std::string& bytes_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

}  // namespace detail

/// @brief Writes `snapshot` to `path` atomically (temporary file, then rename).
/// @throws std::runtime_error naming the path if it cannot be written
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

  detail::PayloadWriter file;
  const std::string& body = payload.bytes();
  std::string header(detail::checkpoint_magic, sizeof(detail::checkpoint_magic));
  file.put(detail::checkpoint_version);
  file.put<std::uint32_t>(sizeof(S));
  file.put<std::uint64_t>(body.size());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << header << file.bytes() << body;
    const std::uint64_t checksum = detail::fnv1a64(body);
    out.write(reinterpret_cast<const char*>(&checksum), sizeof(checksum));
    out.flush();
    if (!out) throw std::runtime_error("ratiomatch::save_checkpoint: cannot write '" + tmp + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("ratiomatch::save_checkpoint: cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
}

/// @brief Reads a checkpoint written by `save_checkpoint` with the same scalar type.
/// @throws CheckpointError if the file is missing, not a checkpoint, of another version or
///         scalar type, truncated, or fails its checksum
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
  if (version != detail::checkpoint_version)
    throw CheckpointError("ratiomatch::load_checkpoint: '" + path + "' has format version " + std::to_string(version) +
                          ", expected " + std::to_string(detail::checkpoint_version));
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
  if (!payload.at_end()) throw CheckpointError("ratiomatch::load_checkpoint: '" + path + "' is corrupt");
  return snapshot;
}

}  // namespace ratiomatch
