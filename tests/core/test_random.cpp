#include <catch2/catch.hpp>

#include <random>

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
