#!/usr/bin/env bash
# Installs what is needed (Debian's PyTorch with OpenBLAS), builds the ratiomatch timing
# programs and runs the side-by-side comparison with PyTorch on this machine. Writes
# out/compare_pytorch.md and out/compare_pytorch.jsonl; takes about 20 minutes on 2 cores.
# Run it on an otherwise idle machine. Extra arguments go to compare.py (see --help), e.g.
#   bash scripts/compare_pytorch.sh --configs 32x128 --estimators gg-basic --no-gibbs
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh python3-torch libopenblas0-openmp
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRATIOMATCH_BUILD_BENCHMARKS=ON
cmake --build build -j "$(nproc)" --target compare_step bench_gemm
/usr/bin/python3 benchmarks/compare_pytorch/compare.py "$@"
