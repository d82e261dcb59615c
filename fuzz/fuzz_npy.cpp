// libFuzzer harness for the `.npy` reader (`load_npy`, float and double): any input must either
// read into a matrix no larger than the input's data, which `save_npy` writes back and
// `load_npy` reads again bit for bit, or throw std::runtime_error; anything else (a crash, a
// sanitizer report, another exception, a huge allocation) is a bug. The reader takes a path, so
// each input is written to a file of this process first.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

#include <ratiomatch/io/npy.hpp>

namespace {

template <class S>
void check(const std::string& path, std::size_t size) {
  static const std::string copy = "/tmp/ratiomatch_fuzz_npy_copy_" + std::to_string(::getpid()) + ".npy";
  ratiomatch::Matrix<S> A;
  try {
    A = ratiomatch::load_npy<S>(path);
  } catch (const std::runtime_error&) {
    return;
  }
  if (static_cast<std::size_t>(A.size()) * sizeof(S) > size) std::abort();
  ratiomatch::save_npy(copy, A);
  const ratiomatch::Matrix<S> B = ratiomatch::load_npy<S>(copy);
  if (B.rows() != A.rows() || B.cols() != A.cols()) std::abort();
  if (A.size() && std::memcmp(A.data(), B.data(), static_cast<std::size_t>(A.size()) * sizeof(S)) != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/ratiomatch_fuzz_npy_" + std::to_string(::getpid()) + ".npy";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  check<float>(path, size);
  check<double>(path, size);
  return 0;
}
