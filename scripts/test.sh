#!/usr/bin/env bash
# Installs what is needed, builds ratiomatch with its tests and runs them all with ctest.
# Usage: bash scripts/test.sh [build-dir] [extra cmake arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DRATIOMATCH_BUILD_TESTS=ON "$@"
cmake --build "$build_dir" -j "$(nproc)"
# RATIOMATCH_CTEST_EXCLUDE: a regular expression of tests to leave out (none by default).
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" ${RATIOMATCH_CTEST_EXCLUDE:+-E "$RATIOMATCH_CTEST_EXCLUDE"}
