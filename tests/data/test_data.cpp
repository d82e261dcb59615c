#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <ratiomatch/core/random.hpp>
#include <ratiomatch/data/binary_dataset.hpp>
#include <ratiomatch/data/gray_code.hpp>
#include <ratiomatch/data/toy2d.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using ratiomatch::testing::TempDir;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

constexpr double pi = std::numbers::pi;

// Mean and standard error of the mean of the values f(row) over the rows of P.
struct MeanSe {
  double mean = 0, se = 0;
};
template <class F>
MeanSe mean_se(const Points2d& P, F f) {
  const Index n = P.rows();
  double s = 0, s2 = 0;
  for (Index i = 0; i < n; ++i) {
    const double v = f(P(i, 0), P(i, 1));
    s += v;
    s2 += v * v;
  }
  const double mean = s / static_cast<double>(n);
  const double var = std::max(0.0, s2 / static_cast<double>(n) - mean * mean);
  return {mean, std::sqrt(var / static_cast<double>(n))};
}

// Requires the mean of f over P to be `expected` within 5 standard errors (+ a model bias allowance).
template <class F>
void require_mean(const Points2d& P, F f, double expected, const char* what, double bias = 0.0) {
  const MeanSe m = mean_se(P, f);
  INFO(what << ": mean " << m.mean << ", expected " << expected << ", standard error " << m.se);
  REQUIRE(std::abs(m.mean - expected) <= 5 * m.se + bias);
}

// Binomial count check: `count` successes out of n with probability p, within 5 standard errors.
void require_count(Index count, Index n, double p, const char* what) {
  const double expected = p * static_cast<double>(n);
  const double se = std::sqrt(static_cast<double>(n) * p * (1 - p));
  INFO(what << ": count " << count << ", expected " << expected << ", standard error " << se);
  REQUIRE(std::abs(static_cast<double>(count) - expected) <= 5 * se);
}

// Exact equality of two matrices (a bool, so Catch does not print whole matrices on failure).
template <class A, class B>
bool same(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && a == b;
}

// The points curve(t) for t on a grid of `steps` + 1 values in [t0, t1], dense enough that the
// grid error is negligible next to the noise.
template <class Curve>
std::vector<std::array<double, 2>> curve_grid(Curve curve, double t0, double t1, int steps) {
  std::vector<std::array<double, 2>> grid;
  for (int k = 0; k <= steps; ++k) grid.push_back(curve(t0 + (t1 - t0) * k / steps));
  return grid;
}

// Squared distance from (x, y) to the nearest grid point. For noise of standard deviation σ per
// coordinate around a smooth curve its mean is ≈ σ² (the normal component of the noise).
double squared_distance(double x, double y, const std::vector<std::array<double, 2>>& grid) {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& c : grid) best = std::min(best, (x - c[0]) * (x - c[0]) + (y - c[1]) * (y - c[1]));
  return best;
}

Points2d sample(Toy2d which, Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return sample_toy2d(which, n, rng);
}


std::string read_error(const std::string& text, const std::string& source = "data.txt") {
  std::istringstream in(text);
  try {
    (void)read_binary_data<float>(in, source);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// standard_normal

TEST_CASE("standard_normal has the moments and the CDF of N(0, 1)", "[data][random]") {
  std::mt19937_64 rng(101);
  const int n = 400000;
  double s1 = 0, s2 = 0, s4 = 0, below_one = 0, max_abs = 0;
  for (int k = 0; k < n; ++k) {
    const double z = standard_normal(rng);
    s1 += z;
    s2 += z * z;
    s4 += z * z * z * z;
    below_one += z < 1.0 ? 1.0 : 0.0;
    max_abs = std::max(max_abs, std::abs(z));
  }
  const double dn = n;
  // Standard errors: mean 1/√n, E z² √(2/n), E z⁴ √((105 − 9)/n), P(z < 1) √(p(1 − p)/n).
  REQUIRE(std::abs(s1 / dn) < 5 / std::sqrt(dn));
  REQUIRE(std::abs(s2 / dn - 1.0) < 5 * std::sqrt(2.0 / dn));
  REQUIRE(std::abs(s4 / dn - 3.0) < 5 * std::sqrt(96.0 / dn));
  const double p = 0.5 * std::erfc(-1.0 / std::sqrt(2.0));  // Φ(1) ≈ 0.8413
  REQUIRE(std::abs(below_one / dn - p) < 5 * std::sqrt(p * (1 - p) / dn));
  REQUIRE(max_abs <= std::sqrt(2 * 54 * std::log(2.0)));
  REQUIRE(max_abs > 4.0);  // n = 4e5 draws reach beyond 4σ almost surely (P(no) ≈ e⁻²⁵)
}

TEST_CASE("standard_normal is reproducible from the seed and uses the Box–Muller formula", "[data][random]") {
  std::mt19937_64 a(7), b(7), c(7);
  for (int k = 0; k < 100; ++k) {
    const double z = standard_normal(a);
    REQUIRE(z == standard_normal(b));
    const double u1 = uniform_open01(c), u2 = uniform_open01(c);
    REQUIRE(z == std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * pi * u2));
  }
}

// ---------------------------------------------------------------------------------------------
// Toy distributions: names, shapes, reproducibility

TEST_CASE("Toy2d names round trip and an unknown name lists the valid ones", "[data][toy2d]") {
  const std::array<const char*, 7> names = {"2spirals", "8gaussians", "circles",     "moons",
                                            "pinwheel", "swissroll",  "checkerboard"};
  REQUIRE(all_toy2d().size() == 7);
  for (std::size_t k = 0; k < 7; ++k) {
    REQUIRE(to_string(all_toy2d()[k]) == names[k]);
    REQUIRE(parse_toy2d(names[k]) == all_toy2d()[k]);
  }
  REQUIRE(parse_toy2d("moons") == Toy2d::Moons);
  REQUIRE_THROWS_WITH(parse_toy2d("spirals"),
                      "ratiomatch::parse_toy2d: unknown 2-D toy data set 'spirals' (valid names: 2spirals, "
                      "8gaussians, circles, moons, pinwheel, swissroll, checkerboard)");
  REQUIRE_THROWS_AS(parse_toy2d("Moons"), std::invalid_argument);
  REQUIRE_THROWS_AS(parse_toy2d(""), std::invalid_argument);
}

TEST_CASE("sample_toy2d returns n finite points and is reproducible from the seed", "[data][toy2d]") {
  for (const Toy2d which : all_toy2d()) {
    INFO(to_string(which));
    for (const Index n : {1, 2, 3, 4, 5, 6, 7, 11, 1000}) {
      const Points2d P = sample(which, n, 5);
      REQUIRE(P.rows() == n);
      REQUIRE(P.cols() == 2);
      REQUIRE(P.allFinite());
      REQUIRE(same(P, sample(which, n, 5)));  // bit for bit
    }
    REQUIRE(!same(sample(which, 200, 5), sample(which, 200, 6)));
    // Successive draws from one engine continue the stream instead of repeating it.
    std::mt19937_64 rng(9);
    const Points2d first = sample_toy2d(which, 100, rng);
    const Points2d second = sample_toy2d(which, 100, rng);
    REQUIRE(!same(first, second));
    std::mt19937 rng32(9);  // a 32-bit engine works too
    REQUIRE(sample_toy2d(which, 10, rng32).allFinite());
  }
}

TEST_CASE("sample_toy2d rejects a non-positive count", "[data][toy2d]") {
  std::mt19937_64 rng(1);
  REQUIRE_THROWS_WITH(sample_toy2d(Toy2d::Moons, 0, rng), "ratiomatch::sample_toy2d: n (0) must be positive");
  REQUIRE_THROWS_AS(sample_toy2d(Toy2d::Circles, -3, rng), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Toy distributions: distribution-level checks that a wrong formula or constant would fail

TEST_CASE("swissroll: t cos t and t sin t over 5 with unit noise", "[data][toy2d]") {
  const Points2d P = sample(Toy2d::Swissroll, 40000, 21);
  // t ~ U[1.5π, 4.5π]: E[t cos t] = 6π/3π = 2, E[t sin t] = 2/(3π), E[t²] = 9.75π²; noise variance 1 each.
  require_mean(P, [](double x, double) { return x; }, 2.0 / 5, "E x");
  require_mean(P, [](double, double y) { return y; }, 2.0 / (3 * pi) / 5, "E y");
  require_mean(P, [](double x, double y) { return x * x + y * y; }, (9.75 * pi * pi + 2.0) / 25, "E |p|^2");
  // The noise is N(0, 0.2²) per coordinate around the curve (t cos t, t sin t)/5, whose turns
  // are 2π/5 ≈ 1.26 apart: the squared distance to the curve averages 0.2² = 0.04.
  const auto roll = curve_grid([](double t) { return std::array<double, 2>{t * std::cos(t) / 5, t * std::sin(t) / 5}; },
                                1.5 * pi, 4.5 * pi, 4000);
  double d2 = 0;
  for (Index i = 0; i < 4000; ++i) d2 += squared_distance(P(i, 0), P(i, 1), roll) / 4000;
  INFO("mean squared distance to the roll " << d2);
  REQUIRE(d2 > 0.85 * 0.04);
  REQUIRE(d2 < 1.15 * 0.04);
  // Noise-free radius t/5 lies in [0.3π, 0.9π].
  const Vector<double> r = P.rowwise().norm();
  REQUIRE(r.minCoeff() > 0.3 * pi - 8.7 * 0.2 * std::sqrt(2.0));
  REQUIRE(r.maxCoeff() < 0.9 * pi + 8.7 * 0.2 * std::sqrt(2.0));
}

TEST_CASE("circles: two rings of radii 3 and 1.5 with noise 0.24, half the points on each", "[data][toy2d]") {
  const Index n = 20000;
  const Points2d P = sample(Toy2d::Circles, n, 22);
  const double sigma = 3 * 0.08;
  Points2d outer(n, 2), inner(n, 2);
  Index n_out = 0, n_in = 0;
  for (Index i = 0; i < n; ++i) {
    if (P.row(i).norm() > 2.25)
      outer.row(n_out++) = P.row(i);
    else
      inner.row(n_in++) = P.row(i);
  }
  // Exactly n/2 on each ring; a point crosses the midline 2.25 only beyond 3σ.
  require_count(n_out, n, 0.5, "outer ring");
  REQUIRE(std::abs(n_out - n / 2) < n / 100);
  outer.conservativeResize(n_out, 2);
  inner.conservativeResize(n_in, 2);
  // E|c + e| ≈ R + σ²/(2R) for a point c on a ring of radius R and 2-D noise e ~ N(0, σ²I).
  const auto radius = [](double x, double y) { return std::hypot(x, y); };
  require_mean(outer, radius, 3.0 + sigma * sigma / 6.0, "outer radius", 1e-3);
  require_mean(inner, radius, 1.5 + sigma * sigma / 3.0, "inner radius", 2e-3);
  // The radial spread is the noise standard deviation.
  const MeanSe r_out = mean_se(outer, radius);
  const MeanSe r2_out = mean_se(outer, [](double x, double y) { return x * x + y * y; });
  const double sd_out = std::sqrt(r2_out.mean - r_out.mean * r_out.mean);
  REQUIRE(std::abs(sd_out / sigma - 1.0) < 0.05);
  // Angles are evenly spread: the centre of mass is the origin.
  require_mean(P, [](double x, double) { return x; }, 0.0, "E x");
  require_mean(P, [](double, double y) { return y; }, 0.0, "E y");
}

TEST_CASE("moons: sklearn's half circles, times 2 plus (−1, −0.2), noise 0.2 per coordinate", "[data][toy2d]") {
  const Index n = 20000;
  const Points2d P = sample(Toy2d::Moons, n, 23);
  // The noise-free points of sklearn's make_moons, transformed as FFJORD does.
  const Index n_out = n / 2, n_in = n - n_out;
  double mx = 0, my = 0, mxx = 0, myy = 0;
  for (Index k = 0; k < n_out + n_in; ++k) {
    const bool out = k < n_out;
    const Index m = out ? n_out : n_in, j = out ? k : k - n_out;
    const double a = pi * static_cast<double>(j) / static_cast<double>(m - 1);
    const double u = out ? std::cos(a) : 1 - std::cos(a), v = out ? std::sin(a) : 0.5 - std::sin(a);
    const double x = 2 * u - 1, y = 2 * v - 0.2;
    mx += x / n;
    my += y / n;
    mxx += x * x / n;
    myy += y * y / n;
  }
  const double noise_var = 0.2 * 0.2;
  require_mean(P, [](double x, double) { return x; }, mx, "E x");
  require_mean(P, [](double, double y) { return y; }, my, "E y");
  require_mean(P, [](double x, double) { return x * x; }, mxx + noise_var, "E x^2");
  require_mean(P, [](double, double y) { return y * y; }, myy + noise_var, "E y^2");
  REQUIRE(std::abs(mx) < 1e-3);  // the analytic means (0, 0.3) of the transformed moons
  REQUIRE(std::abs(my - 0.3) < 1e-3);
  // Squared distance to the nearer noise-free arc ≈ σ² (the normal component of the noise):
  // arcs of radius 2 centred at (−1, −0.2) (upper half) and (1, 0.8) (lower half).
  const auto arc_distance = [](double x, double y, double cx, double cy, bool upper) {
    const double dx = x - cx, dy = y - cy;
    if (upper ? dy >= 0 : dy <= 0) return std::abs(std::hypot(dx, dy) - 2.0);
    return std::min(std::hypot(dx - 2, dy), std::hypot(dx + 2, dy));  // nearer end point
  };
  const MeanSe d2 = mean_se(P, [&](double x, double y) {
    const double d = std::min(arc_distance(x, y, -1, -0.2, true), arc_distance(x, y, 1, 0.8, false));
    return d * d;
  });
  INFO("mean squared distance to the arcs " << d2.mean);
  REQUIRE(d2.mean > 0.85 * noise_var);
  REQUIRE(d2.mean < 1.15 * noise_var);
}

TEST_CASE("8gaussians: 8 equally likely clusters at radius 4/1.414 with std 0.5/1.414", "[data][toy2d]") {
  const Index n = 20000;
  const Points2d P = sample(Toy2d::EightGaussians, n, 24);
  const double radius = 4 / 1.414, sigma = 0.5 / 1.414;
  std::array<Index, 8> count{};
  std::array<double, 8> sx{}, sy{};
  double d2_sum = 0;
  for (Index i = 0; i < n; ++i) {
    // Nearest centre: the directions are the multiples of 45°.
    const double angle = std::atan2(P(i, 1), P(i, 0));
    const auto k = static_cast<std::size_t>(((static_cast<long>(std::lround(angle / (pi / 4))) % 8) + 8) % 8);
    const double cx = radius * std::cos(static_cast<double>(k) * pi / 4);
    const double cy = radius * std::sin(static_cast<double>(k) * pi / 4);
    ++count[k];
    sx[k] += P(i, 0) - cx;
    sy[k] += P(i, 1) - cy;
    const double d2 = (P(i, 0) - cx) * (P(i, 0) - cx) + (P(i, 1) - cy) * (P(i, 1) - cy);
    d2_sum += d2;
  }
  for (std::size_t k = 0; k < 8; ++k) {
    INFO("cluster " << k);
    require_count(count[k], n, 1.0 / 8, "cluster size");
    // The cluster mean sits on its centre (the clusters overlap only beyond 3σ).
    const double se = sigma / std::sqrt(static_cast<double>(count[k]));
    REQUIRE(std::abs(sx[k] / count[k]) < 5 * se + 1e-3);
    REQUIRE(std::abs(sy[k] / count[k]) < 5 * se + 1e-3);
  }
  // E d² = 2σ² = 0.125 for the squared distance to the centre (σ²·χ²₂, standard deviation 2σ²).
  const double mean_d2 = d2_sum / n;
  REQUIRE(std::abs(mean_d2 - 2 * sigma * sigma) < 5 * 2 * sigma * sigma / std::sqrt(static_cast<double>(n)) + 1e-3);
}

TEST_CASE("pinwheel: five arms rotated by −(2πk/5 + 0.25 exp(f₀)), radius 2|f|", "[data][toy2d]") {
  const Index n = 20000;
  const Points2d P = sample(Toy2d::Pinwheel, n, 25);
  // f = (1 + 0.3 N, 0.1 N): E|2f|² = 4 (1 + 0.09 + 0.01).
  require_mean(P, [](double x, double y) { return x * x + y * y; }, 4.4, "E |p|^2");
  require_mean(P, [](double x, double) { return x; }, 0.0, "E x");
  require_mean(P, [](double, double y) { return y; }, 0.0, "E y");
  // Undo the curl: ψ = φ + 0.25 exp(|p|/2) ≈ −2πk/5 − atan(f₁/f₀), so 5ψ concentrates at 0 mod 2π
  // (spread ≈ 5 · 0.1 rad, E cos 5ψ ≈ e^{−1/8} ≈ 0.88). With the rotation's sign flipped, 5ψ
  // would spread over several radians and E cos 5ψ would be near zero.
  const auto psi = [](double x, double y) { return std::atan2(y, x) + 0.25 * std::exp(std::hypot(x, y) / 2); };
  const MeanSe c = mean_se(P, [&](double x, double y) { return std::cos(5 * psi(x, y)); });
  const MeanSe s = mean_se(P, [&](double x, double y) { return std::sin(5 * psi(x, y)); });
  INFO("E cos 5ψ = " << c.mean << ", E sin 5ψ = " << s.mean);
  REQUIRE(c.mean > 0.8);
  REQUIRE(std::abs(s.mean) < 5 * s.se);
  // Each arm holds a fifth of the points: the arm index is round(−5ψ/2π) mod 5.
  std::array<Index, 5> arm{};
  for (Index i = 0; i < n; ++i) {
    const long k = std::lround(-5 * psi(P(i, 0), P(i, 1)) / (2 * pi));
    ++arm[static_cast<std::size_t>(((k % 5) + 5) % 5)];
  }
  for (std::size_t k = 0; k < 5; ++k) REQUIRE(std::abs(arm[k] - n / 5) < n / 50);
}

TEST_CASE("2spirals: two mirrored spirals of 1.5 turns over 3, noise 0.1", "[data][toy2d]") {
  const Index n = 20000;
  const Points2d P = sample(Toy2d::TwoSpirals, n, 26);
  // m = 3π√U: E m² = 4.5π², E[m cos m] = −4/(3π), E[m sin m] = 2 − 8/(9π²); offsets 0.5U.
  const double e_d2 = 4.5 * pi * pi + 2.0 / (3 * pi) + (1.0 - 4.0 / (9 * pi * pi)) + 1.0 / 6;
  require_mean(P, [](double x, double y) { return x * x + y * y; }, e_d2 / 9 + 2 * 0.01, "E |p|^2");
  // Point symmetry p → −p: for any direction a and level c, P(a·p > c) = P(a·p < −c).
  for (int deg = 0; deg < 180; deg += 30) {
    const double ax = std::cos(deg * pi / 180), ay = std::sin(deg * pi / 180);
    for (const double c : {0.0, 0.5, 1.5, 2.5}) {
      INFO("direction " << deg << "°, level " << c);
      require_mean(
          P,
          [&](double x, double y) {
            const double t = ax * x + ay * y;
            return (t > c ? 1.0 : 0.0) - (t < -c ? 1.0 : 0.0);
          },
          0.0, "symmetry");
    }
  }
  // Around the mean arm A(m) = (−m cos m + 0.25, m sin m + 0.25)/3 and its mirror −A(m), a point
  // scatters by the uniform offset (variance (0.5/3)²/12 per coordinate) plus the noise 0.1²:
  // away from the centre (where the arms meet) the squared distance averages ≈ 0.01 + 0.0023.
  const auto arm = curve_grid(
      [](double m) { return std::array<double, 2>{(-m * std::cos(m) + 0.25) / 3, (m * std::sin(m) + 0.25) / 3}; }, 0.0,
      3 * pi, 3000);
  double d2 = 0, d2_sq = 0;
  Index n_outer = 0;
  for (Index i = 0; i < n; ++i) {
    if (P.row(i).norm() <= 1.0) continue;
    // p is as far from −A as −p is from A.
    const double e = std::min(squared_distance(P(i, 0), P(i, 1), arm), squared_distance(-P(i, 0), -P(i, 1), arm));
    d2 += e;
    d2_sq += e * e;
    ++n_outer;
  }
  d2 /= static_cast<double>(n_outer);
  const double d2_se = std::sqrt((d2_sq / static_cast<double>(n_outer) - d2 * d2) / static_cast<double>(n_outer));
  const double expected_d2 = 0.01 + (0.5 / 3) * (0.5 / 3) / 12;
  INFO("mean squared distance to the arms " << d2 << " (standard error " << d2_se << "), expected about "
                                            << expected_d2);
  // 5 standard errors plus 2% for the approximation (curvature, nearest instead of generating point).
  REQUIRE(std::abs(d2 - expected_d2) < 5 * d2_se + 0.02 * expected_d2);
  // Range: |d/3| ≤ (3π + 0.5)/3 per coordinate before noise; the spirals reach radius ≈ π.
  REQUIRE(P.cwiseAbs().maxCoeff() < (3 * pi + 0.5) / 3 + 0.1 * 8.7);
  REQUIRE(P.rowwise().norm().maxCoeff() > 3.0);
  // The spirals are not point clouds: the radius of a point fixes its angle up to the arm.
  // At radius ≈ m/3, the first arm is at angle π − m (from (−m cos m, m sin m)); the mirrored at −m.
  // So for points away from the centre, 2·(φ + 3r) ≡ 2π mod 2π concentrates: E cos(2(φ + 3r)) large.
  Points2d far(n, 2);
  Index n_far = 0;
  for (Index i = 0; i < n; ++i)
    if (P.row(i).norm() > 1.5) far.row(n_far++) = P.row(i);
  far.conservativeResize(n_far, 2);
  const MeanSe c = mean_se(far, [](double x, double y) { return std::cos(2 * (std::atan2(y, x) + 3 * std::hypot(x, y))); });
  INFO("E cos 2(φ + 3r) over the outer points: " << c.mean);
  REQUIRE(c.mean > 0.5);
}

TEST_CASE("checkerboard: uniform on the 8 alternating squares of side 2 in [−4, 4]²", "[data][toy2d]") {
  const Index n = 40000;
  const Points2d P = sample(Toy2d::Checkerboard, n, 27);
  REQUIRE(P.minCoeff() >= -4.0);
  REQUIRE(P.maxCoeff() <= 4.0);
  // Cells (i, j) = (⌊x/2⌋, ⌊y/2⌋) ∈ {−2, …, 1}²; only those with i + j even are occupied.
  std::array<std::array<Index, 4>, 4> count{};
  std::array<std::array<double, 4>, 4> sx{}, sy{};
  for (Index r = 0; r < n; ++r) {
    const auto i = static_cast<int>(std::floor(P(r, 0) / 2)), j = static_cast<int>(std::floor(P(r, 1) / 2));
    REQUIRE(((i + j) % 2 + 2) % 2 == 0);
    ++count[static_cast<std::size_t>(i + 2)][static_cast<std::size_t>(j + 2)];
    sx[static_cast<std::size_t>(i + 2)][static_cast<std::size_t>(j + 2)] += P(r, 0) - (2 * i + 1);
    sy[static_cast<std::size_t>(i + 2)][static_cast<std::size_t>(j + 2)] += P(r, 1) - (2 * j + 1);
  }
  const double sd_uniform = 2 / std::sqrt(12.0);  // a uniform on a side of length 2
  for (int i = -2; i < 2; ++i)
    for (int j = -2; j < 2; ++j) {
      const auto a = static_cast<std::size_t>(i + 2), b = static_cast<std::size_t>(j + 2);
      INFO("cell (" << i << ", " << j << ")");
      if ((i + j) % 2 != 0) {
        REQUIRE(count[a][b] == 0);
        continue;
      }
      require_count(count[a][b], n, 1.0 / 8, "cell size");
      // Uniform within the cell: the mean is the cell centre.
      const double se = sd_uniform / std::sqrt(static_cast<double>(count[a][b]));
      REQUIRE(std::abs(sx[a][b] / count[a][b]) < 5 * se);
      REQUIRE(std::abs(sy[a][b] / count[a][b]) < 5 * se);
    }
}

// ---------------------------------------------------------------------------------------------
// Gray code

TEST_CASE("GrayCodeEncoder rejects a bad dim or scale", "[data][gray]") {
  for (const Index dim : {-2, 0, 2, 3, 5, 7, 2050, 4096})
    REQUIRE_THROWS_WITH(GrayCodeEncoder(dim, 1.0), Contains("dim (" + std::to_string(dim) + ")"));
  REQUIRE_THROWS_WITH(GrayCodeEncoder(3, 1.0), "ratiomatch::GrayCodeEncoder::GrayCodeEncoder: dim (3) must be even, "
                                               "at least 4 and at most 2048");
  REQUIRE_THROWS_WITH(GrayCodeEncoder(8, 0.0), Contains("int_scale (0)"));
  REQUIRE_THROWS_AS(GrayCodeEncoder(8, -1.0), std::invalid_argument);
  REQUIRE_THROWS_AS(GrayCodeEncoder(8, std::numeric_limits<double>::infinity()), std::invalid_argument);
  REQUIRE_THROWS_AS(GrayCodeEncoder(8, std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  REQUIRE_NOTHROW(GrayCodeEncoder(4, 1.0));
  REQUIRE_NOTHROW(GrayCodeEncoder(126, 1.0));
  REQUIRE_NOTHROW(GrayCodeEncoder(2048, 1.0));
  REQUIRE_THROWS_WITH(GrayCodeEncoder::fit(5, Points2d::Ones(3, 2)), Contains("dim (5)"));
  REQUIRE_THROWS_AS(GrayCodeEncoder::fit(8, Points2d(0, 2)), std::invalid_argument);
  Points2d bad = Points2d::Zero(2, 2);
  bad(1, 0) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_AS(GrayCodeEncoder::fit(8, bad), NumericalError);
  REQUIRE_THROWS_AS(GrayCodeEncoder(8, 1.0).encode(bad), NumericalError);
}

TEST_CASE("GrayCodeEncoder encodes hand-worked values", "[data][gray]") {
  // dim 8: per coordinate a sign bit and b = 3 Gray bits; int_scale 1 (v = trunc |x|).
  const GrayCodeEncoder enc(8, 1.0);
  REQUIRE(enc.dim() == 8);
  REQUIRE(enc.int_scale() == 1.0);
  Points2d P(5, 2);
  P << 5.7, -2.2,   // v = 5 → g = 5 ^ 2 = 7 = 111; v = 2 → g = 3 = 011, negative
      0.0, -0.5,    // v = 0 → 000 (x ≥ 0); −0.5 → v = 0 with the sign bit set
      100.0, 7.99,  // clamped to v = 7 → g = 7 ^ 3 = 4 = 100; 7.99 → v = 7 → 100
      -1.0, 3.0,    // v = 1 → 001; v = 3 → g = 2 = 010
      -6.5, 4.0;    // v = 6 → g = 6 ^ 3 = 5 = 101; v = 4 → g = 6 = 110
  Matrix<double> expected(5, 8);
  expected << 0, 1, 1, 1, 1, 0, 1, 1,  //
      0, 0, 0, 0, 1, 0, 0, 0,          //
      0, 1, 0, 0, 0, 1, 0, 0,          //
      1, 0, 0, 1, 0, 0, 1, 0,          //
      1, 1, 0, 1, 0, 1, 1, 0;
  REQUIRE(same(enc.encode<double>(P), expected));
  REQUIRE(same(enc.encode<float>(P), expected.cast<float>()));
  REQUIRE(enc.encode(P).cols() == 8);  // float by default
  // The reflected Gray sequence for b = 3: 000 001 011 010 110 111 101 100.
  const std::array<int, 8> gray = {0b000, 0b001, 0b011, 0b010, 0b110, 0b111, 0b101, 0b100};
  const GrayCodeEncoder scaled(8, 2.5);
  for (int v = 0; v < 8; ++v) {
    Points2d p(1, 2);
    p << (v + 0.5) / 2.5, -(v + 0.25) / 2.5;
    const Matrix<float> X = scaled.encode(p);
    INFO("v = " << v);
    for (int k = 0; k < 3; ++k) {
      REQUIRE(X(0, 1 + k) == static_cast<float>((gray[static_cast<std::size_t>(v)] >> (2 - k)) & 1));
      REQUIRE(X(0, 5 + k) == static_cast<float>((gray[static_cast<std::size_t>(v)] >> (2 - k)) & 1));
    }
    REQUIRE(X(0, 0) == 0.0f);
    REQUIRE(X(0, 4) == 1.0f);
  }
}

TEST_CASE("GrayCodeEncoder: adjacent magnitudes differ in exactly one bit", "[data][gray]") {
  const GrayCodeEncoder enc(24, 1.0);  // b = 11 bits: magnitudes 0 … 2047
  const Index count = Index{1} << 11;
  Points2d P(count, 2);
  for (Index v = 0; v < count; ++v) P.row(v) << static_cast<double>(v) + 0.5, -(static_cast<double>(v) + 0.5);
  const Matrix<double> X = enc.encode<double>(P);
  for (Index v = 0; v + 1 < count; ++v) {
    const double changed = (X.row(v) - X.row(v + 1)).cwiseAbs().sum();
    REQUIRE(changed == 2.0);  // one bit in the x code and one in the y code
    REQUIRE((X.row(v).head(12) - X.row(v + 1).head(12)).cwiseAbs().sum() == 1.0);
  }
  // All codes distinct: decoding gives back each magnitude.
  const Points2d back = enc.decode(X);
  for (Index v = 0; v < count; ++v) {
    REQUIRE(back(v, 0) == static_cast<double>(v));
    REQUIRE(back(v, 1) == -static_cast<double>(v));
  }
}

TEMPLATE_TEST_CASE("GrayCodeEncoder: decode(encode(p)) = sign(p) trunc(|p| s)/s", "[data][gray]", float, double) {
  std::mt19937_64 rng(31);
  const Points2d data = sample_toy2d(Toy2d::Pinwheel, 5000, rng);
  const GrayCodeEncoder enc = GrayCodeEncoder::fit(32, data);
  // The protocol's scale: 2^(dim/2 − 1) / (max|x| + 1 + 1).
  REQUIRE(enc.int_scale() == std::ldexp(1.0, 15) / (data.cwiseAbs().maxCoeff() + 2.0));
  const Points2d P = sample_toy2d(Toy2d::Pinwheel, 1000, rng);
  const Matrix<TestType> X = enc.encode<TestType>(P);
  REQUIRE(X.rows() == 1000);
  REQUIRE(X.cols() == 32);
  check_binary("test", X);
  const Points2d Q = enc.decode(X);
  const double s = enc.int_scale();
  for (Index i = 0; i < P.rows(); ++i)
    for (Index c = 0; c < 2; ++c) {
      const double magnitude = std::trunc(std::abs(P(i, c)) * s) / s;
      REQUIRE(Q(i, c) == (P(i, c) < 0 ? -magnitude : magnitude));
      REQUIRE(std::abs(Q(i, c) - P(i, c)) < 1.0 / s);
    }
}

// Binary digit k of an integer-valued double, by exact halving (ldexp, floor and fmod are exact
// here): an oracle independent of the encoder's significand arithmetic.
static int binary_digit(double t, Index k) {
  return static_cast<int>(std::fmod(std::floor(std::ldexp(t, -static_cast<int>(k))), 2.0));
}

TEST_CASE("GrayCodeEncoder beyond 64 magnitude bits: the double's digits, Gray-coded", "[data][gray]") {
  std::mt19937_64 rng(47);
  const Points2d data = sample_toy2d(Toy2d::TwoSpirals, 5000, rng);
  const Points2d P = sample_toy2d(Toy2d::TwoSpirals, 200, rng);
  for (const Index dim : {32, 126, 128, 256, 2048}) {
    INFO("dim = " << dim);
    const GrayCodeEncoder enc = GrayCodeEncoder::fit(dim, data);
    const Index b = enc.bits(), half = dim / 2;
    const Matrix<double> X = enc.encode<double>(P);
    for (Index i = 0; i < P.rows(); ++i)
      for (Index c = 0; c < 2; ++c) {
        const double t = std::trunc(std::abs(P(i, c)) * enc.int_scale());
        REQUIRE(X(i, c * half) == (P(i, c) < 0 ? 1.0 : 0.0));
        for (Index k = 0; k < b; ++k) {  // Gray digit k = binary digit k XOR binary digit k + 1
          const int gray = binary_digit(t, k) ^ (k + 1 < b ? binary_digit(t, k + 1) : 0);
          REQUIRE(X(i, c * half + b - k) == static_cast<double>(gray));
        }
      }
    const Points2d Q = enc.decode(X);
    for (Index i = 0; i < P.rows(); ++i)
      for (Index c = 0; c < 2; ++c) {
        const double magnitude = std::trunc(std::abs(P(i, c)) * enc.int_scale()) / enc.int_scale();
        REQUIRE(Q(i, c) == (P(i, c) < 0 ? -magnitude : magnitude));
      }
  }
}

TEST_CASE("GrayCodeEncoder clamps to 2^b - 1 at every width, overflow included", "[data][gray]") {
  for (const Index dim : {8, 64, 126, 256, 2048}) {
    INFO("dim = " << dim);
    const GrayCodeEncoder enc(dim, 1.0);
    Points2d P(1, 2);
    P << std::numeric_limits<double>::max(), -std::numeric_limits<double>::max();  // |x| · s may be ∞ below
    for (const double scale : {1.0, 1e300}) {
      const Matrix<float> X = GrayCodeEncoder(dim, scale).encode(P);
      Matrix<float> expected = Matrix<float>::Zero(1, dim);  // all-ones binary → Gray 1 0 … 0
      expected(0, 1) = expected(0, dim / 2) = expected(0, dim / 2 + 1) = 1.0f;
      REQUIRE(same(X, expected));
    }
    // Decoding the clamped code: 2^b − 1, rounded once to double.
    const Points2d back = enc.decode(enc.encode<double>(P));
    const double top = std::ldexp(1.0, static_cast<int>(enc.bits())) - 1.0;
    REQUIRE(back(0, 0) == top);
    REQUIRE(back(0, 1) == -top);
  }
}

TEST_CASE("GrayCodeEncoder::decode checks width and binary entries", "[data][gray]") {
  const GrayCodeEncoder enc(8, 1.0);
  REQUIRE_THROWS_WITH(enc.decode(Matrix<float>::Zero(2, 6)),
                      "ratiomatch::GrayCodeEncoder::decode: X.cols() (6) must equal dim() (8)");
  Matrix<double> X = Matrix<double>::Zero(2, 8);
  X(1, 3) = 0.5;
  REQUIRE_THROWS_WITH(enc.decode(X), "ratiomatch::GrayCodeEncoder::decode: X(1, 3) = 0.5 is not binary (entries must "
                                     "be exactly 0 or 1)");
}

// ---------------------------------------------------------------------------------------------
// Binary data files

TEMPLATE_TEST_CASE("save_binary_data / load_binary_data round trip", "[data][file]", float, double) {
  TempDir dir;
  std::mt19937_64 rng(41);
  const Matrix<TestType> X = testing::random_binary<TestType>(37, 13, rng);
  const std::string path = dir.file("data.txt");
  save_binary_data(path, X);
  REQUIRE(dir.count_files() == 1);  // no temporary file left behind
  REQUIRE(same(load_binary_data<TestType>(path), X));
  REQUIRE(same(load_binary_data(path), X.template cast<float>()));
  // The text is one row per line, single spaces.
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  REQUIRE(first.size() == 2 * 13 - 1);
  // Saving again replaces the file.
  const Matrix<TestType> Y = testing::random_binary<TestType>(5, 4, rng);
  save_binary_data(path, Y);
  REQUIRE(same(load_binary_data<TestType>(path), Y));
  REQUIRE(dir.count_files() == 1);
  // write_binary_data to a stream reads back the same.
  std::stringstream stream;
  write_binary_data(stream, X);
  REQUIRE(same(read_binary_data<TestType>(stream), X));
}

TEST_CASE("read_binary_data accepts spaces, tabs, commas, comments, blank lines, CRLF and a BOM", "[data][file]") {
  Matrix<double> expected(3, 4);
  expected << 0, 1, 1, 0,  //
      1, 0, 0, 0,          //
      1, 1, 1, 1;
  const std::vector<std::string> texts = {
      "0 1 1 0\n1 0 0 0\n1 1 1 1\n",
      "0 1 1 0\n1 0 0 0\n1 1 1 1",  // no final newline
      "0,1,1,0\n1,0,0,0\n1,1,1,1\n",
      "0, 1 ,1 , 0\n1\t0\t0\t0\n  1 1\t1, 1  \n",
      "# a header\n\n0 1 1 0\n   # indented comment\n1 0 0 0\n\n\t\n1 1 1 1\n\n",
      "0 1 1 0\r\n1 0 0 0\r\n1 1 1 1\r\n",
      "\xEF\xBB\xBF" "0 1 1 0\n1 0 0 0\n1 1 1 1\n",
  };
  for (const auto& text : texts) {
    INFO(text);
    std::istringstream in(text);
    REQUIRE(same(read_binary_data<double>(in), expected));
  }
  std::istringstream single("1\n");
  REQUIRE(same(read_binary_data(single), Matrix<float>::Ones(1, 1)));
}

TEST_CASE("read_binary_data names the line, the column and what it found", "[data][file]") {
  const std::string p = "ratiomatch::read_binary_data: data.txt:";
  REQUIRE(read_error("0 1 0\n1 1 1\n0 1 2\n") == p + "3:5: expected 0 or 1, found '2'");
  REQUIRE(read_error("0 1 1 0 1 1\n1 1 0 0 1 0\n# comment\n0 1 1 0 1\n") ==
          p + "4: row has 5 entries, expected 6 (from line 1)");
  REQUIRE(read_error("\n# c\n0 1\n0 1 1\n") == p + "4: row has 3 entries, expected 2 (from line 3)");
  REQUIRE(read_error("0,,1\n") == p + "1:3: expected 0 or 1, found ','");
  REQUIRE(read_error("0,1,\n") == p + "1:5: expected 0 or 1, found end of line");
  REQUIRE(read_error("0 1, \n") == p + "1:6: expected 0 or 1, found end of line");
  REQUIRE(read_error(", 0 1\n") == p + "1:1: expected 0 or 1, found ','");
  REQUIRE(read_error("01 1\n") == p + "1:1: expected 0 or 1, found '01'");
  REQUIRE(read_error("0 1.0\n") == p + "1:3: expected 0 or 1, found '1.0'");
  REQUIRE(read_error("0 1 # note\n") == p + "1:5: expected 0 or 1, found '#'");
  REQUIRE(read_error("# header\n\n\t0 x\n") == p + "3:4: expected 0 or 1, found 'x'");
  REQUIRE(read_error("0 -1\n") == p + "1:3: expected 0 or 1, found '-1'");
  REQUIRE(read_error("0 " + std::string(30, '2') + "\n") ==
          p + "1:3: expected 0 or 1, found '" + std::string(20, '2') + "...'");
  REQUIRE(read_error("") == "ratiomatch::read_binary_data: data.txt: no data (the input is empty or has only blank "
                            "and comment lines)");
  REQUIRE(read_error("# only\n\n   \n") == "ratiomatch::read_binary_data: data.txt: no data (the input is empty or "
                                          "has only blank and comment lines)");
  std::istringstream in("2");
  REQUIRE_THROWS_WITH(read_binary_data(in), "ratiomatch::read_binary_data: <stream>:1:1: expected 0 or 1, found '2'");
}

TEST_CASE("load_binary_data and save_binary_data report files they cannot use", "[data][file]") {
  TempDir dir;
  const std::string missing = dir.file("missing.txt");
  REQUIRE_THROWS_AS(load_binary_data(missing), std::runtime_error);
  REQUIRE_THROWS_WITH(load_binary_data(missing),
                      "ratiomatch::load_binary_data: cannot open '" + missing + "' for reading");
  // A parse error in a file names the file.
  const std::string bad = dir.file("bad.txt");
  std::ofstream(bad) << "0 1\n1 2\n";
  REQUIRE_THROWS_WITH(load_binary_data<double>(bad),
                      "ratiomatch::read_binary_data: " + bad + ":2:3: expected 0 or 1, found '2'");
  // Saving: non-binary, empty, and an unwritable path; nothing is left behind.
  Matrix<double> X = Matrix<double>::Zero(3, 4);
  X(1, 2) = 0.5;
  const std::string out = dir.file("out.txt");
  REQUIRE_THROWS_WITH(save_binary_data(out, X), "ratiomatch::save_binary_data: X(1, 2) = 0.5 is not binary "
                                                "(entries must be exactly 0 or 1)");
  REQUIRE_THROWS_AS(save_binary_data(out, Matrix<float>(0, 4)), std::invalid_argument);
  REQUIRE_THROWS_AS(save_binary_data(out, Matrix<float>(3, 0)), std::invalid_argument);
  const std::string nowhere = dir.file("no_such_dir/out.txt");
  REQUIRE_THROWS_AS(save_binary_data(nowhere, Matrix<float>::Ones(2, 2)), std::runtime_error);
  REQUIRE_THROWS_WITH(save_binary_data(nowhere, Matrix<float>::Ones(2, 2)),
                      StartsWith("ratiomatch::save_binary_data: cannot write '" + nowhere + "': "));
  REQUIRE(dir.count_files() == 1);  // only bad.txt
  // A failed save leaves an existing file untouched.
  const Matrix<float> good = Matrix<float>::Ones(2, 3);
  save_binary_data(out, good);
  REQUIRE_THROWS(save_binary_data(out, X));
  REQUIRE(same(load_binary_data(out), good));
  std::ostringstream sink;
  REQUIRE_THROWS_WITH(write_binary_data(sink, X), Contains("ratiomatch::write_binary_data: X(1, 2) = 0.5"));
}
