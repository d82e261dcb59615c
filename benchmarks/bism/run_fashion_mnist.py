#!/usr/bin/env python3
"""The Gaussian-Bernoulli RBM on Fashion-MNIST (784 visible units, pixels dequantised into (0, 1),
400 hidden units): DSM and bi-level DSM at the BiSM paper's high-dimensional GRBM settings (its
Frey Face configuration: batch 100, Adam lr 2e-4, noise 0.3, K = N = 5, 20,000 updates) and at
noise 0.1, with CD-1 as the classical baseline; log-likelihood by AIS (100 runs, 2,000
distributions) every 2,000 updates.

Usage:
    /usr/bin/python3 benchmarks/bism/run_fashion_mnist.py --build BUILD [--iters 20000] [--jobs 2]
    /usr/bin/python3 benchmarks/bism/run_fashion_mnist.py --plot

Resumable: a run whose summary.json is already under docs/results/bism/fashion_mnist/ is skipped.
--plot draws curves.png and writes table.md there from the collected runs.
"""
import argparse
import concurrent.futures
import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results" / "bism" / "fashion_mnist"
WORK = ROOT / "out" / "bism_fashion_mnist"
COMMON = ["--data", "fashion-mnist", "--hidden", "400", "--batch", "100", "--lr", "2e-4",
          "--ais-runs", "100", "--ais-temperatures", "2000"]


def configurations():
    runs = []
    for noise in ("0.3", "0.1"):
        runs.append((f"dsm_noise{noise}", ["--method", "dsm", "--noise-std", noise]))
        runs.append((f"bism-dsm_noise{noise}_N5_K5",
                     ["--method", "bism-dsm", "--noise-std", noise, "--unroll", "5", "--inner-steps", "5"]))
    runs.append(("cd1", ["--method", "cd", "--cd-steps", "1"]))
    return runs


def run_one(build, name, args, iters):
    done = RESULTS / name
    if (done / "summary.json").exists():
        return name, "done before"
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    cmd = [str(Path(build) / "examples" / "train_grbm")] + COMMON + args + [
        "--iters", str(iters), "--eval-every", str(max(1, iters // 10)), "--log-every", "200",
        "--checkpoint-every", "0", "--seed", "1", "--out", str(work)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / f"{name}.stderr", "w") as err:
        code = subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
    if code not in (0, 1) or not (work / "summary.json").exists():
        return name, f"FAILED (exit {code})"
    done.mkdir(parents=True, exist_ok=True)
    for f in ("log.csv", "samples.png", "filters.png"):
        if (work / f).exists():
            shutil.copy(work / f, done / f)
    summary = json.loads((work / "summary.json").read_text())
    summary["command"] = " ".join(["train_grbm"] + cmd[1:])
    (done / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return name, "diverged" if summary.get("failed") else "finished"


def collect():
    runs = {}
    for d in sorted(p for p in RESULTS.glob("*") if (p / "summary.json").exists()):
        summary = json.loads((d / "summary.json").read_text())
        with open(d / "log.csv") as f:
            rows = [r for r in csv.DictReader(f) if r.get("test_log_likelihood")]
        curve = [(int(r["iteration"]), float(r["wall_seconds"]), float(r["test_log_likelihood"])) for r in rows]
        runs[d.name] = (summary, curve)
    return runs


def plot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = collect()
    if not runs:
        print("no runs")
        return
    lines = ["| run | test LL (nats) | ± AIS s.e. of log Z | bits/pixel | best evaluation (nats) | "
             "training s | updates/s |", "|---|---|---|---|---|---|---|"]
    reference = None
    for name, (s, curve) in runs.items():
        if s.get("failed"):
            lines.append(f"| {name} | diverged: {s.get('message', '')} | | | | {s['wall_seconds']:.0f} | |")
            continue
        best = max((c[2] for c in curve), default=float("nan"))
        lines.append(f"| {name} | {s['test_log_likelihood']:.1f} | {s['log_partition_stderr']:.2f} | "
                     f"{s['test_bits_per_pixel']:.3f} | {best:.1f} | {s['wall_seconds']:.0f} | "
                     f"{s['iterations_per_second']:.1f} |")
        reference = s
    if reference:
        lines.append(f"\nReference: the independent Gaussian fitted to the training pixels, "
                     f"{reference['gaussian_test_log_likelihood']:.1f} nats "
                     f"({reference['gaussian_test_bits_per_pixel']:.3f} bits/pixel).")
    (RESULTS / "table.md").write_text("\n".join(lines) + "\n")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, (_, curve) in runs.items():
        if not curve:
            continue
        its, walls, lls = zip(*curve)
        axes[0].plot(its, lls, label=name, marker="o", ms=3)
        axes[1].plot(walls, lls, label=name, marker="o", ms=3)
    for ax, xl in zip(axes, ("updates", "training seconds (1 thread)")):
        if reference:
            ax.axhline(reference["gaussian_test_log_likelihood"], color="grey", ls="--", lw=1)
        ax.set_xlabel(xl)
        ax.set_ylabel("test log-likelihood, nats per image (AIS)")
        ax.grid(alpha=0.3)
    axes[1].set_xscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle("Gaussian-Bernoulli RBM (784 x 400) on Fashion-MNIST; dashed: independent Gaussian", fontsize=9)
    fig.tight_layout()
    fig.savefig(RESULTS / "curves.png", dpi=90)
    print(f"wrote {RESULTS / 'table.md'} and {RESULTS / 'curves.png'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", help="the CMake build folder with examples/train_grbm")
    ap.add_argument("--iters", type=int, default=20000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--plot", action="store_true")
    args = ap.parse_args()
    if args.plot:
        plot()
        return
    if not args.build:
        ap.error("--build is required to run")
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_one, args.build, name, a, args.iters) for name, a in configurations()]
        for f in concurrent.futures.as_completed(futures):
            name, status = f.result()
            print(f"{name}: {status}", flush=True)


if __name__ == "__main__":
    main()
