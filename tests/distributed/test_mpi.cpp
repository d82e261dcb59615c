// Data-parallel training on MPI. Run with any number of processes (CTest runs 1, 2 and 3): every
// rank runs every test case, and the checks that need several processes say so.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <ratiomatch/distributed/mpi.hpp>
#include <ratiomatch/estimators/gradient_guided_rm.hpp>
#include <ratiomatch/estimators/ratio_matching.hpp>
#include <ratiomatch/models/mlp_energy.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/train/trainer.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;

namespace {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
int world_size() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

MlpEnergy<double> small_mlp(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  MlpEnergy<double> model(10, {12}, Activation::Swish);
  model.initialize(rng);
  return model;
}

// Every rank's copy of `values` equals rank 0's, bit for bit.
bool same_on_every_rank(const Vector<double>& values) {
  Vector<double> root = values;
  mpi::broadcast<double>(root);
  int same = root == values ? 1 : 0, all = 0;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}

// A model whose energy is not finite on rows whose first two bits are set (a single flip of a row
// with neither set cannot reach one).
struct PoisonedRows {
  using Scalar = double;
  MlpEnergy<double> inner = small_mlp(5);
  Index dim() const { return inner.dim(); }
  Index num_params() const { return inner.num_params(); }
  auto params() { return inner.params(); }
  auto params() const { return inner.params(); }
  void energy(const Matrix<double>& X, Vector<double>& e) const {
    inner.energy(X, e);
    for (Index r = 0; r < X.rows(); ++r)
      if (X(r, 0) == 1 && X(r, 1) == 1) e(r) = std::numeric_limits<double>::quiet_NaN();
  }
  void input_gradient(const Matrix<double>& X, Matrix<double>& G) const { inner.input_gradient(X, G); }
  void accumulate_param_gradient(const Matrix<double>& X, const Vector<double>& c, Vector<double>& g) const {
    inner.accumulate_param_gradient(X, c, g);
  }
};

}  // namespace

TEST_CASE("share_of_rows splits a batch into contiguous shares that differ by at most one row", "[mpi]") {
  for (int size = 1; size <= 5; ++size) {
    Index next = 0;
    for (int rank = 0; rank < size; ++rank) {
      const auto share = mpi::share_of_rows(13, rank, size);
      CHECK(share.begin == next);
      CHECK((share.count == 13 / size || share.count == 13 / size + 1));
      next = share.begin + share.count;
    }
    CHECK(next == 13);
  }
}

TEST_CASE("DataParallel returns the whole batch's loss and gradient on every rank", "[mpi]") {
  const MlpEnergy<double> model = small_mlp(1);
  std::mt19937_64 data(2);
  const Matrix<double> X = random_binary<double>(9, 10, data);  // 9 rows: shares of 5 and 4 on 2 ranks
  const RatioMatching<> exact;
  const mpi::DataParallel parallel(exact);
  std::mt19937_64 rng(3), unused(3);
  Vector<double> g_parallel, g_single;
  const double loss = parallel.loss_and_gradient(model, X, rng, g_parallel);
  const double single = exact.loss_and_gradient(model, X, unused, g_single);
  if (world_size() == 1) {
    // One process: the undistributed step, bit for bit.
    CHECK(loss == single);
    CHECK(g_parallel == g_single);
  } else {
    // Several: the same numbers up to the order of summation.
    CHECK(loss == Approx(single).epsilon(1e-13));
    CHECK((g_parallel - g_single).cwiseAbs().maxCoeff() <= 1e-13 * g_single.cwiseAbs().maxCoeff());
  }
  CHECK(same_on_every_rank(g_parallel));
  // Summed in segments on every rank or whole on rank 0: the same bits (both
  // after the same calls, since the models' workspaces only grow and their shape steers Eigen's
  // kernels).
  const mpi::DataParallel through_root(exact, MPI_COMM_WORLD, mpi::Reduction::ThroughRoot);
  std::mt19937_64 again(3), once_more(3);
  Vector<double> g_root, g_everywhere;
  const double loss_root = through_root.loss_and_gradient(model, X, again, g_root);
  CHECK(parallel.loss_and_gradient(model, X, once_more, g_everywhere) == loss_root);
  CHECK(g_root == g_everywhere);
  // The caller's engine advances alike on every rank.
  Vector<double> next(1);
  next(0) = static_cast<double>(rng() >> 11);
  CHECK(same_on_every_rank(next));
}

TEST_CASE("DataParallel of a sampled estimator is reproducible and identical on every rank", "[mpi]") {
  const MlpEnergy<double> model = small_mlp(4);
  std::mt19937_64 data(5);
  const Matrix<double> X = random_binary<double>(16, 10, data);
  const GradientGuidedRM<> guided(4, GuidedVariant::Advanced);
  const mpi::DataParallel parallel(guided);
  std::mt19937_64 first(6), second(6);
  Vector<double> g1, g2;
  const double l1 = parallel.loss_and_gradient(model, X, first, g1);
  const double l2 = parallel.loss_and_gradient(model, X, second, g2);
  CHECK(l1 == l2);
  CHECK(g1 == g2);
  CHECK(same_on_every_rank(g1));
  if (world_size() > 1) {
    // Each rank drew its own flips: the result is not the single-process one with the same engine.
    std::mt19937_64 engine(6);
    Vector<double> g_single;
    guided.loss_and_gradient(model, X, engine, g_single);
    CHECK(g_single != g1);
  }
}

TEST_CASE("a numerical failure on one rank is thrown on every rank", "[mpi]") {
  const PoisonedRows model;
  const RatioMatching<> exact;
  const mpi::DataParallel parallel(exact);
  std::mt19937_64 data(7), rng(8);
  Matrix<double> X = random_binary<double>(8, 10, data);
  X.leftCols(2).setZero();
  X.block(7, 0, 1, 2).setOnes();  // the last row: the last rank's share
  Vector<double> g;
  CHECK_THROWS_AS(parallel.loss_and_gradient(model, X, rng, g), NumericalError);
  // Every rank is still in step: a good batch goes through afterwards.
  X.block(7, 0, 1, 2).setZero();
  CHECK(std::isfinite(parallel.loss_and_gradient(model, X, rng, g)));
}

TEST_CASE("a batch with fewer rows than processes is refused on every rank", "[mpi]") {
  if (world_size() == 1) return;
  const MlpEnergy<double> model = small_mlp(1);
  const RatioMatching<> exact;
  const mpi::DataParallel parallel(exact);
  std::mt19937_64 rng(1);
  Vector<double> g;
  const Matrix<double> X = Matrix<double>::Zero(world_size() - 1, 10);
  CHECK_THROWS_AS(parallel.loss_and_gradient(model, X, rng, g), std::invalid_argument);
}

TEST_CASE("a data-parallel trainer: rank 0 writes, every rank ends with the same model, resume restores it",
          "[mpi][train]") {
  const auto out = std::filesystem::temp_directory_path() / "ratiomatch_test_mpi_trainer";
  if (world_rank() == 0) std::filesystem::remove_all(out);
  MPI_Barrier(MPI_COMM_WORLD);
  std::mt19937_64 data(11);
  const Matrix<double> pool = random_binary<double>(64, 10, data);
  const RatioMatching<> exact;
  const mpi::DataParallel parallel(exact);
  auto next_batch = [&](Matrix<double>& batch, std::mt19937_64& r) {
    batch.resize(12, 10);
    for (Index k = 0; k < 12; ++k) batch.row(k) = pool.row(uniform_index(r, pool.rows()));
  };
  auto train = [&](Index iterations, bool resume) {
    MlpEnergy<double> model = small_mlp(world_rank() + 100);  // different on each rank until broadcast
    mpi::broadcast_parameters(model);
    Adam<double> adam(model.num_params(), {.lr = 1e-2});
    const TrainerOptions options{.iterations = iterations, .log_every = 5, .checkpoint_every = 10,
                                 .out_dir = out.string(), .tag = "mpi test", .progress = false};
    Trainer trainer(model, parallel, adam, mpi::options_for_rank(options, world_rank()));
    std::mt19937_64 rng(12);
    if (resume) trainer.resume((out / "checkpoint.bin").string(), rng);
    const TrainResult result = trainer.run(next_batch, rng);
    REQUIRE_FALSE(result.failed);
    return Vector<double>(model.params());
  };
  const Vector<double> straight = train(20, false);
  CHECK(same_on_every_rank(straight));
  CHECK(std::filesystem::exists(out / "log.csv"));  // rank 0 wrote it (one file system here)
  MPI_Barrier(MPI_COMM_WORLD);
  // Stop at 10 and resume to 20 on every rank from rank 0's checkpoint: the same model.
  if (world_rank() == 0) std::filesystem::remove_all(out);
  MPI_Barrier(MPI_COMM_WORLD);
  train(10, false);
  MPI_Barrier(MPI_COMM_WORLD);
  const Vector<double> resumed = train(20, true);
  CHECK(resumed == straight);
  TrainerOptions timed;
  timed.max_seconds = 5;
  CHECK_THROWS_AS(mpi::options_for_rank(timed, 0), std::invalid_argument);
}

TEST_CASE("with one process the data-parallel trainer is the undistributed trainer, bit for bit", "[mpi][train]") {
  if (world_size() != 1) return;
  std::mt19937_64 data(21);
  const Matrix<double> pool = random_binary<double>(64, 10, data);
  auto next_batch = [&](Matrix<double>& batch, std::mt19937_64& r) {
    batch.resize(12, 10);
    for (Index k = 0; k < 12; ++k) batch.row(k) = pool.row(uniform_index(r, pool.rows()));
  };
  const GradientGuidedRM<> guided(4, GuidedVariant::Basic);
  auto train = [&](auto& estimator) {
    MlpEnergy<double> model = small_mlp(22);
    Adam<double> adam(model.num_params(), {.lr = 1e-2});
    TrainerOptions options;
    options.iterations = 30;
    options.log_every = 10;
    options.progress = false;
    Trainer trainer(model, estimator, adam, options);
    std::mt19937_64 rng(23);
    trainer.run(next_batch, rng);
    return Vector<double>(model.params());
  };
  const mpi::DataParallel parallel(guided);
  CHECK(train(parallel) == train(guided));
}

int main(int argc, char** argv) {
  mpi::Session session(argc, argv);
  // Every rank reports; a failure on any rank fails the run.
  const int failed = Catch::Session().run(argc, argv);
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any;
}
