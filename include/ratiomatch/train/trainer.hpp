#pragma once
/// @file
/// @brief `Trainer`: runs an estimator and an optimizer over a data source, with a progress
/// bar, a CSV log, periodic checkpoints and bit-identical resumption.

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/io/checkpoint.hpp"
#include "ratiomatch/optim/gradient_clipping.hpp"
#include "ratiomatch/train/csv_log.hpp"
#include "ratiomatch/train/progress_reporter.hpp"

namespace ratiomatch {

/// @brief What the trainer needs of an optimizer: a step, and its state for checkpoints.
template <class O, class S>
concept CheckpointableOptimizer = requires(O& opt, const O& copt, Vector<S>& params, const Vector<S>& grad,
                                           const std::vector<Vector<S>>& buffers) {
  opt.step(params, grad);
  { copt.step_count() } -> std::convertible_to<Index>;
  { copt.state_buffers() } -> std::convertible_to<std::vector<Vector<S>>>;
  opt.restore_state(Index{0}, buffers);
};

/// @brief Settings of a training run (designated initialisers welcome).
struct TrainerOptions {
  Index iterations = 1000;        ///< the last iteration of the run
  double clip_norm = 1.0;         ///< global gradient-norm clipping; ≤ 0 disables it
  Index log_every = 100;          ///< iterations between CSV rows (mean loss over the window)
  Index eval_every = 0;           ///< iterations between evaluations (0: only at the end)
  Index checkpoint_every = 1000;  ///< iterations between checkpoints (0: only at the end)
  std::string out_dir;            ///< where log.csv and checkpoint.bin go; empty: no files
  std::string tag;                ///< describes the run; a checkpoint of another tag is refused
  bool progress = true;           ///< report progress on standard error
  double max_seconds = 0;         ///< stop once the training time (evaluations excluded) exceeds this; 0: no limit
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
/// the evaluator must not use the training engine). A non-finite loss, gradient or parameter
/// stops the run with a message; the last good checkpoint is kept.
template <class M, class Estimator, class Optimizer>
class Trainer {
 public:
  using Scalar = typename M::Scalar;
  /// @brief Extra CSV columns computed every `eval_every` iterations, e.g. an MMD.
  using Evaluator = std::function<std::vector<double>(Index iteration)>;

  Trainer(M& model, const Estimator& estimator, Optimizer& optimizer, TrainerOptions options)
      : model_(model), estimator_(estimator), optimizer_(optimizer), options_(std::move(options)) {
    static_assert(EnergyModel<M>, "Trainer needs an EnergyModel: see docs/model_requirements.md");
    static_assert(CheckpointableOptimizer<Optimizer, Scalar>,
                  "Trainer needs an optimizer with step, step_count, state_buffers and restore_state");
    check_positive("ratiomatch::Trainer::Trainer", "iterations", options_.iterations);
    check_positive("ratiomatch::Trainer::Trainer", "log_every", options_.log_every);
  }

  /// @brief Adds evaluation columns to the log.
  void set_evaluator(std::vector<std::string> columns, Evaluator evaluator) {
    eval_columns_ = std::move(columns);
    evaluator_ = std::move(evaluator);
  }

  /// @brief Path of the checkpoint file (`out_dir/checkpoint.bin`).
  std::string checkpoint_path() const { return (std::filesystem::path(options_.out_dir) / "checkpoint.bin").string(); }

  /// @brief Loads model, optimizer, engine and iteration from `path`.
  /// @throws CheckpointError if the file is unreadable, corrupt, or from another run
  void resume(const std::string& path, std::mt19937_64& rng) {
    const auto snapshot = load_checkpoint<Scalar>(path);
    if (snapshot.tag != options_.tag)
      throw CheckpointError("ratiomatch::Trainer::resume: '" + path + "' belongs to another run ('" + snapshot.tag +
                            "'), expected '" + options_.tag + "'");
    if (snapshot.params.size() != model_.num_params())
      throw CheckpointError("ratiomatch::Trainer::resume: '" + path + "' has " + std::to_string(snapshot.params.size()) +
                            " parameters, the model " + std::to_string(model_.num_params()));
    model_.params() = snapshot.params;
    optimizer_.restore_state(static_cast<Index>(snapshot.optimizer_steps), snapshot.optimizer_buffers);
    std::istringstream state(snapshot.rng_state);
    state >> rng;
    if (!state) throw CheckpointError("ratiomatch::Trainer::resume: '" + path + "' has an unreadable engine state");
    start_iteration_ = static_cast<Index>(snapshot.iteration);
    wall_before_ = snapshot.wall_seconds;
    resumed_ = true;
  }

  /// @brief The iteration the next `run` starts after (non-zero after `resume`).
  Index start_iteration() const { return start_iteration_; }

  /// @brief Runs from the current iteration to `options.iterations`.
  template <class DataSource>
  TrainResult run(DataSource&& next_batch, std::mt19937_64& rng) {
    using Clock = std::chrono::steady_clock;
    const bool files = !options_.out_dir.empty();
    std::unique_ptr<CsvLog> log;
    if (files) {
      std::filesystem::create_directories(options_.out_dir);
      std::vector<std::string> columns{"iteration", "loss", "grad_norm", "wall_seconds"};
      columns.insert(columns.end(), eval_columns_.begin(), eval_columns_.end());
      const auto log_path = (std::filesystem::path(options_.out_dir) / "log.csv").string();
      log = resumed_ ? std::make_unique<CsvLog>(log_path, columns, start_iteration_)
                     : std::make_unique<CsvLog>(log_path, columns);
    }
    ProgressReporter progress(options_.iterations, start_iteration_, std::cerr,
                              ProgressReporter::stderr_is_terminal(), options_.log_every);
    TrainResult result;
    result.iterations = start_iteration_;
    Matrix<Scalar> batch;
    Vector<Scalar> grad;
    double window_loss = 0, window_norm = 0;
    Index window = 0, last_checkpoint = resumed_ ? start_iteration_ : -1;
    const auto begin = Clock::now();
    double eval_seconds = 0;
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - begin).count() - eval_seconds; };
    auto wall = [&] { return wall_before_ + elapsed(); };
    auto fail = [&](Index iteration, const std::string& what) {
      result.failed = true;
      result.message = "training stopped at iteration " + std::to_string(iteration) + ": " + what;
      if (files && last_checkpoint >= 0)
        result.message += "; the last good checkpoint is '" + checkpoint_path() + "' (iteration " +
                          std::to_string(last_checkpoint) + ")";
      else
        result.message += "; no checkpoint was written";
    };

    for (Index it = start_iteration_ + 1; it <= options_.iterations; ++it) {
      next_batch(batch, rng);
      Scalar loss;
      double norm = 0;
      try {
        loss = estimator_.loss_and_gradient(model_, batch, rng, grad);
        check_finite("ratiomatch::Trainer::run", "loss", loss);
        norm = options_.clip_norm > 0 ? static_cast<double>(clip_gradient_norm(grad, options_.clip_norm))
                                      : static_cast<double>(grad.norm());
        check_finite("ratiomatch::Trainer::run", "gradient norm", norm);
      } catch (const NumericalError& e) {
        fail(it, e.what());
        break;
      }
      auto params = model_.params();
      optimizer_.step(params, grad);
      if (!params.allFinite()) {
        fail(it, "a parameter is not finite after the optimizer step");
        break;
      }
      result.iterations = it;
      window_loss += static_cast<double>(loss);
      window_norm += norm;
      ++window;
      const bool out_of_time = options_.max_seconds > 0 && wall() >= options_.max_seconds && it < options_.iterations;
      const bool last = it == options_.iterations || out_of_time;
      if (it % options_.log_every == 0 || last) {
        result.final_loss = window_loss / static_cast<double>(window);
        const bool evaluate = evaluator_ && ((options_.eval_every > 0 && it % options_.eval_every == 0) || last);
        std::vector<double> row{static_cast<double>(it), result.final_loss, window_norm / static_cast<double>(window),
                                wall()};
        if (evaluate) {
          const auto eval_begin = Clock::now();
          const auto values = evaluator_(it);
          eval_seconds += std::chrono::duration<double>(Clock::now() - eval_begin).count();
          row.insert(row.end(), values.begin(), values.end());
        } else {
          row.resize(row.size() + eval_columns_.size(), std::numeric_limits<double>::quiet_NaN());
        }
        if (log) log->row(row);
        window_loss = window_norm = 0;
        window = 0;
      }
      if (files && ((options_.checkpoint_every > 0 && it % options_.checkpoint_every == 0) ||
                    it == options_.iterations || out_of_time)) {
        save(it, wall(), rng);
        last_checkpoint = it;
      }
      if (options_.progress) progress.update(it, static_cast<double>(loss));
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
    return result;
  }

 private:
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
    save_checkpoint(checkpoint_path(), snapshot);
  }

  M& model_;
  const Estimator& estimator_;
  Optimizer& optimizer_;
  TrainerOptions options_;
  std::vector<std::string> eval_columns_;
  Evaluator evaluator_;
  Index start_iteration_ = 0;
  double wall_before_ = 0;
  bool resumed_ = false;
};

}  // namespace ratiomatch
