#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <ratiomatch/io/checkpoint.hpp>
#include <ratiomatch/train/csv_log.hpp>
#include <ratiomatch/train/progress_reporter.hpp>

using namespace ratiomatch;
using Catch::Matchers::Contains;

namespace {

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "ratiomatch_test_checkpoint";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

TrainingSnapshot<double> example_snapshot() {
  TrainingSnapshot<double> s;
  s.iteration = 1234;
  s.wall_seconds = 5.5;
  s.tag = "run a";
  s.params = Vector<double>::LinSpaced(7, -1, 1);
  s.optimizer_steps = 1234;
  s.optimizer_buffers = {Vector<double>::Constant(7, 0.25), Vector<double>::Constant(7, 2.0)};
  s.rng_state = "1 2 3";
  s.window_loss = 3.25;
  s.window_norm = 0.5;
  s.window_count = 2;
  EstimatorState state;
  state.single.push_back(Matrix<float>::Constant(3, 2, 1.0f));
  state.twice.push_back(Matrix<double>(0, 0));
  state.twice.push_back(Matrix<double>::Identity(2, 4));
  s.estimator_state = state;
  return s;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

TEST_CASE("a checkpoint round-trips every field exactly and leaves no temporary file", "[io][checkpoint]") {
  const auto path = temp_path("roundtrip.bin");
  const auto saved = example_snapshot();
  save_checkpoint(path, saved);
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
    REQUIRE(entry.path().filename().string().rfind("roundtrip.bin.tmp", 0) == std::string::npos);
  const auto loaded = load_checkpoint<double>(path);
  CHECK(loaded.iteration == saved.iteration);
  CHECK(loaded.wall_seconds == saved.wall_seconds);
  CHECK(loaded.tag == saved.tag);
  CHECK(loaded.params == saved.params);
  CHECK(loaded.optimizer_steps == saved.optimizer_steps);
  REQUIRE(loaded.optimizer_buffers.size() == 2);
  CHECK(loaded.optimizer_buffers[1] == saved.optimizer_buffers[1]);
  CHECK(loaded.rng_state == saved.rng_state);
  CHECK(loaded.window_loss == saved.window_loss);
  CHECK(loaded.window_norm == saved.window_norm);
  CHECK(loaded.window_count == saved.window_count);
  REQUIRE(loaded.estimator_state);
  REQUIRE(loaded.estimator_state->single.size() == 1);
  CHECK(loaded.estimator_state->single[0] == saved.estimator_state->single[0]);
  REQUIRE(loaded.estimator_state->twice.size() == 2);
  CHECK(loaded.estimator_state->twice[0].size() == 0);
  CHECK(loaded.estimator_state->twice[1] == saved.estimator_state->twice[1]);
}

TEST_CASE("a corrupt, truncated, foreign or mismatched checkpoint is an error, not a crash", "[io][checkpoint]") {
  const auto path = temp_path("bad.bin");
  save_checkpoint(path, example_snapshot());
  const std::string good = read_all(path);

  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x01;
  write_all(path, flipped);
  CHECK_THROWS_WITH(load_checkpoint<double>(path), Contains("fails its checksum"));

  write_all(path, good.substr(0, good.size() - 5));
  CHECK_THROWS_WITH(load_checkpoint<double>(path), Contains("truncated or corrupt"));

  write_all(path, "hello, this is not a checkpoint at all");
  CHECK_THROWS_WITH(load_checkpoint<double>(path), Contains("is not a ratiomatch checkpoint"));

  write_all(path, good);
  CHECK_THROWS_WITH(load_checkpoint<float>(path), Contains("holds 8-byte scalars, expected 4"));

  std::string other_version = good;
  other_version[8] = 9;
  write_all(path, other_version);
  CHECK_THROWS_WITH(load_checkpoint<double>(path), Contains("format version 9, expected 1 to 2"));

  CHECK_THROWS_AS(load_checkpoint<double>(temp_path("missing.bin")), CheckpointError);
}

TEST_CASE("CsvLog writes empty cells for missing values and drops rows after the resume point", "[train][csv]") {
  const auto path = temp_path("log.csv");
  {
    CsvLog log(path, {"iteration", "loss", "mmd"});
    log.row({10, 1.5, std::numeric_limits<double>::quiet_NaN()});
    log.row({20, 1.25, 0.5});
    log.row({30, 1.0, std::numeric_limits<double>::quiet_NaN()});
    CHECK_THROWS_AS(log.row({40, 1.0}), std::invalid_argument);
  }
  CHECK(read_all(path) == "iteration,loss,mmd\n10,1.5,\n20,1.25,0.5\n30,1,\n");
  {
    CsvLog resumed(path, {"iteration", "loss", "mmd"}, 20);
    resumed.row({30, 0.75, 0.25});
  }
  CHECK(read_all(path) == "iteration,loss,mmd\n10,1.5,\n20,1.25,0.5\n30,0.75,0.25\n");
}

TEST_CASE("ProgressReporter prints plain lines off a terminal and formats durations", "[train][progress]") {
  std::ostringstream out;
  ProgressReporter progress(100, 0, out, false, 25);
  for (Index it = 1; it <= 100; ++it) progress.update(it, 0.5);
  progress.finish();
  std::istringstream lines(out.str());
  std::string line;
  std::vector<std::string> all;
  while (std::getline(lines, line)) all.push_back(line);
  REQUIRE(all.size() == 4);
  CHECK_THAT(all[0], Contains("25/100") && Contains("it/s") && Contains("loss 0.50000") && Contains("ETA"));
  CHECK_THAT(all[3], Contains("100%") && Contains("100/100"));
  CHECK(ProgressReporter::format_duration(75) == "1:15");
  CHECK(ProgressReporter::format_duration(3725) == "1:02:05");
  CHECK(ProgressReporter::format_duration(-1) == "?");
}

TEST_CASE("a checkpoint with empty vectors and matrices round-trips", "[io][checkpoint]") {
  // Found by fuzz/fuzz_checkpoint under UBSan: an empty vector has no data pointer to copy to.
  const auto path = temp_path("empty.bin");
  TrainingSnapshot<float> saved;
  saved.tag = "empty";
  saved.params.resize(0);
  saved.optimizer_buffers = {Vector<float>(0)};
  EstimatorState state;
  state.single.push_back(Matrix<float>(0, 0));
  saved.estimator_state = state;
  save_checkpoint(path, saved);
  const auto loaded = load_checkpoint<float>(path);
  CHECK(loaded.params.size() == 0);
  REQUIRE(loaded.optimizer_buffers.size() == 1);
  CHECK(loaded.optimizer_buffers[0].size() == 0);
  REQUIRE(loaded.estimator_state);
  REQUIRE(loaded.estimator_state->single.size() == 1);
  CHECK(loaded.estimator_state->single[0].size() == 0);
  CHECK(loaded.estimator_state->twice.empty());
}
