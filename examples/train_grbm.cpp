// Trains a Gaussian-Bernoulli RBM on 2-D data with the score matching family (exact, denoising,
// sliced, and bi-level DSM/SSM with the hidden units unobserved) or with contrastive divergence,
// and scores it by the exact test log-likelihood (log Z in closed form over the hidden states).
// The default is the BiSM paper's toy: the 2 x 2 checkerboard on [0,1]^2, whose density is 2 on
// its two occupied cells (log-likelihood log 2 = 0.693 nats per point).
#include <ratiomatch/data/toy2d.hpp>
#include <ratiomatch/estimators/bism.hpp>
#include <ratiomatch/estimators/denoising_score_matching.hpp>
#include <ratiomatch/estimators/gaussian_rbm_contrastive_divergence.hpp>
#include <ratiomatch/estimators/score_matching.hpp>
#include <ratiomatch/estimators/sliced_score_matching.hpp>
#include <ratiomatch/io/npy.hpp>
#include <ratiomatch/io/rgb_image.hpp>
#include <ratiomatch/models/gaussian_bernoulli_rbm.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/train/trainer.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_line.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numbers>
#include <random>
#include <sstream>
#include <string>

using namespace ratiomatch;

namespace {

struct Settings {
  std::string data = "checkerboard";
  std::string method = "bism-dsm";
  Index hidden = 4;
  double noise_std = 0.05;
  Index inner_steps = 5;
  Index unroll = 5;
  Index cd_steps = 1;
  Index projections = 1;
  Index batch = 100;
  double lr = 1e-3;
  Index iters = 20000;
  std::uint64_t seed = 1;
  std::string out = "out/grbm";
  Index log_every = 100;
  Index eval_every = 1000;
  Index checkpoint_every = 5000;
  bool resume = false;
};

// n points of the data set: the checkerboard (uniform on [0,½]² ∪ [½,1]², the cells of a 2 × 2
// board whose indices sum to an even number) or a 2-D toy of data/toy2d.hpp.
Matrix<double> sample_data(const std::string& name, Index n, std::mt19937_64& rng) {
  if (name != "checkerboard") return sample_toy2d(parse_toy2d(name), n, rng);
  Matrix<double> V(n, 2);
  for (Index r = 0; r < n; ++r) {
    const double cell = uniform_open01(rng) < 0.5 ? 0.0 : 0.5;
    V(r, 0) = cell + 0.5 * uniform_open01(rng);
    V(r, 1) = cell + 0.5 * uniform_open01(rng);
  }
  return V;
}

double mean_log_density_of_gaussian_fit(const Matrix<double>& train, const Matrix<double>& test) {
  GaussianBernoulliRBM<double> gaussian(2, 1);
  gaussian.set_visible_from_data(train);
  return gaussian.mean_log_likelihood(test);  // W = 0: the independent Gaussian
}

// The data's histogram beside the model's density exp(−F) / Z, over the data's bounding box.
RgbImage density_picture(const GaussianBernoulliRBM<double>& model, const Matrix<double>& data) {
  constexpr int side = 200;
  const Eigen::RowVector2d low = data.colwise().minCoeff(), high = data.colwise().maxCoeff();
  const Eigen::RowVector2d margin = 0.15 * (high - low), lo = low - margin, span = high - low + 2 * margin;
  Matrix<double> grid(side * side, 2);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      grid.row(y * side + x) << lo(0) + (x + 0.5) * span(0) / side, lo(1) + (side - y - 0.5) * span(1) / side;
  Vector<double> energy;
  model.energy(grid, energy);
  const Eigen::ArrayXd density = (-energy.array() - model.log_partition()).exp();
  Eigen::ArrayXd histogram = Eigen::ArrayXd::Zero(side * side);
  constexpr int bin = 5;  // histogram cells of 5 × 5 pixels: about 6 points each for 10,000 points
  for (Index r = 0; r < data.rows(); ++r) {
    const int x = static_cast<int>((data(r, 0) - lo(0)) / span(0) * side) / bin;
    const int y = (side - 1 - static_cast<int>((data(r, 1) - lo(1)) / span(1) * side)) / bin;
    if (x < 0 || x >= side / bin || y < 0 || y >= side / bin) continue;
    for (int dy = 0; dy < bin; ++dy)
      for (int dx = 0; dx < bin; ++dx) histogram((y * bin + dy) * side + x * bin + dx) += 1;
  }
  RgbImage image(2 * side + 10, side, {255, 255, 255});
  const double top_data = std::max(1.0, histogram.maxCoeff()), top_model = std::max(1e-300, density.maxCoeff());
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      image.set(x, y, viridis(histogram(y * side + x) / top_data));
      image.set(side + 10 + x, y, viridis(density(y * side + x) / top_model));
    }
  return image;
}

template <class Estimator>
int train(const Estimator& estimator, const Settings& s) {
  const std::filesystem::path out(s.out);
  std::filesystem::create_directories(out);
  std::mt19937_64 data_rng(s.seed);
  const Matrix<double> train_data = sample_data(s.data, 50000, data_rng), test_data = sample_data(s.data, 10000, data_rng);

  // The reference code's initialisation: W, b, c ~ U(−1/√m, 1/√m), log σ = 0.
  GaussianBernoulliRBM<double> model(2, s.hidden);
  std::mt19937_64 setup(s.seed + 1);
  const double bound = 1.0 / std::sqrt(static_cast<double>(s.hidden));
  for (Index k = 0; k < model.num_params(); ++k) model.params()(k) = bound * (2 * uniform_open01(setup) - 1);
  model.log_std().setZero();

  Adam<double> adam(model.num_params(), {.lr = s.lr, .beta1 = 0.9, .beta2 = 0.95});
  std::ostringstream tag;
  tag << "train_grbm data=" << s.data << " method=" << s.method << " hidden=" << s.hidden << " noise_std=" << s.noise_std
      << " inner=" << s.inner_steps << " unroll=" << s.unroll << " cd_steps=" << s.cd_steps << " batch=" << s.batch
      << " lr=" << s.lr << " seed=" << s.seed;
  Trainer trainer(model, estimator, adam,
                  TrainerOptions{.iterations = s.iters, .clip_norm = 0, .log_every = s.log_every,
                                 .eval_every = s.eval_every, .checkpoint_every = s.checkpoint_every,
                                 .out_dir = s.out, .tag = tag.str()});
  trainer.set_evaluator({"test_log_likelihood"}, [&](Index) {
    return std::vector<double>{model.mean_log_likelihood(test_data)};
  });
  std::mt19937_64 rng(s.seed * 2654435761u + 31);
  if (s.resume) trainer.resume(trainer.checkpoint_path(), rng);
  auto next_batch = [&](Matrix<double>& batch, std::mt19937_64& r) {
    batch.resize(s.batch, 2);
    for (Index k = 0; k < s.batch; ++k) batch.row(k) = train_data.row(uniform_index(r, train_data.rows()));
  };
  const TrainResult result = trainer.run(next_batch, rng);

  nlohmann::json summary;
  summary["data"] = s.data;
  summary["method"] = s.method;
  summary["hidden"] = s.hidden;
  summary["iterations"] = result.iterations;
  summary["wall_seconds"] = result.wall_seconds;
  summary["failed"] = result.failed;
  if (result.failed) {
    summary["message"] = result.message;
    std::ofstream(out / "summary.json") << summary.dump(2) << "\n";
    std::cerr << "train_grbm: " << result.message << "\n";
    return 1;
  }
  const double test_ll = model.mean_log_likelihood(test_data);
  summary["test_log_likelihood"] = test_ll;
  summary["train_log_likelihood"] = model.mean_log_likelihood(train_data.topRows(10000));
  summary["log_partition"] = model.log_partition();
  summary["gaussian_test_log_likelihood"] = mean_log_density_of_gaussian_fit(train_data, test_data);
  if (s.data == "checkerboard") summary["true_log_likelihood"] = std::numbers::ln2;
  summary["iterations_per_second"] = result.iterations_per_second;
  save_params_npy(model, out / "params");
  density_picture(model, test_data).save_png((out / "density.png").string());
  std::ofstream(out / "summary.json") << summary.dump(2) << "\n";
  std::cout << "trained " << s.method << " on " << s.data << " for " << result.iterations << " iterations in "
            << result.wall_seconds << " s\n"
            << "test log-likelihood " << test_ll << " nats (exact; single Gaussian "
            << summary["gaussian_test_log_likelihood"].get<double>() << ")\n"
            << "pictures: " << (out / "density.png").string() << " (data | model)\n";
  return 0;
}

int dispatch(const Settings& s) {
  if (s.method == "sm") return train(ScoreMatching(), s);
  if (s.method == "dsm") return train(DenoisingScoreMatching(s.noise_std), s);
  if (s.method == "ssm") return train(SlicedScoreMatching(s.projections), s);
  if (s.method == "cd" || s.method == "pcd")
    return train(GaussianRBMContrastiveDivergence<double>(s.cd_steps, s.method == "pcd"), s);
  BiSMOptions o;
  o.objective = s.method == "bism-dsm" ? BiSMObjective::Denoising : BiSMObjective::Sliced;
  o.noise_std = s.noise_std;
  o.inner_steps = s.inner_steps;
  o.unroll_steps = s.unroll;
  o.posterior_optimizer = {.lr = s.lr, .beta1 = 0.9, .beta2 = 0.95};
  BiSM<double> bism(2, s.hidden, o);
  std::mt19937_64 setup(s.seed + 2);
  bism.initialize_posterior(setup);  // nn.Linear's initialisation, as the reference's posterior
  return train(bism, s);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"Trains a Gaussian-Bernoulli RBM on 2-D data by score matching, BiSM or CD; reports the exact "
               "test log-likelihood"};
  std::vector<std::string> data_names{"checkerboard"};
  for (const Toy2d t : all_toy2d()) data_names.emplace_back(to_string(t));
  app.add_option("--data", s.data, "data set")->check(CLI::IsMember(data_names))->capture_default_str();
  app.add_option("--method", s.method, "training method")
      ->check(CLI::IsMember({"sm", "dsm", "ssm", "bism-dsm", "bism-ssm", "cd", "pcd"}))
      ->capture_default_str();
  app.add_option("--hidden", s.hidden, "hidden units (at most 20: exact log Z)")
      ->check(CLI::Range(Index{1}, Index{20}))
      ->capture_default_str();
  app.add_option("--noise-std", s.noise_std, "denoising noise (dsm, bism-dsm)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--inner-steps", s.inner_steps, "K, posterior steps per update (bism)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--unroll", s.unroll, "N, unrolled posterior steps (bism)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--cd-steps", s.cd_steps, "Gibbs steps per update (cd, pcd)")
      ->check(examples::positive_count())
      ->capture_default_str();
  app.add_option("--projections", s.projections, "projections per row (ssm)")
      ->check(examples::positive_count())
      ->capture_default_str();
  app.add_option("--batch", s.batch, "batch size")->check(examples::positive_count())->capture_default_str();
  app.add_option("--lr", s.lr, "Adam learning rate (betas 0.9, 0.95)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--iters", s.iters, "training iterations")->check(examples::positive_count())->capture_default_str();
  app.add_option("--seed", s.seed, "random seed")->capture_default_str();
  app.add_option("--out", s.out, "output folder")->capture_default_str();
  app.add_option("--log-every", s.log_every, "iterations between log rows")->check(examples::positive_count())->capture_default_str();
  app.add_option("--eval-every", s.eval_every, "iterations between exact test log-likelihoods (0: at the end)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--checkpoint-every", s.checkpoint_every, "iterations between checkpoints (0: at the end)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--resume", s.resume, "continue from OUT/checkpoint.bin");
  if (const auto code = examples::parse_command_line(app, argc, argv)) return *code;
  return examples::run_reporting_errors("train_grbm", [&] { return dispatch(s); });
}
