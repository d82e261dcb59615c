// The ratiomatch side of the learning-quality comparison with a PyTorch trainer of the
// RMwGGIS recipe (torch_train.py): the same initial weights and the same batches go through
// both, and every number this program writes can be compared with the PyTorch side's.
//
// Files: weights are raw little-endian float32 in MlpEnergy::params() order (per layer W
// out × in row-major, then b: the order of torch.nn.Linear's parameters); batches are raw
// uint8, one byte per bit, rows of --dim bytes; bit selections are raw int32, --flips per row.
//
//   match_steps init --seed S --out w.bin
//       MlpEnergy<float>(32, {256, 256, 256}, Swish).initialize(std::mt19937_64(S)), written out.
//   match_steps steps --weights w.bin --batches b.u8 --steps N --estimator rm|gg-bits [--bits f.i32]
//       N steps of the estimator on consecutive batches of --batch rows, each followed by
//       gradient-norm clipping and Adam (L2 weight decay added to the gradient), as Trainer
//       does. rm is exact ratio matching (deterministic); gg-bits the advanced gradient-guided
//       objective Σ_t r²_{i_t} over the bits read from --bits (the draw is taken out, so the
//       step is deterministic); gg the library's GradientGuidedRM advanced step drawing from
//       std::mt19937_64(--seed), its bits written to PREFIX_bits.i32 (for torch_train.py steps
//       --bits) and its gradient checked against the generic path's for the same bits. Writes PREFIX.csv (step, loss, pre-clipping gradient norm,
//       parameter norm) and, at the steps of --dump-at, PREFIX_grad_K.bin (the pre-clipping
//       gradient) and PREFIX_params_K.bin (the parameters after step K); with gg-bits also
//       PREFIX_logprop_1.bin, the log proposal of the first batch (n × d, row-major).
//       --double runs in double precision.
//   match_steps eval --weights w.bin|OUT/checkpoint*.bin --seed S --iteration K [--int-scale X] [--betas 1,4] [--reps R]
//       The evaluation of train_synthetic, for weights from anywhere: 4000 data points from
//       std::mt19937_64(S + 1000003) coded with the encoder fitted from std::mt19937_64(S)
//       (or with --int-scale), 4000 Gibbs chains × 20 sweeps at each β from uniform bits with
//       the engine std::mt19937_64(S·7919 + K) (repetition k > 0 adds k·104729 to the seed);
//       MMD² U-statistic with k = d − Hamming. One JSON line.
//   match_steps train --seed S --iters N --out DIR [--pairing row|official] [--save-every K]
//       train_synthetic's gg-advanced run (same engines; --pairing row reproduces it bit for bit)
//       or the same with the public code's pairing of base and flipped energies (see
//       official_pairing_loss_and_gradient); DIR/log.csv has every step's loss and
//       pre-clipping gradient norm, DIR/weights_K.bin the parameters every K updates.
//       gg-bits-official is the steps estimator with that pairing.
//   match_steps int-scale --seed S      the encoder's int_scale that train_synthetic fits for seed S
//   match_steps draws --weights w.bin --batches b.u8 --rows R --reps M
//       M independent advanced draws (s distinct bits ~ the proposal, without replacement) for
//       each of the first R rows; writes PREFIX_draws.csv (row, bit, inclusion frequency,
//       proposal probability).
//   match_steps data --seed S --count N --out b.u8
//       N rows of the toy data set from std::mt19937_64(S), coded with the encoder fitted for
//       --seed (or --int-scale), one byte per bit.
//   match_steps export --weights OUT/checkpoint_K.bin --out w.bin   a checkpoint's parameters, raw.
//   match_steps mmd --x a.u8 --y b.u8   mmd_squared<HammingKernel> of two sample sets (a number).
//   match_steps encode --points p.f64 --int-scale X --out b.u8
//       GrayCodeEncoder(dim, X).encode of float64 points (rows of 2), one byte per bit.
#include <ratiomatch/ratiomatch.hpp>
#include <ratiomatch/io/checkpoint.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "command_line.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace ratiomatch;

namespace {

struct Settings {
  Index dim = 32;
  std::vector<Index> hidden{256, 256, 256};
  std::uint64_t seed = 1;
  std::string weights, batches, bits, out = "out/match", x_file, y_file, points;
  std::string estimator = "rm";
  std::string data = "2spirals";
  Index batch = 128, steps = 1, flips = 10, rows = 4, reps = 1, iteration = 0;
  double lr = 5e-4, weight_decay = 1e-4, clip = 1.0, int_scale = 0;
  std::vector<Index> dump_at{1, 10, 100};
  std::vector<double> betas{1.0, 4.0};
  bool use_double = false;
};

template <class T>
std::vector<T> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  const auto bytes = static_cast<std::size_t>(in.tellg());
  if (bytes % sizeof(T) != 0) throw std::runtime_error("'" + path + "' is not a whole number of entries");
  std::vector<T> v(bytes / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(bytes));
  return v;
}

template <class T>
void write_raw(const std::string& path, const T* data, std::size_t count) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(T)));
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
}

template <class S>
MlpEnergy<S> load_model(const Settings& s) {
  MlpEnergy<S> model(s.dim, s.hidden, Activation::Swish);
  if (s.weights.find("checkpoint") != std::string::npos) {  // a Trainer checkpoint
    model.params() = load_checkpoint<float>(s.weights).params.template cast<S>();
    return model;
  }
  const auto w = read_raw<float>(s.weights);
  if (static_cast<Index>(w.size()) != model.num_params())
    throw std::runtime_error("'" + s.weights + "' has " + std::to_string(w.size()) + " numbers, the model " +
                             std::to_string(model.num_params()));
  for (Index k = 0; k < model.num_params(); ++k) model.params()(k) = static_cast<S>(w[static_cast<std::size_t>(k)]);
  return model;
}

template <class S>
Matrix<S> load_bits(const std::string& path, Index dim) {
  const auto raw = read_raw<std::uint8_t>(path);
  const Index n = static_cast<Index>(raw.size()) / dim;
  Matrix<S> X(n, dim);
  for (Index r = 0; r < n; ++r)
    for (Index c = 0; c < dim; ++c) X(r, c) = static_cast<S>(raw[static_cast<std::size_t>(r * dim + c)]);
  return X;
}

template <class S>
void write_vector(const std::string& path, const Eigen::Ref<const Vector<S>>& v) {
  std::vector<double> out(static_cast<std::size_t>(v.size()));
  for (Index k = 0; k < v.size(); ++k) out[static_cast<std::size_t>(k)] = static_cast<double>(v(k));
  write_raw(path, out.data(), out.size());  // float64, whatever the precision of the run
}

// The advanced objective with the public code's pairing of energies: the flipped rows are
// stacked flip-major (row m = k·n + r is row r with its k-th drawn bit flipped), and that
// column of n·s energies is reshaped row-major to n × s, so term (i, j) pairs E(x_i) with
// flipped row m = i·s + j, i.e. row m mod n, not row i:
//   loss = (1/n) Σ_i Σ_j exp(2 (E(x_i) − E(x̃_{i·s+j}))).
// Gradient by two weighted backward passes: c_i = (2/n) Σ_j term_ij on the base rows and
// −(2/n) term_ij on flipped row i·s + j. `bits(r, k)` is row r's k-th drawn bit.
template <class S>
S official_pairing_loss_and_gradient(const MlpEnergy<S>& model, const Matrix<S>& X, const Eigen::Ref<const IndexVector>& bits,
                                     Index s, Vector<S>& grad, Matrix<S>& flipped) {
  const Index n = X.rows();
  flipped.resize(n * s, X.cols());
  for (Index k = 0; k < s; ++k)
    for (Index r = 0; r < n; ++r) {
      flipped.row(k * n + r) = X.row(r);
      const Index i = bits(r * s + k);
      flipped(k * n + r, i) = S(1) - flipped(k * n + r, i);
    }
  Vector<S> e, f;
  model.energy(X, e);
  model.energy(flipped, f);
  Vector<S> c_base = Vector<S>::Zero(n), c_flip(n * s);
  double total = 0;
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < s; ++j) {
      const S term = std::exp(S(2) * (e(i) - f(i * s + j)));
      total += static_cast<double>(term);
      c_base(i) += S(2) * term / static_cast<S>(n);
      c_flip(i * s + j) = S(-2) * term / static_cast<S>(n);
    }
  grad.setZero(model.num_params());
  model.accumulate_param_gradient(X, c_base, grad);
  model.accumulate_param_gradient(flipped, c_flip, grad);
  return static_cast<S>(total / static_cast<double>(n));
}

template <class S>
int run_steps(const Settings& s) {
  MlpEnergy<S> model = load_model<S>(s);
  const Matrix<S> all = load_bits<S>(s.batches, s.dim);
  if (all.rows() < s.steps * s.batch)
    throw std::runtime_error("the batch file has " + std::to_string(all.rows()) + " rows, " +
                             std::to_string(s.steps * s.batch) + " are needed");
  std::vector<std::int32_t> bits;
  const GradientGuidedRM<SquaredRatio> guided(s.flips, GuidedVariant::Advanced);
  std::mt19937_64 draw_rng(s.seed);
  std::ofstream drawn;
  if (s.estimator == "gg") drawn.open(s.out + "_bits.i32", std::ios::binary);
  Vector<S> reference;
  if (s.estimator == "gg-bits" || s.estimator == "gg-bits-official") {
    bits = read_raw<std::int32_t>(s.bits);
    if (static_cast<Index>(bits.size()) < s.steps * s.batch * s.flips)
      throw std::runtime_error("the bits file is too short");
  }
  Adam<S> adam(model.num_params(), {.lr = s.lr, .weight_decay = s.weight_decay});
  const RatioMatching<SquaredRatio> exact;
  detail::EstimatorWorkspace<MlpEnergy<S>> ws;
  RequiredOnly<MlpEnergy<S>> generic_view(model);
  detail::EstimatorWorkspace<RequiredOnly<MlpEnergy<S>>> generic;  // the cross-check's flipped-row path
  std::mt19937_64 unused(0);
  std::ofstream log(s.out + ".csv");
  log << "step,loss,grad_norm,param_norm" << (s.estimator == "gg" ? ",fused_vs_generic\n" : "\n")
      << std::setprecision(17);
  Vector<S> grad;
  for (Index t = 1; t <= s.steps; ++t) {
    const Matrix<S> X = all.middleRows((t - 1) * s.batch, s.batch);
    S loss;
    double fused_vs_generic = 0;
    if (s.estimator == "rm") {
      loss = exact.loss_and_gradient(model, X, unused, grad);
    } else if (s.estimator == "gg") {
      // The library's own step (proposal, draw, fused flip gradient reusing the forward pass
      // of the input gradient). The same draw, repeated on a copy of the engine, is written
      // out and evaluated again through the generic flip objective as a cross-check.
      std::mt19937_64 copy = draw_rng;
      Matrix<S> log_n;
      gradient_guided_proposal<SquaredRatio>(model, X, log_n);
      generic.flips.log_proposal = log_n;
      detail::draw_without_replacement(s.flips, copy, generic.flips);
      std::vector<std::int32_t> chosen(static_cast<std::size_t>(generic.flips.bits.size()));
      for (Index k = 0; k < generic.flips.bits.size(); ++k)
        chosen[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(generic.flips.bits(k));
      drawn.write(reinterpret_cast<const char*>(chosen.data()), static_cast<std::streamsize>(chosen.size() * 4));
      generic.evaluation.bind(generic_view, X);  // the generic flip objective as the cross-check
      detail::flip_objective_loss_and_gradient<SquaredRatio>("match_steps", generic, reference);
      loss = guided.loss_and_gradient(model, X, draw_rng, grad);
      fused_vs_generic = (grad - reference).cwiseAbs().maxCoeff() / reference.cwiseAbs().maxCoeff();
    } else {
      if (t == 1) {
        Matrix<S> log_n;
        gradient_guided_proposal<SquaredRatio>(model, X, log_n);
        const RowMajorMatrix<S> row_major = log_n;
        write_vector<S>(s.out + "_logprop_1.bin", Eigen::Map<const Vector<S>>(row_major.data(), row_major.size()));
      }
      const Index n = X.rows();
      ws.flips.rows.resize(n * s.flips);
      ws.flips.bits.resize(n * s.flips);
      ws.flips.log_weight.setZero(n * s.flips);
      for (Index r = 0; r < n; ++r)
        for (Index k = 0; k < s.flips; ++k) {
          const Index at = r * s.flips + k;
          ws.flips.rows(at) = r;
          ws.flips.bits(at) = bits[static_cast<std::size_t>((t - 1) * n * s.flips + at)];
        }
      if (s.estimator == "gg-bits-official") {
        Matrix<S> flipped;
        loss = official_pairing_loss_and_gradient<S>(model, X, ws.flips.bits, s.flips, grad, flipped);
      } else {
        ws.evaluation.bind(model, X);
        loss = detail::flip_objective_loss_and_gradient<SquaredRatio>("match_steps", ws, grad);
      }
    }
    const bool dump = std::find(s.dump_at.begin(), s.dump_at.end(), t) != s.dump_at.end();
    if (dump) write_vector<S>(s.out + "_grad_" + std::to_string(t) + ".bin", grad);
    const double norm = s.clip > 0 ? static_cast<double>(clip_gradient_norm(grad, s.clip)) : grad.template cast<double>().norm();
    auto params = model.params();
    adam.step(params, grad);
    log << t << "," << static_cast<double>(loss) << "," << norm << "," << params.template cast<double>().norm();
    if (s.estimator == "gg") log << "," << fused_vs_generic;
    log << "\n";
    if (dump) write_vector<S>(s.out + "_params_" + std::to_string(t) + ".bin", model.params());
  }
  return 0;
}

GrayCodeEncoder fitted_encoder(const Settings& s);

// train_synthetic's run of the advanced estimator (same engines, same order of draws: with
// --pairing row it reproduces train_synthetic --estimator gg-advanced --activation swish bit for bit), with the
// public code's pairing as an alternative, the pre-clipping gradient norm of every step logged
// and the parameters saved every --save-every updates.
int run_train(const Settings& s, const std::string& pairing, Index save_every) {
  std::filesystem::create_directories(s.out);
  const Toy2d toy = parse_toy2d(s.data);
  std::mt19937_64 setup_rng(s.seed);
  const auto encoder = GrayCodeEncoder::fit(s.dim, sample_toy2d(toy, 5000, setup_rng));
  MlpEnergy<float> model(s.dim, s.hidden, Activation::Swish);
  model.initialize(setup_rng);
  Adam<float> adam(model.num_params(), {.lr = s.lr, .weight_decay = s.weight_decay});
  const GradientGuidedRM<SquaredRatio> guided(s.flips, GuidedVariant::Advanced);
  std::mt19937_64 rng(s.seed * 2654435761u + 17);
  std::ofstream log((std::filesystem::path(s.out) / "log.csv").string());
  log << "step,loss,grad_norm,param_norm\n";
  Matrix<float> batch, log_n, flipped;
  Vector<float> grad;
  detail::EstimatorWorkspace<MlpEnergy<float>> ws;
  for (Index t = 1; t <= s.steps; ++t) {
    batch = encoder.encode<float>(sample_toy2d(toy, s.batch, rng));
    float loss;
    if (pairing == "row") {
      loss = guided.loss_and_gradient(model, batch, rng, grad);
    } else {
      gradient_guided_proposal<SquaredRatio>(model, batch, log_n);
      ws.flips.log_proposal = log_n;
      detail::draw_without_replacement(s.flips, rng, ws.flips);
      loss = official_pairing_loss_and_gradient<float>(model, batch, ws.flips.bits, s.flips, grad, flipped);
    }
    const double norm = static_cast<double>(clip_gradient_norm(grad, s.clip));
    auto params = model.params();
    adam.step(params, grad);
    log << t << "," << loss << "," << norm << "," << model.params().norm() << "\n";
    if (save_every > 0 && t % save_every == 0) {
      write_raw((std::filesystem::path(s.out) / ("weights_" + std::to_string(t) + ".bin")).string(),
                model.params().data(), static_cast<std::size_t>(model.num_params()));
      log.flush();
    }
  }
  return 0;
}

GrayCodeEncoder fitted_encoder(const Settings& s) {
  std::mt19937_64 setup_rng(s.seed);
  const Toy2d toy = parse_toy2d(s.data);
  const auto fitted = GrayCodeEncoder::fit(s.dim, sample_toy2d(toy, 5000, setup_rng));
  return s.int_scale > 0 ? GrayCodeEncoder(s.dim, s.int_scale) : fitted;
}

int run_eval(const Settings& s) {
  const MlpEnergy<float> model = load_model<float>(s);
  const GrayCodeEncoder encoder = fitted_encoder(s);
  const Toy2d toy = parse_toy2d(s.data);
  std::mt19937_64 eval_data_rng(s.seed + 1000003);
  const Matrix<float> data_bits = encoder.encode<float>(sample_toy2d(toy, 4000, eval_data_rng));
  nlohmann::json out = {{"weights", s.weights}, {"seed", s.seed}, {"iteration", s.iteration},
                        {"int_scale", encoder.int_scale()}};
  for (const double beta : s.betas) {
    std::vector<double> values;
    for (Index k = 0; k < s.reps; ++k) {
      std::mt19937_64 rng(s.seed * 7919 + static_cast<std::uint64_t>(s.iteration) + static_cast<std::uint64_t>(k) * 104729);
      const Matrix<float> samples = GibbsSampler(beta).sample(model, 4000, 20, rng);
      values.push_back(mmd_squared<HammingKernel>(samples, data_bits));
    }
    std::ostringstream key;
    key << "mmd_beta" << beta;
    out[key.str()] = values;
  }
  std::cout << out.dump() << "\n";
  return 0;
}

int run_draws(const Settings& s) {
  const MlpEnergy<float> model = load_model<float>(s);
  const Matrix<float> X = load_bits<float>(s.batches, s.dim).topRows(s.rows);
  Matrix<float> log_n;
  gradient_guided_proposal<SquaredRatio>(model, X, log_n);
  detail::FlipSample<float> flips;
  flips.log_proposal = log_n;
  std::mt19937_64 rng(s.seed);
  Matrix<double> count = Matrix<double>::Zero(X.rows(), X.cols());
  for (Index m = 0; m < s.reps; ++m) {
    detail::draw_without_replacement(s.flips, rng, flips);
    for (Index t = 0; t < flips.rows.size(); ++t) count(flips.rows(t), flips.bits(t)) += 1;
  }
  std::ofstream out(s.out + "_draws.csv");
  out << "row,bit,frequency,proposal\n" << std::setprecision(10);
  for (Index r = 0; r < X.rows(); ++r)
    for (Index i = 0; i < X.cols(); ++i)
      out << r << "," << i << "," << count(r, i) / static_cast<double>(s.reps) << "," << std::exp(log_n(r, i)) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"ratiomatch side of the learning comparison with PyTorch (see the comment at the top of match_steps.cpp)"};
  app.require_subcommand(1);
  auto common = [&](CLI::App* sub) {
    sub->add_option("--dim", s.dim, "bits per row")->capture_default_str();
    sub->add_option("--hidden", s.hidden, "hidden widths")->delimiter(',')->capture_default_str();
    sub->add_option("--seed", s.seed, "seed")->capture_default_str();
    sub->add_option("--out", s.out, "output file or prefix")->capture_default_str();
    sub->add_option("--data", s.data, "toy data set")->capture_default_str();
  };
  auto* init = app.add_subcommand("init", "write initial weights");
  common(init);
  auto* steps = app.add_subcommand("steps", "run N training steps on given batches");
  common(steps);
  steps->add_option("--weights", s.weights)->required();
  steps->add_option("--batches", s.batches)->required();
  steps->add_option("--bits", s.bits, "int32 bit selections (gg-bits)");
  steps->add_option("--estimator", s.estimator)->check(CLI::IsMember({"rm", "gg", "gg-bits", "gg-bits-official"}))->capture_default_str();
  steps->add_option("--batch", s.batch)->capture_default_str();
  steps->add_option("--steps", s.steps)->capture_default_str();
  steps->add_option("--flips", s.flips)->capture_default_str();
  steps->add_option("--lr", s.lr)->capture_default_str();
  steps->add_option("--weight-decay", s.weight_decay)->capture_default_str();
  steps->add_option("--clip", s.clip, "0: none")->capture_default_str();
  steps->add_option("--dump-at", s.dump_at)->delimiter(',')->capture_default_str();
  steps->add_flag("--double", s.use_double, "double precision");
  std::string pairing = "row";
  Index save_every = 1000;
  auto* train = app.add_subcommand("train", "train_synthetic's gg-advanced run, optionally with the public code's pairing");
  common(train);
  train->add_option("--iters", s.steps)->capture_default_str();
  train->add_option("--pairing", pairing, "row: ratio matching; official: the public code's reshape")
      ->check(CLI::IsMember({"row", "official"}))->capture_default_str();
  train->add_option("--save-every", save_every)->capture_default_str();
  train->add_option("--lr", s.lr)->capture_default_str();
  train->add_option("--batch", s.batch)->capture_default_str();
  auto* eval = app.add_subcommand("eval", "score weights with train_synthetic's evaluation");
  common(eval);
  eval->add_option("--weights", s.weights)->required();
  eval->add_option("--iteration", s.iteration)->capture_default_str();
  eval->add_option("--int-scale", s.int_scale, "encoder scale (default: fitted for --seed)");
  eval->add_option("--betas", s.betas)->delimiter(',')->capture_default_str();
  eval->add_option("--reps", s.reps, "sampler repetitions")->capture_default_str();
  auto* scale = app.add_subcommand("int-scale", "print the fitted encoder scale");
  common(scale);
  auto* draws = app.add_subcommand("draws", "inclusion frequencies of the advanced draw");
  common(draws);
  draws->add_option("--weights", s.weights)->required();
  draws->add_option("--batches", s.batches)->required();
  draws->add_option("--rows", s.rows)->capture_default_str();
  draws->add_option("--reps", s.reps)->capture_default_str();
  draws->add_option("--flips", s.flips)->capture_default_str();
  Index count = 4000;
  auto* data = app.add_subcommand("data", "coded toy data");
  common(data);
  data->add_option("--count", count)->capture_default_str();
  data->add_option("--int-scale", s.int_scale, "encoder scale (default: fitted for --seed)");
  auto* export_ = app.add_subcommand("export", "raw parameters of a checkpoint");
  common(export_);
  export_->add_option("--weights", s.weights)->required();
  auto* mmd = app.add_subcommand("mmd", "MMD² of two sample files");
  common(mmd);
  mmd->add_option("--x", s.x_file)->required();
  mmd->add_option("--y", s.y_file)->required();
  auto* encode = app.add_subcommand("encode", "Gray-code float64 points");
  common(encode);
  encode->add_option("--points", s.points)->required();
  encode->add_option("--int-scale", s.int_scale)->required();
  if (const auto code = examples::parse_command_line(app, argc, argv)) return *code;
  return examples::run_reporting_errors("match_steps", [&]() -> int {
    if (init->parsed()) {
      MlpEnergy<float> model(s.dim, s.hidden, Activation::Swish);
      std::mt19937_64 rng(s.seed);
      model.initialize(rng);
      write_raw(s.out, model.params().data(), static_cast<std::size_t>(model.num_params()));
      return 0;
    }
    if (steps->parsed()) return s.use_double ? run_steps<double>(s) : run_steps<float>(s);
    if (eval->parsed()) return run_eval(s);
    if (train->parsed()) return run_train(s, pairing, save_every);
    if (scale->parsed()) {
      std::cout << std::setprecision(17) << fitted_encoder(s).int_scale() << "\n";
      return 0;
    }
    if (draws->parsed()) return run_draws(s);
    if (data->parsed()) {
      const GrayCodeEncoder encoder = fitted_encoder(s);
      std::mt19937_64 rng(s.seed);
      const Matrix<float> X = encoder.encode<float>(sample_toy2d(parse_toy2d(s.data), count, rng));
      std::vector<std::uint8_t> bytes(static_cast<std::size_t>(X.size()));
      for (Index r = 0; r < X.rows(); ++r)
        for (Index c = 0; c < X.cols(); ++c) bytes[static_cast<std::size_t>(r * X.cols() + c)] = static_cast<std::uint8_t>(X(r, c));
      write_raw(s.out, bytes.data(), bytes.size());
      return 0;
    }
    if (export_->parsed()) {
      const MlpEnergy<float> model = load_model<float>(s);
      write_raw(s.out, model.params().data(), static_cast<std::size_t>(model.num_params()));
      return 0;
    }
    if (mmd->parsed()) {
      std::cout << std::setprecision(17)
                << mmd_squared<HammingKernel>(load_bits<float>(s.x_file, s.dim), load_bits<float>(s.y_file, s.dim)) << "\n";
      return 0;
    }
    const auto raw = read_raw<double>(s.points);
    Points2d P(static_cast<Index>(raw.size() / 2), 2);
    for (Index r = 0; r < P.rows(); ++r) P(r, 0) = raw[static_cast<std::size_t>(2 * r)], P(r, 1) = raw[static_cast<std::size_t>(2 * r + 1)];
    const Matrix<float> X = GrayCodeEncoder(s.dim, s.int_scale).encode<float>(P);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(X.size()));
    for (Index r = 0; r < X.rows(); ++r)
      for (Index c = 0; c < X.cols(); ++c) bytes[static_cast<std::size_t>(r * X.cols() + c)] = static_cast<std::uint8_t>(X(r, c));
    write_raw(s.out, bytes.data(), bytes.size());
    return 0;
  });
}
