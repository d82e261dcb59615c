#!/usr/bin/env bash
# Installs what is needed, builds the main example and runs it: a short training run of the
# gradient-guided advanced estimator on the 2spirals data set, with pictures in out/2spirals.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)" --target train_synthetic
./build/examples/train_synthetic --data 2spirals --estimator gg-advanced --iters 3000 --out out/2spirals
echo "Pictures: out/2spirals/energy.png (learned exp(-E) over the plane) and out/2spirals/samples.png (data | model samples)"
