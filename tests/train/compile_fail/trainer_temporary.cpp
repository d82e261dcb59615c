// Must-not-compile cases of the Trainer's lifetime rules (built by ctest, see CMakeLists.txt):
// the trainer keeps references to its model, estimator and optimizer, so none may be a
// temporary. Exactly one RATIOMATCH_CASE_* macro is defined per build; the control case must
// compile, so that the others fail for the line they test and nothing else.
#include <random>

#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/train/trainer.hpp>

using namespace ratiomatch;

void build_trainer() {
  IsingModel<double> model(4);
  Adam<double> adam(model.num_params());
  const RatioMatching<HyvarinenRatio> estimator;
  const TrainerOptions options{.iterations = 1, .progress = false};
#if defined(RATIOMATCH_CASE_control)
  Trainer trainer(model, estimator, adam, options);
#elif defined(RATIOMATCH_CASE_temporary_estimator)
  Trainer trainer(model, RatioMatching<HyvarinenRatio>(), adam, options);
#elif defined(RATIOMATCH_CASE_temporary_optimizer)
  Trainer trainer(model, estimator, Adam<double>(model.num_params()), options);
#elif defined(RATIOMATCH_CASE_temporary_model)
  Trainer trainer(IsingModel<double>(4), estimator, adam, options);
#else
#error "define one RATIOMATCH_CASE_* macro"
#endif
  (void)trainer;
}
