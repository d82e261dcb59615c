#!/usr/bin/env python3
"""Trains every estimator on the same data, seeds and thread count, and keeps each run's log.

Usage (from the repository root, after building the examples into BUILD):
    /usr/bin/python3 benchmarks/compare_estimators/run.py --build BUILD --setting spirals32 [--seeds 1,2,3]
        [--jobs 2] [--only gg-advanced] [--dry-run]

Settings (see SETTINGS below): spirals32 (2spirals at d = 32, MMD and grid KL every 500 updates),
spirals256 (d = 256, grid KL and heat maps, no sampler), ising10 (10x10 lattice, sigma 0.1 and 0.25,
every method over an L1 and a learning-rate grid; the held-out pseudo-likelihood picks the penalty, the
learning rate and the stopping point), ising25 (the published protocol's 25x25 lattice, likewise).

Resumable: a run whose summary.json is already in the results folder is skipped, so the command can be
repeated until everything is done (runs that fail are reported and retried next time). Each finished
run's log.csv, summary.json (and for spirals256 its heat maps) are copied to
docs/results/estimator_choice/runs/SETTING/RUN/; the working folders are under out/compare_estimators.
Every run uses one thread (OMP_NUM_THREADS=1); --jobs runs that many at once.
"""
import argparse
import concurrent.futures
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results" / "estimator_choice" / "runs"
WORK = ROOT / "out" / "compare_estimators"

RATIO_METHODS = ["rm", "uniform", "gg-basic", "gg-advanced", "first-order"]
OBJECTIVES = ["squared", "hyvarinen", "sqrt"]


def spirals(dim, extra):
    """2spirals runs: every ratio matching method with every objective, and PCD with GWG."""
    runs = []
    for method, objective in itertools.product(RATIO_METHODS, OBJECTIVES):
        runs.append((f"{method}_{objective}", ["--estimator", method, "--objective", objective]))
    runs.append(("pcd-gwg", ["--estimator", "pcd-gwg", "--pcd-steps", "5"]))
    return [(name, ["--data", "2spirals", "--dim", str(dim)] + args + extra) for name, args in runs]


SETTINGS = {
    # The paper's recipe (batch 128, Adam 5e-4, weight decay 1e-4, clip 1), 5000 updates; MMD with
    # 2000 samples and 20 Gibbs sweeps, at T = 1 and at the objective's T, and the grid KL.
    "spirals32": dict(
        program="train_synthetic",
        runs=spirals(32, ["--iters", "5000", "--eval-every", "500", "--eval-samples", "2000", "--log-every", "100",
                          "--checkpoint-every", "0", "--image-size", "200"]),
        keep=[]),
    # d = 256 (the paper's high-dimensional test): grid KL and heat maps, no sampler.
    "spirals256": dict(
        program="train_synthetic",
        runs=[r for r in spirals(256, ["--iters", "3000", "--eval-every", "300", "--no-mmd", "--heatmaps",
                                       "--log-every", "100", "--checkpoint-every", "0", "--image-size", "200"])
              if r[0].split("_")[-1] in ("squared", "hyvarinen") or r[0] == "pcd-gwg"],
        keep=["energy_*.png", "energy.png"]),
}


def ising_runs(side, sigmas, l1s, lrs, methods, budget):
    """Every method at every (sigma, L1 penalty, learning rate); a run at the default learning rate
    (0.01) keeps the name it had before the learning rate became a choice."""
    runs = []
    for sigma, l1, lr in itertools.product(sigmas, l1s, lrs):
        for name, args in methods:
            tag = f"sigma{sigma}_l1{l1}" + ("" if lr == "0.01" else f"_lr{lr}")
            runs.append((f"{tag}_{name}",
                         ["--side", str(side), "--sigma", sigma, "--l1", l1, "--lr", lr, "--iters", "10000000",
                          "--time-budget", str(budget), "--log-every", "100"] + args))
    return runs


# PCD as in the Gibbs-with-Gradients paper's lattice experiment: a sweep of Gibbs, or 50 GWG
# proposals, per update, 100 persistent chains.
PCD_METHODS = [("pcd-gibbs", ["--method", "pcd-gibbs"]), ("pcd-gwg", ["--method", "pcd-gwg", "--pcd-steps", "50"])]
# 10x10 lattice, 30 s per run: every ratio matching method with two objectives and both PCD learners.
SETTINGS["ising10"] = dict(program="train_ising", keep=[], runs=ising_runs(
    10, ["0.1", "0.25"], ["0", "0.001", "0.003", "0.01", "0.03"], ["0.01", "0.001"],
    [(f"{m}_{o}", ["--method", m, "--objective", o])
     for m in ["rm", "uniform", "gg-basic", "gg-advanced"] for o in ["hyvarinen", "squared"]] + PCD_METHODS, 30))
# The published protocol's size: 25x25 lattice (D = 625), data from 1,600 Gibbs sweeps per chain
# (train_ising's default 1,000,000 / D), Hyvarinen's objective (the squared ratio is the worst at
# side 10), 120 s per run at the learning rate that is best for the sampled estimators at side 10,
# and at a tenth of it: Adam moves each of the 195,000 couplings by about lr per update whatever its
# gradient, which at sigma 0.1 (all-zero RMSE 0.008) outruns the signal within 100 updates.
SETTINGS["ising25"] = dict(program="train_ising", keep=[], runs=ising_runs(
    25, ["0.1", "0.25"], ["0.001", "0.003", "0.01", "0.03", "0.1"], ["0.001", "0.0001"],
    [(f"{m}_hyvarinen", ["--method", m, "--objective", "hyvarinen"])
     for m in ["rm", "uniform", "gg-basic", "gg-advanced"]] + PCD_METHODS, 120))


def run_one(build, setting, name, args, seed, dry_run):
    spec = SETTINGS[setting]
    run_name = f"{name}_s{seed}"
    done = RESULTS / setting / run_name
    if (done / "summary.json").exists():
        return run_name, "done before"
    work = WORK / setting / run_name
    cmd = [str(Path(build) / "examples" / spec["program"])] + args + ["--seed", str(seed), "--out", str(work)]
    if setting.startswith("ising"):  # one data file per (sigma, seed): every method sees the same samples
        sigma = args[args.index("--sigma") + 1]
        cmd += ["--data-file", str(WORK / setting / f"data_sigma{sigma}_s{seed}.txt")]
    if dry_run:
        return run_name, " ".join(cmd)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    start = time.time()
    with open(work / "stdout.txt", "w") as out, open(work / "stderr.txt", "w") as err:
        code = subprocess.call(cmd, stdout=out, stderr=err, env=env)
    diverged = code == 1 and (work / "summary.json").exists() and \
        json.loads((work / "summary.json").read_text()).get("failed", False)
    if code != 0 and not diverged:
        return run_name, f"FAILED (exit {code}; see {work / 'stderr.txt'})"
    done.mkdir(parents=True, exist_ok=True)
    for f in ["log.csv"] + [p.name for pattern in spec["keep"] for p in work.glob(pattern)]:
        shutil.copy(work / f, done / f)
    summary = json.loads((work / "summary.json").read_text())
    summary["command"] = " ".join([spec["program"]] + cmd[1:])
    (done / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return run_name, ("diverged (its log and held-out stopping point are kept)" if diverged else "finished") + \
        f" in {time.time() - start:.0f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="the CMake build folder with the examples")
    ap.add_argument("--setting", required=True, choices=sorted(SETTINGS))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--only", default="", help="run only the runs whose name matches this regular expression")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    seeds = [int(x) for x in a.seeds.split(",")]
    todo = [(name, args, seed) for seed in seeds for name, args in SETTINGS[a.setting]["runs"] if re.search(a.only, name)]
    failures = 0
    if a.setting.startswith("ising") and not a.dry_run:
        # The first unfinished run of each (sigma, seed) draws and saves the data file, alone, before the
        # others share it (on a fresh clone the finished runs are in RESULTS but the data files are not).
        firsts = {}
        for n, args, seed in todo:
            if not (RESULTS / a.setting / f"{n}_s{seed}" / "summary.json").exists():
                firsts.setdefault((args[args.index("--sigma") + 1], seed), (n, args, seed))
        for (sigma, seed), (n, args, _) in firsts.items():
            if not (WORK / a.setting / f"data_sigma{sigma}_s{seed}.txt").exists():
                run_name, status = run_one(a.build, a.setting, n, args, seed, False)
                failures += status.startswith("FAILED")
                print(f"{a.setting}/{run_name}: {status}", flush=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futures = [pool.submit(run_one, a.build, a.setting, n, args, seed, a.dry_run) for n, args, seed in todo]
        for f in concurrent.futures.as_completed(futures):
            run_name, status = f.result()
            failures += status.startswith("FAILED")
            print(f"{a.setting}/{run_name}: {status}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
