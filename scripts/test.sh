#!/usr/bin/env bash
# Installs what is needed, builds ratiomatch with its tests and examples and runs them all with ctest.
# The benchmarks are left out to keep this short; pass -DRATIOMATCH_BUILD_BENCHMARKS=ON to build them too.
# Usage: bash scripts/test.sh [build-dir] [extra cmake arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DRATIOMATCH_BUILD_TESTS=ON -DRATIOMATCH_BUILD_EXAMPLES=ON \
  -DRATIOMATCH_BUILD_PYTHON=ON -DRATIOMATCH_BUILD_BENCHMARKS=OFF "$@"
cmake --build "$build_dir" -j "$(nproc)"
# ctest runs nproc tests at once: one OpenMP thread per test keeps them from oversubscribing the
# cores (two processes' spinning OpenMP threads on two cores slowed one AIS test from 13 s to over
# 60 s). The tests of the threaded code paths set their thread counts themselves.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# RATIOMATCH_CTEST_EXCLUDE: a regular expression of tests to leave out (none by default).
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" ${RATIOMATCH_CTEST_EXCLUDE:+-E "$RATIOMATCH_CTEST_EXCLUDE"}
