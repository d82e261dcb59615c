#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include <ratiomatch/estimators/gradient_guided_rm.hpp>
#include <ratiomatch/io/checkpoint.hpp>
#include <ratiomatch/models/mlp_energy.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/train/trainer.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

constexpr Index dim = 8;

std::string fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "ratiomatch_test_trainer" / name;
  std::filesystem::remove_all(dir);
  return dir.string();
}

MlpEnergy<double> make_model(std::uint64_t seed) {
  MlpEnergy<double> model(dim, {16}, Activation::Swish);
  std::mt19937_64 rng(seed);
  model.initialize(rng);
  return model;
}

// Fresh data every batch from the training engine: two prototypes with 10% bit noise.
void next_batch(Matrix<double>& batch, std::mt19937_64& rng) {
  batch.resize(16, dim);
  for (Index r = 0; r < batch.rows(); ++r) {
    const bool second = uniform_open01(rng) < 0.5;
    for (Index i = 0; i < dim; ++i) {
      const double bit = second ? static_cast<double>(i % 2) : static_cast<double>(i < dim / 2);
      batch(r, i) = uniform_open01(rng) < 0.1 ? 1 - bit : bit;
    }
  }
}

TrainerOptions options(const std::string& dir, Index iterations) {
  return {.iterations = iterations, .clip_norm = 1.0, .log_every = 5, .eval_every = 10, .checkpoint_every = 10,
          .out_dir = dir, .tag = "trainer test", .progress = false};
}

// Counts evaluations; uses its own engine so the training engine is untouched.
std::vector<double> evaluate(const MlpEnergy<double>& model, Index iteration) {
  return {model.params().norm(), static_cast<double>(iteration)};
}

}  // namespace

TEST_CASE("resuming from a checkpoint continues the run bit for bit", "[train][resume]") {
  const GradientGuidedRM<> estimator(3, GuidedVariant::Basic);

  // Uninterrupted: 40 iterations.
  const auto dir_a = fresh_dir("straight");
  auto model_a = make_model(1);
  Adam<double> adam_a(model_a.num_params(), {.lr = 1e-2});
  Trainer straight(model_a, estimator, adam_a, options(dir_a, 40));
  straight.set_evaluator({"norm", "seen"}, [&](Index it) { return evaluate(model_a, it); });
  std::mt19937_64 rng_a(99);
  const auto result_a = straight.run(next_batch, rng_a);
  REQUIRE_FALSE(result_a.failed);
  REQUIRE(result_a.iterations == 40);

  // Interrupted: the first process stops after 20 iterations (a checkpoint) and leaves a log
  // row past it, as a crash would; the second starts from a different model, optimizer and
  // engine and resumes.
  const auto dir_b = fresh_dir("resumed");
  {
    auto model = make_model(1);
    Adam<double> adam(model.num_params(), {.lr = 1e-2});
    Trainer first(model, estimator, adam, options(dir_b, 20));
    std::mt19937_64 rng(99);
    first.set_evaluator({"norm", "seen"}, [&](Index it) { return evaluate(model, it); });
    first.run(next_batch, rng);
    // Log rows past the checkpoint, as a crashed run would leave them.
    std::ofstream(std::filesystem::path(dir_b) / "log.csv", std::ios::app) << "25,9,9,9,,\n";
  }
  auto model_b = make_model(2);
  Adam<double> adam_b(model_b.num_params(), {.lr = 1e-2});
  Trainer resumed(model_b, estimator, adam_b, options(dir_b, 40));
  resumed.set_evaluator({"norm", "seen"}, [&](Index it) { return evaluate(model_b, it); });
  std::mt19937_64 rng_b(12345);
  resumed.resume(resumed.checkpoint_path(), rng_b);
  REQUIRE(resumed.start_iteration() == 20);
  const auto result_b = resumed.run(next_batch, rng_b);
  REQUIRE(result_b.iterations == 40);

  CHECK(model_b.params() == model_a.params());
  CHECK(adam_b.first_moment() == adam_a.first_moment());
  CHECK(adam_b.step_count() == 40);
  CHECK(rng_b == rng_a);
  CHECK(result_b.final_loss == result_a.final_loss);
  CHECK(log_lines_without_wall_time(dir_b + "/log.csv") == log_lines_without_wall_time(dir_a + "/log.csv"));
}

TEST_CASE("a checkpoint from another run is refused", "[train][resume]") {
  const auto dir = fresh_dir("tag");
  const GradientGuidedRM<> estimator(3, GuidedVariant::Advanced);
  auto model = make_model(3);
  Adam<double> adam(model.num_params(), {.lr = 1e-2});
  Trainer trainer(model, estimator, adam, options(dir, 10));
  std::mt19937_64 rng(1);
  trainer.run(next_batch, rng);
  auto other_options = options(dir, 20);
  other_options.tag = "another run";
  Trainer other(model, estimator, adam, other_options);
  CHECK_THROWS_WITH(other.resume(other.checkpoint_path(), rng), Contains("belongs to another run ('trainer test')"));
}

namespace {

// Produces a non-finite loss from a given call on.
struct FailingEstimator {
  GradientGuidedRM<> inner{3, GuidedVariant::Basic};
  Index fail_from;
  mutable Index calls = 0;
  template <class M, class Rng>
  double loss_and_gradient(const M& model, const Matrix<double>& X, Rng& rng, Vector<double>& grad) const {
    const double loss = inner.loss_and_gradient(model, X, rng, grad);
    return ++calls >= fail_from ? std::numeric_limits<double>::infinity() : loss;
  }
};

}  // namespace

TEST_CASE("a non-finite loss stops the run with a message and keeps the last good checkpoint", "[train][failure]") {
  const auto dir = fresh_dir("failure");
  auto model = make_model(4);
  Adam<double> adam(model.num_params(), {.lr = 1e-2});
  const FailingEstimator estimator{.fail_from = 15};
  Trainer trainer(model, estimator, adam, options(dir, 40));
  std::mt19937_64 rng(5);
  const auto result = trainer.run(next_batch, rng);
  CHECK(result.failed);
  CHECK(result.iterations == 14);
  CHECK_THAT(result.message, Contains("training stopped at iteration 15: ratiomatch::Trainer::run: loss is not finite (inf)"));
  CHECK_THAT(result.message, Contains("checkpoint.bin' (iteration 10)"));
  const auto snapshot = load_checkpoint<double>(trainer.checkpoint_path());
  CHECK(snapshot.iteration == 10);
  CHECK(snapshot.params.allFinite());
}

TEST_CASE("a wall-time budget stops the run after the iteration that exceeds it, logged and checkpointed",
          "[train][budget]") {
  const auto dir = fresh_dir("budget");
  auto model = make_model(6);
  Adam<double> adam(model.num_params(), {.lr = 1e-2});
  const GradientGuidedRM<> estimator(3, GuidedVariant::Basic);
  auto opts = options(dir, 1000);
  opts.max_seconds = 1e-9;  // exceeded by the first iteration
  Trainer trainer(model, estimator, adam, opts);
  int evaluations = 0;
  trainer.set_evaluator({"norm", "seen"}, [&](Index it) {
    ++evaluations;
    return evaluate(model, it);
  });
  std::mt19937_64 rng(7);
  const auto result = trainer.run(next_batch, rng);
  CHECK(result.out_of_time);
  CHECK_FALSE(result.failed);
  CHECK(result.iterations == 1);
  CHECK(evaluations == 1);
  CHECK(load_checkpoint<double>(trainer.checkpoint_path()).iteration == 1);
  const auto lines = log_lines_without_wall_time(dir + "/log.csv");
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].rfind("1,", 0) == 0);
}

namespace {

// 40 iterations whose evaluator throws a NumericalError at `fail_at`; no periodic checkpoints,
// so a checkpoint in `dir` can only be the one the failed evaluation writes.
TrainResult train_with_failing_evaluator(MlpEnergy<double>& model, const std::string& dir, Index fail_at) {
  Adam<double> adam(model.num_params(), {.lr = 1e-2});
  const GradientGuidedRM<> estimator(3, GuidedVariant::Basic);
  auto opts = options(dir, 40);
  opts.checkpoint_every = 0;
  Trainer trainer(model, estimator, adam, opts);
  trainer.set_evaluator({"norm", "seen"}, [&](Index it) {
    if (it == fail_at) throw NumericalError("an AIS estimate is not finite");
    return evaluate(model, it);
  });
  std::mt19937_64 rng(9);
  return trainer.run(next_batch, rng);
}

}  // namespace

TEST_CASE("a numerical failure of the evaluator stops the run with a message, its row and a checkpoint",
          "[train][failure]") {
  const auto dir = fresh_dir("evaluation_failure");
  auto model = make_model(8);
  const auto result = train_with_failing_evaluator(model, dir, 20);
  CHECK(result.failed);
  CHECK(result.iterations == 20);
  CHECK_THAT(result.message,
             Contains("training stopped at iteration 20: the evaluation failed: an AIS estimate is not finite"));
  CHECK_THAT(result.message, Contains("checkpoint.bin' (iteration 20)"));
  // The evaluated iteration's step had succeeded: its parameters are checkpointed, nothing is lost.
  const auto snapshot = load_checkpoint<double>(dir + "/checkpoint.bin");
  CHECK(snapshot.iteration == 20);
  CHECK(snapshot.params == model.params());
  const auto lines = log_lines_without_wall_time(dir + "/log.csv");
  REQUIRE(lines.size() == 5);  // header and the rows of iterations 5, 10, 15, 20
  CHECK(lines[4].rfind("20,", 0) == 0);
  CHECK(lines[4].ends_with(",,"));  // the evaluation columns are empty (NaN)
}

TEST_CASE("a numerical failure of the evaluator without an output folder stops the run and says no checkpoint exists",
          "[train][failure]") {
  auto model = make_model(8);
  const auto result = train_with_failing_evaluator(model, "", 30);
  CHECK(result.failed);
  CHECK(result.iterations == 30);
  CHECK_THAT(result.message, Contains("the evaluation failed: an AIS estimate is not finite; no checkpoint was written"));
}

namespace {

enum class Thrower { Evaluator, DataSource };
enum class GoOn { SameTrainer, Resume };

}  // namespace

TEST_CASE("an exception of the evaluator or the data source loses no training: the run goes on bit for bit",
          "[train][failure][resume]") {
  const auto thrower = GENERATE(Thrower::Evaluator, Thrower::DataSource);
  const auto go_on = GENERATE(GoOn::SameTrainer, GoOn::Resume);
  const GradientGuidedRM<> estimator(3, GuidedVariant::Basic);
  const auto straight_dir = fresh_dir("exception_straight");
  auto straight = make_model(4);
  {
    Adam<double> adam(straight.num_params(), {.lr = 1e-2});
    Trainer trainer(straight, estimator, adam, options(straight_dir, 40));
    trainer.set_evaluator({"norm", "seen"}, [&](Index it) { return evaluate(straight, it); });
    std::mt19937_64 rng(5);
    REQUIRE(trainer.run(next_batch, rng).iterations == 40);
  }

  // The evaluator throws at iteration 20 (a logged, evaluated and checkpointed one), or the data
  // source while drawing iteration 23, after it has drawn from the engine.
  const auto dir = fresh_dir("exception_interrupted");
  auto model = make_model(4);
  Adam<double> adam(model.num_params(), {.lr = 1e-2});
  Trainer trainer(model, estimator, adam, options(dir, 40));
  bool broken = true;
  trainer.set_evaluator({"norm", "seen"}, [&](Index it) {
    if (broken && thrower == Thrower::Evaluator && it == 20) throw std::runtime_error("the reference file is missing");
    return evaluate(model, it);
  });
  Index drawn = 0;
  auto source = [&](Matrix<double>& batch, std::mt19937_64& engine) {
    next_batch(batch, engine);
    if (broken && thrower == Thrower::DataSource && ++drawn == 23) throw std::runtime_error("the data file ended");
  };
  std::mt19937_64 rng(5);
  CHECK_THROWS_WITH(trainer.run(source, rng),
                    thrower == Thrower::Evaluator ? "the reference file is missing" : "the data file ended");
  const Index finished = thrower == Thrower::Evaluator ? 20 : 22;
  CHECK(trainer.start_iteration() == finished);
  const auto snapshot = load_checkpoint<double>(trainer.checkpoint_path());
  CHECK(static_cast<Index>(snapshot.iteration) == finished);
  CHECK(snapshot.params == model.params());
  // The evaluator's row is owed (written by the next run), not logged without its values.
  CHECK(log_lines_without_wall_time(dir + "/log.csv").back().rfind(thrower == Thrower::Evaluator ? "15," : "20,", 0) ==
        0);

  broken = false;
  if (go_on == GoOn::SameTrainer) {
    REQUIRE(trainer.run(source, rng).iterations == 40);
    CHECK(model.params() == straight.params());
  } else {
    auto resumed_model = make_model(6);
    Adam<double> resumed_adam(resumed_model.num_params(), {.lr = 1e-2});
    Trainer resumed(resumed_model, estimator, resumed_adam, options(dir, 40));
    resumed.set_evaluator({"norm", "seen"}, [&](Index it) { return evaluate(resumed_model, it); });
    std::mt19937_64 resumed_rng(77);
    resumed.resume(resumed.checkpoint_path(), resumed_rng);
    REQUIRE(resumed.run(next_batch, resumed_rng).iterations == 40);
    CHECK(resumed_model.params() == straight.params());
  }
  CHECK(log_lines_without_wall_time(dir + "/log.csv") == log_lines_without_wall_time(straight_dir + "/log.csv"));
}

TEST_CASE("without an output folder an evaluator's exception writes no file and the trainer goes on",
          "[train][failure]") {
  const bool had_checkpoint = std::filesystem::exists("checkpoint.bin");
  auto straight = make_model(8);
  REQUIRE_FALSE(train_with_failing_evaluator(straight, "", -1).failed);
  auto model = make_model(8);
  Adam<double> adam(model.num_params(), {.lr = 1e-2});
  const GradientGuidedRM<> estimator(3, GuidedVariant::Basic);
  auto opts = options("", 40);
  opts.checkpoint_every = 0;
  Trainer trainer(model, estimator, adam, opts);
  bool broken = true;
  int evaluations_of_20 = 0;
  trainer.set_evaluator({"norm", "seen"}, [&](Index it) {
    evaluations_of_20 += it == 20;
    if (broken && it == 20) throw std::runtime_error("interrupted");
    return evaluate(model, it);
  });
  std::mt19937_64 rng(9);
  CHECK_THROWS_WITH(trainer.run(next_batch, rng), "interrupted");
  CHECK(std::filesystem::exists("checkpoint.bin") == had_checkpoint);
  broken = false;
  REQUIRE(trainer.run(next_batch, rng).iterations == 40);
  CHECK(evaluations_of_20 == 2);  // the owed evaluation is made
  CHECK(model.params() == straight.params());
}

TEST_CASE("a second run of a finished trainer keeps the log", "[train][resume]") {
  const auto dir = fresh_dir("run_twice");
  auto model = make_model(5);
  Adam<double> adam(model.num_params(), {.lr = 1e-2});
  const GradientGuidedRM<> estimator(3, GuidedVariant::Basic);
  auto opts = options(dir, 1000);
  opts.log_every = 1;
  opts.max_seconds = 1e-9;  // one iteration per run
  Trainer trainer(model, estimator, adam, opts);
  std::mt19937_64 rng(3);
  REQUIRE(trainer.run(next_batch, rng).iterations == 1);
  REQUIRE(trainer.run(next_batch, rng).iterations == 2);
  const auto lines = log_lines_without_wall_time(dir + "/log.csv");
  REQUIRE(lines.size() == 3);
  CHECK(lines[1].rfind("1,", 0) == 0);
  CHECK(lines[2].rfind("2,", 0) == 0);
}

TEST_CASE("a run flushes subnormal numbers to zero in its steps and evaluations unless told not to",
          "[train][denormals]") {
  if (!DenormalFlush::supported()) {
    WARN("no flush-to-zero switch on this processor");
    return;
  }
  auto flushes = [] {
    volatile float small = 1e-20f, tiny = 1e-20f;
    return small * tiny == 0.0f;
  };
  REQUIRE_FALSE(flushes());
  for (const bool flush : {true, false}) {
    auto model = make_model(2);
    Adam<double> adam(model.num_params(), {.lr = 1e-2});
    const GradientGuidedRM<> estimator(3, GuidedVariant::Basic);
    auto opts = options("", 10);
    opts.flush_denormals = flush;
    Trainer trainer(model, estimator, adam, opts);
    int flushed = 0, evaluations = 0;
    trainer.set_evaluator({"norm", "seen"}, [&](Index it) {
      flushed += flushes();
      ++evaluations;
      return evaluate(model, it);
    });
    std::mt19937_64 rng(1);
    REQUIRE(trainer.run(next_batch, rng).iterations == 10);
    CHECK(flushed == (flush ? evaluations : 0));
    CHECK_FALSE(flushes());  // the caller's state is restored
  }
}

TEST_CASE("options that would skip evaluations or mean nothing are refused when the trainer is made",
          "[train][options]") {
  auto model = make_model(6);
  Adam<double> adam(model.num_params(), {.lr = 1e-2});
  const GradientGuidedRM<> estimator(3, GuidedVariant::Basic);
  const auto refused = [&](TrainerOptions o) { return Trainer(model, estimator, adam, o); };
  TrainerOptions o{.iterations = 60, .log_every = 20, .eval_every = 15, .out_dir = "", .tag = "", .progress = false};
  // Evaluations are written in log rows: at 15, 30 and 45 there is none.
  CHECK_THROWS_AS(refused(o), std::invalid_argument);
  CHECK_THROWS_WITH(refused(o), Contains("eval_every (15) must be a multiple of log_every (20) unless it is at least "
                                         "iterations (60)"));
  o.eval_every = 50;
  CHECK_THROWS_WITH(refused(o), Contains("eval_every (50)"));
  o.eval_every = 60;  // only the last iteration, which always has a row
  CHECK_NOTHROW(refused(o));
  o.eval_every = 20;
  CHECK_NOTHROW(refused(o));
  o.eval_every = -20;
  CHECK_THROWS_WITH(refused(o), Contains("eval_every (-20) must be 0 or positive"));
  o.eval_every = 0;
  o.checkpoint_every = -1;
  CHECK_THROWS_WITH(refused(o), Contains("checkpoint_every (-1) must be 0 or positive"));
  o.checkpoint_every = 0;
  o.clip_norm = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(refused(o), Contains("clip_norm is NaN"));
  o.clip_norm = 1;
  o.max_seconds = -1;
  CHECK_THROWS_WITH(refused(o), Contains("max_seconds (-1)"));
  o.max_seconds = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(refused(o), Contains("max_seconds"));
}
