// A training run for the SIGKILL test: a small MLP trained with the basic gradient-guided
// estimator and Adam, a checkpoint after every iteration (so that most of its time is spent
// writing checkpoints and a kill often lands in the middle of one).
//
//   crash_target OUT ITERATIONS [--resume] [--record FILE]
// --resume continues from OUT/checkpoint.bin if it exists; --record appends "K HASH" after every
// iteration K to FILE, HASH being the FNV-1a hash of the parameters' bytes (the uninterrupted
// reference). The final parameters go to OUT/final.bin.

#include <ratiomatch/ratiomatch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

using namespace ratiomatch;

namespace {

std::uint64_t params_hash(const Eigen::Ref<const Vector<double>>& params) {
  return detail::fnv1a64(std::string(reinterpret_cast<const char*>(params.data()), params.size() * sizeof(double)));
}

void write_params(const std::string& path, const Vector<double>& params) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(params.data()), static_cast<std::streamsize>(params.size() * sizeof(double)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: crash_target OUT ITERATIONS [--resume] [--record FILE]\n";
    return 2;
  }
  const std::string out = argv[1];
  const Index iterations = std::atol(argv[2]);
  bool resume = false;
  std::string record;
  for (int k = 3; k < argc; ++k) {
    const std::string arg = argv[k];
    if (arg == "--resume") resume = true;
    if (arg == "--record" && k + 1 < argc) record = argv[++k];
  }
  std::filesystem::create_directories(out);
  std::mt19937_64 setup(11);
  MlpEnergy<double> model(16, {160, 160}, Activation::Swish);  // a 0.7 MB checkpoint: writes take a large share of the time
  model.initialize(setup);
  Matrix<double> prototypes(4, 16);
  for (Index k = 0; k < prototypes.size(); ++k) prototypes.data()[k] = static_cast<double>(setup() % 2);
  const GradientGuidedRM<HyvarinenRatio> estimator(4, GuidedVariant::Basic);
  Adam<double> adam(model.num_params(), {.lr = 1e-3});
  Trainer trainer(model, estimator, adam,
                  TrainerOptions{.iterations = iterations, .clip_norm = 1.0, .log_every = 1, .eval_every = 1,
                                 .checkpoint_every = 1, .out_dir = out, .tag = "crash_target", .progress = false});
  std::ofstream record_file;
  if (!record.empty()) record_file.open(record, std::ios::app);
  trainer.set_evaluator({"param_sum"}, [&](Index iteration) {
    if (record_file.is_open()) record_file << iteration << " " << params_hash(model.params()) << "\n" << std::flush;
    return std::vector<double>{model.params().sum()};
  });
  std::mt19937_64 rng(12);
  if (resume && std::filesystem::exists(trainer.checkpoint_path())) trainer.resume(trainer.checkpoint_path(), rng);
  auto next_batch = [&](Matrix<double>& batch, std::mt19937_64& r) {
    batch.resize(16, 16);
    for (Index k = 0; k < 16; ++k) {
      batch.row(k) = prototypes.row(static_cast<Index>(r() % 4));
      for (Index i = 0; i < 16; ++i)
        if (r() % 10 == 0) batch(k, i) = 1 - batch(k, i);
    }
  };
  const TrainResult result = trainer.run(next_batch, rng);
  if (result.failed) {
    std::cerr << result.message << "\n";
    return 1;
  }
  write_params(out + "/final.bin", model.params());
  return 0;
}
