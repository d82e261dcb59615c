#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>

#include <ratiomatch/io/npy.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using Catch::Matchers::Contains;

namespace {
std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A version 1.0 .npy file written by hand from the format's specification.
void write_npy(const std::filesystem::path& path, const std::string& header_dict, const std::string& data) {
  std::string header = header_dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header + data;
  std::ofstream(path, std::ios::binary) << bytes;
}
}  // namespace

TEST_CASE("save_npy writes NumPy's format: magic, C-order float64 header, row-major data", "[io][npy]") {
  testing::TempDir dir;
  Matrix<double> A(2, 3);
  A << 1, 2, 3, 4, 5, 6;
  save_npy(dir.path / "A.npy", A);
  const std::string bytes = read_bytes(dir.path / "A.npy");
  REQUIRE(bytes.substr(0, 6) == "\x93NUMPY");
  const auto header_length = static_cast<std::size_t>(static_cast<unsigned char>(bytes[8])) +
                             256 * static_cast<std::size_t>(static_cast<unsigned char>(bytes[9]));
  const std::string header = bytes.substr(10, header_length);
  REQUIRE_THAT(header, Contains("'descr': '<f8'"));
  REQUIRE_THAT(header, Contains("'fortran_order': False"));
  REQUIRE_THAT(header, Contains("'shape': (2, 3)"));
  REQUIRE((10 + header_length) % 16 == 0);  // the data start aligned, as the format requires
  double data[6];
  REQUIRE(bytes.size() == 10 + header_length + sizeof data);
  std::memcpy(data, bytes.data() + 10 + header_length, sizeof data);
  for (int k = 0; k < 6; ++k) REQUIRE(data[k] == k + 1.0);  // row-major
  REQUIRE(load_npy<double>(dir.path / "A.npy") == A);
  REQUIRE_FALSE(std::filesystem::exists(dir.path / "A.npy.tmp"));

  Vector<float> v(4);
  v << 0.5f, -1.0f, 2.0f, 8.0f;
  save_npy(dir.path / "v.npy", v, true);
  REQUIRE_THAT(read_bytes(dir.path / "v.npy"), Contains("'descr': '<f4'"));
  REQUIRE_THAT(read_bytes(dir.path / "v.npy"), Contains("'shape': (4,)"));
  REQUIRE(load_npy<float>(dir.path / "v.npy") == Matrix<float>(v));
}

TEST_CASE("load_npy reads NumPy's files, C and Fortran order, and names what is wrong", "[io][npy]") {
  testing::TempDir dir;
  const double values[6] = {1, 2, 3, 4, 5, 6};
  const std::string data(reinterpret_cast<const char*>(values), sizeof values);
  write_npy(dir.path / "c.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", data);
  write_npy(dir.path / "f.npy", "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }", data);
  Matrix<double> c_order(3, 2), f_order(3, 2);
  c_order << 1, 2, 3, 4, 5, 6;
  f_order << 1, 4, 2, 5, 3, 6;
  REQUIRE(load_npy<double>(dir.path / "c.npy") == c_order);
  REQUIRE(load_npy<double>(dir.path / "f.npy") == f_order);
  REQUIRE_THROWS_WITH(load_npy<float>(dir.path / "c.npy"), Contains("c.npy"));  // float64 is not float32
  REQUIRE_THROWS_WITH(load_npy<double>(dir.path / "missing.npy"), Contains("cannot read"));
  write_npy(dir.path / "cube.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3, 2), }", data);
  REQUIRE_THROWS_WITH(load_npy<double>(dir.path / "cube.npy"), Contains("has 3 dimensions"));
  std::ofstream(dir.path / "junk.npy") << "not an npy file";
  REQUIRE_THROWS_AS(load_npy<double>(dir.path / "junk.npy"), std::runtime_error);
}

TEST_CASE("RBM parameters round-trip through one .npy file per tensor", "[io][npy]") {
  testing::TempDir dir;
  std::mt19937_64 rng(3);
  GaussianBernoulliRBM<float> grbm(5, 3);
  for (Index k = 0; k < grbm.num_params(); ++k) grbm.params()(k) = static_cast<float>(standard_normal(rng));
  save_params_npy(grbm, dir.path / "grbm");
  for (const char* name : {"W.npy", "b.npy", "c.npy", "s.npy"}) REQUIRE(std::filesystem::exists(dir.path / "grbm" / name));
  REQUIRE(load_npy<float>(dir.path / "grbm" / "W.npy").rows() == 3);  // hidden × visible
  GaussianBernoulliRBM<float> back(5, 3);
  load_params_npy(back, dir.path / "grbm");
  REQUIRE(back.params() == grbm.params());

  BernoulliRBM<double> rbm(4, 2);
  for (Index k = 0; k < rbm.num_params(); ++k) rbm.params()(k) = standard_normal(rng);
  save_params_npy(rbm, dir.path / "rbm");
  REQUIRE_FALSE(std::filesystem::exists(dir.path / "rbm" / "s.npy"));
  BernoulliRBM<double> rbm_back(4, 2);
  load_params_npy(rbm_back, dir.path / "rbm");
  REQUIRE(rbm_back.params() == rbm.params());

  // A model of other sizes is refused before anything changes.
  GaussianBernoulliRBM<float> other(5, 4);
  const Vector<float> before = other.params();
  REQUIRE_THROWS_WITH(load_params_npy(other, dir.path / "grbm"),
                      Contains("W.npy has shape (3, 5); the model needs (4, 5)"));
  REQUIRE(other.params() == before);
  std::filesystem::remove(dir.path / "grbm" / "s.npy");
  REQUIRE_THROWS_WITH(load_params_npy(back, dir.path / "grbm"), Contains("s.npy"));
}

TEST_CASE("MlpEnergy parameters round-trip with PyTorch's names and shapes, the learned slope as a 0-d array",
          "[io][npy]") {
  testing::TempDir dir;
  std::mt19937_64 rng(5);
  MlpEnergy<double> mlp(6, {4, 3}, Activation::LearnableSwish);
  for (Index k = 0; k < mlp.num_params(); ++k) mlp.params()(k) = standard_normal(rng);
  save_params_npy(mlp, dir.path / "mlp");
  // nn.Linear(in, out).weight is (out, in), .bias is (out,).
  const std::pair<const char*, const char*> expected[] = {
      {"layer0.weight.npy", "'shape': (4, 6)"}, {"layer0.bias.npy", "'shape': (4,)"},
      {"layer1.weight.npy", "'shape': (3, 4)"}, {"layer1.bias.npy", "'shape': (3,)"},
      {"layer2.weight.npy", "'shape': (1, 3)"}, {"layer2.bias.npy", "'shape': (1,)"},
      {"swish_beta.npy", "'shape': ()"}};
  for (const auto& [name, shape] : expected) REQUIRE_THAT(read_bytes(dir.path / "mlp" / name), Contains(shape));
  REQUIRE(load_npy<double>(dir.path / "mlp" / "layer1.weight.npy") == Matrix<double>(mlp.weight(1)));
  REQUIRE(load_npy<double>(dir.path / "mlp" / "swish_beta.npy")(0, 0) == mlp.slope());

  MlpEnergy<double> back(6, {4, 3}, Activation::LearnableSwish);
  load_params_npy(back, dir.path / "mlp");
  REQUIRE(back.params() == mlp.params());

  // Another width is refused before anything changes; so is a slope the model cannot hold.
  MlpEnergy<double> wider(6, {5, 3}, Activation::LearnableSwish);
  const Vector<double> before = wider.params();
  REQUIRE_THROWS_WITH(load_params_npy(wider, dir.path / "mlp"),
                      Contains("layer0.weight.npy has shape (4, 6); the model needs (5, 6)"));
  REQUIRE(wider.params() == before);
  MlpEnergy<double> fixed_slope(6, {4, 3}, Activation::Swish);
  REQUIRE_THROWS_WITH(load_params_npy(fixed_slope, dir.path / "mlp"), Contains("swish_beta.npy"));
  REQUIRE(fixed_slope.params().isZero());

  // Without a learned slope no swish_beta.npy is written, and float32 files go to float models.
  MlpEnergy<float> plain(6, {4}, Activation::Softplus);
  for (Index k = 0; k < plain.num_params(); ++k) plain.params()(k) = static_cast<float>(standard_normal(rng));
  save_params_npy(plain, dir.path / "plain");
  REQUIRE_FALSE(std::filesystem::exists(dir.path / "plain" / "swish_beta.npy"));
  MlpEnergy<float> plain_back(6, {4}, Activation::Softplus);
  load_params_npy(plain_back, dir.path / "plain");
  REQUIRE(plain_back.params() == plain.params());
  std::filesystem::remove(dir.path / "mlp" / "swish_beta.npy");
  REQUIRE_THROWS_WITH(load_params_npy(back, dir.path / "mlp"), Contains("swish_beta.npy"));
}
