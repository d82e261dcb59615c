#pragma once
/// @file
/// @brief `Trainer`: runs an estimator and an optimizer over a data source, with a progress
/// bar, a CSV log, periodic checkpoints and bit-identical resumption.

#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/continuous_concepts.hpp"
#include "ratiomatch/core/denormals.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/estimator_state.hpp"
#include "ratiomatch/io/checkpoint.hpp"
#include "ratiomatch/optim/gradient_clipping.hpp"
#include "ratiomatch/train/csv_log.hpp"
#include "ratiomatch/train/log_window.hpp"
#include "ratiomatch/train/progress_reporter.hpp"

namespace ratiomatch {

/// @brief What the trainer needs of an optimizer: a step, and its state for checkpoints —
/// `state_buffers()` to save it, `check_state(steps, buffers)` to validate a saved state without
/// changing anything (throwing `std::invalid_argument`), and `restore_state(steps, buffers)`.
template <class O, class S>
concept CheckpointableOptimizer = requires(O& opt, const O& copt, Vector<S>& params, const Vector<S>& grad,
                                           const std::vector<Vector<S>>& buffers) {
  opt.step(params, grad);
  { copt.step_count() } -> std::convertible_to<Index>;
  { copt.state_buffers() } -> std::convertible_to<std::vector<Vector<S>>>;
  copt.check_state(Index{0}, buffers);
  opt.restore_state(Index{0}, buffers);
};

/// @brief Settings of a training run (designated initialisers welcome).
struct TrainerOptions {
  Index iterations = 1000;        ///< the last iteration of the run
  double clip_norm = 1.0;         ///< global gradient-norm clipping; ≤ 0 disables it
  Index log_every = 100;          ///< iterations between CSV rows (mean loss over the window)
  Index eval_every = 0;           ///< iterations between evaluations, a multiple of `log_every` (0: only at the end)
  Index checkpoint_every = 1000;  ///< iterations between checkpoints (0: only at the end)
  std::string out_dir;            ///< where log.csv and checkpoint.bin go; empty: no files
  std::string tag;                ///< describes the run; a checkpoint of another tag is refused
  bool progress = true;           ///< report progress on standard error
  double max_seconds = 0;         ///< stop once the training time (evaluations excluded) exceeds this; 0: no limit
  /// Run (steps and evaluations) with subnormal numbers flushed to zero (`DenormalFlush`): they
  /// slowed a long MLP run tenfold; false keeps IEEE gradual underflow.
  bool flush_denormals = true;
};

/// @brief How a run ended.
struct TrainResult {
  Index iterations = 0;                ///< the last completed iteration
  double final_loss = std::numeric_limits<double>::quiet_NaN();  ///< mean loss of the last log window
  double wall_seconds = 0;             ///< training time (evaluations excluded), including before a resume
  double eval_seconds = 0;             ///< time spent in the evaluator by this process
  double iterations_per_second = 0;    ///< training iterations per second of this process (evaluations excluded)
  bool failed = false;                 ///< stopped by a numerical failure
  bool out_of_time = false;            ///< stopped by `max_seconds` before the last iteration
  std::string message;                 ///< why it stopped, if it failed
};

/// @brief Trains `model` by `estimator.loss_and_gradient` + gradient clipping + `optimizer.step`.
///
/// Each iteration draws a batch with `next_batch(batch, rng)`, so data and estimator share
/// one `std::mt19937_64` whose state goes into every checkpoint: resuming from a checkpoint
/// continues the same run bit for bit (the data source must keep no state of its own, and
/// the evaluator must not use the training engine). A checkpoint holds the model's
/// parameters, the optimizer's state, the engine, the open log window and, when the estimator
/// is a `StatefulEstimator` (e.g. PCD's persistent chains), the estimator's state; so model,
/// optimizer, engine, estimator and `log.csv` of a resumed run equal those of an uninterrupted
/// one. A non-finite loss, gradient or parameter stops the run with a message; the last good
/// checkpoint is kept. So does a `NumericalError` from the evaluator, after logging the row
/// (evaluation columns NaN) and checkpointing the evaluated iteration; a run resumed from that
/// checkpoint keeps the row and does not repeat the evaluation. Any other exception of the
/// evaluator (a bug in it, an interrupt) propagates after a checkpoint of the evaluated iteration
/// whose row is left unwritten: the next `run`, after `resume` or on the same trainer, writes that
/// row first, evaluating again. An exception of the data source propagates after a checkpoint of
/// the last finished iteration, with the engine as it was before the failed draw. Either way the
/// training it interrupts is not lost, and the resumed run still equals an uninterrupted one.
/// A log row or checkpoint that cannot be written (a full disk) throws `std::runtime_error` out
/// of `run`; the files are never half-written, so the run resumes from the last checkpoint that
/// was, with the log as it was then (a row cut short is dropped).
///
/// Log rows are written every `log_every` iterations (the means over the window since the
/// previous row) and at the last iteration of a run; a row at the last iteration that is not
/// a multiple of `log_every` does not close the window, and is dropped from the log when the
/// run is resumed past it, so that an extended run's log equals an uninterrupted one's.
///
/// The trainer keeps references to the model, the estimator and the optimizer, which must
/// outlive it: passing a temporary estimator does not compile (the rvalue overload is deleted),
/// and model and optimizer are taken by non-const reference, which no temporary binds to.
template <class M, class Estimator, class Optimizer>
class Trainer {
 public:
  using Scalar = typename M::Scalar;
  /// @brief Extra CSV columns computed every `eval_every` iterations, e.g. an MMD.
  using Evaluator = std::function<std::vector<double>(Index iteration)>;

  /// @param model the model, trained in place (kept by reference)
  /// @param estimator the estimator (kept by reference; its state, if any, is updated by training)
  /// @param optimizer the optimizer (kept by reference)
  /// @param options the settings of the run
  /// @throws std::invalid_argument unless `iterations` and `log_every` are positive, `eval_every`
  ///         and `checkpoint_every` are 0 or positive, `eval_every` is a multiple of `log_every`
  ///         or at least `iterations`, `clip_norm` is not NaN and `max_seconds` is 0 or positive
  Trainer(M& model, const Estimator& estimator, Optimizer& optimizer, TrainerOptions options)
      : model_(model), estimator_(estimator), optimizer_(optimizer), options_(std::move(options)) {
    static_assert(EnergyModel<M> || ContinuousEnergyModel<M>,
                  "Trainer needs an EnergyModel or a ContinuousEnergyModel: see docs/model_requirements.md");
    static_assert(CheckpointableOptimizer<Optimizer, Scalar>,
                  "Trainer needs an optimizer with step, step_count, state_buffers, check_state and restore_state");
    constexpr std::string_view where = "ratiomatch::Trainer::Trainer";
    check_positive(where, "iterations", options_.iterations);
    check_positive(where, "log_every", options_.log_every);
    const auto refuse = [&](const auto&... what) { throw std::invalid_argument(detail::message(where, what...)); };
    if (options_.eval_every < 0) refuse("eval_every (", options_.eval_every, ") must be 0 or positive");
    // Evaluations are columns of the log's rows, so they can only fall on rows (or on the last
    // iteration, which always has one).
    if (options_.eval_every % options_.log_every != 0 && options_.eval_every < options_.iterations)
      refuse("eval_every (", options_.eval_every, ") must be a multiple of log_every (", options_.log_every,
             ") unless it is at least iterations (", options_.iterations, "): evaluations are written in log rows");
    if (options_.checkpoint_every < 0) refuse("checkpoint_every (", options_.checkpoint_every, ") must be 0 or positive");
    if (std::isnan(options_.clip_norm)) refuse("clip_norm is NaN (≤ 0 disables clipping)");
    if (!(options_.max_seconds >= 0)) refuse("max_seconds (", options_.max_seconds, ") must be 0 (no limit) or positive");
  }

  /// @brief Deleted: the trainer keeps a reference to its estimator, which a temporary would
  /// leave dangling. Name the estimator: `const RatioMatching<> rm; Trainer t(model, rm, adam, options);`.
  Trainer(M& model, const Estimator&& estimator, Optimizer& optimizer, TrainerOptions options) = delete;

  /// @brief Adds evaluation columns to the log.
  void set_evaluator(std::vector<std::string> columns, Evaluator evaluator) {
    eval_columns_ = std::move(columns);
    evaluator_ = std::move(evaluator);
  }

  /// @brief Path of the checkpoint file (`out_dir/checkpoint.bin`).
  std::string checkpoint_path() const { return (std::filesystem::path(options_.out_dir) / "checkpoint.bin").string(); }

  /// @brief Loads model parameters, optimizer state, engine, estimator state, log window and
  /// iteration from `path`.
  ///
  /// Strong guarantee: the whole file is read and every part checked against the model, the
  /// optimizer (`check_state`), the engine and the estimator (`check_state`) before anything is
  /// assigned, so after an exception the model, optimizer, engine, estimator and trainer are as
  /// they were.
  /// @throws CheckpointError naming the file and what does not match: unreadable, corrupt
  ///   (checksum) or truncated file; another run's tag; another number of parameters or a
  ///   non-finite one; an optimizer state of another kind or shape; an unreadable engine state;
  ///   an estimator state that does not fit the estimator (or state in the file for a stateless
  ///   estimator, or none in a version 1 file for a stateful one); an inconsistent log window
  void resume(const std::string& path, std::mt19937_64& rng) {
    const auto snapshot = load_checkpoint<Scalar>(path);
    auto refuse = [&](const std::string& what) {
      throw CheckpointError("ratiomatch::Trainer::resume: '" + path + "' " + what);
    };
    // 1. Check everything.
    if (snapshot.tag != options_.tag)
      refuse("belongs to another run ('" + snapshot.tag + "'), expected '" + options_.tag + "'");
    if (snapshot.params.size() != model_.num_params())
      refuse("has " + std::to_string(snapshot.params.size()) + " parameters, the model " +
             std::to_string(model_.num_params()));
    if (!snapshot.params.allFinite()) refuse("has a non-finite parameter");
    const auto optimizer_steps = static_cast<Index>(snapshot.optimizer_steps);
    try {
      optimizer_.check_state(optimizer_steps, snapshot.optimizer_buffers);
    } catch (const std::invalid_argument& e) {
      refuse(std::string("holds an optimizer state that does not fit this optimizer (another kind or shape): ") +
             e.what());
    }
    std::mt19937_64 engine;
    {
      std::istringstream state(snapshot.rng_state);
      state >> engine;
      if (!state || !(state >> std::ws).eof()) refuse("has an unreadable engine state");
    }
    const auto window_count = static_cast<Index>(snapshot.window_count);
    try {
      LogWindow::check("ratiomatch::Trainer::resume", snapshot.window_loss, snapshot.window_norm, window_count);
      if (window_count > static_cast<Index>(snapshot.iteration))
        throw std::invalid_argument("the log window has more iterations than the run");
    } catch (const std::invalid_argument& e) {
      refuse(std::string("has an inconsistent log window: ") + e.what());
    }
    if constexpr (StatefulEstimator<Estimator>) {
      if (!snapshot.estimator_state)
        refuse("was written in format version 1, which does not store the estimator's state (e.g. PCD chains); "
               "the run cannot be resumed bit for bit");
      try {
        estimator_.check_state(*snapshot.estimator_state);
      } catch (const std::invalid_argument& e) {
        refuse(std::string("holds an estimator state that does not fit this estimator: ") + e.what());
      }
    } else {
      if (snapshot.estimator_state && !snapshot.estimator_state->empty())
        refuse("holds estimator state (" + std::to_string(snapshot.estimator_state->single.size()) + " float and " +
               std::to_string(snapshot.estimator_state->twice.size()) +
               " double matrices), but this estimator keeps none: it was written by another estimator");
    }
    // 2. Assign. Everything was checked; only the estimator's restore can still throw
    // (std::bad_alloc), and it is first and strong itself.
    if constexpr (StatefulEstimator<Estimator>) estimator_.restore_state(*snapshot.estimator_state);
    optimizer_.restore_state(optimizer_steps, snapshot.optimizer_buffers);
    model_.params() = snapshot.params;
    rng = engine;
    window_.restore(snapshot.window_loss, snapshot.window_norm, window_count);
    start_iteration_ = static_cast<Index>(snapshot.iteration);
    wall_before_ = snapshot.wall_seconds;
    resumed_ = true;
    row_owed_ = false;  // the log tells
  }

  /// @brief The iteration the next `run` starts after (non-zero after `resume`).
  Index start_iteration() const { return start_iteration_; }

  /// @brief Runs from the current iteration to `options.iterations`.
  /// @param next_batch `next_batch(batch, rng)` fills the batch (resizing it) from `rng` only
  /// @param rng the training engine (data and estimator), saved in every checkpoint
  /// @throws whatever `next_batch`, the evaluator, the estimator or file output throw. When the
  ///   data source or the evaluator throws, the finished iterations are checkpointed first (with
  ///   an output folder) and the trainer is left ready to `run` on from them; after any other
  ///   exception, `resume` from the last checkpoint. A numerical failure of a step or of the
  ///   evaluator (`NumericalError`, e.g. an AIS estimate that is not finite) is not thrown but
  ///   reported in the result; a failed evaluation then leaves its log row (evaluation columns
  ///   NaN) and a checkpoint of the iteration it evaluated, whose step had succeeded.
  template <class DataSource>
  TrainResult run(DataSource&& next_batch, std::mt19937_64& rng) {
    using Clock = std::chrono::steady_clock;
    const DenormalFlush flush(options_.flush_denormals);  // restored when run returns or throws
    std::unique_ptr<CsvLog> log = open_log();
    ProgressReporter progress(options_.iterations, start_iteration_, std::cerr,
                              ProgressReporter::stderr_is_terminal(), options_.log_every);
    TrainResult result;
    result.iterations = start_iteration_;
    Index last_checkpoint = resumed_ ? start_iteration_ : -1;
    const auto begin = Clock::now();
    double eval_seconds = 0;
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - begin).count() - eval_seconds; };
    auto wall = [&] { return wall_before_ + elapsed(); };
    // Leaves the trainer at `finished` (model, engine and window are there) and the caller with
    // the exception: a checkpoint first, unless nothing new was trained or it is already on disk.
    auto stop_for_exception = [&](Index finished, const std::mt19937_64& engine, std::exception_ptr error) {
      if (!options_.out_dir.empty() && finished > start_iteration_ && finished != last_checkpoint)
        save_before_rethrow(finished, wall(), engine);
      if (options_.progress) progress.finish();
      wall_before_ = wall();
      start_iteration_ = finished;
      resumed_ = finished > 0;  // a next run keeps the log written so far
      std::rethrow_exception(error);
    };

    // The row that a throwing evaluator left unwritten at the iteration this run starts after.
    const bool starts_at_a_row = start_iteration_ > 0 && (start_iteration_ % options_.log_every == 0 ||
                                                          start_iteration_ == options_.iterations);
    const bool row_owed = log ? log->last_iteration().value_or(0) < start_iteration_ : row_owed_;
    if (evaluator_ && starts_at_a_row && row_owed) {
      const Index it = start_iteration_;
      result.final_loss = window_.mean_loss();
      const EvalFailure owed = write_row(log.get(), it, it == options_.iterations, wall(), eval_seconds);
      if (owed.other) stop_for_exception(it, rng, owed.other);  // still owed; the checkpoint stands
      if (it % options_.log_every == 0) window_.clear();
      row_owed_ = false;
      if (!options_.out_dir.empty()) save(it, wall(), rng);  // the checkpoint now holds the closed window
      if (!owed.numerical.empty()) fail(result, it, "the evaluation failed: " + owed.numerical, it);
    }

    for (Index it = start_iteration_ + 1; it <= options_.iterations && !result.failed; ++it) {
      const std::mt19937_64 engine_before = rng;  // a data source that throws may have drawn from it
      try {
        next_batch(batch_, rng);
      } catch (...) {
        rng = engine_before;  // as the checkpoint has it, for a next run on this trainer
        stop_for_exception(it - 1, engine_before, std::current_exception());
      }
      const StepOutcome outcome = step(rng);
      if (!outcome.failure.empty()) {
        fail(result, it, outcome.failure, last_checkpoint);
        break;
      }
      result.iterations = it;
      window_.add(outcome.loss, outcome.grad_norm);
      const bool out_of_time = options_.max_seconds > 0 && wall() >= options_.max_seconds && it < options_.iterations;
      const bool last = it == options_.iterations || out_of_time;
      EvalFailure eval_failure;
      if (it % options_.log_every == 0 || last) {
        result.final_loss = window_.mean_loss();
        eval_failure = write_row(log.get(), it, last, wall(), eval_seconds);
        if (eval_failure.other) {  // no row was written: the window stays open for the owed row
          row_owed_ = true;
          stop_for_exception(it, rng, eval_failure.other);
        }
        if (it % options_.log_every == 0) window_.clear();  // a forced last row leaves the window open
      }
      if (checkpoint_due(it, last || eval_failure.any())) {  // a failed evaluation ends the run
        save(it, wall(), rng);
        last_checkpoint = it;
      }
      if (!eval_failure.numerical.empty()) {
        fail(result, it, "the evaluation failed: " + eval_failure.numerical, last_checkpoint);
        break;
      }
      if (options_.progress) progress.update(it, outcome.loss);
      if (out_of_time) {
        result.out_of_time = true;
        break;
      }
    }
    if (options_.progress) progress.finish();
    const double seconds = elapsed();
    result.wall_seconds = wall_before_ + seconds;
    result.eval_seconds = eval_seconds;
    result.iterations_per_second = seconds > 0 ? static_cast<double>(result.iterations - start_iteration_) / seconds : 0;
    start_iteration_ = result.iterations;
    wall_before_ = result.wall_seconds;
    if (!result.failed) resumed_ = resumed_ || result.iterations > 0;  // a next run (more time) keeps the log
    return result;
  }

 private:
  /// What one iteration produced: its loss and its gradient's norm before clipping, or why it failed.
  struct StepOutcome {
    double loss = 0;
    double grad_norm = 0;
    std::string failure;  // empty on success
  };

  // The step on the drawn batch: the estimator's loss and gradient, clipping, the optimizer.
  StepOutcome step(std::mt19937_64& rng) {
    StepOutcome outcome;
    try {
      const Scalar loss = estimator_.loss_and_gradient(model_, batch_, rng, grad_);
      check_finite("ratiomatch::Trainer::run", "loss", loss);
      outcome.loss = static_cast<double>(loss);
      outcome.grad_norm = options_.clip_norm > 0 ? static_cast<double>(clip_gradient_norm(grad_, options_.clip_norm))
                                                 : static_cast<double>(grad_.norm());
      check_finite("ratiomatch::Trainer::run", "gradient norm", outcome.grad_norm);
    } catch (const NumericalError& e) {
      outcome.failure = e.what();
      return outcome;
    }
    auto params = model_.params();
    optimizer_.step(params, grad_);
    if (!all_finite(params)) outcome.failure = "a parameter is not finite after the optimizer step";
    return outcome;
  }

  // The log: opened fresh, or on resume keeping the rows up to the checkpoint. A row at the
  // checkpoint's iteration off the `log_every` grid was a run's forced last row, which an
  // uninterrupted run does not have: it is dropped when the run continues past it.
  std::unique_ptr<CsvLog> open_log() const {
    if (options_.out_dir.empty()) return nullptr;
    std::filesystem::create_directories(options_.out_dir);
    std::vector<std::string> columns{"iteration", "loss", "grad_norm", "wall_seconds"};
    columns.insert(columns.end(), eval_columns_.begin(), eval_columns_.end());
    const auto log_path = (std::filesystem::path(options_.out_dir) / "log.csv").string();
    if (!resumed_) return std::make_unique<CsvLog>(log_path, columns);
    const bool continues = start_iteration_ < options_.iterations;
    const bool off_grid = start_iteration_ % options_.log_every != 0;
    return std::make_unique<CsvLog>(log_path, columns, continues && off_grid ? start_iteration_ - 1 : start_iteration_);
  }

  // What a throwing evaluator left: a numerical failure ends the run with a message and a row of
  // NaN; any other exception is rethrown with the row unwritten, to be written by the next run.
  struct EvalFailure {
    std::string numerical;     // what() of a NumericalError
    std::exception_ptr other;  // anything else
    bool any() const { return !numerical.empty() || other; }
  };

  // One log row: the window's means, and the evaluator's columns when an evaluation is due
  // (NaN if it failed numerically; no row at all if it threw anything else). Returns the failure.
  EvalFailure write_row(CsvLog* log, Index it, bool last, double wall_seconds, double& eval_seconds) {
    const bool evaluate = evaluator_ && ((options_.eval_every > 0 && it % options_.eval_every == 0) || last);
    std::vector<double> row{static_cast<double>(it), window_.mean_loss(), window_.mean_grad_norm(), wall_seconds};
    EvalFailure failure;
    if (evaluate) {
      const auto eval_begin = std::chrono::steady_clock::now();
      try {
        const auto values = evaluator_(it);
        row.insert(row.end(), values.begin(), values.end());
      } catch (const NumericalError& e) {
        failure.numerical = e.what();
      } catch (...) {
        failure.other = std::current_exception();
      }
      eval_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_begin).count();
      if (failure.other) return failure;
    }
    if (!evaluate || failure.any())  // a row has every column; CsvLog refuses a wrong count
      row.resize(4 + eval_columns_.size(), std::numeric_limits<double>::quiet_NaN());
    if (log) log->row(row);
    return failure;
  }

  // The checkpoint policy: every `checkpoint_every` iterations and at the last one of a run.
  bool checkpoint_due(Index it, bool last) const {
    return !options_.out_dir.empty() &&
           ((options_.checkpoint_every > 0 && it % options_.checkpoint_every == 0) || last);
  }

  void fail(TrainResult& result, Index iteration, const std::string& what, Index last_checkpoint) const {
    result.failed = true;
    result.message = "training stopped at iteration " + std::to_string(iteration) + ": " + what;
    if (!options_.out_dir.empty() && last_checkpoint >= 0)
      result.message += "; the last good checkpoint is '" + checkpoint_path() + "' (iteration " +
                        std::to_string(last_checkpoint) + ")";
    else
      result.message += "; no checkpoint was written";
  }

  // A checkpoint on the way out of an exception: if writing it fails too, that is reported on
  // stderr, so that the caller still gets the first exception rather than the write's.
  void save_before_rethrow(Index iteration, double wall_seconds, const std::mt19937_64& rng) const {
    try {
      save(iteration, wall_seconds, rng);
    } catch (const std::exception& e) {
      std::cerr << "ratiomatch::Trainer::run: could not checkpoint iteration " << iteration
                << " before passing on an exception: " << e.what() << '\n';
    }
  }

  void save(Index iteration, double wall_seconds, const std::mt19937_64& rng) const {
    TrainingSnapshot<Scalar> snapshot;
    snapshot.iteration = static_cast<std::uint64_t>(iteration);
    snapshot.wall_seconds = wall_seconds;
    snapshot.tag = options_.tag;
    snapshot.params = model_.params();
    snapshot.optimizer_steps = static_cast<std::uint64_t>(optimizer_.step_count());
    snapshot.optimizer_buffers = optimizer_.state_buffers();
    std::ostringstream state;
    state << rng;
    snapshot.rng_state = state.str();
    snapshot.window_loss = window_.loss_sum();
    snapshot.window_norm = window_.norm_sum();
    snapshot.window_count = static_cast<std::uint64_t>(window_.count());
    if constexpr (StatefulEstimator<Estimator>) snapshot.estimator_state = estimator_.state_buffers();
    save_checkpoint(checkpoint_path(), snapshot);
  }

  M& model_;
  const Estimator& estimator_;
  Optimizer& optimizer_;
  TrainerOptions options_;
  std::vector<std::string> eval_columns_;
  Evaluator evaluator_;
  LogWindow window_;
  Matrix<Scalar> batch_;
  Vector<Scalar> grad_;
  Index start_iteration_ = 0;
  double wall_before_ = 0;
  bool resumed_ = false;
  bool row_owed_ = false;  // the evaluator threw at start_iteration_ (read from the log when there is one)
};

}  // namespace ratiomatch
