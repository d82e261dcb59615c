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

TEMPLATE_TEST_CASE("all_finite is false exactly when an entry is NaN or infinite, wherever it is", "[core][checks]", float,
                   double) {
  using S = TestType;
  const S inf = std::numeric_limits<S>::infinity(), nan = std::numeric_limits<S>::quiet_NaN();
  const S big = std::numeric_limits<S>::max(), tiny = std::numeric_limits<S>::denorm_min();
  for (const Index n : {0, 1, 7, 8, 9, 33, 1001}) {
    Vector<S> v = Vector<S>::LinSpaced(n, S(-1000), S(1000));
    if (n > 0) v(0) = big;  // the largest finite values and the smallest: 0·a is still 0
    if (n > 1) v(n - 1) = -big;
    if (n > 2) v(1) = tiny;
    REQUIRE(all_finite(v));
    for (Index at = 0; at < n; ++at)
      for (const S bad : {inf, -inf, nan}) {
        Vector<S> w = v;
        w(at) = bad;
        REQUIRE_FALSE(all_finite(w));
      }
  }
  Matrix<S> A = Matrix<S>::Ones(5, 3);
  REQUIRE(all_finite(A));
  A(4, 2) = -inf;
  REQUIRE_FALSE(all_finite(A));
  REQUIRE_FALSE(all_finite(A.col(2)));  // blocks and expressions
  REQUIRE(all_finite(A.col(1) * S(2)));
  Eigen::Matrix<int, -1, 1> integers = Eigen::Matrix<int, -1, 1>::Constant(4, 7);
  REQUIRE(all_finite(integers));
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
