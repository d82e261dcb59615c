#pragma once
/// @file
/// @brief Replacing a file so that it is never half-written: the new content goes to a temporary
/// file beside it, is flushed to the device, and is renamed over the old one, whose directory is
/// then flushed too. Every file the library writes (checkpoints, `.npy` arrays, PNG pictures,
/// binary data, the start of a CSV log) goes through here. POSIX (`open`, `fsync`, `rename`).

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace ratiomatch {

/// @brief The new content of one file, written to a temporary file beside it and moved into
/// place by `commit()`. The file under `path` holds, at every moment and after a crash or a power
/// loss, either its old content or all of the new one: the temporary file reaches the device
/// (`fsync`) before the rename, and the directory after it.
///
/// Staging several files before committing any (as `save_params_npy` does) makes a failed write
/// — a full disk, a missing folder — change none of them. An uncommitted temporary file is
/// removed by the destructor, and on every failure; only a process killed while writing leaves
/// one behind (its name, `path.tmp.<pid>.<n>`, is never reused).
class StagedFile {
 public:
  /// @brief Writes `bytes` to a new temporary file `path.tmp.<pid>.<n>` and flushes it to the device.
  /// @param where the caller's name, first in every error message (e.g. `ratiomatch::save_npy`)
  /// @throws std::runtime_error naming `path` and the system's reason (e.g. "No space left on
  ///         device") if the temporary file cannot be created, written or flushed; nothing is left
  StagedFile(std::filesystem::path path, std::string_view bytes, std::string_view where)
      : path_(std::move(path)), where_(where) {
    static std::atomic<unsigned long> counter{0};
    int fd = -1;
    // O_EXCL: a name left by a crashed process with the same id is never reused.
    for (int attempt = 0; fd < 0; ++attempt) {
      temporary_ = path_.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
      fd = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd < 0 && (errno != EEXIST || attempt == 100)) fail("cannot create the temporary file '" + temporary_ + "'");
    }
    std::size_t written = 0;
    while (written < bytes.size()) {
      const ::ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int error = n < 0 ? errno : ENOSPC;
        ::close(fd);
        remove_temporary();
        errno = error;
        fail("writing the temporary file '" + temporary_ + "' failed");
      }
      written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
      const int error = errno;
      ::close(fd);
      remove_temporary();
      errno = error;
      fail("flushing the temporary file '" + temporary_ + "' failed");
    }
    if (::close(fd) != 0) {
      const int error = errno;
      remove_temporary();
      errno = error;
      fail("closing the temporary file '" + temporary_ + "' failed");
    }
  }
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  StagedFile(StagedFile&& other) noexcept
      : path_(std::move(other.path_)), temporary_(std::exchange(other.temporary_, {})), where_(std::move(other.where_)) {}
  StagedFile& operator=(StagedFile&&) = delete;
  ~StagedFile() { remove_temporary(); }

  /// @brief Renames the temporary file onto `path` and flushes the directory, so that the new
  /// content survives a power loss.
  /// @throws std::runtime_error naming `path` if the rename fails (the temporary file is
  ///         removed and `path` keeps its old content) or the directory cannot be flushed
  void commit() {
    if (::rename(temporary_.c_str(), path_.c_str()) != 0) {
      const int error = errno;
      remove_temporary();
      errno = error;
      fail("cannot rename '" + temporary_ + "' onto it");
    }
    temporary_.clear();
    const std::filesystem::path folder = path_.has_parent_path() ? path_.parent_path() : std::filesystem::path(".");
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) fail("cannot open its folder to flush the rename");
    // EINVAL: the file system cannot flush a directory (nothing more can be done there).
    const bool flushed = ::fsync(dir) == 0 || errno == EINVAL;
    const int error = errno;
    ::close(dir);
    errno = error;
    if (!flushed) fail("flushing its folder after the rename failed");
  }

 private:
  void remove_temporary() noexcept {
    if (!temporary_.empty()) ::unlink(temporary_.c_str());
    temporary_.clear();
  }
  [[noreturn]] void fail(const std::string& what) const {
    const int error = errno;
    throw std::runtime_error(where_ + ": cannot write '" + path_.string() + "': " + what + " (" +
                             std::strerror(error) + ")");
  }

  std::filesystem::path path_;
  std::string temporary_;
  std::string where_;
};

/// @brief Replaces the file `path` by `bytes` so that it is never half-written (a `StagedFile`,
/// committed at once).
/// @throws std::runtime_error starting with `where`, naming `path` and the system's reason, if
///         it cannot be written; `path` then keeps its old content and no temporary file is left
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes, std::string_view where) {
  StagedFile(path, bytes, where).commit();
}

}  // namespace ratiomatch
