#!/usr/bin/env python3
"""Data-parallel scaling on this machine: one MPI process against two (one thread each), the same
global batch, for a small model (train_synthetic, d = 32, MLP 256-256, batch 128) and the largest
one the library trains on real data (train_rbm: Bernoulli RBM 784-500 on Fashion-MNIST, batch 100
and 400),
each with gradient-guided ratio matching. Throughput is the trainer's updates per second of training
(evaluations excluded); the exchange time is rank 0's time in the gather and broadcast, waiting
included. Pairs run alternately so that machine noise hits both.

Usage:
    /usr/bin/python3 benchmarks/distributed/run.py --build BUILD [--repeats 3]
writes docs/results/distributed/scaling.jsonl and prints a table.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results" / "distributed"

CONFIGS = {
    "synthetic d=32": ("train_synthetic", 2000, ["--data", "2spirals", "--estimator", "gg-advanced", "--dim", "32",
                                                  "--batch", "128", "--hidden", "256,256", "--no-mmd",
                                                  "--grid-size", "16", "--checkpoint-every", "0"]),
}
for batch, iters in ((100, 300), (400, 100)):
    CONFIGS[f"rbm 784-500 batch {batch}"] = (
        "train_rbm", iters, ["--estimator", "gg-advanced", "--hidden", "500", "--batch", str(batch),
                             "--ais-runs", "2", "--ais-temperatures", "3", "--test-subset", "100"])


def run(build, name, processes, out):
    program, iters, args = CONFIGS[name]
    cmd = ["mpirun", "-n", str(processes), "--oversubscribe", "--bind-to", "core",
           str(Path(build) / "examples" / program), "--distributed", "--iters", str(iters),
           "--log-every", str(iters), "--out", str(out)] + args
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    summary = json.loads((out / "summary.json").read_text())
    return {"config": name, "processes": processes, "iterations": summary["iterations"],
            "updates_per_second": summary["iterations_per_second"],
            "exchange_seconds": summary.get("exchange_seconds", 0.0), "wall_seconds": summary["wall_seconds"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", help="run only the configurations whose name contains this")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in [n for n in CONFIGS if not args.only or args.only in n]:
            for repeat in range(args.repeats):
                for processes in (1, 2):
                    r = run(args.build, name, processes, Path(tmp) / f"{name.replace(' ', '_')}_{processes}_{repeat}")
                    r["repeat"] = repeat
                    print(json.dumps(r), flush=True)
                    records.append(r)
    with open(RESULTS / "scaling.jsonl", "w") as f:
        f.write(json.dumps({"meta": {"load_average": os.getloadavg(), "cpus": os.cpu_count()}}) + "\n")
        for r in records:
            f.write(json.dumps(r) + "\n")
    print("| configuration | P = 1 updates/s | P = 2 updates/s | speed-up (median of pairs) | "
          "exchange share at P = 2 |")
    print("|---|---|---|---|---|")
    for name in sorted({r["config"] for r in records}):
        one = [r for r in records if r["config"] == name and r["processes"] == 1]
        two = [r for r in records if r["config"] == name and r["processes"] == 2]
        ratios = [b["updates_per_second"] / a["updates_per_second"] for a, b in zip(one, two)]
        share = [b["exchange_seconds"] / b["wall_seconds"] for b in two]
        med = lambda rs: statistics.median(r["updates_per_second"] for r in rs)
        print(f"| {name} | {med(one):.1f} | {med(two):.1f} | {statistics.median(ratios):.2f}× "
              f"({min(ratios):.2f}–{max(ratios):.2f}) | {100 * statistics.median(share):.1f} % |")


if __name__ == "__main__":
    main()
