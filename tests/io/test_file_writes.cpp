// Every file the library writes survives a failed write: a full disk (here a file-size limit,
// which fails writes the same way) throws, keeps the old file and leaves no temporary file;
// and the readers refuse a file cut short instead of returning uninitialised memory.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>

#include <ratiomatch/data/binary_dataset.hpp>
#include <ratiomatch/io/atomic_file.hpp>
#include <ratiomatch/io/checkpoint.hpp>
#include <ratiomatch/io/npy.hpp>
#include <ratiomatch/io/rgb_image.hpp>
#include <ratiomatch/models/mlp_energy.hpp>
#include <ratiomatch/train/csv_log.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using Catch::Matchers::Contains;
using testing::TempDir;

namespace {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Names in `dir` other than `keep`: a temporary file left behind shows here.
std::vector<std::string> others(const TempDir& dir, const std::vector<std::string>& keep) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path)) {
    const auto name = std::filesystem::relative(entry.path(), dir.path).string();
    if (std::find(keep.begin(), keep.end(), name) == keep.end()) found.push_back(name);
  }
  return found;
}

// Runs `body` in a child process in which no file may grow beyond `limit` bytes (writes past it
// fail with EFBIG, as on a full disk) and returns what `body` reported: empty if all was well.
std::string with_file_size_limit(rlim_t limit, const std::function<std::string()>& body) {
  int channel[2];
  REQUIRE(::pipe(channel) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(channel[0]);
    ::signal(SIGXFSZ, SIG_IGN);  // a failed write, not a killed process
    const rlimit cap{limit, limit};
    std::string report = ::setrlimit(RLIMIT_FSIZE, &cap) == 0 ? std::string() : "setrlimit failed";
    if (report.empty()) {
      try {
        report = body();
      } catch (const std::exception& e) {
        report = std::string("unexpected exception: ") + e.what();
      }
    }
    [[maybe_unused]] const auto written = ::write(channel[1], report.data(), report.size());
    ::_exit(0);  // no destructors or Catch2 teardown in the child
  }
  ::close(channel[1]);
  std::string report;
  char buffer[512];
  for (::ssize_t n; (n = ::read(channel[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<std::size_t>(n));
  ::close(channel[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  return report;
}

// The checks of one failed replacement, in the child: `write` must throw a runtime_error naming
// `path`, after which the file holds `old_bytes` and nothing else is in the folder.
std::string failed_replacement(const TempDir& dir, const std::string& name, const std::string& old_bytes,
                               const std::function<void()>& write) {
  try {
    write();
    return name + ": the write did not throw";
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find(name) == std::string::npos) return name + ": the error does not name the file: " + e.what();
  }
  if (read_bytes(dir.path / name) != old_bytes) return name + ": the old file was changed";
  const auto left = others(dir, {name});
  if (!left.empty()) return name + ": left behind " + left.front();
  return {};
}

constexpr rlim_t limit = 64 * 1024;

}  // namespace

TEST_CASE("a write that fails on a full disk throws and keeps the old file: npy, checkpoint, PNG, binary data",
          "[io][atomic]") {
  TempDir dir;
  std::mt19937_64 rng(1);
  const Matrix<double> small = Matrix<double>::Random(3, 2);
  const Matrix<double> large = Matrix<double>::Random(200, 100);  // 160 kB of data
  TrainingSnapshot<double> snapshot;
  snapshot.params = Vector<double>::LinSpaced(5, 0, 1);
  TrainingSnapshot<double> big_snapshot = snapshot;
  big_snapshot.params = Vector<double>::Random(20000);
  RgbImage small_picture(4, 4), noisy_picture(300, 300);  // random pixels do not compress
  for (int y = 0; y < 300; ++y)
    for (int x = 0; x < 300; ++x)
      noisy_picture.set(x, y, Rgb{static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
                                  static_cast<std::uint8_t>(rng())});
  const Matrix<double> small_bits = Matrix<double>::Zero(2, 3), large_bits = Matrix<double>::Ones(1000, 100);

  struct Case {
    std::string name;
    std::function<void()> write_small, write_large;
  };
  const std::vector<Case> cases{
      {"a.npy", [&] { save_npy(dir.path / "a.npy", small); }, [&] { save_npy(dir.path / "a.npy", large); }},
      {"checkpoint.bin", [&] { save_checkpoint(dir.file("checkpoint.bin"), snapshot); },
       [&] { save_checkpoint(dir.file("checkpoint.bin"), big_snapshot); }},
      {"picture.png", [&] { small_picture.save_png(dir.file("picture.png")); },
       [&] { noisy_picture.save_png(dir.file("picture.png")); }},
      {"bits.txt", [&] { save_binary_data(dir.file("bits.txt"), small_bits); },
       [&] { save_binary_data(dir.file("bits.txt"), large_bits); }},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    for (const auto& entry : std::filesystem::directory_iterator(dir.path)) std::filesystem::remove_all(entry.path());
    c.write_small();
    const std::string old_bytes = read_bytes(dir.path / c.name);
    REQUIRE(!old_bytes.empty());
    REQUIRE(others(dir, {c.name}).empty());
    const std::string report =
        with_file_size_limit(limit, [&] { return failed_replacement(dir, c.name, old_bytes, c.write_large); });
    CHECK(report.empty());
    c.write_large();  // without the limit it succeeds, and leaves one file
    CHECK(read_bytes(dir.path / c.name).size() > limit);
    CHECK(others(dir, {c.name}).empty());
  }
  // The old checkpoint still loads after the failed save.
  save_checkpoint(dir.file("checkpoint.bin"), snapshot);
  const std::string report = with_file_size_limit(limit, [&] {
    try {
      save_checkpoint(dir.file("checkpoint.bin"), big_snapshot);
      return std::string("no throw");
    } catch (const std::runtime_error&) {
    }
    return load_checkpoint<double>(dir.file("checkpoint.bin")).params == snapshot.params ? std::string()
                                                                                         : std::string("changed");
  });
  CHECK(report.empty());
}

TEST_CASE("a model's parameter files are all replaced or none: a failed write changes none of them",
          "[io][atomic]") {
  TempDir dir;
  // layer0 (8 × 2) and its bias fit under the limit, layer1 (400 × 8 doubles, 25.6 kB) does not.
  MlpEnergy<double> old_model(2, {8, 400}, Activation::Swish), new_model(2, {8, 400}, Activation::Swish);
  std::mt19937_64 rng(2);
  old_model.initialize(rng);
  new_model.initialize(rng);
  save_params_npy(old_model, dir.path / "mlp");
  std::vector<std::string> names;
  std::vector<std::string> old_bytes;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path / "mlp")) {
    names.push_back("mlp/" + entry.path().filename().string());
    old_bytes.push_back(read_bytes(entry.path()));
  }
  names.push_back("mlp");
  const std::string report = with_file_size_limit(16 * 1024, [&]() -> std::string {
    try {
      save_params_npy(new_model, dir.path / "mlp");
      return "no throw";
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()).find("layer1.weight.npy") == std::string::npos) return std::string("names ") + e.what();
    }
    for (std::size_t k = 0; k + 1 < names.size(); ++k)
      if (read_bytes(dir.path / names[k]) != old_bytes[k]) return names[k] + " was replaced";
    const auto left = others(dir, names);
    return left.empty() ? std::string() : "left behind " + left.front();
  });
  CHECK(report.empty());
  save_params_npy(new_model, dir.path / "mlp");
  MlpEnergy<double> back(2, {8, 400}, Activation::Swish);
  load_params_npy(back, dir.path / "mlp");
  CHECK(back.params() == new_model.params());
}

TEST_CASE("a log row that cannot be written throws, and a resumed log drops a row cut short", "[io][atomic]") {
  TempDir dir;
  const std::string path = dir.file("log.csv");
  const std::string report = with_file_size_limit(4096, [&]() -> std::string {
    CsvLog log(path, {"iteration", "loss", "grad_norm"});
    for (int it = 1; it <= 10000; ++it) {
      try {
        log.row({static_cast<double>(it), 1.0 / 3.0, 2.0 / 3.0});
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()).find("log.csv") == std::string::npos) return std::string("names ") + e.what();
        return log.last_iteration() == it - 1 ? std::string() : "last_iteration counts the failed row";
      }
    }
    return "no row failed";
  });
  REQUIRE(report.empty());
  const std::string written = read_bytes(path);
  REQUIRE(written.size() == 4096);
  REQUIRE(written.back() != '\n');  // the last row was cut short
  CsvLog resumed(path, {"iteration", "loss", "grad_norm"}, 1000000);
  REQUIRE(resumed.last_iteration());
  const std::string kept = read_bytes(path);
  CHECK(kept == written.substr(0, written.rfind('\n') + 1));
  // A cut row whose first cell still reads as a small iteration is dropped too.
  write_bytes(path, "iteration,loss,grad_norm\n1,0.5,0.25\n2,0.5,0.25\n3,0.5");
  CsvLog again(path, {"iteration", "loss", "grad_norm"}, 5);
  CHECK(again.last_iteration() == 2);
  write_bytes(path, "iteration,loss,grad_norm\n1,0.5,0.25\n2,0.5,0.25\n1");
  CsvLog third(path, {"iteration", "loss", "grad_norm"}, 5);
  CHECK(third.last_iteration() == 2);
  CHECK(read_bytes(path) == "iteration,loss,grad_norm\n1,0.5,0.25\n2,0.5,0.25\n");
}

TEST_CASE("load_npy refuses a file cut short, one with bytes after its data, and an absurd shape", "[io][npy]") {
  TempDir dir;
  const Matrix<double> A = Matrix<double>::Random(10, 4);
  save_npy(dir.path / "a.npy", A);
  const std::string bytes = read_bytes(dir.path / "a.npy");
  write_bytes(dir.path / "short.npy", bytes.substr(0, bytes.size() - 8));
  REQUIRE_THROWS_WITH(load_npy<double>(dir.path / "short.npy"),
                      Contains("short.npy") && Contains("needs 320 bytes of data, the file has 312 (truncated)"));
  write_bytes(dir.path / "long.npy", bytes + "extra");
  REQUIRE_THROWS_WITH(load_npy<double>(dir.path / "long.npy"), Contains("needs 320 bytes of data, the file has 325"));
  write_bytes(dir.path / "header_only.npy", bytes.substr(0, 20));
  REQUIRE_THROWS_WITH(load_npy<double>(dir.path / "header_only.npy"), Contains("truncated header"));
  // A header that claims 2^40 doubles over no data: refused before any allocation.
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string huge = std::string("\x93NUMPY\x01\x00", 8);
  huge += static_cast<char>(header.size() & 0xff);
  huge += static_cast<char>(header.size() >> 8);
  write_bytes(dir.path / "huge.npy", huge + header);
  REQUIRE_THROWS_WITH(load_npy<double>(dir.path / "huge.npy"), Contains("the file has 0 (truncated)"));
  header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }\n";
  huge = std::string("\x93NUMPY\x01\x00", 8);
  huge += static_cast<char>(header.size() & 0xff);
  huge += static_cast<char>(header.size() >> 8);
  write_bytes(dir.path / "overflow.npy", huge + header);
  REQUIRE_THROWS_WITH(load_npy<double>(dir.path / "overflow.npy"), Contains("too large"));
  CHECK(load_npy<double>(dir.path / "a.npy") == A);
}

TEST_CASE("model parameters that are not finite are refused on loading", "[io][npy]") {
  TempDir dir;
  MlpEnergy<double> model(3, {4}, Activation::Swish);
  std::mt19937_64 rng(3);
  model.initialize(rng);
  save_params_npy(model, dir.path / "mlp");
  Matrix<double> bias = load_npy<double>(dir.path / "mlp" / "layer0.bias.npy");
  bias(2, 0) = std::numeric_limits<double>::quiet_NaN();
  save_npy(dir.path / "mlp" / "layer0.bias.npy", bias, true);
  MlpEnergy<double> back(3, {4}, Activation::Swish);
  const Vector<double> before = back.params();
  REQUIRE_THROWS_WITH(load_params_npy(back, dir.path / "mlp"), Contains("layer0.bias.npy") && Contains("not finite"));
  CHECK(back.params() == before);
}

TEST_CASE("a checkpoint whose empty matrix claims a dimension beyond Index is corrupt, not a crash",
          "[io][checkpoint]") {
  TempDir dir;
  TrainingSnapshot<double> snapshot;
  snapshot.params = Vector<double>::Ones(3);
  EstimatorState state;
  state.single.push_back(Matrix<float>(0, 0));
  snapshot.estimator_state = state;
  save_checkpoint(dir.file("c.bin"), snapshot);
  std::string bytes = read_bytes(dir.file("c.bin"));
  // The body ends with the single matrix's rows and cols and the count of double matrices (0).
  constexpr std::size_t header_size = 24;
  const std::size_t rows_at = bytes.size() - 8 - 8 - 16;
  for (const std::size_t field : {rows_at, rows_at + 8}) {
    std::string crafted = bytes;
    const std::uint64_t huge = std::uint64_t{1} << 63;
    std::memcpy(crafted.data() + field, &huge, sizeof huge);
    const std::uint64_t checksum =
        detail::fnv1a64(crafted.substr(header_size, crafted.size() - header_size - 8));
    std::memcpy(crafted.data() + crafted.size() - 8, &checksum, sizeof checksum);
    write_bytes(dir.file("crafted.bin"), crafted);
    REQUIRE_THROWS_AS(load_checkpoint<double>(dir.file("crafted.bin")), CheckpointError);
  }
  CHECK(load_checkpoint<double>(dir.file("c.bin")).params == snapshot.params);
}

TEST_CASE("write_file_atomically names the file and the reason when the folder is missing", "[io][atomic]") {
  TempDir dir;
  REQUIRE_THROWS_WITH(write_file_atomically(dir.path / "missing" / "f.txt", "x", "caller"),
                      Contains("caller: cannot write") && Contains("f.txt") && Contains("No such file or directory"));
  write_file_atomically(dir.path / "f.txt", "first", "caller");
  write_file_atomically(dir.path / "f.txt", "second", "caller");
  CHECK(read_bytes(dir.path / "f.txt") == "second");
  CHECK(others(dir, {"f.txt"}).empty());
}
