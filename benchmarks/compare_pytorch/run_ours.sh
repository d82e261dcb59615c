#!/usr/bin/env bash
# Trains with examples/train_synthetic (2spirals, gg-advanced, the paper's recipe) in chunks of
# CHUNK updates resumed bit for bit from the checkpoint, keeping a copy of every chunk's
# checkpoint (OUT/checkpoint_K.bin) for later scoring with match_steps eval.
# Usage: run_ours.sh BUILD_DIR OUT SEED [ITERS=10000] [CHUNK=1000] [extra train_synthetic flags...]
set -euo pipefail
build=$1 out=$2 seed=$3 iters=${4:-10000} chunk=${5:-1000}
shift $(( $# < 5 ? $# : 5 ))
export OMP_NUM_THREADS=1
mkdir -p "$out"
for (( k = chunk; k <= iters; k += chunk )); do
  resume=()
  [[ $k -gt $chunk ]] && resume=(--resume)
  nice -n 10 "$build/examples/train_synthetic" --data 2spirals --estimator gg-advanced --seed "$seed" \
    --iters "$k" --out "$out" --log-every 100 --eval-every "$chunk" --activation swish "${resume[@]}" "$@" \
    > "$out/stdout_$k.txt" 2> /dev/null
  cp "$out/checkpoint.bin" "$out/checkpoint_$k.bin"
done
