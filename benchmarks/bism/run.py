#!/usr/bin/env python3
"""The BiSM comparison on the 2x2 checkerboard (Gaussian-Bernoulli RBM, 4 hidden units): every
score matching method, bi-level DSM and SSM over a grid of unrolled steps N and posterior steps K,
and CD-1, CD-5 and PCD-1, three seeds each, scored by the exact test log-likelihood.

Usage:
    /usr/bin/python3 benchmarks/bism/run.py --build BUILD [--seeds 1,2,3] [--iters 100000] [--jobs 1]
    /usr/bin/python3 benchmarks/bism/run.py --plot

Resumable: a run whose summary.json is already under docs/results/bism/runs/ is skipped. --plot
draws docs/results/bism/curves.png and writes docs/results/bism/table.md from the collected runs.
"""
import argparse
import concurrent.futures
import csv
import json
import math
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results" / "bism"
WORK = ROOT / "out" / "bism"


def configurations():
    runs = [("sm", ["--method", "sm"]), ("dsm", ["--method", "dsm"]), ("ssm", ["--method", "ssm"])]
    for objective in ("dsm", "ssm"):
        for unroll in (0, 1, 5, 10):
            for inner in (1, 5):
                runs.append((f"bism-{objective}_N{unroll}_K{inner}",
                             ["--method", f"bism-{objective}", "--unroll", str(unroll), "--inner-steps", str(inner)]))
    runs += [("cd1", ["--method", "cd", "--cd-steps", "1"]), ("cd5", ["--method", "cd", "--cd-steps", "5"]),
             ("pcd1", ["--method", "pcd", "--cd-steps", "1"])]
    return runs


def run_one(build, name, args, seed, iters):
    run = f"{name}_s{seed}"
    done = RESULTS / "runs" / run
    if (done / "summary.json").exists():
        return run, "done before"
    work = WORK / run
    if work.exists():
        shutil.rmtree(work)
    cmd = [str(Path(build) / "examples" / "train_grbm")] + args + [
        "--iters", str(iters), "--eval-every", str(iters // 20), "--log-every", "500",
        "--checkpoint-every", "0", "--seed", str(seed), "--out", str(work)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(WORK.parent / f"bism_{run}.stderr", "w") as err:
        code = subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
    if code not in (0, 1) or not (work / "summary.json").exists():
        return run, f"FAILED (exit {code})"
    done.mkdir(parents=True, exist_ok=True)
    shutil.copy(work / "log.csv", done / "log.csv")
    summary = json.loads((work / "summary.json").read_text())
    summary["command"] = " ".join(["train_grbm"] + cmd[1:])
    (done / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return run, "diverged" if summary.get("failed") else "finished"


def collect():
    groups = defaultdict(list)
    for d in sorted((RESULTS / "runs").glob("*_s*")):
        name = d.name.rsplit("_s", 1)[0]
        summary = json.loads((d / "summary.json").read_text())
        with open(d / "log.csv") as f:
            rows = [r for r in csv.DictReader(f) if r.get("test_log_likelihood")]
        curve = [(int(r["iteration"]), float(r["wall_seconds"]), float(r["test_log_likelihood"])) for r in rows]
        groups[name].append((summary, curve))
    return groups


def mean_sd(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "–"
    m = sum(values) / len(values)
    if len(values) == 1:
        return f"{m:.3f}"
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    return f"{m:.3f} ± {sd:.3f}"


def plot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = collect()
    if not groups:
        print("no runs")
        return
    lines = ["| method | seeds | test LL at the end (nats) | best of the evaluations | training s | updates/s |",
             "|---|---|---|---|---|---|"]
    reference = None
    for name in sorted(groups, key=lambda n: (not n in ("sm", "dsm", "ssm"), n)):
        runs = groups[name]
        final = [s.get("test_log_likelihood") for s, _ in runs]
        best = [max((c[2] for c in curve), default=float("nan")) for _, curve in runs]
        lines.append(f"| {name} | {len(runs)} | {mean_sd(final)} | {mean_sd(best)} | "
                     f"{mean_sd([s['wall_seconds'] for s, _ in runs])} | "
                     f"{mean_sd([s.get('iterations_per_second', float('nan')) for s, _ in runs])} |")
        reference = runs[0][0]
    lines.append(f"\nReferences: the true density, log 2 = {math.log(2):.3f} nats; the single Gaussian fitted to "
                 f"the training set, {reference['gaussian_test_log_likelihood']:.3f} nats.")
    (RESULTS / "table.md").write_text("\n".join(lines) + "\n")

    panels = [("score matching and CD", ["sm", "dsm", "ssm", "cd1", "cd5", "pcd1"]),
              ("bi-level DSM (K = 5)", ["dsm"] + [f"bism-dsm_N{n}_K5" for n in (0, 1, 5, 10)]),
              ("bi-level SSM (K = 5)", ["ssm"] + [f"bism-ssm_N{n}_K5" for n in (0, 1, 5, 10)]),
              ("posterior steps K (N = 5)", [f"bism-dsm_N5_K{k}" for k in (1, 5)] + [f"bism-ssm_N5_K{k}" for k in (1, 5)])]
    fig, axes = plt.subplots(2, len(panels), figsize=(5 * len(panels), 8), squeeze=False)
    for col, (title, names) in enumerate(panels):
        for name in names:
            if name not in groups:
                continue
            curves = [c for _, c in groups[name] if c]
            n = min(len(c) for c in curves)
            its = [c[k][0] for k in range(n) for c in curves[:1]]
            walls = [sum(c[k][1] for c in curves) / len(curves) for k in range(n)]
            lls = [sum(c[k][2] for c in curves) / len(curves) for k in range(n)]
            for row, x in enumerate((its, walls)):
                axes[row][col].plot(x, lls, label=name, lw=1.3)
        for row, xl in enumerate(("updates", "training seconds (1 thread)")):
            ax = axes[row][col]
            ax.axhline(math.log(2), color="grey", ls=":", lw=1)
            ax.axhline(reference["gaussian_test_log_likelihood"], color="grey", ls="--", lw=1)
            ax.set_xlabel(xl)
            ax.set_ylabel("exact test log-likelihood (nats)")
            ax.set_ylim(-1.0, 0.75)
            ax.grid(alpha=0.3)
            if row == 1:
                ax.set_xscale("log")
        axes[0][col].set_title(title)
        axes[0][col].legend(fontsize=7)
    fig.suptitle("Gaussian-Bernoulli RBM (4 hidden) on the checkerboard: mean of the seeds; dotted: log 2 (truth), "
                 "dashed: one Gaussian", fontsize=9)
    fig.tight_layout()
    fig.savefig(RESULTS / "curves.png", dpi=90)
    # The learned densities of seed 1 (from the working folders, when they are still there).
    names = ["sm", "dsm", "ssm", "cd1", "pcd1", "bism-dsm_N0_K5", "bism-dsm_N5_K5", "bism-ssm_N5_K5"]
    pictures = [(n, WORK / f"{n}_s1" / "density.png") for n in names]
    if all(p.exists() for _, p in pictures):
        fig, axes = plt.subplots(2, 4, figsize=(13, 3.8))
        for ax, (n, p) in zip(axes.flat, pictures):
            ax.imshow(plt.imread(p))
            ax.set_title(n, fontsize=9)
            ax.axis("off")
        fig.suptitle("seed 1 at the end: data histogram (left of each pair) and the model's exact density "
                     "exp(-F)/Z (right)", fontsize=9)
        fig.tight_layout()
        fig.savefig(RESULTS / "densities.png", dpi=80)
    print(f"wrote {RESULTS / 'table.md'} and {RESULTS / 'curves.png'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", help="the CMake build folder with examples/train_grbm")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--iters", type=int, default=100000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--plot", action="store_true")
    a = ap.parse_args()
    if a.plot:
        plot()
        return 0
    if not a.build:
        ap.error("--build is required to run")
    WORK.mkdir(parents=True, exist_ok=True)
    (RESULTS / "runs").mkdir(parents=True, exist_ok=True)
    todo = [(n, args, int(s)) for s in a.seeds.split(",") for n, args in configurations()]
    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for f in concurrent.futures.as_completed([pool.submit(run_one, a.build, n, args, s, a.iters)
                                                  for n, args, s in todo]):
            run, status = f.result()
            failures += status.startswith("FAILED")
            print(f"{run}: {status}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
