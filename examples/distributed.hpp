#pragma once
// What the training examples share about `--distributed`: data-parallel training on MPI
// (ratiomatch/distributed/mpi.hpp) when the examples were built with MPI, one process otherwise.
// Every process draws the same global batches (the trainer's engine starts alike everywhere) and
// computes the gradient of its share; rank 0 alone evaluates and writes files.

#include "command_line.hpp"

#include <ratiomatch/core/estimator_state.hpp>
#include <ratiomatch/train/trainer.hpp>

#ifdef RATIOMATCH_EXAMPLES_MPI
#include <ratiomatch/distributed/mpi.hpp>
#endif

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace ratiomatch::examples {

/// This process's place in the run: rank 0 of 1 unless `--distributed` started MPI. The object
/// made in `main` is the one `current()` returns while it lives.
class Distributed {
 public:
  /// Starts MPI when `enabled` (it ends when this object is destroyed).
  /// @throws std::invalid_argument if `enabled` and the examples were built without MPI
  Distributed(bool enabled, int& argc, char**& argv) {
    registered() = this;
    if (!enabled) return;
#ifdef RATIOMATCH_EXAMPLES_MPI
    session_ = std::make_unique<mpi::Session>(argc, argv);
    rank_ = session_->rank();
    size_ = session_->size();
#else
    (void)argc;
    (void)argv;
    throw std::invalid_argument("--distributed: these examples were built without MPI (install libopenmpi-dev, then "
                                "configure again)");
#endif
  }

  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;
  ~Distributed() {
    if (registered() == this) registered() = nullptr;
  }

  /// The process made in `main`, or a single process if there is none.
  static const Distributed& current() {
    static const Distributed single;
    return registered() != nullptr ? *registered() : single;
  }

  bool enabled() const {
#ifdef RATIOMATCH_EXAMPLES_MPI
    return session_ != nullptr;
#else
    return false;
#endif
  }
  int rank() const { return rank_; }
  int size() const { return size_; }
  /// Rank 0 (or the only process): evaluates, writes files and prints.
  bool root() const { return rank_ == 0; }

  /// The trainer's settings for this process (only rank 0 writes a log and checkpoints).
  /// @throws std::invalid_argument if distributed with a time limit
  TrainerOptions options(TrainerOptions options) const {
#ifdef RATIOMATCH_EXAMPLES_MPI
    if (enabled()) return mpi::options_for_rank(std::move(options), rank_);
#endif
    return options;
  }

  /// Ends every process of the run with `code` (MPI_Abort): after a failure on some processes
  /// only, the others would otherwise wait in the next collective for ever.
  [[noreturn]] void abort(int code) const {
#ifdef RATIOMATCH_EXAMPLES_MPI
    if (enabled()) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    std::exit(code);
  }

  /// Rank 0's parameters on every process.
  template <class M>
  void share_parameters(M& model) const {
#ifdef RATIOMATCH_EXAMPLES_MPI
    if (enabled()) mpi::broadcast_parameters(model);
#else
    (void)model;
#endif
  }

  /// Rank 0's `rows × cols` matrix on every process (resized there).
  template <class S>
  void share_matrix(Matrix<S>& matrix, Index rows, Index cols) const {
#ifdef RATIOMATCH_EXAMPLES_MPI
    if (!enabled()) return;
    if (!root()) matrix.resize(rows, cols);
    mpi::broadcast<S>(Eigen::Map<Vector<S>>(matrix.data(), matrix.size()));
#else
    (void)matrix, (void)rows, (void)cols;
#endif
  }

  /// Calls `train(e)` with the estimator, made data-parallel when distributed.
  /// @throws std::invalid_argument if distributed with a stateful estimator (PCD)
  template <class Estimator, class Train>
  int with_estimator(const Estimator& estimator, Train&& train) const {
#ifdef RATIOMATCH_EXAMPLES_MPI
    if (enabled()) {
      if constexpr (StatefulEstimator<Estimator>) {
        throw std::invalid_argument("--distributed: persistent contrastive divergence keeps per-process chains; use a "
                                    "ratio matching estimator or CD");
      } else {
        const mpi::DataParallel<Estimator> parallel(estimator);
        return train(parallel);
      }
    }
#endif
    return train(estimator);
  }

 private:
  Distributed() = default;
  static Distributed*& registered() {
    static Distributed* process = nullptr;
    return process;
  }

#ifdef RATIOMATCH_EXAMPLES_MPI
  std::unique_ptr<mpi::Session> session_;
#endif
  int rank_ = 0, size_ = 1;
};

/// `run_reporting_errors` for a program that may run on several processes: MPI starts first
/// (`enabled`), `body` runs with it, and a failure on any process — reported by that process —
/// ends all of them with its exit code rather than leaving the others waiting.
template <class Body>
int run_distributed(std::string_view program, bool enabled, int& argc, char**& argv, Body&& body) {
  std::unique_ptr<Distributed> process;
  const int started = run_reporting_errors(program, [&] {
    process = std::make_unique<Distributed>(enabled, argc, argv);
    return 0;
  });
  if (started != 0) return started;
  const int code = run_reporting_errors(program, std::forward<Body>(body));
  if (code != 0 && process->size() > 1) process->abort(code);
  return code;
}

}  // namespace ratiomatch::examples
