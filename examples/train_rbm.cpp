// Trains a Bernoulli RBM on binarised Fashion-MNIST (Debian's dataset-fashion-mnist) with any
// ratio matching estimator or with contrastive divergence, and measures it the way the field
// does: the test log-likelihood in nats, with log Z exact (a layer of at most 20 units) or
// estimated by annealed importance sampling, against the base-rate model of independent bits.
// Writes log.csv (with the test log-likelihood every --eval-every iterations), summary.json,
// samples.png, filters.png and the parameters as params/{W,b,c}.npy.
#include <ratiomatch/ratiomatch.hpp>
#include <ratiomatch/data/idx_reader.hpp>
#include <ratiomatch/io/npy.hpp>
#include <ratiomatch/io/rgb_image.hpp>
#include <ratiomatch/train/trainer.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_line.hpp"
#include "distributed.hpp"
#include "image_tiles.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <utility>

using namespace ratiomatch;

namespace {

struct Settings {
  std::string model = "rbm";
  std::vector<Index> mlp_hidden{256, 256};
  std::string estimator = "gg-advanced";
  std::string objective = "hyvarinen";
  Index hidden = 16;
  Index flips = 10;
  Index cd_steps = 1;
  Index batch = 100;
  double lr = 1e-3;
  Index iters = 5000;
  double time_budget = 0;
  bool distributed = false;
  std::uint64_t seed = 1;
  std::string binarize = "threshold";
  std::string data_dir = std::string(fashion_mnist_default_dir);
  std::string out = "out/rbm";
  Index ais_runs = 100;
  Index ais_temperatures = 0;  // 0: the model's default (see --ais-temperatures)
  Index train_subset = 0;  // 0: all 60,000 training images
  Index test_subset = 0;   // 0: all 10,000 test images
  Index log_every = 100;
  Index eval_every = 0;  // 0: the test log-likelihood at the end only
  Index eval_ais_runs = 20;
  Index eval_ais_temperatures = 0;
};

Matrix<float> binarised(const IdxImages& images, const Settings& s, std::uint64_t seed) {
  if (s.binarize == "threshold") return binarize_by_threshold<float>(images);
  std::mt19937_64 rng(seed);
  return binarize_stochastically<float>(images, rng);
}

// The first `count` rows (all if count is 0 or too large).
Matrix<float> first_rows(const Matrix<float>& X, Index count) {
  return count > 0 && count < X.rows() ? Matrix<float>(X.topRows(count)) : X;
}

// The mean of −E(x) over the rows of X (−F(x) for the RBM): the mean log-likelihood plus log Z, in nats.
template <class Model>
double mean_negative_energy(const Model& model, const Matrix<float>& X) {
  Vector<float> energy;
  model.energy(X, energy);
  return -energy.cast<double>().mean();
}

// What differs between the two models. The RBM: log Z exact over a layer of at most 20 units,
// otherwise AIS with block Gibbs (Salakhutdinov & Murray's 14,500 distributions; 2,000 during
// training); samples from block Gibbs; filters are the rows of W.
bool has_exact_log_partition(const BernoulliRBM<float>& rbm) { return std::min(rbm.dim(), rbm.num_hidden()) <= 20; }
double exact_log_partition(const BernoulliRBM<float>& rbm) { return rbm.log_partition(); }
Index default_ais_temperatures(const BernoulliRBM<float>&, bool during_training) { return during_training ? 2000 : 14500; }
LogPartitionEstimate estimate_log_partition(const BernoulliRBM<float>& rbm, const Vector<float>& base,
                                            const AisOptions& options, std::mt19937_64& rng) {
  return annealed_log_partition(rbm, base, options, rng);
}
Matrix<float> model_samples(const BernoulliRBM<float>& rbm, std::mt19937_64& rng) {
  return BlockGibbsSampler().sample(rbm, 100, 1000, rng);
}
Matrix<float> first_layer_filters(const BernoulliRBM<float>& rbm) {
  return rbm.weight().topRows(std::min<Index>(100, rbm.num_hidden()));
}

// The MLP energy: log Z by enumeration up to 20 bits, otherwise AIS with single-site Gibbs
// transitions (100 d distributions, 20 d during training); samples from 100 Gibbs sweeps;
// filters are the rows of the first layer's weights.
bool has_exact_log_partition(const MlpEnergy<float>& mlp) { return mlp.dim() <= 20; }
double exact_log_partition(const MlpEnergy<float>& mlp) { return log_partition(mlp); }
Index default_ais_temperatures(const MlpEnergy<float>& mlp, bool during_training) {
  return (during_training ? 20 : 100) * mlp.dim();
}
LogPartitionEstimate estimate_log_partition(const MlpEnergy<float>& mlp, const Vector<float>& base,
                                            const AisOptions& options, std::mt19937_64& rng) {
  return annealed_log_partition_single_site(mlp, base, options, rng);
}
Matrix<float> model_samples(const MlpEnergy<float>& mlp, std::mt19937_64& rng) {
  return GibbsSampler().sample(mlp, 100, 100, rng);
}
Matrix<float> first_layer_filters(const MlpEnergy<float>& mlp) {
  return mlp.weight(0).topRows(std::min<Index>(100, mlp.weight(0).rows()));
}

// The smoothed log-odds of the training marginals: the base-rate model's visible biases.
Eigen::ArrayXd smoothed_marginals(const Matrix<float>& train) {
  return (train.cast<double>().colwise().sum().transpose().array() + 1) / (train.rows() + 2.0);
}

Vector<float> base_rate_log_odds(const Matrix<float>& train) {
  const Eigen::ArrayXd p = smoothed_marginals(train);
  return (p / (1 - p)).log().cast<float>().matrix();
}

// Mean log-likelihood of independent bits with the (add-one smoothed) marginals of `train`.
double base_rate_log_likelihood(const Matrix<float>& train, const Matrix<float>& test) {
  const Eigen::ArrayXd p = smoothed_marginals(train);
  const Eigen::ArrayXd log_p = p.log(), log_q = (1 - p).log();
  const Eigen::MatrixXd X = test.cast<double>();
  return ((X * log_p.matrix()).array() + ((1 - X.array()).matrix() * log_q.matrix()).array()).mean();
}

template <class Model, class Estimator>
int train_with(const Estimator& estimator, const Settings& s) {
  const auto& process = examples::Distributed::current();
  if (process.root()) std::filesystem::create_directories(s.out);
  const Matrix<float> train_bits = first_rows(binarised(read_fashion_mnist_images("train", s.data_dir), s, s.seed), s.train_subset);
  const Matrix<float> test_bits = first_rows(binarised(read_fashion_mnist_images("test", s.data_dir), s, s.seed + 1), s.test_subset);
  const Index d = train_bits.cols();

  std::mt19937_64 setup(s.seed);
  const Vector<float> base_bias = base_rate_log_odds(train_bits);
  Model model = [&] {
    if constexpr (std::same_as<Model, BernoulliRBM<float>>) {
      BernoulliRBM<float> rbm(d, s.hidden);
      rbm.initialize(setup);
      rbm.visible_bias() = base_bias;
      return rbm;
    } else {
      MlpEnergy<float> mlp(d, s.mlp_hidden, Activation::LearnableSwish);
      mlp.initialize(setup);
      return mlp;
    }
  }();
  process.share_parameters(model);
  Adam<float> adam(model.num_params(), {.lr = s.lr});
  std::ostringstream tag;
  tag << "train_rbm model=" << s.model << " estimator=" << s.estimator << " objective=" << s.objective << " hidden=" << s.hidden
      << " flips=" << s.flips << " cd_steps=" << s.cd_steps << " batch=" << s.batch << " lr=" << s.lr
      << " seed=" << s.seed << " binarize=" << s.binarize << " train=" << train_bits.rows();
  Trainer trainer(model, estimator, adam,
                  process.options(TrainerOptions{.iterations = s.iters, .log_every = s.log_every,
                                                 .eval_every = s.eval_every,
                                                 .checkpoint_every = 1000, .out_dir = s.out, .tag = tag.str(),
                                                 .max_seconds = s.time_budget}));
  // The test log-likelihood during training (its own engine, not the training one): log Z exact
  // when a layer is small, otherwise a short AIS run (a cheaper, noisier estimate than the final one).
  const bool exact = has_exact_log_partition(model);
  const AisOptions eval_ais{.runs = s.eval_ais_runs,
                            .temperatures = s.eval_ais_temperatures > 0 ? s.eval_ais_temperatures
                                                                        : default_ais_temperatures(model, true)};
  if (process.root())
    trainer.set_evaluator({"test_log_likelihood", "log_partition", "log_partition_stderr"}, [&](Index iteration) {
      double log_z = 0, stderr_z = 0;
      if (exact) {
        log_z = exact_log_partition(model);
      } else {
        std::mt19937_64 ais_rng(s.seed * 1000003u + static_cast<std::uint64_t>(iteration));
        const auto ais = estimate_log_partition(model, base_bias, eval_ais, ais_rng);
        log_z = ais.log_partition, stderr_z = ais.standard_error;
      }
      return std::vector<double>{mean_negative_energy(model, test_bits) - log_z, log_z, stderr_z};
    });
  std::mt19937_64 rng(s.seed * 2654435761u + 29);
  // Batches are drawn row by row: from a row-major copy each row is one contiguous read, where a
  // row of the column-major matrix touches d cache lines.
  const RowMajorMatrix<float> train_rows = train_bits;
  auto next_batch = [&](Matrix<float>& batch, std::mt19937_64& r) {
    batch.resize(s.batch, d);
    for (Index k = 0; k < s.batch; ++k) batch.row(k) = train_rows.row(uniform_index(r, train_rows.rows()));
  };
  const TrainResult result = trainer.run(next_batch, rng);
  if (result.failed) {
    std::cerr << "train_rbm: " << result.message << "\n";
    return 1;
  }
  if (!process.root()) return 0;  // rank 0 estimates log Z and reports

  // log Z: exact when a layer is small, otherwise (and also then, as a check) by AIS.
  nlohmann::json summary;
  double log_z = 0, log_z_stderr = 0;
  if (exact) {
    log_z = exact_log_partition(model);
    summary["log_partition_exact"] = log_z;
  }
  if (s.ais_runs > 0) {
    std::mt19937_64 ais_rng(s.seed + 7);
    const AisOptions final_ais{.runs = s.ais_runs,
                               .temperatures = s.ais_temperatures > 0 ? s.ais_temperatures
                                                                      : default_ais_temperatures(model, false)};
    const auto ais = estimate_log_partition(model, base_bias, final_ais, ais_rng);
    summary["log_partition_ais_temperatures"] = final_ais.temperatures;
    summary["log_partition_ais"] = ais.log_partition;
    summary["log_partition_ais_stderr"] = ais.standard_error;
    if (!exact) log_z = ais.log_partition, log_z_stderr = ais.standard_error;
  }
  if (!exact && s.ais_runs <= 0) throw std::invalid_argument("--ais-runs must be positive: log Z has no exact sum here");
  const double test_ll = mean_negative_energy(model, test_bits) - log_z;
  const double train_ll = mean_negative_energy(model, first_rows(train_bits, 10000)) - log_z;
  const double base_rate = base_rate_log_likelihood(train_bits, test_bits);

  std::mt19937_64 sample_rng(s.seed + 11);
  const Matrix<float> samples = model_samples(model, sample_rng);
  examples::tile_grid(samples, 10, 2, false).save_png((std::filesystem::path(s.out) / "samples.png").string());
  examples::tile_grid(first_layer_filters(model), 10, 2, true)
      .save_png((std::filesystem::path(s.out) / "filters.png").string());
  save_params_npy(model, std::filesystem::path(s.out) / "params");

  summary["model"] = s.model;
  summary["estimator"] = s.estimator;
  summary["objective"] = s.estimator == "cd" || s.estimator == "pcd" ? "likelihood" : s.objective;
  if (s.model == "rbm") summary["hidden"] = s.hidden;
  else summary["mlp_hidden"] = s.mlp_hidden;
  summary["test_log_likelihood"] = test_ll;
  summary["train_log_likelihood"] = train_ll;
  summary["log_partition"] = log_z;
  summary["log_partition_stderr"] = log_z_stderr;
  summary["base_rate_test_log_likelihood"] = base_rate;
  summary["iterations"] = result.iterations;
  summary["wall_seconds"] = result.wall_seconds;
  summary["iterations_per_second"] = result.iterations_per_second;
  summary["processes"] = process.size();
  if constexpr (requires { estimator.exchange_seconds(); }) summary["exchange_seconds"] = estimator.exchange_seconds();
  summary["train_images"] = train_bits.rows();
  summary["test_images"] = test_bits.rows();
  write_file_atomically(std::filesystem::path(s.out) / "summary.json", summary.dump(2) + "\n", "train_rbm");
  std::cout << "trained " << s.estimator << " on " << train_bits.rows() << " images for " << result.iterations
            << " iterations in " << result.wall_seconds << " s\n"
            << "test log-likelihood " << test_ll << " nats (base rate " << base_rate << "), log Z " << log_z
            << (exact ? " (exact)" : " (AIS)") << "\n"
            << "pictures: " << (std::filesystem::path(s.out) / "samples.png").string() << ", "
            << (std::filesystem::path(s.out) / "filters.png").string() << "\n";
  return 0;
}

// Trains with the estimator, made data-parallel under --distributed.
// Trains the model of --model with the estimator, made data-parallel under --distributed.
template <class Estimator>
int train(const Estimator& estimator, const Settings& s) {
  constexpr bool block_gibbs = requires { estimator.sampler(); };  // CD and PCD: block Gibbs needs the RBM
  return examples::Distributed::current().with_estimator(estimator, [&](const auto& e) {
    if constexpr (block_gibbs) {
      return train_with<BernoulliRBM<float>>(e, s);
    } else {
      return s.model == "mlp" ? train_with<MlpEnergy<float>>(e, s) : train_with<BernoulliRBM<float>>(e, s);
    }
  });
}

template <class Objective>
int dispatch_ratio_matching(const Settings& s) {
  if (s.estimator == "rm") return train(RatioMatching<Objective>(), s);
  if (s.estimator == "uniform") return train(UniformSampledRM<Objective>(s.flips), s);
  if (s.estimator == "first-order") return train(TaylorRatioMatching<Objective>(), s);
  return train(GradientGuidedRM<Objective>(s.flips, s.estimator == "gg-basic" ? GuidedVariant::Basic
                                                                             : GuidedVariant::Advanced),
               s);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"Trains a Bernoulli RBM on binarised Fashion-MNIST and reports its test log-likelihood"};
  app.add_option("--model", s.model, "a Bernoulli RBM, or an MLP energy (784 → --mlp-hidden → 1, learned Swish)")
      ->check(CLI::IsMember({"rbm", "mlp"}))->capture_default_str();
  app.add_option("--mlp-hidden", s.mlp_hidden, "hidden widths of the MLP energy")
      ->check(CLI::PositiveNumber)->delimiter(',')->capture_default_str();
  app.add_option("--estimator", s.estimator, "training method")
      ->check(CLI::IsMember({"rm", "uniform", "gg-basic", "gg-advanced", "first-order", "cd", "pcd"}))
      ->capture_default_str();
  app.add_option("--objective", s.objective, "ratio objective of the ratio matching methods")
      ->check(CLI::IsMember({"hyvarinen", "sqrt", "squared"}))
      ->capture_default_str();
  app.add_option("--hidden", s.hidden, "hidden units")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--flips", s.flips, "flips per sample (sampled estimators)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--cd-steps", s.cd_steps, "block Gibbs steps per update (cd, pcd)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--batch", s.batch, "batch size")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--lr", s.lr, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--iters", s.iters, "training iterations")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--time-budget", s.time_budget, "stop after this many seconds of training (0: none)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--seed", s.seed, "random seed")->capture_default_str();
  app.add_option("--binarize", s.binarize, "threshold (pixel >= 128) or stochastic (seeded)")
      ->check(CLI::IsMember({"threshold", "stochastic"}))->capture_default_str();
  app.add_option("--data-dir", s.data_dir, "folder of the Fashion-MNIST IDX files")->capture_default_str();
  app.add_option("--out", s.out, "output folder")->capture_default_str();
  app.add_option("--ais-runs", s.ais_runs, "AIS runs (0: exact log Z only)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--ais-temperatures", s.ais_temperatures,
                 "AIS intermediate distributions (0: 14,500 with block Gibbs for the RBM, 100 d single-site for the MLP)")
      ->check(CLI::Range(Index{0}, Index{100000000}))->capture_default_str();
  app.add_option("--train-subset", s.train_subset, "use the first N training images (0: all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--test-subset", s.test_subset, "use the first N test images (0: all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--log-every", s.log_every, "iterations between log rows")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--eval-every", s.eval_every,
                 "iterations between test log-likelihoods in log.csv, a multiple of --log-every (0: at the end only)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--eval-ais-runs", s.eval_ais_runs, "AIS runs of the evaluations during training")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--eval-ais-temperatures", s.eval_ais_temperatures,
                 "AIS distributions of the evaluations during training (0: 2,000 for the RBM, 20 d for the MLP)")
      ->check(CLI::Range(Index{0}, Index{100000000}))->capture_default_str();
  app.add_flag("--distributed", s.distributed,
               "data-parallel over the MPI processes (mpirun -np P ...): each takes 1/P of every batch");
  if (const auto code = examples::parse_command_line(app, argc, argv)) return *code;
  if (s.eval_every % s.log_every != 0) {
    std::cerr << "train_rbm: --eval-every (" << s.eval_every << ") must be a multiple of --log-every (" << s.log_every
              << ")\n";
    return 2;
  }
  for (const auto& [flag, value] : {std::pair{"--ais-temperatures", s.ais_temperatures},
                                     std::pair{"--eval-ais-temperatures", s.eval_ais_temperatures}})
    if (value == 1 || value == 2) {
      std::cerr << "train_rbm: " << flag << " must be 0 (the model's default) or at least 3, got " << value << "\n";
      return 2;
    }
  if (s.model == "mlp" && (s.estimator == "cd" || s.estimator == "pcd")) {
    std::cerr << "train_rbm: --estimator " << s.estimator << " samples by block Gibbs, which needs --model rbm\n";
    return 2;
  }
  return examples::run_distributed("train_rbm", s.distributed, argc, argv, [&]() -> int {
    try {
      if (s.estimator == "cd") return train(ContrastiveDivergence(BlockGibbsSampler(), s.cd_steps), s);
      if (s.estimator == "pcd") return train(PersistentContrastiveDivergence(BlockGibbsSampler(), s.batch, s.cd_steps), s);
      if (s.objective == "sqrt") return dispatch_ratio_matching<SqrtRatio>(s);
      if (s.objective == "squared") return dispatch_ratio_matching<SquaredRatio>(s);
      return dispatch_ratio_matching<HyvarinenRatio>(s);
    } catch (const IdxError& e) {
      std::cerr << "train_rbm: " << e.what() << "\n";
      return 2;
    }
  });
}
