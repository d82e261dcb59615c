// Crash safety of checkpoints: a training process (crash_target) is killed with SIGKILL at 50
// random moments, each time resumed from what it left on disk. After every kill the checkpoint
// must load (checksum, format) and hold exactly the uninterrupted run's state at its iteration;
// at the end the resumed run must finish bit-identical to the uninterrupted one.

#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <ratiomatch/io/checkpoint.hpp>

extern char** environ;

namespace {

namespace fs = std::filesystem;

int run_to_end(const std::vector<std::string>& args) {
  std::string command;
  for (const auto& a : args) command += "'" + a + "' ";
  return std::system(command.c_str());
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  return pid;
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

TEST_CASE("a run killed with SIGKILL at 50 random moments always leaves a loadable checkpoint and resumes bit for bit",
          "[trainer][checkpoint][crash]") {
  const std::string program = RATIOMATCH_CRASH_TARGET;
  const fs::path work = fs::path(RATIOMATCH_CRASH_WORK_DIR);
  fs::remove_all(work);
  fs::create_directories(work);
  const std::string iterations = "200";

  // The uninterrupted reference, with the parameters' hash after every iteration.
  const fs::path record = work / "reference_hashes.txt";
  REQUIRE(run_to_end({program, (work / "reference").string(), iterations, "--record", record.string()}) == 0);
  std::map<std::uint64_t, std::uint64_t> reference;  // iteration -> parameter hash
  {
    std::ifstream in(record);
    std::uint64_t k = 0, h = 0;
    while (in >> k >> h) reference[k] = h;
  }
  REQUIRE(reference.size() == 200);

  const fs::path run = work / "killed";
  const fs::path checkpoint = run / "checkpoint.bin";
  std::mt19937_64 rng(2026);
  std::uniform_int_distribution<int> delay_us(2000, 60000);  // from process start-up into training
  int loaded = 0, interrupted_writes = 0, before_first_checkpoint = 0;
  std::uint64_t last_iteration = 0;
  for (int kill_index = 0; kill_index < 50; ++kill_index) {
    const pid_t pid = spawn({program, run.string(), iterations, "--resume"});
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    // A write in progress leaves its temporary file behind; the checkpoint itself is untouched.
    if (fs::exists(run / "checkpoint.bin.tmp")) ++interrupted_writes;
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
  std::cout << "SIGKILL test: 50 kills, " << loaded << " checkpoints loaded (last at iteration " << last_iteration
            << " of 200), " << interrupted_writes << " kills during a checkpoint write, " << before_first_checkpoint
            << " before the first checkpoint\n";
  CHECK(loaded >= 40);
  CHECK(interrupted_writes >= 1);
  CHECK(last_iteration < 200);  // the kills landed during training, not after it

  // Resumed to the end: the same parameters, bit for bit, as the uninterrupted run.
  REQUIRE(run_to_end({program, run.string(), iterations, "--resume"}) == 0);
  const std::string expected = file_bytes(work / "reference" / "final.bin"), actual = file_bytes(run / "final.bin");
  REQUIRE(!expected.empty());
  CHECK(actual == expected);
}
