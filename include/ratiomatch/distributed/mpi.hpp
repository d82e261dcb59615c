#pragma once
/// @file
/// @brief Data-parallel training on MPI: every process computes the gradient of its share of a
/// batch, a reduction in rank order combines them, and every process takes the same optimizer
/// step. Optional: not included by `ratiomatch/ratiomatch.hpp`; link `ratiomatch::mpi`
/// (`find_package(ratiomatch COMPONENTS mpi)`), which brings MPI.

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/estimator_state.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/train/trainer.hpp"

namespace ratiomatch::mpi {

/// @brief Thrown when an MPI call fails: the message names the call and MPI's error string.
struct MpiError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {

inline void check(int code, std::string_view call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw MpiError("ratiomatch::mpi: " + std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

template <class S>
MPI_Datatype datatype() {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "float or double");
  if constexpr (std::is_same_v<S, float>) return MPI_FLOAT; else return MPI_DOUBLE;
}

}  // namespace detail

/// @brief MPI for the lifetime of this object: initialises MPI (thread level funneled: OpenMP
/// threads inside a process are fine, MPI is called from the main thread only) unless it is
/// already initialised, and finalises it at destruction if it initialised it. Errors on the
/// communicator are returned, not fatal, so that they surface as `MpiError`. A program whose
/// processes can fail independently must end them all (`MPI_Abort`) rather than let this
/// object finalise one of them while the others wait in a collective (the examples'
/// `run_distributed` does).
class Session {
 public:
  /// @throws MpiError if initialisation fails or the thread level is not available
  Session(int& argc, char**& argv) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      detail::check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        throw MpiError("ratiomatch::mpi::Session: MPI_THREAD_FUNNELED is not available");
      }
      owns_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (owns_ && !finalised) MPI_Finalize();
  }

  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm communicator() const { return MPI_COMM_WORLD; }

 private:
  bool owns_ = false;
  int rank_ = 0, size_ = 1;
};

/// @brief The rows `[begin, begin + count)` of a batch of `rows` rows that rank `rank` of `size`
/// takes: `begin = ⌊rank · rows / size⌋`, the next rank's begin is the end (sizes differ by at most one).
struct RowShare {
  Index begin = 0, count = 0;
};
inline RowShare share_of_rows(Index rows, int rank, int size) {
  const Index begin = rows * rank / size, end = rows * (rank + 1) / size;
  return {begin, end - begin};
}

/// @brief Sends `values` of rank 0 to every rank (in place).
/// @throws MpiError if the broadcast fails
template <class S>
void broadcast(Eigen::Ref<Vector<S>> values, MPI_Comm comm = MPI_COMM_WORLD) {
  if (values.size() > std::numeric_limits<int>::max())
    throw std::invalid_argument("ratiomatch::mpi::broadcast: more values than one MPI message holds");
  detail::check(MPI_Bcast(values.data(), static_cast<int>(values.size()), detail::datatype<S>(), 0, comm), "MPI_Bcast");
}

/// @brief Rank 0's parameters on every rank: call once after initialising the model on each rank.
/// @throws MpiError if the broadcast fails
template <class M>
void broadcast_parameters(M& model, MPI_Comm comm = MPI_COMM_WORLD) {
  auto params = model.params();
  broadcast<typename M::Scalar>(params, comm);
}

/// @brief How `DataParallel` sums the ranks' messages; both add them in rank order from zero, so
/// the result is the same to the bit.
enum class Reduction {
  /// Each rank sums a 1/P segment of the message from every rank (all-to-all), then every rank
  /// receives every summed segment (allgather): `2 (P − 1)/P` messages in and out per rank, and
  /// the summation split P ways.
  Segmented,
  /// Rank 0 gathers all P messages, sums them and broadcasts the sum: memory and work on one rank.
  ThroughRoot,
};

/// @brief Any estimator made data-parallel: `loss_and_gradient` receives the **global** batch (the
/// same rows on every rank: draw it from an engine that every rank holds in the same state, as the
/// trainer's is), takes this rank's share of its rows (`share_of_rows`), and returns the loss and
/// gradient of the whole batch, identical on every rank:
///
///     L = Σ_r (n_r / n) L_r,   ∇L = Σ_r (n_r / n) ∇L_r,
///
/// `L_r` the wrapped estimator's mean loss over rank r's `n_r` rows. Every entry is summed in
/// rank order from zero (`Reduction`), so the result does not depend on MPI's reduction
/// algorithm and a run is reproducible for a fixed number of processes. With one process the
/// wrapped estimator is called on the whole batch with the caller's engine: bit for bit the
/// undistributed step. With several, the estimator's own randomness (sampled flips, noise) comes
/// from an engine seeded with one word of the caller's engine and the rank, so the caller's
/// engine advances alike on every rank and each rank draws differently.
///
/// Cost per update (`Reduction::Segmented`): every rank sends and receives `2 (P − 1)/P` messages
/// of `num_params + 2` scalars (the volume of a ring all-reduce), with one message of workspace. A numerical failure on any rank (`NumericalError`) is thrown on
/// every rank after the exchange, naming the first failing rank, so no rank is left waiting.
/// Not for concurrent use (it keeps a workspace), and call it from the thread that started MPI.
/// Stateful estimators (persistent chains) are not supported: their state differs per rank and
/// a checkpoint holds one.
/// @tparam Estimator any estimator with `loss_and_gradient(model, X, rng, grad)`
template <class Estimator>
class DataParallel {
  static_assert(!StatefulEstimator<Estimator>,
                "DataParallel supports stateless estimators: a stateful one (PCD) keeps per-rank chains "
                "that one checkpoint cannot hold");

 public:
  /// @param estimator kept by reference
  /// @param comm the processes sharing each batch
  /// @param reduction how the messages are summed (the same bits either way)
  explicit DataParallel(const Estimator& estimator, MPI_Comm comm = MPI_COMM_WORLD,
                        Reduction reduction = Reduction::Segmented)
      : estimator_(estimator), comm_(comm), reduction_(reduction) {
    detail::check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    detail::check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  DataParallel(const Estimator&& estimator, MPI_Comm comm = MPI_COMM_WORLD,
               Reduction reduction = Reduction::Segmented) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const Estimator& estimator() const { return estimator_; }
  /// @brief Seconds this rank spent in the exchange (the MPI calls, including waiting for slower
  /// ranks) since construction.
  double exchange_seconds() const { return exchange_seconds_; }

  /// @brief The global batch's loss and gradient (see the class), the same on every rank.
  /// @throws std::invalid_argument if the batch has fewer rows than there are processes
  /// @throws NumericalError if the step failed on any rank (on a rank where it failed otherwise,
  ///   e.g. std::bad_alloc, that exception instead)
  /// @throws std::invalid_argument if the message (`num_params + 2` scalars) exceeds MPI's int count
  /// @throws MpiError if the exchange fails
  template <class M, std::uniform_random_bit_generator Rng>
  typename M::Scalar loss_and_gradient(const M& model, const Matrix<typename M::Scalar>& X, Rng& rng,
                                       Vector<typename M::Scalar>& grad) const {
    using S = typename M::Scalar;
    if (size_ == 1) return estimator_.loss_and_gradient(model, X, rng, grad);
    if (X.rows() < size_)
      throw std::invalid_argument(ratiomatch::detail::message("ratiomatch::mpi::DataParallel::loss_and_gradient",
                                                              "the batch has ", X.rows(), " rows, fewer than the ",
                                                              size_, " processes"));
    if (model.num_params() + 2 > std::numeric_limits<int>::max())
      throw std::invalid_argument(ratiomatch::detail::message("ratiomatch::mpi::DataParallel::loss_and_gradient",
                                                              "the model has ", model.num_params(),
                                                              " parameters, more than one MPI message holds"));
    const RowShare share = share_of_rows(X.rows(), rank_, size_);
    std::mt19937_64 local_rng(local_seed(rng));
    const Index p = model.num_params();
    // [weighted gradient, weighted loss, failure flag]: one message per rank.
    Vector<S>& send = work<S>().send;
    send.setZero(p + 2);
    std::string failure;
    std::exception_ptr other_failure;  // anything but a NumericalError, rethrown after the exchange
    try {
      Matrix<S>& rows = work<S>().rows;
      rows = X.middleRows(share.begin, share.count);
      const S loss = estimator_.loss_and_gradient(model, rows, local_rng, grad);
      const S weight = static_cast<S>(static_cast<double>(share.count) / static_cast<double>(X.rows()));
      send.head(p) = weight * grad;
      send(p) = weight * loss;
    } catch (const NumericalError& e) {
      failure = e.what();
      send(p + 1) = 1;
    } catch (const std::exception&) {  // e.g. std::bad_alloc: still take part in the exchange
      other_failure = std::current_exception();
      send.head(p + 1).setZero();
      send(p + 1) = 1;
    }
    const double exchange_begin = MPI_Wtime();
    if (reduction_ == Reduction::Segmented) segmented_sum(send, p); else sum_through_root(send, p);
    exchange_seconds_ += MPI_Wtime() - exchange_begin;
    const int failed_rank = static_cast<int>(send(p + 1)) - 1;
    if (failed_rank >= 0) {
      if (other_failure) std::rethrow_exception(other_failure);
      if (!failure.empty()) throw NumericalError("on rank " + std::to_string(rank_) + ": " + failure);
      throw NumericalError("the step failed on rank " + std::to_string(failed_rank) + " (its message is in its output)");
    }
    grad = send.head(p);
    return send(p);
  }

 private:
  // Each rank owns a segment of the message (share_of_rows over its p + 2 entries): every rank
  // sends each owner its segment (all-to-all), the owner sums the P copies in rank order from zero,
  // and every rank receives every summed segment (allgather). The flag entry (the last) becomes
  // the first failing rank + 1, 0 for none.
  template <class S>
  void segmented_sum(Vector<S>& message, Index p) const {
    Work<S>& w = work<S>();
    const Index m = p + 2;
    w.counts.resize(static_cast<std::size_t>(size_));
    w.offsets.resize(static_cast<std::size_t>(size_));
    for (int k = 0; k < size_; ++k) {
      const RowShare segment = share_of_rows(m, k, size_);
      w.counts[static_cast<std::size_t>(k)] = static_cast<int>(segment.count);
      w.offsets[static_cast<std::size_t>(k)] = static_cast<int>(segment.begin);
    }
    const RowShare mine = share_of_rows(m, rank_, size_);
    const auto own = static_cast<int>(mine.count);
    w.received.resize(mine.count * size_);
    w.receive_counts.assign(static_cast<std::size_t>(size_), own);
    w.receive_offsets.resize(static_cast<std::size_t>(size_));
    for (int r = 0; r < size_; ++r) w.receive_offsets[static_cast<std::size_t>(r)] = r * own;
    detail::check(MPI_Alltoallv(message.data(), w.counts.data(), w.offsets.data(), detail::datatype<S>(),
                                w.received.data(), w.receive_counts.data(), w.receive_offsets.data(),
                                detail::datatype<S>(), comm_),
                  "MPI_Alltoallv");
    auto sum = message.segment(mine.begin, mine.count);  // this rank's message is no longer needed
    sum.setZero();
    for (int r = 0; r < size_; ++r) sum += w.received.segment(static_cast<Index>(r) * mine.count, mine.count);
    if (mine.begin + mine.count == m) {  // the owner of the flag entry
      S flag = 0;
      for (int r = 0; r < size_ && flag == 0; ++r)
        if (w.received(static_cast<Index>(r) * mine.count + mine.count - 1) != 0) flag = static_cast<S>(r + 1);
      sum(mine.count - 1) = flag;
    }
    detail::check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, message.data(), w.counts.data(), w.offsets.data(),
                                 detail::datatype<S>(), comm_),
                  "MPI_Allgatherv");
  }

  // Rank 0 receives every message, sums them in rank order from zero and broadcasts the sum.
  template <class S>
  void sum_through_root(Vector<S>& message, Index p) const {
    Vector<S>& gathered = work<S>().received;
    const Index m = p + 2;
    if (rank_ == 0) gathered.resize(m * size_);
    detail::check(MPI_Gather(message.data(), static_cast<int>(m), detail::datatype<S>(), gathered.data(),
                             static_cast<int>(m), detail::datatype<S>(), 0, comm_),
                  "MPI_Gather");
    if (rank_ == 0) {
      message.setZero();
      for (int r = 0; r < size_; ++r) {
        const auto part = gathered.segment(static_cast<Index>(r) * m, m);
        message.head(p + 1) += part.head(p + 1);
        if (message(p + 1) == 0 && part(p + 1) != 0) message(p + 1) = static_cast<S>(r + 1);
      }
    }
    broadcast<S>(message, comm_);
  }

  // The seed of this rank's engine for one update: one word of the caller's engine and the rank,
  // mixed by SplitMix64's finaliser (no allocation, unlike std::seed_seq).
  template <class Rng>
  std::uint64_t local_seed(Rng& rng) const {
    auto mix = [](std::uint64_t z) {
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      return z ^ (z >> 31);
    };
    const auto word = static_cast<std::uint64_t>(rng());
    return mix(word + 0x9e3779b97f4a7c15ull * (static_cast<std::uint64_t>(rank_) + 1));
  }

  template <class S>
  struct Work {
    Vector<S> send, received;
    Matrix<S> rows;
    std::vector<int> counts, offsets, receive_counts, receive_offsets;
  };
  template <class S>
  Work<S>& work() const {
    if constexpr (std::is_same_v<S, float>) return single_; else return twice_;
  }

  const Estimator& estimator_;
  MPI_Comm comm_;
  Reduction reduction_;
  int rank_ = 0, size_ = 1;
  mutable double exchange_seconds_ = 0;
  mutable Work<float> single_;
  mutable Work<double> twice_;
};

/// @brief The trainer's settings for one rank of a data-parallel run: rank 0 keeps them, every
/// other rank writes nothing (no log, checkpoint or progress). Give an evaluator to rank 0's
/// trainer only, and resume every rank from rank 0's checkpoint path.
/// @throws std::invalid_argument if `max_seconds` is set: ranks would stop at different iterations
inline TrainerOptions options_for_rank(TrainerOptions options, int rank) {
  if (options.max_seconds > 0)
    throw std::invalid_argument(
        "ratiomatch::mpi::options_for_rank: a time limit (max_seconds) would stop the ranks at different "
        "iterations; set an iteration count instead");
  if (rank != 0) {
    options.out_dir.clear();
    options.progress = false;
  }
  return options;
}

}  // namespace ratiomatch::mpi
