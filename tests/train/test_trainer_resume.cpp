// Resuming every training method from a checkpoint gives the uninterrupted run bit for bit
// (model, optimizer, engine, estimator state and log.csv), whether the first process crashed
// in the middle of a log window or ended at an iteration off the log grid.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <ratiomatch/estimators/gradient_guided_rm.hpp>
#include <ratiomatch/estimators/penalized.hpp>
#include <ratiomatch/estimators/persistent_contrastive_divergence.hpp>
#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/estimators/uniform_sampled_rm.hpp>
#include <ratiomatch/models/ising_coupling_l1.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/optim/sgd.hpp>
#include <ratiomatch/samplers/gibbs_sampler.hpp>
#include <ratiomatch/samplers/gibbs_with_gradients.hpp>
#include <ratiomatch/train/trainer.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using ratiomatch::testing::log_lines_without_wall_time;

namespace {

constexpr Index dim = 4;
constexpr Index total_iterations = 40;
// Not a multiple of each other: checkpoints fall in the middle of log windows.
constexpr Index log_every = 4;
constexpr Index checkpoint_every = 6;

// One method per type: its estimator and scalar type.
struct ExactRM {
  static constexpr const char* name = "ExactRM";
  using Scalar = double;
  static RatioMatching<HyvarinenRatio> make() { return {}; }
};
struct UniformRM {
  static constexpr const char* name = "UniformRM";
  using Scalar = double;
  static UniformSampledRM<> make() { return UniformSampledRM<>(2); }
};
struct GuidedBasic {
  static constexpr const char* name = "GuidedBasic";
  using Scalar = double;
  static GradientGuidedRM<> make() { return {2, GuidedVariant::Basic}; }
};
struct GuidedAdvanced {
  static constexpr const char* name = "GuidedAdvanced";
  using Scalar = double;
  static GradientGuidedRM<> make() { return {2, GuidedVariant::Advanced}; }
};
struct PcdGibbs {
  static constexpr const char* name = "PcdGibbs";
  using Scalar = double;
  static PersistentContrastiveDivergence<GibbsSampler> make() { return {GibbsSampler(1.0), 5, 1}; }
};
struct PcdGwg {
  static constexpr const char* name = "PcdGwg";
  using Scalar = double;
  static PersistentContrastiveDivergence<GibbsWithGradients> make() { return {GibbsWithGradients(1.0), 5, 2}; }
};
struct PenalizedPcdFloat {
  static constexpr const char* name = "PenalizedPcdFloat";
  using Scalar = float;
  static Penalized<PersistentContrastiveDivergence<GibbsWithGradients>, IsingCouplingL1> make() {
    return {PersistentContrastiveDivergence<GibbsWithGradients>(GibbsWithGradients(1.0), 5, 1), IsingCouplingL1{0.01}};
  }
};
struct PenalizedRM {
  static constexpr const char* name = "PenalizedRM";
  using Scalar = double;
  static Penalized<GradientGuidedRM<SqrtRatio>, IsingCouplingL1> make() {
    return {GradientGuidedRM<SqrtRatio>(2, GuidedVariant::Basic), IsingCouplingL1{0.01}};
  }
};

std::string fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "ratiomatch_test_trainer_resume" / name;
  std::filesystem::remove_all(dir);
  return dir.string();
}

// Two prototypes with 10% bit noise, from the training engine only.
template <class S>
void next_batch(Matrix<S>& batch, std::mt19937_64& rng) {
  batch.resize(8, dim);
  for (Index r = 0; r < batch.rows(); ++r) {
    const bool second = uniform_open01(rng) < 0.5;
    for (Index i = 0; i < dim; ++i) {
      const S bit = second ? static_cast<S>(i % 2) : static_cast<S>(i < dim / 2);
      batch(r, i) = uniform_open01(rng) < 0.1 ? S(1) - bit : bit;
    }
  }
}

// A model with a non-trivial start, different for each seed.
template <class S>
IsingModel<S> make_model(std::uint64_t seed) {
  IsingModel<S> model(dim);
  std::mt19937_64 rng(seed);
  for (Index k = 0; k < model.num_params(); ++k) model.params()(k) = static_cast<S>(0.1 * (uniform_open01(rng) - 0.5));
  return model;
}

TrainerOptions options(const std::string& dir, Index iterations) {
  return {.iterations = iterations, .clip_norm = 1.0, .log_every = log_every, .eval_every = 8,
          .checkpoint_every = checkpoint_every, .out_dir = dir, .tag = "resume test", .progress = false};
}

struct Crash : std::runtime_error {
  Crash() : std::runtime_error("simulated crash") {}
};

// The estimator's state, or an empty one for a stateless estimator.
template <class E>
EstimatorState state_of(const E& estimator) {
  if constexpr (StatefulEstimator<E>)
    return estimator.state_buffers();
  else
    return {};
}

template <class S>
double max_difference(const Vector<S>& a, const Vector<S>& b) {
  return static_cast<double>((a - b).cwiseAbs().maxCoeff());
}

template <class S>
bool same_matrices(const std::vector<Matrix<S>>& a, const std::vector<Matrix<S>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (a[k].rows() != b[k].rows() || a[k].cols() != b[k].cols() || a[k] != b[k]) return false;
  return true;
}

enum class Interruption { CrashMidWindow, DataSourceThrows, EvaluatorThrows, EndOffGrid };

}  // namespace

TEMPLATE_TEST_CASE("a resumed run of every method equals the uninterrupted run bit for bit", "[train][resume]", ExactRM,
                   UniformRM, GuidedBasic, GuidedAdvanced, PcdGibbs, PcdGwg, PenalizedPcdFloat, PenalizedRM) {
  using S = typename TestType::Scalar;
  const auto interruption = GENERATE(Interruption::CrashMidWindow, Interruption::DataSourceThrows,
                                     Interruption::EvaluatorThrows, Interruption::EndOffGrid);
  const std::string name = std::string(TestType::name) + "_" + std::to_string(static_cast<int>(interruption));
  auto evaluate = [](const IsingModel<S>& model) {
    return [&model](Index) { return std::vector<double>{static_cast<double>(model.params().norm())}; };
  };

  // Uninterrupted.
  const auto dir_a = fresh_dir(name + "_straight");
  const auto estimator_a = TestType::make();
  auto model_a = make_model<S>(1);
  Adam<S> adam_a(model_a.num_params(), {.lr = 0.05});
  Trainer straight(model_a, estimator_a, adam_a, options(dir_a, total_iterations));
  straight.set_evaluator({"norm"}, evaluate(model_a));
  std::mt19937_64 rng_a(99);
  const auto result_a = straight.run(next_batch<S>, rng_a);
  REQUIRE_FALSE(result_a.failed);

  // Interrupted: the process dies while drawing the batch of iteration 21 (last checkpoint 18,
  // log rows up to 20 already written); or the draw of iteration 23 throws after using the engine
  // (the trainer checkpoints iteration 22, its window open, and the engine before the draw); or
  // the evaluation of iteration 16 throws (checkpoint 16, its row owed to the resumed run); or the
  // run ends at iteration 22 (a forced last row and checkpoint off the log grid).
  const auto dir_b = fresh_dir(name + "_resumed");
  {
    const auto estimator = TestType::make();
    auto model = make_model<S>(1);
    Adam<S> adam(model.num_params(), {.lr = 0.05});
    std::mt19937_64 rng(99);
    if (interruption == Interruption::CrashMidWindow) {
      Trainer first(model, estimator, adam, options(dir_b, total_iterations));
      first.set_evaluator({"norm"}, evaluate(model));
      const auto checkpoint = first.checkpoint_path(), kept = checkpoint + ".kept";
      Index calls = 0;
      auto crashing = [&](Matrix<S>& batch, std::mt19937_64& r) {
        // A killed process cannot write a checkpoint: the crash keeps the one on disk before
        // the 19th draw (iteration 18's) and puts it back after the throw.
        if (++calls == 19)
          std::filesystem::copy_file(checkpoint, kept, std::filesystem::copy_options::overwrite_existing);
        if (calls == 21) throw Crash();
        next_batch<S>(batch, r);
      };
      REQUIRE_THROWS_AS(first.run(crashing, rng), Crash);
      std::filesystem::rename(kept, checkpoint);
    } else if (interruption == Interruption::DataSourceThrows) {
      Trainer first(model, estimator, adam, options(dir_b, total_iterations));
      first.set_evaluator({"norm"}, evaluate(model));
      Index calls = 0;
      auto throwing = [&](Matrix<S>& batch, std::mt19937_64& r) {
        next_batch<S>(batch, r);
        if (++calls == 23) throw Crash();
      };
      REQUIRE_THROWS_AS(first.run(throwing, rng), Crash);
    } else if (interruption == Interruption::EvaluatorThrows) {
      Trainer first(model, estimator, adam, options(dir_b, total_iterations));
      first.set_evaluator({"norm"}, [&](Index it) {
        if (it == 16) throw Crash();
        return evaluate(model)(it);
      });
      REQUIRE_THROWS_AS(first.run(next_batch<S>, rng), Crash);
    } else {
      Trainer first(model, estimator, adam, options(dir_b, 22));
      first.set_evaluator({"norm"}, evaluate(model));
      REQUIRE_FALSE(first.run(next_batch<S>, rng).failed);
    }
  }
  // A new process: other model, optimizer, engine and estimator objects.
  const auto estimator_b = TestType::make();
  auto model_b = make_model<S>(2);
  Adam<S> adam_b(model_b.num_params(), {.lr = 0.05});
  Trainer resumed(model_b, estimator_b, adam_b, options(dir_b, total_iterations));
  resumed.set_evaluator({"norm"}, evaluate(model_b));
  std::mt19937_64 rng_b(12345);
  resumed.resume(resumed.checkpoint_path(), rng_b);
  CHECK(resumed.start_iteration() == (interruption == Interruption::CrashMidWindow    ? 18
                                      : interruption == Interruption::EvaluatorThrows ? 16
                                                                                       : 22));
  const auto result_b = resumed.run(next_batch<S>, rng_b);
  REQUIRE(result_b.iterations == total_iterations);

  CAPTURE(max_difference<S>(model_b.params(), model_a.params()));
  CHECK(model_b.params() == model_a.params());
  CHECK(adam_b.step_count() == adam_a.step_count());
  CHECK(adam_b.first_moment() == adam_a.first_moment());
  CHECK(adam_b.second_moment() == adam_a.second_moment());
  CHECK(rng_b == rng_a);
  const EstimatorState state_a = state_of(estimator_a), state_b = state_of(estimator_b);
  CHECK(same_matrices(state_b.single, state_a.single));
  CHECK(same_matrices(state_b.twice, state_a.twice));
  CHECK(result_b.final_loss == result_a.final_loss);
  CHECK(log_lines_without_wall_time(std::filesystem::path(dir_b) / "log.csv") ==
        log_lines_without_wall_time(std::filesystem::path(dir_a) / "log.csv"));
}

// ---------------------------------------------------------------------------------------------
// A resume that fails changes nothing.

namespace {

using Pcd = PersistentContrastiveDivergence<GibbsSampler>;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TrainerOptions short_options(const std::string& dir, const std::string& tag = "resume test") {
  return {.iterations = 12, .clip_norm = 1.0, .log_every = 4, .checkpoint_every = 5, .out_dir = dir, .tag = tag,
          .progress = false};
}

// Trains `model` with `estimator` and `optimizer` for 12 iterations in `dir`; returns the checkpoint path.
template <class M, class E, class O>
std::string write_checkpoint(const std::string& dir, M& model, const E& estimator, O& optimizer,
                             const std::string& tag = "resume test") {
  Trainer trainer(model, estimator, optimizer, short_options(dir, tag));
  std::mt19937_64 rng(3);
  auto batches = [&](Matrix<double>& batch, std::mt19937_64& r) {
    batch.resize(8, model.dim());
    for (Index k = 0; k < batch.size(); ++k) batch(k) = uniform_open01(r) < 0.3 ? 1.0 : 0.0;
  };
  REQUIRE_FALSE(trainer.run(batches, rng).failed);
  return trainer.checkpoint_path();
}

// A checkpoint in format version 1 (no log window, no estimator state), as written before version 2.
void write_version1(const std::string& path, const TrainingSnapshot<double>& s) {
  detail::PayloadWriter payload;
  payload.put(s.iteration);
  payload.put(s.wall_seconds);
  payload.put_string(s.tag);
  payload.put_vector(s.params);
  payload.put(s.optimizer_steps);
  payload.put<std::uint64_t>(s.optimizer_buffers.size());
  for (const auto& b : s.optimizer_buffers) payload.put_vector(b);
  payload.put_string(s.rng_state);
  detail::PayloadWriter head;
  head.put<std::uint32_t>(1);
  head.put<std::uint32_t>(sizeof(double));
  head.put<std::uint64_t>(payload.bytes().size());
  const std::uint64_t checksum = detail::fnv1a64(payload.bytes());
  std::string bytes(detail::checkpoint_magic, sizeof(detail::checkpoint_magic));
  bytes += head.bytes() + payload.bytes();
  bytes.append(reinterpret_cast<const char*>(&checksum), sizeof(checksum));
  write_all(path, bytes);
}

}  // namespace

TEST_CASE("a checkpoint that does not match leaves model, optimizer, engine and estimator untouched",
          "[train][resume][strong]") {
  const auto dir = fresh_dir("strong");
  const auto good_dir = dir + "/good";
  std::string good;
  {
    auto model = make_model<double>(5);
    const Pcd pcd(GibbsSampler(1.0), 5, 1);
    Adam<double> adam(model.num_params(), {.lr = 0.05});
    good = write_checkpoint(good_dir, model, pcd, adam);
  }
  const std::string bad = dir + "/bad.bin";
  std::string expected;  // what the message must say besides the file's name
  std::string tag = "resume test";
  std::string path = bad;

  SECTION("another run's tag") {
    path = good;
    tag = "another run";
    expected = "belongs to another run ('resume test'), expected 'another run'";
  }
  SECTION("another number of parameters") {
    IsingModel<double> wide(dim + 1);
    const Pcd pcd(GibbsSampler(1.0), 5, 1);
    Adam<double> adam(wide.num_params(), {.lr = 0.05});
    path = write_checkpoint(dir + "/wide", wide, pcd, adam);
    expected = "has 30 parameters, the model 20";
  }
  SECTION("another optimizer kind (written with Sgd, resumed with Adam)") {
    auto model = make_model<double>(5);
    const Pcd pcd(GibbsSampler(1.0), 5, 1);
    Sgd<double> sgd(model.num_params(), {.lr = 0.05, .momentum = 0.9});
    path = write_checkpoint(dir + "/sgd", model, pcd, sgd);
    expected = "optimizer state that does not fit this optimizer (another kind or shape): ratiomatch::Adam::check_state: "
               "buffers.size() (1) must equal 2";
  }
  SECTION("an unreadable engine state") {
    auto snapshot = load_checkpoint<double>(good);
    snapshot.rng_state = "12 not an engine";
    save_checkpoint(bad, snapshot);
    expected = "has an unreadable engine state";
  }
  SECTION("an engine state with trailing garbage") {
    auto snapshot = load_checkpoint<double>(good);
    snapshot.rng_state += " 17";
    save_checkpoint(bad, snapshot);
    expected = "has an unreadable engine state";
  }
  SECTION("chains of another shape (3 chains, the estimator has 5)") {
    auto model = make_model<double>(5);
    const Pcd pcd(GibbsSampler(1.0), 3, 1);
    Adam<double> adam(model.num_params(), {.lr = 0.05});
    path = write_checkpoint(dir + "/chains", model, pcd, adam);
    expected = "estimator state that does not fit this estimator: "
               "ratiomatch::PersistentContrastiveDivergence::check_state: state.twice[0].rows() (3) must equal "
               "num_chains() (5)";
  }
  SECTION("no estimator state (written by a stateless estimator)") {
    auto model = make_model<double>(5);
    const RatioMatching<> rm;
    Adam<double> adam(model.num_params(), {.lr = 0.05});
    path = write_checkpoint(dir + "/stateless", model, rm, adam);
    expected = "state.single.size() (0) must equal 1";
  }
  SECTION("a format version 1 file, which has no chains") {
    write_version1(bad, load_checkpoint<double>(good));
    expected = "was written in format version 1";
  }
  SECTION("an inconsistent log window") {
    auto snapshot = load_checkpoint<double>(good);
    snapshot.window_count = 1000;
    save_checkpoint(bad, snapshot);
    expected = "has an inconsistent log window";
  }
  SECTION("a corrupt byte (checksum)") {
    std::string bytes = read_all(good);
    bytes[bytes.size() / 2] ^= 0x10;
    write_all(bad, bytes);
    expected = "fails its checksum";
  }
  SECTION("a truncated file") {
    const std::string bytes = read_all(good);
    write_all(bad, bytes.substr(0, bytes.size() - 20));
    expected = "is truncated or corrupt";
  }
  SECTION("a missing file") {
    path = dir + "/missing.bin";
    expected = "cannot open";
  }

  // The victim: a model, an optimizer with state, a started estimator and an engine.
  auto model = make_model<double>(11);
  Adam<double> adam(model.num_params(), {.lr = 0.05});
  const Pcd pcd(GibbsSampler(1.0), 5, 1);
  std::mt19937_64 rng(77);
  {
    Matrix<double> batch;
    Vector<double> grad;
    for (int k = 0; k < 3; ++k) {
      next_batch<double>(batch, rng);
      pcd.loss_and_gradient(model, batch, rng, grad);
      auto params = model.params();
      adam.step(params, grad);
    }
  }
  const Vector<double> params_before = model.params();
  const Vector<double> m_before = adam.first_moment(), v_before = adam.second_moment();
  const Index steps_before = adam.step_count();
  const Matrix<double> chains_before = pcd.chains<double>();
  REQUIRE(chains_before.rows() == 5);
  const std::mt19937_64 rng_before = rng;

  Trainer trainer(model, pcd, adam, short_options(dir + "/victim", tag));
  std::string message = "(no CheckpointError)";
  try {
    trainer.resume(path, rng);
  } catch (const CheckpointError& e) {
    message = e.what();
  }
  CHECK_THAT(message, Catch::Matchers::Contains("'" + path + "'") && Catch::Matchers::Contains(expected));
  CHECK(model.params() == params_before);
  CHECK(adam.step_count() == steps_before);
  CHECK(adam.first_moment() == m_before);
  CHECK(adam.second_moment() == v_before);
  CHECK(pcd.chains<double>() == chains_before);
  CHECK(rng == rng_before);
  CHECK(trainer.start_iteration() == 0);
}

TEST_CASE("a format version 1 checkpoint of a stateless estimator still resumes", "[train][resume]") {
  const auto dir = fresh_dir("version1");
  auto model = make_model<double>(5);
  const GradientGuidedRM<> estimator(2, GuidedVariant::Basic);
  Adam<double> adam(model.num_params(), {.lr = 0.05});
  const auto path = write_checkpoint(dir, model, estimator, adam);
  auto snapshot = load_checkpoint<double>(path);
  REQUIRE(snapshot.estimator_state);
  write_version1(path, snapshot);
  const auto old = load_checkpoint<double>(path);
  CHECK_FALSE(old.estimator_state);
  CHECK(old.window_count == 0);
  CHECK(old.params == snapshot.params);

  auto other = make_model<double>(6);
  Adam<double> other_adam(other.num_params(), {.lr = 0.05});
  Trainer trainer(other, estimator, other_adam, short_options(dir));
  std::mt19937_64 rng(1);
  trainer.resume(path, rng);
  CHECK(trainer.start_iteration() == 12);
  CHECK(other.params() == snapshot.params);
  CHECK(other_adam.step_count() == 12);
}

TEST_CASE("a stateless estimator refuses a checkpoint that holds estimator state", "[train][resume][strong]") {
  const auto dir = fresh_dir("stateless_victim");
  std::string path;
  {
    auto model = make_model<double>(5);
    const Pcd pcd(GibbsSampler(1.0), 5, 1);
    Adam<double> adam(model.num_params(), {.lr = 0.05});
    path = write_checkpoint(dir + "/pcd", model, pcd, adam);
  }
  auto model = make_model<double>(8);
  const Vector<double> before = model.params();
  const RatioMatching<> rm;
  Adam<double> adam(model.num_params(), {.lr = 0.05});
  Trainer trainer(model, rm, adam, short_options(dir + "/victim"));
  std::mt19937_64 rng(4);
  const std::mt19937_64 rng_before = rng;
  CHECK_THROWS_WITH(trainer.resume(path, rng),
                    Catch::Matchers::Contains("'" + path + "' holds estimator state (1 float and 1 double matrices), "
                                              "but this estimator keeps none"));
  CHECK(model.params() == before);
  CHECK(adam.step_count() == 0);
  CHECK(rng == rng_before);
}
