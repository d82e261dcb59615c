#!/usr/bin/env python3
"""Times two revisions of ratiomatch side by side on this machine.

Builds `bench_estimators`, `bench_models` and `compare_step` of both revisions (each in a git
worktree under build/revisions/), then runs them in turn, before and after alternately for
--rounds rounds, so that a drift of the machine's speed hits both alike: every Google
Benchmark of the two binaries (real time per iteration), and the evaluation sampler (Gibbs,
4000 chains x 20 sweeps of the d = 32 MLP energy, `compare_step --mode gibbs`). Prints a
Markdown table of the median times over the rounds and their ratio after/before, and writes
the raw timings as JSON lines.

Usage (from the repository root; Python standard library only):
  python3 scripts/compare_revisions.py --before 3f76ca2 --after HEAD --rounds 3 \\
      [--filter REGEX] [--threads 1] [--out out/compare_revisions.jsonl]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ("bench_estimators", "bench_models", "compare_step")


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, text=True, **kwargs)


def build(revision, name):
    """A worktree of `revision` under build/revisions/NAME, built in Release; returns its build dir."""
    tree = os.path.join(ROOT, "build", "revisions", name)
    if not os.path.isdir(tree):
        run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, revision])
    else:
        run(["git", "-C", tree, "checkout", "--detach", "--quiet", revision])
    build_dir = os.path.join(tree, "build")
    run(["cmake", "-S", tree, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DRATIOMATCH_BUILD_TESTS=OFF"],
        stdout=subprocess.DEVNULL)
    run(["cmake", "--build", build_dir, "-j", str(os.cpu_count() or 1), "--target", *TARGETS],
        stdout=subprocess.DEVNULL)
    return build_dir


def google_benchmarks(binary, filter_regex, env):
    out = run([binary, "--benchmark_format=json", f"--benchmark_filter={filter_regex}"],
              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env).stdout
    times = {}
    for b in json.loads(out)["benchmarks"]:
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        times[b["name"]] = b["real_time"] * scale  # milliseconds
    return times


def gibbs(build_dir, env):
    binary = os.path.join(build_dir, "benchmarks", "compare_pytorch", "compare_step")
    out = run([binary, "--mode", "gibbs", "--dim", "32", "--chains", "4000", "--sweeps", "20", "--steps", "3",
               "--warmup", "1"], stdout=subprocess.PIPE, env=env).stdout
    return {"gibbs_sample 4000 chains x 20 sweeps, d=32": json.loads(out.strip().splitlines()[-1])["median_ms"]}


def measure(build_dir, filter_regex, env):
    times = {}
    for name in ("bench_estimators", "bench_models"):
        times.update(google_benchmarks(os.path.join(build_dir, "benchmarks", name), filter_regex, env))
    if re.search(filter_regex, "gibbs_sample"):
        times.update(gibbs(build_dir, env))
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="git revision timed first in each round")
    parser.add_argument("--after", default="HEAD", help="git revision compared with it")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--filter", default=".", help="regular expression over benchmark names")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of every run")
    parser.add_argument("--out", default=os.path.join(ROOT, "out", "compare_revisions.jsonl"))
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be positive")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    builds = {"before": build(args.before, "before"), "after": build(args.after, "after")}
    samples = {"before": {}, "after": {}}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as raw:
        for round_index in range(args.rounds):
            for side in ("before", "after"):
                times = measure(builds[side], args.filter, env)
                for name, ms in times.items():
                    samples[side].setdefault(name, []).append(ms)
                raw.write(json.dumps({"round": round_index, "side": side, "times_ms": times}) + "\n")
                print(f"round {round_index + 1}/{args.rounds}: {side} done", file=sys.stderr)
    print(f"| benchmark ({args.threads} thread{'s' if args.threads > 1 else ''}) | before, ms | after, ms | after/before |")
    print("|---|---|---|---|")
    for name in samples["before"]:
        if name not in samples["after"]:
            continue
        before = statistics.median(samples["before"][name])
        after = statistics.median(samples["after"][name])
        print(f"| {name} | {before:.3f} | {after:.3f} | {after / before:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
