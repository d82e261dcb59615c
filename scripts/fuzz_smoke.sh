#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/) with Clang and fuzzes each for a while, starting from its
# committed corpus: any crash, sanitizer report or leak fails.
# Usage: bash scripts/fuzz_smoke.sh [seconds per harness, default 60] [build-dir, default build-fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build_dir=${2:-build-fuzz}
bash scripts/install_deps.sh clang libclang-rt-14-dev
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ -DRATIOMATCH_BUILD_FUZZERS=ON \
  -DRATIOMATCH_BUILD_TESTS=OFF -DRATIOMATCH_BUILD_EXAMPLES=OFF -DRATIOMATCH_BUILD_BENCHMARKS=OFF -DRATIOMATCH_BUILD_PYTHON=OFF
harnesses=(binary_data checkpoint idx npy)
cmake --build "$build_dir" -j "$(nproc)" --target "${harnesses[@]/#/fuzz_}"
# The harnesses run side by side; new inputs go to scratch folders, the committed corpus is only read.
pids=()
for name in "${harnesses[@]}"; do
  scratch="$build_dir/fuzz_smoke_$name"
  rm -rf "$scratch" && mkdir -p "$scratch"
  "$build_dir/fuzz/fuzz_$name" -max_total_time="$seconds" -max_len=8192 -seed=1 -print_final_stats=1 \
    -artifact_prefix="$scratch/" "$scratch" "fuzz/corpus/$name" > "$scratch.log" 2>&1 &
  pids+=($!)
done
status=0
for k in "${!harnesses[@]}"; do
  name=${harnesses[$k]}
  if wait "${pids[$k]}"; then
    echo "fuzz_$name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$build_dir/fuzz_smoke_$name.log" | cut -d' ' -f2) inputs in ${seconds} s, no failure"
  else
    echo "fuzz_$name FAILED: see $build_dir/fuzz_smoke_$name.log"; tail -n 30 "$build_dir/fuzz_smoke_$name.log"; status=1
  fi
done
exit $status
