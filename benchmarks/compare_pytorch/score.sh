#!/usr/bin/env bash
# Scores every saved model of a run (OUT/checkpoint_K.bin from run_ours.sh, or OUT/weights_K.bin
# from torch_train.py train) with match_steps eval — train_synthetic's evaluation, at β = 1 (the
# public code's Gibbs on exp(−E)) and β = 4 (exp(−4E)) — one JSON line per model in OUT/scores.jsonl.
# Usage: score.sh BUILD_DIR OUT SEED [extra match_steps eval flags...]
set -euo pipefail
build=$1 out=$2 seed=$3
shift 3
export OMP_NUM_THREADS=1
: > "$out/scores.jsonl"
for f in $(ls "$out" | grep -E '^(checkpoint|weights)_[0-9]+\.bin$' | sort -t_ -k2 -n); do
  k=${f#*_}; k=${k%.bin}
  [[ $k -eq 0 ]] && continue
  nice -n 10 "$build/benchmarks/compare_pytorch/match_steps" eval --weights "$out/$f" --seed "$seed" --iteration "$k" \
    --betas 1,4 "$@" >> "$out/scores.jsonl"
done
