#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <ratiomatch/ratiomatch.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using Catch::Matchers::Contains;

namespace {

template <class Model>
void randomize(Model& model, double scale, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (Index k = 0; k < model.num_params(); ++k)
    model.params()(k) = static_cast<typename Model::Scalar>(scale * standard_normal(rng));
}

// The estimate agrees with the exact log Z (enumeration of all 2^d states) within 3 standard
// errors, and the standard error is small enough for that to mean something.
template <class Model>
void check_against_exact(const Model& model, const Vector<typename Model::Scalar>& base, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto estimate = annealed_log_partition_single_site(model, base, {.runs = 200, .temperatures = 3000}, rng);
  const double exact = log_partition(model);
  INFO("AIS " << estimate.log_partition << " ± " << estimate.standard_error << ", exact " << exact);
  REQUIRE(estimate.standard_error > 0);
  REQUIRE(estimate.standard_error < 0.05);
  REQUIRE(std::abs(estimate.log_partition - exact) < 3 * estimate.standard_error + 1e-3);
  REQUIRE(estimate.log_weights.size() == 200);
}

}  // namespace

TEST_CASE("single-site AIS estimates log Z of any energy model within its standard error", "[metrics][ais]") {
  SECTION("MLP energy with the learned Swish slope, double") {
    MlpEnergy<double> mlp(10, {8, 8}, Activation::LearnableSwish);
    randomize(mlp, 0.6, 1);
    Vector<double> base(10);
    base.setConstant(0.3);
    check_against_exact(mlp, base, 11);
  }
  SECTION("MLP energy, float") {
    MlpEnergy<float> mlp(9, {6}, Activation::Softplus);
    randomize(mlp, 0.8, 2);
    check_against_exact(mlp, Vector<float>::Zero(9), 12);
  }
  SECTION("Ising model with strong couplings") {
    IsingModel<double> ising(10);
    randomize(ising, 0.5, 3);
    check_against_exact(ising, Vector<double>::Zero(10), 13);
  }
  SECTION("Bernoulli RBM, base rate from biases unlike the model's") {
    BernoulliRBM<double> rbm(11, 5);
    randomize(rbm, 0.7, 4);
    Vector<double> base(11);
    for (Index i = 0; i < 11; ++i) base(i) = -1.0 + 0.2 * static_cast<double>(i);
    check_against_exact(rbm, base, 14);
  }
}

TEST_CASE("single-site AIS is exact with zero spread when the model is the base-rate model", "[metrics][ais]") {
  // W = 0: F(x) = −bᵀx − m log 2, so with a = b every increment −Δβ (aᵀx + F(x)) = Δβ m log 2
  // is the same for every run: no spread, and the exact log Z.
  BernoulliRBM<double> rbm(12, 3);
  std::mt19937_64 rng(5);
  for (Index i = 0; i < 12; ++i) rbm.visible_bias()(i) = standard_normal(rng);
  const Vector<double> base = rbm.visible_bias();
  const auto estimate = annealed_log_partition_single_site(rbm, base, {.runs = 20, .temperatures = 100}, rng);
  REQUIRE(estimate.standard_error == Approx(0).margin(1e-12));
  REQUIRE(estimate.log_partition == Approx(log_partition(rbm)).epsilon(1e-12));
}

TEST_CASE("single-site AIS is reproducible and names bad arguments", "[metrics][ais]") {
  MlpEnergy<double> mlp(6, {4});
  randomize(mlp, 0.5, 6);
  const Vector<double> base = Vector<double>::Zero(6);
  std::mt19937_64 first(7), second(7);
  const auto a = annealed_log_partition_single_site(mlp, base, {.runs = 10, .temperatures = 60}, first);
  const auto b = annealed_log_partition_single_site(mlp, base, {.runs = 10, .temperatures = 60}, second);
  REQUIRE(a.log_weights == b.log_weights);

  std::mt19937_64 rng(8);
  REQUIRE_THROWS_WITH(annealed_log_partition_single_site(mlp, Vector<double>::Zero(5), {}, rng),
                      Contains("base_visible_bias.size()"));
  REQUIRE_THROWS_WITH(annealed_log_partition_single_site(mlp, base, {.runs = 0}, rng), Contains("options.runs"));
  REQUIRE_THROWS_WITH(annealed_log_partition_single_site(mlp, base, {.runs = 4, .temperatures = 2}, rng),
                      Contains("temperatures"));
  Vector<double> bad = base;
  bad(2) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_AS(annealed_log_partition_single_site(mlp, bad, {.runs = 4, .temperatures = 10}, rng),
                    std::invalid_argument);
  REQUIRE_THROWS_WITH(annealed_log_partition_single_site(mlp, bad, {.runs = 4, .temperatures = 10}, rng),
                      Contains("base_visible_bias"));
}
