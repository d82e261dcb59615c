#!/usr/bin/env bash
# Installs what is needed, builds the main example and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRATIOMATCH_BUILD_EXAMPLES=ON
cmake --build build -j "$(nproc)" --target quickstart
./build/examples/quickstart
