// Writes the seed corpus of fuzz_checkpoint into the folder given as the argument: checkpoints
// that Trainer::resume in the harness accepts (its tag, model, optimizer and estimator), one of
// a stateless estimator, and one with float scalars.
#include <random>
#include <string>

#include <ratiomatch/estimators/persistent_contrastive_divergence.hpp>
#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/samplers/gibbs_sampler.hpp>
#include <ratiomatch/train/trainer.hpp>

using namespace ratiomatch;

template <class S, class E>
void write(const std::string& dir, const E& estimator, const std::string& name) {
  IsingModel<S> model(3);
  Adam<S> adam(model.num_params());
  Trainer trainer(model, estimator, adam,
                  TrainerOptions{.iterations = 3, .checkpoint_every = 3, .out_dir = dir + "/" + name, .tag = "fuzz",
                                 .progress = false});
  std::mt19937_64 rng(1);
  trainer.run([](Matrix<S>& batch, std::mt19937_64& r) {
    batch.resize(2, 3);
    for (Index k = 0; k < batch.size(); ++k) batch(k) = static_cast<S>(r() & 1);
  }, rng);
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  write<double>(dir, PersistentContrastiveDivergence<GibbsSampler>(GibbsSampler(1.0), 2, 1), "pcd_double");
  write<float>(dir, PersistentContrastiveDivergence<GibbsSampler>(GibbsSampler(1.0), 2, 1), "pcd_float");
  write<double>(dir, RatioMatching<>(), "rm_double");
  return 0;
}
