#!/usr/bin/env python3
"""Summarises scored runs (score.sh's OUT/scores.jsonl) side by side: for each group of runs
(one per seed) and each β, the MMD at the last check, the best of all checks and the mean of the
checks from --tail-from on, each as mean ± standard deviation over the seeds; then the mean
pre-clipping gradient norm per 1000 updates from the runs' logs (train_synthetic's log.csv:
one row per 100 updates, the window mean; torch_train.py's log.csv: one row per update).

Usage: summarize_runs.py NAME=DIR1,DIR2,DIR3 [NAME=...] [--tail-from 6000] [--plot FILE.png]
With two groups or more it also compares the first two at β = 1: the difference of their seed means of
the tail mean, Welch's t, and a 95 % bootstrap interval of the difference (resampling seeds).
(--plot draws the MMD of every check at β = 1, each seed thin and the seed mean thick, and the
gradient norm per 1000 updates; it needs /usr/bin/python3 with python3-matplotlib.)
"""
import argparse
import csv
import json
import os
import statistics


def mean_sd(values):
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def read_scores(run):
    with open(os.path.join(run, "scores.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {r["iteration"]: r for r in rows}


def grad_norms(run, every=1000):
    with open(os.path.join(run, "log.csv")) as f:
        rows = list(csv.DictReader(f))
    key = "iteration" if "iteration" in rows[0] else "step"
    sums, counts = {}, {}
    for r in rows:
        k = (int(r[key]) - 1) // every + 1
        sums[k] = sums.get(k, 0.0) + float(r["grad_norm"])
        counts[k] = counts.get(k, 0) + 1
    return {k * every: sums[k] / counts[k] for k in sorted(sums)}


def compare_tails(a, b, name_a, name_b, tail_from, resamples=20000):
    """Difference of the seed means of the tail mean (a − b), Welch's t and its degrees of freedom,
    and a 95 % percentile bootstrap interval of the difference (seeds resampled within each group)."""
    import random
    if len(a) < 2 or len(b) < 2:
        print(f"\n{name_a} − {name_b}: a comparison needs two seeds or more on each side")
        return
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        print(f"\n{name_a} − {name_b}: no spread between seeds on either side; difference "
              f"{statistics.mean(a) - statistics.mean(b):+.4f}")
        return
    diff = statistics.mean(a) - statistics.mean(b)
    t = diff / (va + vb) ** 0.5
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    rng = random.Random(1)
    boot = sorted(statistics.mean(rng.choices(a, k=len(a))) - statistics.mean(rng.choices(b, k=len(b)))
                  for _ in range(resamples))
    lo, hi = boot[int(0.025 * resamples)], boot[int(0.975 * resamples) - 1]
    print(f"\n{name_a} − {name_b}, mean of checks ≥ {tail_from} at β = 1 ({len(a)} and {len(b)} seeds): "
          f"{diff:+.4f}, Welch t = {t:.2f} on {df:.1f} degrees of freedom, 95 % bootstrap interval "
          f"[{lo:+.4f}, {hi:+.4f}]")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("groups", nargs="+")
    p.add_argument("--tail-from", type=int, default=6000)
    p.add_argument("--plot", default="")
    args = p.parse_args()
    groups = [(g.split("=", 1)[0], g.split("=", 1)[1].split(",")) for g in args.groups]
    print(f"| runs | β | seeds | MMD at last check | best of checks | mean of checks ≥ {args.tail_from} |")
    print("|---|---|---|---|---|---|")
    tails_beta1 = {}  # name -> the tail mean of each seed at β = 1, for the comparison below
    for name, runs in groups:
        scores = [read_scores(r) for r in runs]
        for beta in ("1", "4"):
            key = f"mmd_beta{beta}"
            last, best, tail = [], [], []
            for s in scores:
                its = sorted(s)
                vals = {i: statistics.mean(s[i][key]) for i in its if key in s[i]}
                last.append(vals[its[-1]])
                best.append(min(vals.values()))
                tail.append(statistics.mean(v for i, v in vals.items() if i >= args.tail_from))
            print(f"| {name} | {beta} | {len(runs)} | {mean_sd(last)} | {mean_sd(best)} | {mean_sd(tail)} |")
            if beta == "1":
                tails_beta1[name] = tail
    if len(groups) >= 2:
        (a, _), (b, _) = groups[:2]
        compare_tails(tails_beta1[a], tails_beta1[b], a, b, args.tail_from)
    print()
    print("MMD per check (mean over seeds), β = 1 / β = 4:")
    for name, runs in groups:
        scores = [read_scores(r) for r in runs]
        its = sorted(set.intersection(*[set(s) for s in scores]))
        cells = []
        for i in its:
            b1 = statistics.mean(statistics.mean(s[i]["mmd_beta1"]) for s in scores)
            b4 = statistics.mean(statistics.mean(s[i]["mmd_beta4"]) for s in scores)
            cells.append(f"{i // 1000}k {b1:.4f}/{b4:.4f}")
        print(f"  {name}: " + ", ".join(cells))
    print()
    print("Mean pre-clipping gradient norm per 1000 updates (mean over seeds):")
    for name, runs in groups:
        norms = [grad_norms(r) for r in runs]
        its = sorted(set.intersection(*[set(n) for n in norms]))
        print(f"  {name}: " + ", ".join(f"{i // 1000}k {statistics.mean(n[i] for n in norms):.2f}" for i in its))
    if args.plot:
        plot(groups, args.plot)


def plot(groups, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for (name, runs), colour in zip(groups, ["tab:blue", "tab:orange", "tab:green", "tab:red"]):
        scores = [read_scores(r) for r in runs]
        its = sorted(set.intersection(*[set(s) for s in scores]))
        per_seed = [[statistics.mean(s[i]["mmd_beta1"]) for i in its] for s in scores]
        for values in per_seed:
            left.plot(its, values, color=colour, lw=0.7, alpha=0.5)
        left.plot(its, [statistics.mean(v) for v in zip(*per_seed)], color=colour, lw=2.2,
                  label=f"{name} ({len(runs)} seeds; thin: each seed)")
        norms = [grad_norms(r) for r in runs]
        n_its = sorted(set.intersection(*[set(n) for n in norms]))
        right.plot(n_its, [statistics.mean(n[i] for n in norms) for i in n_its], color=colour, lw=2, label=name)
    left.set_xlabel("updates")
    left.set_ylabel("MMD (Hamming kernel), Gibbs on exp(-E)")
    left.set_yscale("log")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.set_xlabel("updates")
    right.set_ylabel("mean pre-clipping gradient norm per 1000 updates")
    right.set_yscale("log")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
