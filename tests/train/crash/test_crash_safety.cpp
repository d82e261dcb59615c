// Crash safety of checkpoints: a training process (crash_target) is killed with SIGKILL at 50
// random moments (every other one aimed at a checkpoint write), each time resumed from what it left on disk. After every kill the checkpoint
// must load (checksum, format) and hold exactly the uninterrupted run's state at its iteration;
// at the end the resumed run must finish bit-identical to the uninterrupted one.

#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <system_error>
#include <vector>

#include <ratiomatch/io/checkpoint.hpp>

#include "test_support.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  return pid;
}

// Runs to completion; returns the exit code (−1 if it did not exit normally).
int run_to_end(const std::vector<std::string>& args) {
  int status = 0;
  if (::waitpid(spawn(args), &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint64_t params_hash(const ratiomatch::Vector<double>& params) {
  return ratiomatch::detail::fnv1a64(
      std::string(reinterpret_cast<const char*>(params.data()), params.size() * sizeof(double)));
}

}  // namespace

// The temporary files of checkpoint writes in progress (`checkpoint.bin.tmp.<pid>.<n>`).
std::vector<fs::path> temporary_checkpoints(const fs::path& folder) {
  std::vector<fs::path> found;
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(folder, ignored))
    if (entry.path().filename().string().rfind("checkpoint.bin.tmp", 0) == 0) found.push_back(entry.path());
  return found;
}

TEST_CASE("a run killed with SIGKILL at 50 random moments always leaves a loadable checkpoint and resumes bit for bit",
          "[trainer][checkpoint][crash]") {
  const std::string program = RATIOMATCH_CRASH_TARGET;
  const fs::path work = fs::path(RATIOMATCH_CRASH_WORK_DIR);
  fs::remove_all(work);
  fs::create_directories(work);
  const std::string iterations = "300";

  // The uninterrupted reference, with the parameters' hash after every iteration; its duration
  // gives the time per iteration.
  const fs::path record = work / "reference_hashes.txt";
  const auto reference_start = std::chrono::steady_clock::now();
  REQUIRE(run_to_end({program, (work / "reference").string(), iterations, "--record", record.string()}) == 0);
  const double per_iteration =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - reference_start).count() / 300.0;
  std::map<std::uint64_t, std::uint64_t> reference;  // iteration -> parameter hash
  {
    std::ifstream in(record);
    std::uint64_t k = 0, h = 0;
    while (in >> k >> h) reference[k] = h;
  }
  REQUIRE(reference.size() == 300);

  // The start-up time: from spawning a fresh run until its first checkpoint is on disk, the longest
  // of three (it differs a lot between builds, e.g. under sanitizers, and on a busy machine, so the
  // kill times are scaled by it).
  double startup = 0;
  for (int k = 0; k < 3; ++k) {
    const fs::path calibration = work / ("calibration" + std::to_string(k));
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = spawn({program, calibration.string(), iterations});
    const auto deadline = start + std::chrono::seconds(60);
    int early_status = 0;
    while (!fs::exists(calibration / "checkpoint.bin")) {
      REQUIRE(::waitpid(pid, &early_status, WNOHANG) == 0);  // crash_target must not stop before its first checkpoint
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    startup = std::max(startup, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  // Kills land from 0.9 × the start-up time to 4 iterations after it: sometimes before a resumed run
  // writes anything, mostly while it trains and writes (a checkpoint after every iteration).
  std::uniform_real_distribution<double> delay_seconds(0.9 * startup, startup + 4 * per_iteration);
  const fs::path run = work / "killed";
  const fs::path checkpoint = run / "checkpoint.bin";
  std::mt19937_64 rng(2026);
  int loaded = 0, interrupted_writes = 0, before_first_checkpoint = 0;
  std::uint64_t last_iteration = 0;
  for (int kill_index = 0; kill_index < 50; ++kill_index) {
    const pid_t pid = spawn({program, run.string(), iterations, "--resume"});
    if (kill_index % 2 == 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(delay_seconds(rng)));
    } else {
      // Every other kill aims at a write: it waits for a temporary checkpoint file to appear (or
      // for the random delay to pass) and then strikes within 0–300 µs.
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(delay_seconds(rng) + 1.0);
      while (temporary_checkpoints(run).empty() && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    // A write in progress leaves its temporary file behind; the checkpoint itself is untouched. It
    // is removed here, so that the next kill's count and aim see only that run's writes.
    const auto left = temporary_checkpoints(run);
    if (!left.empty()) ++interrupted_writes;
    for (const auto& path : left) fs::remove(path);
    if (!fs::exists(checkpoint)) {
      ++before_first_checkpoint;
      continue;
    }
    INFO("kill " << kill_index);
    ratiomatch::TrainingSnapshot<double> snapshot;
    REQUIRE_NOTHROW(snapshot = ratiomatch::load_checkpoint<double>(checkpoint.string()));
    ++loaded;
    // Either the previous checkpoint or a newer one: never older, never a mixture.
    CHECK(snapshot.iteration >= last_iteration);
    last_iteration = snapshot.iteration;
    REQUIRE(reference.count(snapshot.iteration) == 1);
    CHECK(params_hash(snapshot.params) == reference[snapshot.iteration]);
  }
  std::cout << "SIGKILL test (start-up " << startup << " s, " << per_iteration << " s per iteration): 50 kills, " << loaded << " checkpoints loaded (last at iteration " << last_iteration
            << " of 300), " << interrupted_writes << " kills during a checkpoint write, " << before_first_checkpoint
            << " before the first checkpoint\n";
  CHECK(loaded >= 40);
  CHECK(interrupted_writes >= 10);
  CHECK(last_iteration < 300);  // the kills landed during training, not after it

  // Resumed to the end: the same parameters, bit for bit, as the uninterrupted run.
  REQUIRE(run_to_end({program, run.string(), iterations, "--resume"}) == 0);
  const std::string expected = file_bytes(work / "reference" / "final.bin"), actual = file_bytes(run / "final.bin");
  REQUIRE(!expected.empty());
  CHECK(actual == expected);
  // And the same log, row for row, apart from the wall-clock column.
  const auto expected_log = ratiomatch::testing::log_lines_without_wall_time(work / "reference" / "log.csv");
  REQUIRE(expected_log.size() == 301);
  CHECK(ratiomatch::testing::log_lines_without_wall_time(run / "log.csv") == expected_log);
}
