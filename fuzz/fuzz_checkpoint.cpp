// libFuzzer harness for the checkpoint loader and `Trainer::resume`. Any input file must
// either load or throw CheckpointError; and a resume from it must either succeed or throw
// CheckpointError leaving model, optimizer, engine and estimator exactly as they were.
// Anything else (a crash, a sanitizer report, another exception, a changed object) is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include <ratiomatch/estimators/persistent_contrastive_divergence.hpp>
#include <ratiomatch/io/checkpoint.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/samplers/gibbs_sampler.hpp>
#include <ratiomatch/train/trainer.hpp>

using namespace ratiomatch;

namespace {

// Loads and resumes from `bytes`; aborts on anything but success or a CheckpointError that
// changed nothing.
void check(const std::string& bytes) {
  static const std::string path = "/tmp/ratiomatch_fuzz_checkpoint_" + std::to_string(::getpid()) + ".bin";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  try {
    (void)load_checkpoint<float>(path);
  } catch (const CheckpointError&) {
  }

  IsingModel<double> model(3);
  model.params().setConstant(0.125);
  Adam<double> adam(model.num_params());
  const PersistentContrastiveDivergence<GibbsSampler> pcd(GibbsSampler(1.0), 2, 1);
  std::mt19937_64 rng(7);
  Trainer trainer(model, pcd, adam,
                  TrainerOptions{.iterations = 10, .out_dir = "", .tag = "fuzz", .progress = false});
  const std::mt19937_64 rng_before = rng;
  try {
    trainer.resume(path, rng);
  } catch (const CheckpointError&) {
    const bool untouched = (model.params().array() == 0.125).all() && adam.step_count() == 0 &&
                           adam.first_moment().isZero(0) && rng == rng_before && pcd.chains<double>().size() == 0 &&
                           trainer.start_iteration() == 0;
    if (!untouched) std::abort();
  }
}

}  // namespace

// Each input is tried as it is and, when it has a checkpoint's header, with its length field
// and checksum made to fit its payload, so that mutations of the payload reach the parser and
// Trainer::resume's checks instead of stopping at the checksum.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  check(bytes);
  constexpr std::size_t header = 8 + 4 + 4 + 8;
  if (bytes.size() >= header + 8 && bytes.compare(0, 8, detail::checkpoint_magic, 8) == 0) {
    const std::string body = bytes.substr(header, bytes.size() - header - 8);
    const std::uint64_t length = body.size(), checksum = detail::fnv1a64(body);
    bytes.replace(16, 8, reinterpret_cast<const char*>(&length), 8);
    bytes.replace(bytes.size() - 8, 8, reinterpret_cast<const char*>(&checksum), 8);
    check(bytes);
  }
  return 0;
}
