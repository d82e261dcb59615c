// libFuzzer harness for the binary data-file reader (`read_binary_data`) and the provenance
// line of Ising data files (`IsingDataProvenance::read`). Any input must either parse into a
// binary batch or throw std::invalid_argument; anything else (a crash, a sanitizer report,
// another exception, a non-binary entry, a row count that disagrees with the input) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

#include <ratiomatch/data/binary_dataset.hpp>
#include <ratiomatch/data/ising_data_provenance.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    std::istringstream in(text);
    const auto X = ratiomatch::read_binary_data<float>(in, "<fuzz>");
    if (X.rows() <= 0 || X.cols() <= 0) std::abort();
    if (!(X.array() * (X.array() - 1.0f) == 0.0f).all()) std::abort();
    // Writing and reading back gives the same batch.
    std::ostringstream out;
    ratiomatch::write_binary_data(out, X, "fuzz header\nsecond line");
    std::istringstream again(out.str());
    if (ratiomatch::read_binary_data<float>(again, "<round trip>") != X) std::abort();
  } catch (const std::invalid_argument&) {
  }
  try {
    std::istringstream in(text);
    const auto p = ratiomatch::IsingDataProvenance::read(in, "<fuzz>");
    // A provenance line reads back as itself.
    std::istringstream line("# " + p.to_line() + "\n");
    const auto q = ratiomatch::IsingDataProvenance::read(line, "<round trip>");
    if (!(q == p) && p.sigma == p.sigma) std::abort();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
