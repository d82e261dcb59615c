#!/usr/bin/env bash
# Builds the tests of the code that reads, writes and resumes (data files, the IDX reader, .npy files,
# checkpoints, the trainer, estimator state, SIGKILL safety, optimizers) with Clang under
# AddressSanitizer and UndefinedBehaviorSanitizer, and runs them. The numerical kernels' tests run
# in every build with Eigen's index and shape assertions on (tests/CMakeLists.txt); the file
# readers are also fuzzed under both sanitizers (scripts/fuzz_smoke.sh).
# Usage: bash scripts/sanitize.sh [build-dir, default build-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build-sanitize}
bash scripts/install_deps.sh clang libclang-rt-14-dev libomp-dev
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DRATIOMATCH_SANITIZE=address,undefined -DRATIOMATCH_BUILD_TESTS=ON \
  -DRATIOMATCH_BUILD_EXAMPLES=OFF -DRATIOMATCH_BUILD_BENCHMARKS=OFF -DRATIOMATCH_BUILD_PYTHON=OFF
tests=(test_core test_optim test_data test_idx_reader test_estimator_state test_train test_crash_safety test_npy test_file_writes)
cmake --build "$build_dir" -j "$(nproc)" --target "${tests[@]}"
regex="^($(IFS='|'; echo "${tests[*]}")):"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" -R "$regex"
