// libFuzzer harness for the IDX reader (`read_idx_images`, `read_idx_labels`), plain and gzip:
// any input must either read into images or labels whose sizes agree with the header, or throw
// IdxError; anything else (a crash, a sanitizer report, another exception, a huge allocation) is
// a bug. The reader takes a path, so each input is written to a file of this process first.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include <ratiomatch/data/idx_reader.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/ratiomatch_fuzz_idx_" + std::to_string(::getpid());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const auto images = ratiomatch::read_idx_images(path);
    if (static_cast<std::uint64_t>(images.pixels.size()) !=
        static_cast<std::uint64_t>(images.count) * static_cast<std::uint64_t>(images.pixels_per_image()))
      std::abort();
  } catch (const ratiomatch::IdxError&) {
  }
  try {
    const auto labels = ratiomatch::read_idx_labels(path);
    if (labels.size() > size * 1100 + 64) std::abort();  // no more than gzip can expand the input to
  } catch (const ratiomatch::IdxError&) {
  }
  return 0;
}
