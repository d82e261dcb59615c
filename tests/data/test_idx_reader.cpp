// The IDX reader on files the tests write (gzip and plain), its errors, binarisation, and the
// Fashion-MNIST files of Debian's dataset-fashion-mnist.
#include <catch2/catch.hpp>

#include <array>

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <ratiomatch/data/idx_reader.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

std::vector<unsigned char> idx_bytes(std::uint32_t magic, const std::vector<std::uint32_t>& sizes,
                                     const std::vector<unsigned char>& payload) {
  std::vector<unsigned char> bytes;
  auto put = [&](std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<unsigned char>(v >> shift));
  };
  put(magic);
  for (const auto s : sizes) put(s);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

void write_gzip(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  gzclose(f);
}

void write_plain(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

// Three 2 × 3 images with pixels 0, 40, 80, …
std::vector<unsigned char> three_images() {
  std::vector<unsigned char> pixels(18);
  for (int k = 0; k < 18; ++k) pixels[k] = static_cast<unsigned char>((40 * k) % 256);
  return pixels;
}

}  // namespace

TEST_CASE("read_idx_images reads gzip and plain IDX files in the file's order", "[data][idx]") {
  TempDir dir;
  const auto pixels = three_images();
  const auto bytes = idx_bytes(0x803, {3, 2, 3}, pixels);
  write_gzip(dir.file("images.gz"), bytes);
  write_plain(dir.file("images"), bytes);
  for (const auto& name : {"images.gz", "images"}) {
    const IdxImages images = read_idx_images(dir.file(name));
    REQUIRE(images.count == 3);
    REQUIRE(images.rows == 2);
    REQUIRE(images.cols == 3);
    REQUIRE(images.pixels == std::vector<std::uint8_t>(pixels.begin(), pixels.end()));
  }
  write_gzip(dir.file("labels.gz"), idx_bytes(0x801, {4}, {7, 0, 9, 3}));
  REQUIRE(read_idx_labels(dir.file("labels.gz")) == std::vector<std::uint8_t>{7, 0, 9, 3});
}

TEST_CASE("read_idx_images names the file and the byte offset of what is wrong", "[data][idx][errors]") {
  TempDir dir;
  const auto pixels = three_images();
  auto truncated = idx_bytes(0x803, {3, 2, 3}, pixels);
  truncated.resize(truncated.size() - 5);
  write_gzip(dir.file("truncated.gz"), truncated);
  REQUIRE_THROWS_WITH(read_idx_images(dir.file("truncated.gz")),
                      Contains("truncated.gz' ends at byte offset 29") && Contains("the pixels"));
  write_gzip(dir.file("labels_as_images.gz"), idx_bytes(0x801, {4}, {1, 2, 3, 4}));
  REQUIRE_THROWS_WITH(read_idx_images(dir.file("labels_as_images.gz")),
                      Contains("magic number 0x801 at byte offset 0, expected 0x803"));
  auto extra = idx_bytes(0x803, {3, 2, 3}, pixels);
  extra.push_back(1);
  write_plain(dir.file("extra"), extra);
  REQUIRE_THROWS_WITH(read_idx_images(dir.file("extra")), Contains("data after the last item, at byte offset 34"));
  write_plain(dir.file("short_header"), {0, 0, 8, 3, 0, 0});
  REQUIRE_THROWS_WITH(read_idx_images(dir.file("short_header")), Contains("ends at byte offset 6"));
  REQUIRE_THROWS_AS(read_idx_images(dir.file("missing.gz")), IdxError);
  // A corrupt gzip stream (damaged after the gzip header) is an error, not garbage.
  std::vector<unsigned char> gz;
  {
    write_gzip(dir.file("ok.gz"), idx_bytes(0x803, {3, 2, 3}, pixels));
    std::ifstream in(dir.file("ok.gz"), std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto damaged_trailer = gz;
  for (std::size_t k = 12; k < gz.size() - 8; ++k) gz[k] ^= 0x5a;
  write_plain(dir.file("corrupt.gz"), gz);
  REQUIRE_THROWS_AS(read_idx_images(dir.file("corrupt.gz")), IdxError);
  // Intact data but a wrong CRC in the gzip trailer: an error, not a silent end.
  damaged_trailer[damaged_trailer.size() - 8] ^= 0xff;
  write_plain(dir.file("bad_crc.gz"), damaged_trailer);
  REQUIRE_THROWS_WITH(read_idx_images(dir.file("bad_crc.gz")), Contains("corrupt compressed data"));
  // A complete first gzip member followed by a corrupt second one: the error shows only when the
  // reader checks for the end (before the fix it was taken for the end of the file).
  std::vector<unsigned char> member;
  {
    write_gzip(dir.file("member.gz"), {42});
    std::ifstream in(dir.file("member.gz"), std::ios::binary);
    member.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (std::size_t k = 10; k < member.size(); ++k) member[k] ^= 0xa5;
  auto two_members = damaged_trailer;
  two_members[two_members.size() - 8] ^= 0xff;  // the first member intact again
  two_members.insert(two_members.end(), member.begin(), member.end());
  write_plain(dir.file("corrupt_second_member.gz"), two_members);
  REQUIRE_THROWS_WITH(read_idx_images(dir.file("corrupt_second_member.gz")), Contains("after the last item"));
}

TEST_CASE("a header that claims more than the file holds fails cleanly, without allocating the claim",
          "[data][idx][errors]") {
  TempDir dir;
  // Sizes whose product overflows 64 bits (before the fix: a wrapped-around allocation).
  write_plain(dir.file("huge"), idx_bytes(0x803, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, {1, 2, 3}));
  REQUIRE_THROWS_WITH(read_idx_images(dir.file("huge")), Contains("more than 2^40 bytes"));
  // 4 GB claimed, 3 bytes present: an error at the end of the data, not a 4 GB allocation.
  write_plain(dir.file("claims_4gb"), idx_bytes(0x803, {65536, 256, 256}, {1, 2, 3}));
  REQUIRE_THROWS_WITH(read_idx_images(dir.file("claims_4gb")), Contains("ends at byte offset 19"));
  // No images, but rows × cols beyond 2^63 (found by fuzz_idx: the pixels-per-image product overflowed).
  write_plain(dir.file("zero_huge"), idx_bytes(0x803, {0, 0xb62a00b6u, 0xb6b60000u}, {}));
  REQUIRE_THROWS_WITH(read_idx_images(dir.file("zero_huge")), Contains("more than 2^40 bytes"));
  write_plain(dir.file("labels_4gb"), idx_bytes(0x801, {0xFFFFFFFFu}, {1, 2}));
  REQUIRE_THROWS_WITH(read_idx_labels(dir.file("labels_4gb")), Contains("ends at byte offset 10"));
}

namespace {
// `count` images of three pixels each: 0, 100 and 255.
IdxImages three_pixel_images(Index count) {
  IdxImages images;
  images.count = count;
  images.rows = 1;
  images.cols = 3;
  for (Index r = 0; r < count; ++r) images.pixels.insert(images.pixels.end(), {0, 100, 255});
  return images;
}
}  // namespace

TEST_CASE("binarisation by threshold and stochastically", "[data][idx]") {
  IdxImages images;
  images.count = 2;
  images.rows = 1;
  images.cols = 4;
  images.pixels = {0, 127, 128, 255, 255, 0, 200, 100};
  const Matrix<float> X = binarize_by_threshold<float>(images);
  Matrix<float> expected(2, 4);
  expected << 0, 0, 1, 1, 1, 0, 1, 0;
  REQUIRE(X == expected);
  REQUIRE_THROWS_AS(binarize_by_threshold<float>(images, 0), std::invalid_argument);
  // Stochastic: pixel 255 always 1, 0 always 0, 100/255 on average over many draws.
  const IdxImages many = three_pixel_images(20000);
  std::mt19937_64 rng(7);
  const Matrix<double> S = binarize_stochastically<double>(many, rng);
  REQUIRE(S.col(0).sum() == 0);
  REQUIRE(S.col(2).sum() == 20000);
  const double p = 100.0 / 255, sd = std::sqrt(p * (1 - p) / 20000);
  REQUIRE(std::abs(S.col(1).mean() - p) < 5 * sd);
}

TEST_CASE("uniform dequantisation keeps each pixel's bin and fills it evenly", "[data][idx]") {
  const IdxImages many = three_pixel_images(20000);
  std::mt19937_64 rng(9);
  const Matrix<double> V = dequantize_pixels<double>(many, rng);
  const std::array<double, 3> pixel{0, 100, 255};
  for (Index i = 0; i < 3; ++i) {
    INFO("pixel " << pixel[static_cast<std::size_t>(i)]);
    const Eigen::ArrayXd within = V.col(i).array() * 256 - pixel[static_cast<std::size_t>(i)];  // U(0, 1)
    CHECK(within.minCoeff() > 0);
    CHECK(within.maxCoeff() < 1);
    CHECK(std::abs(within.mean() - 0.5) < 5 * std::sqrt(1.0 / 12 / 20000));
  }
  CHECK(V.maxCoeff() < 1);
}

TEST_CASE("the Fashion-MNIST files of dataset-fashion-mnist", "[data][idx][fashion-mnist]") {
  if (!std::filesystem::exists(std::string(fashion_mnist_default_dir))) {
    WARN("dataset-fashion-mnist is not installed; only the error is checked");
    REQUIRE_THROWS_WITH(read_fashion_mnist_images("test"), Contains("apt-get install dataset-fashion-mnist"));
    return;
  }
  const IdxImages test = read_fashion_mnist_images("test");
  REQUIRE(test.count == 10000);
  REQUIRE(test.rows == 28);
  REQUIRE(test.cols == 28);
  const Matrix<float> X = binarize_by_threshold<float>(test);
  // About a third of the pixels of Fashion-MNIST are at least 128.
  REQUIRE(X.mean() > 0.2);
  REQUIRE(X.mean() < 0.5);
  REQUIRE_THROWS_WITH(read_fashion_mnist_images("validation"), Contains("split 'validation'"));
  REQUIRE_THROWS_WITH(read_fashion_mnist_images("test", "/nonexistent"), Contains("does not exist"));
}
