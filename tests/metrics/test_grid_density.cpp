// GridDensity: the sampler-free fit of 2-D toy models (cells, histogram, normalised model, KL).

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <ratiomatch/data/gray_code.hpp>
#include <ratiomatch/data/toy2d.hpp>
#include <ratiomatch/metrics/grid_density.hpp>
#include <ratiomatch/models/mlp_energy.hpp>

using namespace ratiomatch;

TEST_CASE("GridDensity: cells, centres and histogram", "[metrics][grid]") {
  const GridDensity grid(2.0, 4);  // cells of side 1 over [−2, 2]²
  const auto centres = grid.centres();
  REQUIRE(centres.rows() == 16);
  CHECK(centres(0, 0) == Approx(-1.5));  // top-left
  CHECK(centres(0, 1) == Approx(1.5));
  CHECK(centres(15, 0) == Approx(1.5));  // bottom-right
  CHECK(centres(15, 1) == Approx(-1.5));
  for (Index k = 0; k < 16; ++k) CHECK(grid.cell_of(centres(k, 0), centres(k, 1)) == k);
  CHECK(grid.cell_of(2.5, 0) == -1);
  CHECK(grid.cell_of(0, -2.0) == -1);
  CHECK(grid.cell_of(std::nan(""), 0) == -1);
  Points2d points(5, 2);
  points << -1.5, 1.5, -1.2, 1.9, 0.5, -0.5, 3.0, 0.0, 1.9, -1.9;
  const auto p = grid.histogram(points);
  CHECK(p(0) == Approx(0.4));
  CHECK(p(grid.cell_of(0.5, -0.5)) == Approx(0.2));
  CHECK(p(15) == Approx(0.2));
  CHECK(p.sum() == Approx(0.8));  // one point outside
  CHECK_THROWS_AS(GridDensity(0.0, 4), std::invalid_argument);
  CHECK_THROWS_AS(GridDensity(1.0, 1), std::invalid_argument);
  CHECK_THROWS_AS(grid.histogram(Points2d(0, 2)), std::invalid_argument);
}

TEST_CASE("GridDensity: KL divergence is zero for the same distribution and matches the formula", "[metrics][grid]") {
  Vector<double> p(4), log_q(4);
  p << 0.5, 0.25, 0.25, 0;
  log_q = p.array().max(1e-300).log();
  CHECK(GridDensity::kl_divergence(p, log_q) == Approx(0).margin(1e-12));
  log_q << std::log(0.25), std::log(0.25), std::log(0.25), std::log(0.25);
  const double expected = 0.5 * std::log(0.5 / 0.25) + 2 * 0.25 * std::log(1.0);
  CHECK(GridDensity::kl_divergence(p, log_q) == Approx(expected));
  // p is renormalised to the cells it covers.
  CHECK(GridDensity::kl_divergence(Vector<double>(p * 0.5), log_q) == Approx(expected));
  CHECK_THROWS_AS(GridDensity::kl_divergence(Vector<double>::Zero(4), log_q), std::invalid_argument);
  Vector<double> negative = p;
  negative(3) = -0.1;
  CHECK_THROWS_AS(GridDensity::kl_divergence(negative, log_q), std::invalid_argument);
  negative(3) = std::nan("");
  CHECK_THROWS_AS(GridDensity::kl_divergence(negative, log_q), std::invalid_argument);
}

TEST_CASE("GridDensity: the model's log density is exp(−βE) at the coded centres, normalised", "[metrics][grid]") {
  std::mt19937_64 rng(7);
  const auto encoder = GrayCodeEncoder::fit(16, sample_toy2d(Toy2d::Moons, 500, rng));
  MlpEnergy<double> model(16, {8}, Activation::Tanh);
  model.initialize(rng);
  const GridDensity grid(3.0, 10);
  const double beta = 2.5;
  const auto log_q = grid.log_density(model, encoder, beta);
  CHECK(log_q.array().exp().sum() == Approx(1.0).epsilon(1e-12));
  Vector<double> e;
  model.energy(encoder.encode<double>(grid.centres()), e);
  // Differences of log q are −β times differences of E.
  CHECK(log_q(3) - log_q(7) == Approx(-beta * (e(3) - e(7))).epsilon(1e-10));
  CHECK_THROWS_AS(grid.log_density(model, encoder, std::numeric_limits<double>::infinity()), NumericalError);
}
