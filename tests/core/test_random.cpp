#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <ratiomatch/core/random.hpp>

using namespace ratiomatch;

TEST_CASE("uniform_open01 stays inside (0, 1) with mean 1/2 for 32- and 64-bit engines", "[core][random]") {
  std::mt19937 rng32(3);
  std::mt19937_64 rng64(3);
  std::minstd_rand odd_range(3);  // range 2^31 − 3: the general path
  for (auto* name : {"mt19937", "mt19937_64", "minstd_rand"}) {
    double sum = 0;
    const int n = 200000;
    for (int k = 0; k < n; ++k) {
      const double u = std::string(name) == "mt19937"      ? uniform_open01(rng32)
                       : std::string(name) == "mt19937_64" ? uniform_open01(rng64)
                                                           : uniform_open01(odd_range);
      REQUIRE(u > 0.0);
      REQUIRE(u < 1.0);
      sum += u;
    }
    // Standard error of the mean of U(0,1) is sqrt(1/12/n) ≈ 6.5e-4; allow 5 of them.
    INFO(name);
    REQUIRE(std::abs(sum / n - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  }
}

TEST_CASE("the same seed gives the same numbers", "[core][random]") {
  std::mt19937_64 a(42), b(42);
  for (int k = 0; k < 100; ++k) REQUIRE(uniform_open01(a) == uniform_open01(b));
}

TEST_CASE("uniform_index: floor(n · word / 2^64) with rejection, uniform, the same on every standard library",
          "[core][random]") {
  // mt19937_64's words are fixed by the standard, so these are the numbers on any library.
  std::mt19937_64 words(7), rng(7);
  for (int k = 0; k < 1000; ++k) {
    __extension__ typedef unsigned __int128 Wide;
    const auto expected = static_cast<Index>((static_cast<Wide>(words()) * 10) >> 64);  // 2^64 mod 10 = 6 words rejected
    REQUIRE(uniform_index(rng, 10) == expected);
  }
  // Counts of n = 3 within 5 standard deviations of draws / 3.
  const int draws = 300000;
  std::vector<int> count(3, 0);
  for (int k = 0; k < draws; ++k) ++count[static_cast<std::size_t>(uniform_index(rng, 3))];
  for (const int c : count) CHECK(std::abs(c - draws / 3.0) < 5 * std::sqrt(draws * (1.0 / 3) * (2.0 / 3)));
  // n = 2^62 + 1 rejects nearly a quarter of the words; the rest map evenly (mean n/2).
  const Index big = (Index{1} << 62) + 1;
  double sum = 0;
  const int big_draws = 20000;
  for (int k = 0; k < big_draws; ++k) {
    const Index i = uniform_index(rng, big);
    REQUIRE(i >= 0);
    REQUIRE(i < big);
    sum += static_cast<double>(i) / static_cast<double>(big);
  }
  CHECK(std::abs(sum / big_draws - 0.5) < 5 * std::sqrt(1.0 / 12 / big_draws));
  std::mt19937 rng32(7);  // two 32-bit words per draw
  for (int k = 0; k < 1000; ++k) REQUIRE(uniform_index(rng32, 5) < 5);
}

TEST_CASE("fill_standard_normal: both variates of each pair, N(0, 1) moments, uncorrelated neighbours",
          "[core][random]") {
  std::mt19937_64 rng(11);
  const Index n = 200001;  // odd: the last entry takes the single-variate path
  Eigen::ArrayXd z(n);
  fill_standard_normal(z, rng);
  const double mean = z.mean(), variance = (z - mean).square().mean();
  const double fourth = z.pow(4).mean();
  // Standard errors: mean 1/√n, variance √(2/n), fourth moment √(96/n), lag-one correlation 1/√n.
  CHECK(std::abs(mean) < 5 / std::sqrt(double(n)));
  CHECK(std::abs(variance - 1) < 5 * std::sqrt(2.0 / n));
  CHECK(std::abs(fourth - 3) < 5 * std::sqrt(96.0 / n));
  // Within a pair (cos and sin of one angle) and across pairs.
  const Index pairs = n / 2;
  Eigen::Map<const Eigen::ArrayXd, 0, Eigen::InnerStride<2>> first(z.data(), pairs), second(z.data() + 1, pairs);
  CHECK(std::abs((first * second).mean()) < 5 / std::sqrt(double(pairs)));
  CHECK(std::abs((z.head(n - 1) * z.tail(n - 1)).mean()) < 5 / std::sqrt(double(n)));
  // The squared radius of a pair is −2 log U₁: exponential with mean 2.
  CHECK(std::abs((first.square() + second.square()).mean() - 2) < 5 * 2 / std::sqrt(double(pairs)));
  // Reproducible, and the storage order of a matrix is its fill order.
  std::mt19937_64 again(11);
  Eigen::MatrixXf M(5, 3);
  fill_standard_normal(M, again);
  for (Index k = 0; k < 15; ++k) CHECK(M.data()[k] == static_cast<float>(z(k)));
}

TEST_CASE("fill_rademacher: one engine word serves 64 or 32 signs, or one uniform per sign", "[core][random]") {
  SECTION("64-bit engine: entry k is −1 when bit 63 − k of the word is set (highest first)") {
    std::mt19937_64 rng(5), copy(5);
    Eigen::ArrayXd u(130);
    fill_rademacher(u, rng);
    for (Index start = 0; start < 130; start += 64) {
      const std::uint64_t word = copy();
      for (Index k = start; k < std::min<Index>(130, start + 64); ++k)
        CHECK(u(k) == (((word >> (63 - (k - start))) & 1u) ? -1.0 : 1.0));
    }
    CHECK(rng() == copy());  // three words taken, no more
  }
  SECTION("a view with gaps is refused rather than written outside itself") {
    std::mt19937_64 rng(5);
    Eigen::MatrixXd M = Eigen::MatrixXd::Zero(4, 3);
    auto block = M.topRows(2);
    CHECK_THROWS_AS(fill_rademacher(block, rng), std::invalid_argument);
    CHECK_THROWS_AS(fill_standard_normal(block, rng), std::invalid_argument);
    CHECK(M.isZero());
  }
  SECTION("32-bit engine and the general path: balanced signs") {
    std::mt19937 rng32(5);
    std::minstd_rand odd_range(5);
    const Index n = 100000;
    Eigen::ArrayXf a(n), b(n);
    fill_rademacher(a, rng32);
    fill_rademacher(b, odd_range);
    for (const auto* signs : {&a, &b}) {
      CHECK((signs->abs() == 1.0f).all());
      CHECK(std::abs(signs->mean()) < 5 / std::sqrt(double(n)));
      CHECK(std::abs((signs->head(n - 1) * signs->tail(n - 1)).mean()) < 5 / std::sqrt(double(n)));
    }
  }
}
