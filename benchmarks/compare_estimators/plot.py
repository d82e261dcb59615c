#!/usr/bin/env python3
"""Draws the estimator comparison from the runs that run.py collected, and writes its tables.

Usage: /usr/bin/python3 benchmarks/compare_estimators/plot.py [--setting spirals32,spirals256,ising10,ising25,gradient_variance]

Reads docs/results/estimator_choice/runs/SETTING/*/ (log.csv, summary.json) and writes, per
setting, figures SETTING_*.png and the Markdown tables SETTING.md into docs/results/estimator_choice/.
Seeds are averaged (mean; the band and the ± are the spread: min to max, standard deviation).
Only complete seed groups are drawn; the tables say how many seeds each row has.
"""
import argparse
import csv
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "results" / "estimator_choice"
RUNS = OUT / "runs"

METHOD_ORDER = ["rm", "uniform", "gg-basic", "gg-advanced", "first-order", "pcd-gwg", "pcd-gibbs"]
COLOURS = {"rm": "black", "uniform": "tab:orange", "gg-basic": "tab:blue", "gg-advanced": "tab:green",
           "first-order": "tab:purple", "pcd-gwg": "tab:red", "pcd-gibbs": "tab:brown"}
STYLES = {"squared": "--", "hyvarinen": "-", "sqrt": ":", "likelihood": "-"}


def read_log(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    out = defaultdict(list)
    for r in rows:
        for k, v in r.items():
            out[k].append(float(v) if v not in ("", None) else math.nan)
    return {k: np.array(v) for k, v in out.items()}


def groups(setting):
    """{group name: [(seed, summary, log)]} for the setting's finished runs."""
    found = defaultdict(list)
    for d in sorted((RUNS / setting).glob("*_s*")):
        m = re.match(r"(.*)_s(\d+)$", d.name)
        if not m or not (d / "summary.json").exists():
            continue
        found[m.group(1)].append((int(m.group(2)), json.loads((d / "summary.json").read_text()), read_log(d / "log.csv")))
    return found


def method_of(name):
    for m in sorted(METHOD_ORDER, key=len, reverse=True):
        if name.startswith(m) or f"_{m}" in name:
            return m
    return name


def objective_of(name):
    for o in ("squared", "hyvarinen", "sqrt"):
        if name.endswith(o):
            return o
    return "likelihood"


def eval_rows(log, column):
    keep = ~np.isnan(log[column])
    return log["iteration"][keep], log["wall_seconds"][keep], log[column][keep]


def metric_column(log, kind):
    """The column of `kind` (mmd or grid_kl) at the model's own temperature."""
    for c in (f"{kind}_consistent", f"{kind}_paper"):
        if c in log:
            return c
    return None


def mean_curves(runs, kind):
    xs_it, xs_wall, ys = [], [], []
    for _, _, log in runs:
        col = metric_column(log, kind)
        if col is None:
            return None
        it, wall, y = eval_rows(log, col)
        xs_it.append(it)
        xs_wall.append(wall)
        ys.append(y)
    n = min(len(y) for y in ys)
    if n == 0:
        return None
    Y = np.array([y[:n] for y in ys])
    return xs_it[0][:n], np.mean([w[:n] for w in xs_wall], axis=0), Y


def sort_key(name):
    return (METHOD_ORDER.index(method_of(name)) if method_of(name) in METHOD_ORDER else 99, name)


def curve_figure(setting, found, kinds, title):
    fig, axes = plt.subplots(len(kinds), 2, figsize=(12, 4.2 * len(kinds)), squeeze=False)
    for row, (kind, label) in enumerate(kinds):
        for name in sorted(found, key=sort_key):
            c = mean_curves(found[name], kind)
            if c is None:
                continue
            it, wall, Y = c
            m, o = method_of(name), objective_of(name)
            for col, x in enumerate((it, wall)):
                ax = axes[row][col]
                ax.plot(x, Y.mean(axis=0), STYLES[o], color=COLOURS.get(m, "grey"), label=f"{m} ({o})", lw=1.4)
                if len(Y) > 1:
                    ax.fill_between(x, Y.min(axis=0), Y.max(axis=0), color=COLOURS.get(m, "grey"), alpha=0.08)
        for col, xl in enumerate(("updates", "training seconds (1 thread)")):
            ax = axes[row][col]
            ax.set_xlabel(xl)
            ax.set_ylabel(label)
            ax.set_yscale("log")
            if col == 1:
                ax.set_xscale("log")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    path = OUT / f"{setting}_curves.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def fmt(values, digits=4):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}g}"
    return f"{np.mean(values):.{digits}g} ± {np.std(values, ddof=1):.2g}"


def spirals_table(setting, found, kinds):
    lines = [f"| method | objective | seeds | " + " | ".join(f"{label} (last)" for _, label in kinds) +
             " | " + " | ".join(f"{label} (best check)" for _, label in kinds) + " | updates/s | training s |",
             "|" + "---|" * (5 + 2 * len(kinds))]
    for name in sorted(found, key=sort_key):
        runs = found[name]
        last, best = [], []
        for kind, _ in kinds:
            vals_last, vals_best = [], []
            for _, _, log in runs:
                col = metric_column(log, kind)
                if col is None:
                    continue
                _, _, y = eval_rows(log, col)
                if len(y):
                    vals_last.append(y[-1])
                    vals_best.append(np.nanmin(y))
            last.append(fmt(vals_last))
            best.append(fmt(vals_best))
        rate = fmt([s["iterations_per_second"] for _, s, _ in runs], 3)
        wall = fmt([s["wall_seconds"] for _, s, _ in runs], 3)
        lines.append(f"| {method_of(name)} | {objective_of(name)} | {len(runs)} | " + " | ".join(last) + " | " +
                     " | ".join(best) + f" | {rate} | {wall} |")
    return "\n".join(lines)


def reach_table(found, kind, label, threshold):
    """Updates and training seconds until the metric first reaches `threshold`, per seed group:
    the median over the seeds that reach it, and how many do."""
    lines = [f"Time to reach {label} ≤ {threshold} (median over the seeds that reach it):", "",
             "| method | objective | seeds reaching it | updates | training s |", "|---|---|---|---|---|"]
    rows = []
    for name in sorted(found, key=sort_key):
        hits = []
        for _, _, log in found[name]:
            col = metric_column(log, kind)
            if col is None:
                continue
            it, wall, y = eval_rows(log, col)
            reached = np.nonzero(y <= threshold)[0]
            if len(reached):
                hits.append((it[reached[0]], wall[reached[0]]))
        seconds = float(np.median([h[1] for h in hits])) if hits else math.inf
        rows.append((seconds, name, hits))
    for seconds, name, hits in sorted(rows, key=lambda r: r[0]):
        updates = f"{np.median([h[0] for h in hits]):.0f}" if hits else "–"
        secs = f"{seconds:.0f}" if hits else "–"
        lines.append(f"| {method_of(name)} | {objective_of(name)} | {len(hits)} of {len(found[name])} | {updates} | {secs} |")
    return "\n".join(lines)


def heatmap_montage(setting, found, objective, iterations):
    names = [n for n in sorted(found, key=sort_key) if objective_of(n) in (objective, "likelihood")]
    seed_dir = {n: RUNS / setting / f"{n}_s1" for n in names}
    names = [n for n in names if seed_dir[n].exists()]
    if not names:
        return None
    fig, axes = plt.subplots(len(names), len(iterations), figsize=(1.9 * len(iterations), 1.9 * len(names)),
                             squeeze=False)
    for r, n in enumerate(names):
        for c, it in enumerate(iterations):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            f = seed_dir[n] / f"energy_{it}.png"
            if f.exists():
                ax.imshow(plt.imread(f))
            if r == 0:
                ax.set_title(f"{it} updates", fontsize=8)
            if c == 0:
                ax.set_ylabel(method_of(n), fontsize=8)
    fig.suptitle(f"{setting}: exp(-T E) over the plane ({objective}; PCD: T = 1), seed 1", fontsize=9)
    fig.tight_layout()
    path = OUT / f"{setting}_heatmaps_{objective}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def ising_tables(found):
    """Per sigma and method: the L1 penalty, learning rate and stopping point chosen by held-out
    pseudo-likelihood (runs named without a learning rate used the default, 0.01)."""
    by = defaultdict(lambda: defaultdict(list))  # (sigma, method) -> (l1, lr) -> runs
    for name, runs in found.items():
        m = re.match(r"sigma([0-9.]+)_l1([0-9.]+)(?:_lr([0-9.]+))?_(.*)$", name)
        if m:
            by[(m.group(1), m.group(4))][(m.group(2), m.group(3) or "0.01")] = runs
    lines = []
    for sigma in sorted({k[0] for k in by}):
        # Every run of a sigma reports the same all-zero estimate; take the first one's.
        zero = next(runs[0][1]["zero_rmse"] for (s_, _), per in by.items() if s_ == sigma for runs in per.values())
        lines += [f"\n**σ = {sigma}** (log RMSE of J; the all-zero estimate has {math.log(zero):.2f})\n",
                  "| method | objective | λ, lr chosen (held-out PL; of how many finished (λ, lr)) | seeds | log RMSE at the held-out stopping point | "
                  "log RMSE at the end | held-out PL (nats/sample) | updates | best λ, lr by true RMSE (oracle) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for (s_, method), per in sorted(by.items(), key=lambda kv: sort_key(kv[0][1])):
            if s_ != sigma:
                continue
            # The choice uses seed means of the best held-out pseudo-likelihood, over the seeds that
            # every (λ, lr) of the method has finished.
            common = set.intersection(*({seed for seed, _, _ in runs} for runs in per.values()))
            if not common:
                lines.append(f"| {method_of(method)} | {objective_of(method)} | no seed finished in all of its "
                             f"{len(per)} (λ, lr) | | | | | | |")
                continue
            per = {c: [r for r in runs if r[0] in common] for c, runs in per.items()}
            chosen = max(per, key=lambda c: mean_of(per[c], "best_heldout_pl"))
            oracle = min(per, key=lambda c: mean_of(per[c], "log_rmse_at_best_heldout"))
            runs = per[chosen]
            lines.append(
                f"| {method_of(method)} | {objective_of(method)} | {chosen[0]}, {chosen[1]} (of {len(per)}) | {len(runs)} | "
                f"{fmt([s['log_rmse_at_best_heldout'] for _, s, _ in runs], 3)} | "
                f"{fmt([s['final_log_rmse'] for _, s, _ in runs], 3)} | "
                f"{fmt([s['best_heldout_pl'] for _, s, _ in runs], 5)} | "
                f"{fmt([s['iterations'] for _, s, _ in runs], 3)} | {oracle[0]}, {oracle[1]} "
                f"({fmt([s['log_rmse_at_best_heldout'] for _, s, _ in per[oracle]], 3)}) |")
    return "\n".join(lines)


def gradient_variance_table():
    """The table of gradient_variance's measurements (OUT/gradient_variance.jsonl)."""
    rows = [json.loads(line) for line in open(OUT / "gradient_variance.jsonl") if line.strip()]
    lines = ["| updates | objective | estimator | trace of the covariance | ‖mean − exact‖ / ‖exact‖ | "
             "its Monte Carlo error / ‖exact‖ | cosine(mean, exact) | ‖exact‖ |", "|---|---|---|---|---|---|---|---|"]
    for d in rows:
        g = d["exact_gradient_norm"]
        lines.append(f"| {d['updates']} | {d['objective']} | {d['estimator']} | {d['trace_covariance']:.3g} | "
                     f"{d['relative_bias']:.3f} | {d.get('monte_carlo_error_of_mean', 0) / g:.3f} | "
                     f"{d['cosine_with_exact']:.3f} | {g:.3g} |")
    return "\n".join(lines)


def mean_of(runs, key):
    return float(np.mean([s[key] for _, s, _ in runs]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setting", default="spirals32,spirals256,ising10,ising25,gradient_variance")
    a = ap.parse_args()
    for setting in a.setting.split(","):
        if setting == "gradient_variance":
            (OUT / "gradient_variance.md").write_text(
                "<!-- written by benchmarks/compare_estimators/plot.py from gradient_variance.jsonl -->\n" +
                gradient_variance_table() + "\n")
            print(f"gradient_variance -> {OUT / 'gradient_variance.md'}")
            continue
        found = groups(setting)
        if not found:
            print(f"{setting}: no finished runs")
            continue
        text = [f"<!-- written by benchmarks/compare_estimators/plot.py from runs/{setting} -->"]
        if setting.startswith("spirals"):
            kinds = [("grid_kl", "grid KL (nats)")]
            if setting == "spirals32":
                kinds.insert(0, ("mmd", "MMD (Hamming)"))
            path = curve_figure(setting, found, kinds, f"{setting}: quality at each model's own temperature T")
            text += [f"![{setting}]({path.name})", "", spirals_table(setting, found, kinds), "",
                     reach_table(found, "grid_kl", "grid KL", 0.25 if setting == "spirals32" else 1.5)]
            if setting == "spirals256":
                for objective in ("hyvarinen", "squared"):
                    p = heatmap_montage(setting, found, objective, [300, 900, 1800, 3000])
                    if p:
                        text += ["", f"![{setting} heat maps]({p.name})"]
        else:
            text.append(ising_tables(found))
        (OUT / f"{setting}.md").write_text("\n".join(text) + "\n")
        print(f"{setting}: {len(found)} groups -> {OUT / (setting + '.md')}")


if __name__ == "__main__":
    main()
