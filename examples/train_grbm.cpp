// Trains a Gaussian-Bernoulli RBM with the score matching family (exact, denoising, sliced, and
// bi-level DSM/SSM with the hidden units unobserved) or with contrastive divergence, and scores it
// by the test log-likelihood. On 2-D data (double precision) log Z is exact, in closed form over
// the hidden states; the default is the BiSM paper's toy, the 2 x 2 checkerboard on [0,1]^2, whose
// density is 2 on its two occupied cells (log 2 = 0.693 nats per point). On Fashion-MNIST
// (Debian's dataset-fashion-mnist; pixels dequantised into (0, 1), 784 visible units, single
// precision) log Z comes from annealed importance sampling.
#include <ratiomatch/data/idx_reader.hpp>
#include <ratiomatch/data/toy2d.hpp>
#include <ratiomatch/estimators/bism.hpp>
#include <ratiomatch/estimators/denoising_score_matching.hpp>
#include <ratiomatch/estimators/gaussian_rbm_contrastive_divergence.hpp>
#include <ratiomatch/estimators/score_matching.hpp>
#include <ratiomatch/estimators/sliced_score_matching.hpp>
#include <ratiomatch/io/npy.hpp>
#include <ratiomatch/io/rgb_image.hpp>
#include <ratiomatch/models/gaussian_bernoulli_rbm.hpp>
#include <ratiomatch/models/gaussian_bernoulli_rbm_ais.hpp>
#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/train/trainer.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_line.hpp"
#include "image_tiles.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>

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
  // Fashion-MNIST only
  std::string data_dir = std::string(fashion_mnist_default_dir);
  Index train_subset = 0;  // 0: all 60,000 training images
  Index test_subset = 0;   // 0: all 10,000 test images
  Index ais_runs = 100;
  Index ais_temperatures = 2000;
};

constexpr std::string_view fashion_mnist = "fashion-mnist";
bool is_images(const Settings& s) { return s.data == fashion_mnist; }

template <class S>
struct DataSets {
  Matrix<S> train, test;
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

// The first `count` rows (all if count is 0 or too large).
template <class S>
Matrix<S> first_rows(Matrix<S> X, Index count) {
  if (count > 0 && count < X.rows()) X.conservativeResize(count, Eigen::NoChange);
  return X;
}

// 2-D: 50,000 training and 10,000 test points, fresh draws. Fashion-MNIST: the 60,000 / 10,000
// images, each pixel dequantised into (0, 1).
template <class S>
DataSets<S> load_data(const Settings& s) {
  std::mt19937_64 data_rng(s.seed);
  if (is_images(s)) {
    Matrix<S> train = dequantize_pixels<S>(read_fashion_mnist_images("train", s.data_dir), data_rng);
    Matrix<S> test = dequantize_pixels<S>(read_fashion_mnist_images("test", s.data_dir), data_rng);
    return {first_rows(std::move(train), s.train_subset), first_rows(std::move(test), s.test_subset)};
  }
  Matrix<double> train = sample_data(s.data, 50000, data_rng);
  Matrix<double> test = sample_data(s.data, 10000, data_rng);
  return {train.cast<S>(), test.cast<S>()};
}

// The same model in double precision, for log-likelihoods.
template <class S>
GaussianBernoulliRBM<double> in_double(const GaussianBernoulliRBM<S>& model) {
  GaussianBernoulliRBM<double> copy(model.dim(), model.num_hidden());
  copy.params() = model.params().template cast<double>();
  return copy;
}

// The mean log-likelihood of `test` under the independent Gaussian fitted to `train` (W = 0).
template <class S>
double mean_log_density_of_gaussian_fit(const Matrix<S>& train, const Matrix<S>& test) {
  GaussianBernoulliRBM<double> gaussian(train.cols(), 1);
  gaussian.set_visible_from_data(train.template cast<double>());
  return gaussian.mean_log_likelihood(test.template cast<double>());
}

// Mean log-likelihood with log Z exact (2-D) or by AIS (images; seeded, so that every evaluation
// of one model gives the same number). Returns {mean log-likelihood, log Z, its standard error}.
template <class S>
std::array<double, 3> log_likelihood(const GaussianBernoulliRBM<S>& model, const Matrix<S>& V, const Settings& s) {
  const GaussianBernoulliRBM<double> m = in_double(model);
  if (!is_images(s)) {
    const double log_z = m.log_partition();
    return {m.mean_log_likelihood(V.template cast<double>()), log_z, 0.0};
  }
  std::mt19937_64 ais_rng(s.seed + 7);
  const LogPartitionEstimate ais =
      annealed_log_partition(m, AisOptions{.runs = s.ais_runs, .temperatures = s.ais_temperatures}, ais_rng);
  Vector<double> free_energy;
  m.energy(V.template cast<double>(), free_energy);
  return {-free_energy.mean() - ais.log_partition, ais.log_partition, ais.standard_error};
}

// Bits per pixel of the discrete images from a density on (0, 1)^d of dequantised pixels.
double bits_per_pixel(double mean_log_likelihood, Index d) {
  return -(mean_log_likelihood - static_cast<double>(d) * std::log(256.0)) / (static_cast<double>(d) * std::numbers::ln2);
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

// Images: 100 chains of 1,000 block Gibbs steps from uniform noise, each shown as the visible mean
// given one more draw of its hidden units (the reference code's picture), and the first 100 filters.
void image_pictures(const GaussianBernoulliRBM<float>& model, const Settings& s, const std::filesystem::path& out) {
  std::mt19937_64 rng(s.seed + 11);
  Matrix<float> V(100, model.dim()), P, M;
  for (Index i = 0; i < V.cols(); ++i)
    for (Index r = 0; r < V.rows(); ++r) V(r, i) = static_cast<float>(uniform_open01(rng));
  model.gibbs_steps(V, 1000, rng);
  model.hidden_probabilities(V, P);
  for (Index j = 0; j < P.cols(); ++j)
    for (Index r = 0; r < P.rows(); ++r) P(r, j) = uniform_open01(rng) < P(r, j) ? 1.0f : 0.0f;
  model.visible_mean(P, M);
  examples::tile_grid(M, 10, 2, false).save_png((out / "samples.png").string());
  examples::tile_grid(model.weight().topRows(std::min<Index>(100, model.num_hidden())), 10, 2, true)
      .save_png((out / "filters.png").string());
}

template <class Estimator, class S>
int train(const Estimator& estimator, const Settings& s) {
  const std::filesystem::path out(s.out);
  std::filesystem::create_directories(out);
  const DataSets<S> data = load_data<S>(s);
  const Index d = data.train.cols();

  // The reference code's initialisation: W, b, c ~ U(−1/√m, 1/√m), log σ = 0.
  GaussianBernoulliRBM<S> model(d, s.hidden);
  std::mt19937_64 setup(s.seed + 1);
  const double bound = 1.0 / std::sqrt(static_cast<double>(s.hidden));
  for (Index k = 0; k < model.num_params(); ++k) model.params()(k) = static_cast<S>(bound * (2 * uniform_open01(setup) - 1));
  model.log_std().setZero();

  Adam<S> adam(model.num_params(), {.lr = s.lr, .beta1 = 0.9, .beta2 = 0.95});
  std::ostringstream tag;
  tag << "train_grbm data=" << s.data << " method=" << s.method << " hidden=" << s.hidden << " noise_std=" << s.noise_std
      << " inner=" << s.inner_steps << " unroll=" << s.unroll << " cd_steps=" << s.cd_steps << " batch=" << s.batch
      << " lr=" << s.lr << " seed=" << s.seed;
  if (is_images(s)) tag << " train=" << data.train.rows() << " ais=" << s.ais_runs << "x" << s.ais_temperatures;
  Trainer trainer(model, estimator, adam,
                  TrainerOptions{.iterations = s.iters, .clip_norm = 0, .log_every = s.log_every,
                                 .eval_every = s.eval_every, .checkpoint_every = s.checkpoint_every,
                                 .out_dir = s.out, .tag = tag.str()});
  trainer.set_evaluator({"test_log_likelihood"}, [&](Index) {
    return std::vector<double>{log_likelihood(model, data.test, s)[0]};
  });
  std::mt19937_64 rng(s.seed * 2654435761u + 31);
  if (s.resume) trainer.resume(trainer.checkpoint_path(), rng);
  // Rows are drawn from a row-major copy: one contiguous read each (a row of the column-major
  // matrix touches d cache lines).
  const RowMajorMatrix<S> train_rows = data.train;
  auto next_batch = [&](Matrix<S>& batch, std::mt19937_64& r) {
    batch.resize(s.batch, d);
    for (Index k = 0; k < s.batch; ++k) batch.row(k) = train_rows.row(uniform_index(r, train_rows.rows()));
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
    write_file_atomically(out / "summary.json", summary.dump(2) + "\n", "train_grbm");
    std::cerr << "train_grbm: " << result.message << "\n";
    return 1;
  }
  const auto [test_ll, log_z, log_z_stderr] = log_likelihood(model, data.test, s);
  summary["test_log_likelihood"] = test_ll;
  summary["train_log_likelihood"] = log_likelihood(model, first_rows(data.train, 10000), s)[0];
  summary["log_partition"] = log_z;
  summary["gaussian_test_log_likelihood"] = mean_log_density_of_gaussian_fit(data.train, data.test);
  if (s.data == "checkerboard") summary["true_log_likelihood"] = std::numbers::ln2;
  if (is_images(s)) {
    summary["log_partition_method"] = "ais";
    summary["log_partition_stderr"] = log_z_stderr;
    summary["ais_runs"] = s.ais_runs;
    summary["ais_temperatures"] = s.ais_temperatures;
    summary["test_bits_per_pixel"] = bits_per_pixel(test_ll, d);
    summary["gaussian_test_bits_per_pixel"] = bits_per_pixel(summary["gaussian_test_log_likelihood"].get<double>(), d);
  } else {
    summary["log_partition_method"] = "exact";
  }
  summary["iterations_per_second"] = result.iterations_per_second;
  save_params_npy(model, out / "params");
  write_file_atomically(out / "summary.json", summary.dump(2) + "\n", "train_grbm");
  std::string pictures;
  if constexpr (std::is_same_v<S, float>) {
    image_pictures(model, s, out);
    pictures = (out / "samples.png").string() + ", " + (out / "filters.png").string();
  } else {
    density_picture(model, data.test).save_png((out / "density.png").string());
    pictures = (out / "density.png").string() + " (data | model)";
  }
  std::cout << "trained " << s.method << " on " << s.data << " for " << result.iterations << " iterations in "
            << result.wall_seconds << " s\n"
            << "test log-likelihood " << test_ll << " nats (" << (is_images(s) ? "log Z by AIS" : "exact")
            << "; independent Gaussian " << summary["gaussian_test_log_likelihood"].get<double>() << ")\n"
            << "pictures: " << pictures << "\n";
  return 0;
}

template <class S>
int dispatch(const Settings& s) {
  if (s.method == "sm") return train<ScoreMatching, S>(ScoreMatching(), s);
  if (s.method == "dsm") return train<DenoisingScoreMatching, S>(DenoisingScoreMatching(s.noise_std), s);
  if (s.method == "ssm") return train<SlicedScoreMatching, S>(SlicedScoreMatching(s.projections), s);
  if (s.method == "cd" || s.method == "pcd")
    return train<GaussianRBMContrastiveDivergence<S>, S>(GaussianRBMContrastiveDivergence<S>(s.cd_steps, s.method == "pcd"), s);
  BiSMOptions o;
  o.objective = s.method == "bism-dsm" ? BiSMObjective::Denoising : BiSMObjective::Sliced;
  o.noise_std = s.noise_std;
  o.inner_steps = s.inner_steps;
  o.unroll_steps = s.unroll;
  o.posterior_optimizer = {.lr = s.lr, .beta1 = 0.9, .beta2 = 0.95};
  const Index d = is_images(s) ? Index{28 * 28} : Index{2};
  BiSM<S> bism(d, s.hidden, o);
  std::mt19937_64 setup(s.seed + 2);
  bism.initialize_posterior(setup);  // nn.Linear's initialisation, as the reference's posterior
  return train<BiSM<S>, S>(bism, s);
}

int dispatch(const Settings& s) {
  if (is_images(s)) return dispatch<float>(s);
  if (s.hidden > 20)
    throw std::invalid_argument("--hidden " + std::to_string(s.hidden) +
                                ": at most 20 on 2-D data, where log Z is summed over the hidden states");
  return dispatch<double>(s);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"Trains a Gaussian-Bernoulli RBM on 2-D data or Fashion-MNIST by score matching, BiSM or CD; reports the test "
               "log-likelihood (exact on 2-D data, by AIS on Fashion-MNIST)"};
  std::vector<std::string> data_names{"checkerboard", std::string(fashion_mnist)};
  for (const Toy2d t : all_toy2d()) data_names.emplace_back(to_string(t));
  app.add_option("--data", s.data, "data set")->check(CLI::IsMember(data_names))->capture_default_str();
  app.add_option("--method", s.method, "training method")
      ->check(CLI::IsMember({"sm", "dsm", "ssm", "bism-dsm", "bism-ssm", "cd", "pcd"}))
      ->capture_default_str();
  app.add_option("--hidden", s.hidden, "hidden units (2-D data: at most 20, for the exact log Z)")
      ->check(CLI::Range(Index{1}, Index{4096}))
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
  app.add_option("--data-dir", s.data_dir, "folder of the Fashion-MNIST IDX files")->capture_default_str();
  app.add_option("--train-subset", s.train_subset, "first N training images (0: all; fashion-mnist)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--test-subset", s.test_subset, "first N test images (0: all; fashion-mnist)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--ais-runs", s.ais_runs, "AIS runs for log Z (fashion-mnist)")
      ->check(examples::positive_count())
      ->capture_default_str();
  app.add_option("--ais-temperatures", s.ais_temperatures, "AIS intermediate distributions (fashion-mnist)")
      ->check(CLI::Range(Index{3}, Index{1000000}))
      ->capture_default_str();
  if (const auto code = examples::parse_command_line(app, argc, argv)) return *code;
  return examples::run_reporting_errors("train_grbm", [&] { return dispatch(s); });
}
