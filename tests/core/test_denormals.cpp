#include <catch2/catch.hpp>

#include <limits>

#include <utility>

#include <ratiomatch/core/denormals.hpp>

#include "test_support.hpp"

using ratiomatch::DenormalFlush;

namespace {

// A product whose exact value is subnormal in float (1e-40), and a subnormal operand used as is.
bool product_flushes() {
  volatile float small = 1e-20f, tiny = 1e-20f;
  return small * tiny == 0.0f;
}
bool operand_flushes() {
  volatile float subnormal = std::numeric_limits<float>::denorm_min() * 1000.0f;
  return subnormal + 0.0f == 0.0f;
}

}  // namespace

TEST_CASE("DenormalFlush flushes subnormal results and operands to zero while it lives, then restores",
          "[core][denormals]") {
  if (!DenormalFlush::supported()) {
    WARN("no flush-to-zero switch on this processor");
    return;
  }
  REQUIRE_FALSE(product_flushes());
  REQUIRE_FALSE(operand_flushes());
  {
    const DenormalFlush flush;
    CHECK(product_flushes());
    CHECK(operand_flushes());
    CHECK(1e-20f * 1e-10f != 0.0f);  // normal numbers are untouched
  }
  CHECK_FALSE(product_flushes());
  CHECK_FALSE(operand_flushes());
  {
    const DenormalFlush off(false);
    CHECK_FALSE(product_flushes());
  }
}

TEST_CASE("DenormalFlush reaches the OpenMP worker threads and restores them", "[core][denormals]") {
  if (!DenormalFlush::supported()) {
    WARN("no flush-to-zero switch on this processor");
    return;
  }
  const ratiomatch::testing::ScopedThreads threads(2);
  auto every_thread_flushes = [] {
    int flushing = 0, threads_seen = 0;
#ifdef _OPENMP
#pragma omp parallel reduction(+ : flushing, threads_seen)
#endif
    {
      flushing += product_flushes();
      ++threads_seen;
    }
    return std::pair{flushing, threads_seen};
  };
  {
    const DenormalFlush flush;
    const auto [flushing, seen] = every_thread_flushes();
    CHECK(flushing == seen);
  }
  CHECK(every_thread_flushes().first == 0);
}
