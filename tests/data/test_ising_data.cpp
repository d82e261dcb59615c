#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <system_error>

#include <ratiomatch/core/random.hpp>
#include <ratiomatch/data/binary_dataset.hpp>
#include <ratiomatch/data/ising_data.hpp>
#include <ratiomatch/data/ising_data_provenance.hpp>
#include <ratiomatch/models/ising_model.hpp>
#include <ratiomatch/samplers/gibbs_sampler.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;

namespace {

// The exact law of a small model, by enumeration: pi(k) ∝ exp(−E(state k)), states as in
// `all_states` (row k has bit i = (k >> i) & 1).
Vector<double> exact_law(const IsingModel<double>& model) {
  const Matrix<double> states = all_states<double>(model.dim());
  Vector<double> e;
  model.energy(states, e);
  Vector<double> p = (-(e.array() - e.minCoeff())).exp().matrix();
  return p / p.sum();
}

// The exact law after `sweeps` systematic-scan heat-bath sweeps from uniform bits: visiting
// bit i, the mass of a state and of its partner with bit i flipped, p(k) + p(k'), is shared
// in proportion pi(k) : pi(k'), the conditional law of bit i given the others.
Vector<double> law_after_sweeps(const Vector<double>& pi, Index d, Index sweeps) {
  const Index count = pi.size();
  Vector<double> p = Vector<double>::Constant(count, 1.0 / static_cast<double>(count));
  for (Index t = 0; t < sweeps; ++t)
    for (Index i = 0; i < d; ++i)
      for (Index k = 0; k < count; ++k) {
        const Index partner = k ^ (Index{1} << i);
        if (partner < k) continue;
        const double mass = p(k) + p(partner), share = pi(k) / (pi(k) + pi(partner));
        p(k) = mass * share;
        p(partner) = mass * (1 - share);
      }
  return p;
}

// Single-site marginals P(x_i = 1) and pairwise spin correlations E[s_i s_j] (i < j).
struct Moments {
  Vector<double> marginal;  // d
  Matrix<double> pair;      // d × d, upper triangle used
};

Moments exact_moments(const Vector<double>& pi, Index d) {
  const Matrix<double> X = all_states<double>(d);
  const Matrix<double> S = 2 * X.array() - 1;
  Moments m;
  m.marginal = X.transpose() * pi;
  m.pair = S.transpose() * pi.asDiagonal() * S;
  return m;
}

template <class S>
Moments sample_moments(const Matrix<S>& data) {
  const Matrix<double> X = data.template cast<double>();
  const Matrix<double> spins = 2 * X.array() - 1;
  const double n = static_cast<double>(X.rows());
  return {X.colwise().mean().transpose(), spins.transpose() * spins / n};
}

// The largest |z| over every marginal and every pairwise correlation, with the standard error
// from the exact variance: p(1 − p) / N for a marginal, 1 − E[s_i s_j]² / N for a correlation
// ((s_i s_j)² = 1).
double max_z_score(const Moments& exact, const Moments& sample, Index n) {
  const Index d = exact.marginal.size();
  const double N = static_cast<double>(n);
  double worst = 0;
  for (Index i = 0; i < d; ++i) {
    const double p = exact.marginal(i);
    worst = std::max(worst, std::abs(sample.marginal(i) - p) / std::sqrt(p * (1 - p) / N));
    for (Index j = i + 1; j < d; ++j) {
      const double c = exact.pair(i, j);
      worst = std::max(worst, std::abs(sample.pair(i, j) - c) / std::sqrt((1 - c * c) / N));
    }
  }
  return worst;
}

template <class S>
IsingModel<S> cast_model(const IsingModel<double>& model) {
  IsingModel<S> out(model.dim());
  out.params() = model.params().template cast<S>();
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("sample_ising_data matches the exact marginals and pair correlations of a 3×3 lattice",
                   "[data][ising]", float, double) {
  struct Case {
    const char* name;
    double sigma;
    bool random_bias;
    Index sweeps;
  };
  // Without a bias the law is symmetric under a global spin flip, and so is the law of the
  // chains at every sweep (uniform start, flip-symmetric kernel): the slow tunnelling between
  // the two ordered modes never has to happen, and 30 sweeps suffice even at σ = 0.25 (above
  // the critical coupling, ≈ 0.22 in this parametrisation). A bias breaks the symmetry: at
  // σ = 0.2 the chains need about 60 sweeps to come within 1e-4 of the law (at σ = 0.25, 220).
  const Case cases[] = {{"sigma 0.1", 0.1, false, 30},
                        {"sigma 0.25", 0.25, false, 30},
                        {"sigma 0.2, random bias in [-0.5, 0.5]", 0.2, true, 100}};
  const Index n = 20000;
  std::mt19937_64 rng(2021);
  for (const Case& c : cases) {
    INFO(c.name);
    auto truth = IsingModel<double>::periodic_lattice(3, c.sigma);
    if (c.random_bias)
      for (Index i = 0; i < truth.dim(); ++i) truth.bias()(i) = uniform_open01(rng) - 0.5;
    const Index d = truth.dim(), sweeps = c.sweeps;
    const Vector<double> pi = exact_law(truth);
    const Moments exact = exact_moments(pi, d);
    // The oracle sees a correlated law: neighbours (0, 1) are positively correlated.
    REQUIRE(exact.pair(0, 1) > 0.15);
    // The exact law of the chains after `sweeps` sweeps is within 1e-4 of pi in total
    // variation, so any statistic is off by at most 2e-4 (≪ SE ≈ 7e-3): a failure below is
    // the sampler's, not slow mixing.
    const double tv = 0.5 * (law_after_sweeps(pi, d, sweeps) - pi).cwiseAbs().sum();
    INFO("total variation after " << sweeps << " sweeps: " << tv);
    REQUIRE(tv < 1e-4);

    const IsingModel<TestType> model = cast_model<TestType>(truth);
    const Matrix<TestType> data = sample_ising_data(model, n, sweeps, rng);
    REQUIRE(data.rows() == n);
    REQUIRE(data.cols() == d);
    REQUIRE((data.array() == TestType(0) || data.array() == TestType(1)).all());
    const double z = max_z_score(exact, sample_moments(data), n);
    INFO("largest |z| after " << sweeps << " sweeps: " << z);
    CHECK(z < 5);

    // The uniform start (0 sweeps) fails the same check: the test has power.
    const Matrix<TestType> start = sample_ising_data(model, n, 0, rng);
    const double z0 = max_z_score(exact, sample_moments(start), n);
    INFO("largest |z| of the uniform start: " << z0);
    CHECK(z0 > 5);
    // So does sampling at the wrong temperature (β = 1/2, i.e. exp(−E/2)).
    const Matrix<TestType> hot = GibbsSampler(0.5).sample(model, n, sweeps, rng);
    const double z_hot = max_z_score(exact, sample_moments(hot), n);
    INFO("largest |z| at β = 1/2: " << z_hot);
    CHECK(z_hot > 5);
  }
}

TEST_CASE("sample_ising_data is Gibbs sampling at β = 1 from uniform bits, reproducible bit for bit",
          "[data][ising]") {
  const auto model = IsingModel<double>::periodic_lattice(4, 0.2);
  std::mt19937_64 a(7), b(7), c(7);
  const Matrix<double> first = sample_ising_data(model, 300, 5, a);
  REQUIRE(first == sample_ising_data(model, 300, 5, b));
  REQUIRE(first == GibbsSampler(1.0).sample(model, 300, 5, c));
  // Both engines are left in the same state.
  REQUIRE(b() == c());
  std::mt19937_64 d0(8), d1(8);
  REQUIRE(sample_ising_data(model, 50, 0, d0) == random_binary<double>(50, 16, d1));
}

TEST_CASE("sample_ising_data rejects bad counts", "[data][ising][errors]") {
  const auto model = IsingModel<double>::periodic_lattice(3, 0.1);
  std::mt19937_64 rng(9);
  REQUIRE_THROWS_WITH(sample_ising_data(model, 0, 10, rng),
                      "ratiomatch::sample_ising_data: num_samples (0) must be positive");
  REQUIRE_THROWS_AS(sample_ising_data(model, -3, 10, rng), std::invalid_argument);
  REQUIRE_THROWS_WITH(sample_ising_data(model, 10, -1, rng),
                      "ratiomatch::sample_ising_data: sweeps (-1) must not be negative");
}

TEMPLATE_TEST_CASE("Ising data survive a save_binary_data / load_binary_data round trip", "[data][ising][file]",
                   float, double) {
  TempDir dir;
  std::mt19937_64 rng(10);
  const auto model = IsingModel<TestType>::periodic_lattice(4, TestType(0.25));
  const Matrix<TestType> data = sample_ising_data(model, 200, 10, rng);
  const std::string path = dir.file("ising.txt");
  save_binary_data(path, data);
  const Matrix<TestType> loaded = load_binary_data<TestType>(path);
  REQUIRE(loaded.rows() == 200);
  REQUIRE(loaded.cols() == 16);
  REQUIRE(loaded == data);
}

TEST_CASE("An Ising data file carries its provenance and is refused for other settings", "[data][ising][file]") {
  TempDir dir;
  using Catch::Matchers::Contains;
  const IsingDataProvenance drawn{.side = 3, .sigma = 0.1 + 0.2, .samples = 40, .sweeps = 7, .seed = 5};
  std::mt19937_64 rng(10);
  const auto model = IsingModel<float>::periodic_lattice(3, 0.3f);
  const Matrix<float> data = sample_ising_data(model, drawn.samples, drawn.sweeps, rng);
  const std::string path = dir.file("ising.txt");
  save_ising_data(path, data, drawn);

  // The same settings: the data come back (sigma exactly, though 0.1 + 0.2 has 17 digits).
  REQUIRE(load_ising_data<float>(path, drawn) == data);
  REQUIRE(load_binary_data<float>(path) == data);  // the provenance is a comment line

  // Each other setting is refused, naming the flag with both values.
  auto refused = [&](IsingDataProvenance wanted, const std::string& text) {
    CHECK_THROWS_WITH(load_ising_data<float>(path, wanted), Contains("'" + path + "'") && Contains(text));
  };
  auto other = drawn;
  other.side = 4;
  refused(other, "--side 4 (file: 3)");
  other = drawn;
  other.sigma = 0.25;
  refused(other, "--sigma 0.25 (file: 0.30000000000000004)");
  other = drawn;
  other.samples = 41;
  refused(other, "--samples 41 (file: 40)");
  other = drawn;
  other.sweeps = 8;
  refused(other, "--sweeps 8 (file: 7)");
  other = drawn;
  other.seed = 6;
  refused(other, "--seed 6 (file: 5)");
  other.sigma = 0.5;
  refused(other, "--sigma 0.5 (file: 0.30000000000000004), --seed 6 (file: 5)");

  // A file without provenance, and one whose data disagree with it.
  save_binary_data(dir.file("plain.txt"), data);
  CHECK_THROWS_WITH(load_ising_data<float>(dir.file("plain.txt"), drawn),
                    Contains("plain.txt") && Contains("no '# ratiomatch-ising-data ...' line"));
  save_binary_data(dir.file("short.txt"), data.topRows(39), drawn.to_line());
  CHECK_THROWS_WITH(load_ising_data<float>(dir.file("short.txt"), drawn),
                    Contains("holds 39 × 9 samples, its provenance says 40 × 9"));
  std::ofstream(dir.file("malformed.txt")) << "# ratiomatch-ising-data side=3 sigma=x samples=40 sweeps=7 seed=5\n0 1\n";
  CHECK_THROWS_WITH(load_ising_data<float>(dir.file("malformed.txt"), drawn), Contains("malformed provenance field 'sigma=x'"));
  std::ofstream(dir.file("partial.txt")) << "# ratiomatch-ising-data side=3 sigma=0.3 samples=40\n0 1\n";
  CHECK_THROWS_WITH(load_ising_data<float>(dir.file("partial.txt"), drawn), Contains("lacks 'sweeps='"));
  other = drawn;
  other.samples = 41;
  CHECK_THROWS_WITH(save_ising_data(dir.file("bad.txt"), data, other),
                    Contains("ratiomatch::save_ising_data: X.rows() (40) must equal provenance.samples (41)"));
}
