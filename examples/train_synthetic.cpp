// Trains an MLP energy on one of the seven 2-D toy data sets, coded as binary vectors, with
// any of the ratio matching estimators — the synthetic experiment of the RMwGGIS paper —
// and writes the log, a summary with MMDs, pictures of the learned energy and samples, and the
// parameters as params/*.npy (PyTorch's names and shapes).
#include <ratiomatch/ratiomatch.hpp>
#include <ratiomatch/io/npy.hpp>
#include <ratiomatch/io/rgb_image.hpp>
#include <ratiomatch/train/trainer.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_line.hpp"
#include "distributed.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ratiomatch;
using Points = Eigen::Matrix<double, Eigen::Dynamic, 2>;

namespace {

struct Settings {
  std::string data = "2spirals";
  std::string estimator = "gg-advanced";
  std::string objective = "squared";
  Index flips = 10;
  Index dim = 32;
  Index iters = 100000;
  Index batch = 128;
  double lr = -1;  // < 0: the paper's 5e-4, or 1e-4 for checkerboard
  double weight_decay = 1e-4;
  double clip = 1.0;
  std::uint64_t seed = 1;
  std::string out = "out/synthetic";
  bool resume = false;
  bool distributed = false;
  Index log_every = 100;
  Index eval_every = 0;
  Index checkpoint_every = 1000;
  Index eval_samples = 4000;
  Index gibbs_sweeps = 20;
  Index eval_repeats = 0;   // extra evaluations of the final model with fresh seeds (sampling noise)
  std::vector<Index> hidden{256, 256, 256};
  std::string activation = "learnable-swish";  // the reference network's: x·σ(βx), one learned β
  int image_size = 400;
  Index pcd_steps = 1;
  bool mmd = true;          // Gibbs-sampled MMD at each evaluation (slow at large d)
  Index grid_size = 100;    // cells per side of the grid KL (sampler-free fit)
  bool heatmaps = false;    // energy_<iteration>.png at every evaluation
};

constexpr double plane_extent = 4.5;  // the pictures and the grid KL cover [−4.5, 4.5]²

struct Evaluation {
  double mmd_hamming = 0, mmd_exp_hamming = 0;
  Matrix<float> samples;
};

// 4000 model samples from Gibbs chains started at uniform random bits, against 4000 data samples.
Evaluation evaluate(const MlpEnergy<float>& model, const Matrix<float>& data, double beta, const Settings& s,
                    std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Evaluation e;
  e.samples = GibbsSampler(beta).sample(model, s.eval_samples, s.gibbs_sweeps, rng);
  e.mmd_hamming = mmd_squared<HammingKernel>(e.samples, data);
  e.mmd_exp_hamming = mmd_squared<ExpHammingKernel>(e.samples, data);
  return e;
}

Activation parse_activation(const std::string& name) {
  for (const Activation a : {Activation::LearnableSwish, Activation::Swish, Activation::Tanh, Activation::Elu,
                             Activation::Softplus})
    if (to_string(a) == name) return a;
  throw std::invalid_argument("unknown activation '" + name + "'");
}

// Heat map of exp(−β E) over the plane, each pixel's centre coded as the training data are.
RgbImage energy_image(const MlpEnergy<float>& model, const GrayCodeEncoder& encoder, double beta, double extent, int size) {
  Vector<float> energy;
  model.energy(encoder.encode<float>(GridDensity(extent, size).centres()), energy);
  const double lowest = energy.minCoeff();
  RgbImage image(size, size);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      image.set(x, y, viridis(std::exp(-beta * (energy(y * size + x) - lowest))));
  return image;
}

void plot_points(RgbImage& image, const Points& points, double extent, Rgb colour, double alpha) {
  const int size = image.width();
  for (Index k = 0; k < points.rows(); ++k) {
    const int x = static_cast<int>(std::floor((points(k, 0) / extent + 1) / 2 * size));
    const int y = static_cast<int>(std::floor((1 - points(k, 1) / extent) / 2 * size));
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) image.blend(x + dx, y + dy, colour, alpha);
  }
}

// Data (grey) on the left, decoded model samples (red) over faint data on the right.
RgbImage samples_image(const Points& data, const Points& samples, double extent, int size) {
  RgbImage left(size, size), right(size, size);
  plot_points(left, data, extent, {40, 40, 40}, 0.5);
  plot_points(right, data, extent, {180, 180, 180}, 0.35);
  plot_points(right, samples, extent, {200, 30, 30}, 0.6);
  RgbImage both(2 * size + 8, size, {255, 255, 255});
  both.paste(left, 0, 0);
  both.paste(right, size + 8, 0);
  return both;
}

// The data's model is exp(−temperature · E): the ratio objective's fixed point (DESIGN §1), 1 for PCD.
template <class Estimator>
int train_with(const Estimator& estimator, double temperature, const Settings& s, Toy2d toy) {
  const auto& process = examples::Distributed::current();
  if (process.root()) std::filesystem::create_directories(s.out);
  std::mt19937_64 setup_rng(s.seed);
  const auto encoder = GrayCodeEncoder::fit(s.dim, sample_toy2d(toy, 5000, setup_rng));
  MlpEnergy<float> model(s.dim, s.hidden, parse_activation(s.activation));
  model.initialize(setup_rng);
  process.share_parameters(model);
  const double lr = s.lr > 0 ? s.lr : (toy == Toy2d::Checkerboard ? 1e-4 : 5e-4);
  Adam<float> adam(model.num_params(), {.lr = lr, .weight_decay = s.weight_decay});

  std::mt19937_64 eval_data_rng(s.seed + 1000003);
  const Points data_points = sample_toy2d(toy, s.eval_samples, eval_data_rng);
  const Matrix<float> data_bits = encoder.encode<float>(data_points);

  std::ostringstream tag;
  tag << "train_synthetic data=" << s.data << " estimator=" << s.estimator << " objective=" << s.objective
      << " flips=" << s.flips << " dim=" << s.dim << " batch=" << s.batch << " lr=" << lr << " seed=" << s.seed
      << " activation=" << s.activation;
  Trainer trainer(model, estimator, adam,
                  process.options(TrainerOptions{.iterations = s.iters, .clip_norm = s.clip, .log_every = s.log_every,
                                                 .eval_every = s.eval_every, .checkpoint_every = s.checkpoint_every,
                                                 .out_dir = s.out, .tag = tag.str()}));
  // The sampler-free fit: KL(data histogram ‖ model on the grid), from a million data points.
  const GridDensity grid(plane_extent, s.grid_size);
  std::mt19937_64 histogram_rng(s.seed + 2000003);
  const Vector<double> data_histogram = grid.histogram(sample_toy2d(toy, 1000000, histogram_rng));
  std::vector<std::string> columns;
  if (s.mmd) columns = {"mmd_paper", "mmd_exp_paper"};
  if (s.mmd && temperature != 1) columns.insert(columns.end(), {"mmd_consistent", "mmd_exp_consistent"});
  columns.push_back("grid_kl_paper");
  if (temperature != 1) columns.push_back("grid_kl_consistent");
  // Each evaluation keeps its samples, so the final one also draws the pictures.
  Evaluation paper, consistent;
  double grid_kl_paper = 0, grid_kl_consistent = 0;
  Index evaluated_at = -1;
  auto evaluate_both = [&](Index iteration) {
    const std::uint64_t eval_seed = s.seed * 7919 + static_cast<std::uint64_t>(iteration);
    if (s.mmd) {
      paper = evaluate(model, data_bits, 1.0, s, eval_seed);
      consistent = temperature != 1 ? evaluate(model, data_bits, temperature, s, eval_seed) : paper;
    }
    grid_kl_paper = GridDensity::kl_divergence(data_histogram, grid.log_density(model, encoder, 1.0));
    grid_kl_consistent = temperature != 1
                             ? GridDensity::kl_divergence(data_histogram, grid.log_density(model, encoder, temperature))
                             : grid_kl_paper;
    if (s.heatmaps)
      energy_image(model, encoder, temperature, plane_extent, 200)
          .save_png((std::filesystem::path(s.out) / ("energy_" + std::to_string(iteration) + ".png")).string());
    evaluated_at = iteration;
  };
  if (process.root()) trainer.set_evaluator(columns, [&](Index iteration) {
    evaluate_both(iteration);
    std::vector<double> values;
    if (s.mmd) values = {paper.mmd_hamming, paper.mmd_exp_hamming};
    if (s.mmd && temperature != 1) values.insert(values.end(), {consistent.mmd_hamming, consistent.mmd_exp_hamming});
    values.push_back(grid_kl_paper);
    if (temperature != 1) values.push_back(grid_kl_consistent);
    return values;
  });

  std::mt19937_64 rng(s.seed * 2654435761u + 17);
  if (s.resume) {
    trainer.resume((std::filesystem::path(s.out) / "checkpoint.bin").string(), rng);
    if (process.root()) std::cerr << "resuming from iteration " << trainer.start_iteration() << "\n";
  }
  auto next_batch = [&](Matrix<float>& batch, std::mt19937_64& r) { batch = encoder.encode<float>(sample_toy2d(toy, s.batch, r)); };
  const TrainResult result = trainer.run(next_batch, rng);
  if (result.failed) {
    std::cerr << "train_synthetic: " << result.message << "\n";
    return 1;
  }
  if (!process.root()) return 0;  // rank 0 evaluates and writes the results

  // The paper's evaluation (Gibbs on exp(−E)) and the consistent one (exp(−T·E)) of the final model.
  if (evaluated_at != result.iterations) evaluate_both(result.iterations);
  const double extent = plane_extent;
  energy_image(model, encoder, 1.0, extent, s.image_size).save_png((std::filesystem::path(s.out) / "energy.png").string());
  if (s.mmd)
    samples_image(data_points, encoder.decode(paper.samples), extent, s.image_size)
        .save_png((std::filesystem::path(s.out) / "samples.png").string());
  if (temperature != 1) {
    energy_image(model, encoder, temperature, extent, s.image_size)
        .save_png((std::filesystem::path(s.out) / "energy_consistent.png").string());
    if (s.mmd)
      samples_image(data_points, encoder.decode(consistent.samples), extent, s.image_size)
          .save_png((std::filesystem::path(s.out) / "samples_consistent.png").string());
  }

  save_params_npy(model, std::filesystem::path(s.out) / "params");

  const std::string objective_name = s.estimator.rfind("pcd", 0) == 0 ? "likelihood" : s.objective;
  nlohmann::json summary = {
      {"data", s.data},
      {"estimator", s.estimator},
      {"objective", objective_name},
      {"temperature", temperature},
      {"flips", s.flips},
      {"dim", s.dim},
      {"batch", s.batch},
      {"activation", s.activation},
      {"swish_slope", static_cast<double>(model.slope())},
      {"learning_rate", lr},
      {"iterations", result.iterations},
      {"final_loss", result.final_loss},
      {"wall_seconds", result.wall_seconds},
      {"eval_seconds", result.eval_seconds},
      {"iterations_per_second", result.iterations_per_second},
      {"eval_samples", s.eval_samples},
      {"gibbs_sweeps", s.gibbs_sweeps},
      {"grid_size", s.grid_size},
      {"grid_kl_paper", grid_kl_paper},
      {"grid_kl_consistent", grid_kl_consistent},
  };
  summary["processes"] = process.size();
  if constexpr (requires { estimator.exchange_seconds(); }) summary["exchange_seconds"] = estimator.exchange_seconds();
  if (s.mmd) {
    summary["mmd_paper"] = {{"hamming", paper.mmd_hamming}, {"exp_hamming", paper.mmd_exp_hamming}};
    summary["mmd_consistent"] = {{"hamming", consistent.mmd_hamming}, {"exp_hamming", consistent.mmd_exp_hamming}};
  }
  if (s.mmd && s.eval_repeats > 0) {
    // The same final model scored again with other sampler seeds: the noise of one evaluation.
    std::vector<double> repeats_paper, repeats_consistent;
    for (Index r = 1; r <= s.eval_repeats; ++r) {
      const std::uint64_t seed = s.seed * 104729 + static_cast<std::uint64_t>(r);
      repeats_paper.push_back(evaluate(model, data_bits, 1.0, s, seed).mmd_hamming);
      repeats_consistent.push_back(
          temperature != 1 ? evaluate(model, data_bits, temperature, s, seed).mmd_hamming : repeats_paper.back());
    }
    summary["mmd_paper_repeats"] = repeats_paper;
    summary["mmd_consistent_repeats"] = repeats_consistent;
  }
  write_file_atomically(std::filesystem::path(s.out) / "summary.json", summary.dump(2) + "\n", "train_synthetic");
  std::cout << "trained " << s.estimator << " (" << objective_name << ") on " << s.data << " for " << result.iterations
            << " iterations in " << result.wall_seconds << " s (" << result.iterations_per_second << " it/s)\n";
  if (s.mmd) {
    std::cout << "MMD (Hamming kernel), Gibbs on exp(-E):   " << paper.mmd_hamming << "\n";
    if (temperature != 1)
      std::cout << "MMD (Hamming kernel), Gibbs on exp(-" << temperature << "E): " << consistent.mmd_hamming << "\n";
  }
  std::cout << "KL(data || model on a " << s.grid_size << "x" << s.grid_size << " grid), exp(-E): " << grid_kl_paper
            << " nats\n";
  if (temperature != 1)
    std::cout << "KL(data || model on the grid), exp(-" << temperature << "E): " << grid_kl_consistent << " nats\n";
  std::cout << "pictures: " << (std::filesystem::path(s.out) / "energy.png").string();
  if (s.mmd) std::cout << ", " << (std::filesystem::path(s.out) / "samples.png").string();
  std::cout << "\n";
  return 0;
}

// Trains with the estimator, made data-parallel under --distributed.
template <class Estimator>
int train(const Estimator& estimator, double temperature, const Settings& s, Toy2d toy) {
  return examples::Distributed::current().with_estimator(
      estimator, [&](const auto& e) { return train_with(e, temperature, s, toy); });
}

template <class Objective>
int dispatch_estimator(const Settings& s, Toy2d toy) {
  const double T = Objective::temperature;
  if (s.estimator == "rm") return train(RatioMatching<Objective>(), T, s, toy);
  if (s.estimator == "uniform") return train(UniformSampledRM<Objective>(s.flips), T, s, toy);
  if (s.estimator == "first-order") return train(TaylorRatioMatching<Objective>(), T, s, toy);
  const auto variant = s.estimator == "gg-basic" ? GuidedVariant::Basic : GuidedVariant::Advanced;
  return train(GradientGuidedRM<Objective>(s.flips, variant), T, s, toy);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"Train an energy model on a 2-D toy data set coded as binary vectors (the RMwGGIS synthetic experiment)"};
  std::vector<std::string> data_names;
  for (const auto toy : all_toy2d()) data_names.emplace_back(to_string(toy));
  app.add_option("--data", s.data, "data set")->check(CLI::IsMember(data_names))->capture_default_str();
  app.add_option("--estimator", s.estimator, "estimator")
      ->check(CLI::IsMember({"rm", "uniform", "gg-basic", "gg-advanced", "first-order", "pcd-gwg", "pcd-gibbs"}))->capture_default_str();
  app.add_option("--objective", s.objective, "ratio objective (DESIGN §1): squared is the paper's")
      ->check(CLI::IsMember({"squared", "hyvarinen", "sqrt"}))->capture_default_str();
  app.add_option("--pcd-steps", s.pcd_steps, "sampler steps per update (pcd-gwg: proposals; pcd-gibbs: sweeps)")
      ->check(examples::positive_count())->capture_default_str();
  app.add_option("--flips", s.flips, "flips per sample s (sampled estimators)")->check(examples::positive_count())->capture_default_str();
  app.add_option("--dim", s.dim, "bits per sample (even, at least 4)")
      ->check(CLI::Validator(
          [](std::string& v) {
            long long d = 0;
            std::size_t used = 0;
            try {
              d = std::stoll(v, &used);
            } catch (const std::exception&) {
              used = 0;
            }
            return used == v.size() && d >= 4 && d % 2 == 0 ? std::string()
                                                          : "--dim must be an even number of at least 4, got " + v;
          },
          "EVEN>=4"))
      ->capture_default_str();
  app.add_option("--iters", s.iters, "training iterations")->check(examples::positive_count())->capture_default_str();
  app.add_option("--batch", s.batch, "batch size")->check(examples::positive_count())->capture_default_str();
  app.add_option("--lr", s.lr, "Adam learning rate (default 5e-4; 1e-4 for checkerboard)")->check(CLI::PositiveNumber);
  app.add_option("--weight-decay", s.weight_decay, "L2 weight decay added to the gradient")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--clip", s.clip, "gradient-norm clipping (0: none)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--seed", s.seed, "random seed")->capture_default_str();
  app.add_option("--out", s.out, "output folder")->capture_default_str();
  app.add_flag("--resume", s.resume, "continue from OUT/checkpoint.bin");
  app.add_option("--log-every", s.log_every, "iterations between log rows")->check(examples::positive_count())->capture_default_str();
  app.add_option("--eval-every", s.eval_every, "iterations between MMD evaluations (0: at the end only)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--checkpoint-every", s.checkpoint_every, "iterations between checkpoints")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--eval-samples", s.eval_samples, "model and data samples for the MMD")->check(CLI::Range(2, 1000000))->capture_default_str();
  app.add_flag("!--no-mmd", s.mmd, "skip the Gibbs-sampled MMD (the grid KL needs no sampler)");
  app.add_option("--grid-size", s.grid_size, "cells per side of the grid on which KL(data || model) is measured")
      ->check(CLI::Range(2, 2000))->capture_default_str();
  app.add_flag("--heatmaps", s.heatmaps, "save the heat map energy_<iteration>.png at every evaluation");
  app.add_option("--image-size", s.image_size, "side of the final pictures in pixels")
      ->check(CLI::Range(16, 4000))->capture_default_str();
  app.add_option("--gibbs-sweeps", s.gibbs_sweeps, "Gibbs sweeps per evaluation sample")->check(examples::positive_count())->capture_default_str();
  app.add_option("--eval-repeats", s.eval_repeats,
                 "evaluate the final model this many more times with other sampler seeds (MMD noise)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--hidden", s.hidden, "hidden layer widths")->check(examples::positive_count())->delimiter(',')->capture_default_str();
  app.add_option("--activation", s.activation, "hidden activation (learnable-swish: x·sigmoid(βx), one learned β)")
      ->check(CLI::IsMember({"learnable-swish", "swish", "tanh", "elu", "softplus"}))
      ->capture_default_str();
  app.add_flag("--distributed", s.distributed,
               "data-parallel over the MPI processes (mpirun -np P ...): each takes 1/P of every batch");
  if (const auto code = examples::parse_command_line(app, argc, argv)) return *code;
  return examples::run_distributed("train_synthetic", s.distributed, argc, argv, [&] {
    const Toy2d toy = parse_toy2d(s.data);
    // Persistent contrastive divergence (maximum likelihood) with one chain per batch row.
    if (s.estimator == "pcd-gwg")
      return train(PersistentContrastiveDivergence(GibbsWithGradients(1.0), s.batch, s.pcd_steps), 1.0, s, toy);
    if (s.estimator == "pcd-gibbs")
      return train(PersistentContrastiveDivergence(GibbsSampler(1.0), s.batch, s.pcd_steps), 1.0, s, toy);
    if (s.objective == "hyvarinen") return dispatch_estimator<HyvarinenRatio>(s, toy);
    if (s.objective == "sqrt") return dispatch_estimator<SqrtRatio>(s, toy);
    return dispatch_estimator<SquaredRatio>(s, toy);
  });
}
