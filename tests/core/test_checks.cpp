#include <catch2/catch.hpp>

#include <limits>
#include <stdexcept>

#include <ratiomatch/core/checks.hpp>

using namespace ratiomatch;
using Catch::Matchers::Contains;

TEST_CASE("check_binary names the function, the entry and its value", "[core][checks]") {
  Matrix<double> X = Matrix<double>::Zero(3, 4);
  REQUIRE_NOTHROW(check_binary("ratiomatch::f", X));
  X(2, 1) = 0.5;
  REQUIRE_THROWS_MATCHES(check_binary("ratiomatch::f", X), std::invalid_argument,
                         Catch::Matchers::Message("ratiomatch::f: X(2, 1) = 0.5 is not binary (entries must be exactly 0 or 1)"));
  X(2, 1) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_WITH(check_binary("ratiomatch::f", X), Contains("X(2, 1) = nan"));
}

TEST_CASE("check_size_match, check_positive and check_nonempty give one message shape", "[core][checks]") {
  REQUIRE_NOTHROW(check_size_match("ratiomatch::g", "X.cols()", 4, "model.dim()", 4));
  REQUIRE_THROWS_MATCHES(check_size_match("ratiomatch::g", "X.cols()", 5, "model.dim()", 6), std::invalid_argument,
                         Catch::Matchers::Message("ratiomatch::g: X.cols() (5) must equal model.dim() (6)"));
  REQUIRE_THROWS_MATCHES(check_positive("ratiomatch::h", "s", 0), std::invalid_argument,
                         Catch::Matchers::Message("ratiomatch::h: s (0) must be positive"));
  REQUIRE_NOTHROW(check_positive("ratiomatch::h", "s", 3));
  Matrix<float> empty(0, 3);
  REQUIRE_THROWS_WITH(check_nonempty("ratiomatch::k", empty), Contains("ratiomatch::k: X.rows() (0)"));
}

TEST_CASE("check_finite raises NumericalError naming the quantity", "[core][checks]") {
  REQUIRE_NOTHROW(check_finite("ratiomatch::e", "loss", 1.0));
  REQUIRE_THROWS_AS(check_finite("ratiomatch::e", "loss", std::numeric_limits<double>::infinity()), NumericalError);
  REQUIRE_THROWS_WITH(check_finite("ratiomatch::e", "loss", std::numeric_limits<double>::infinity()),
                      "ratiomatch::e: loss is not finite (inf)");
  Vector<double> g = Vector<double>::Ones(4);
  REQUIRE_NOTHROW(check_finite("ratiomatch::e", "gradient", g));
  g(2) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_WITH(check_finite("ratiomatch::e", "gradient", g), "ratiomatch::e: gradient(2) is not finite (nan)");
  // NumericalError is a std::runtime_error, so generic handlers catch it.
  REQUIRE_THROWS_AS(check_finite("ratiomatch::e", "gradient", g), std::runtime_error);
}
