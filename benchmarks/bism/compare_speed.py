#!/usr/bin/env python3
"""Time per BiSM update (bi-level DSM, K = N = 5, batch 100, float, one thread) of ratiomatch's
`BiSM` (bism_step time) against the same update in PyTorch with autograd through the unrolled Adam
steps (torch_bism_step.py time), for a Gaussian-Bernoulli RBM with 784 visible units. The two run
alternately, pair after pair, so that machine noise hits both; peak memory from /usr/bin/time.

Each pair is run twice: with glibc's default malloc settings, and with
GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=16777216, which
keeps freed blocks of a few hundred KiB (Eigen's and PyTorch's per-product buffers) in the heap
instead of returning them to the system and faulting them in again.

Usage:
    /usr/bin/python3 benchmarks/bism/compare_speed.py --build BUILD [--pairs 5] [--hidden 100,400]
writes docs/results/bism/speed.jsonl and docs/results/bism/speed.md.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results" / "bism"
TUNED = "glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=16777216"


def timed(cmd, env):
    """Runs cmd under /usr/bin/time; returns (ms per update, peak RSS in MiB)."""
    out = subprocess.run(["/usr/bin/time", "-f", "peak_kib %M"] + cmd, env=env, capture_output=True, text=True,
                         check=True)
    ms = float(re.search(r"([0-9.]+) ms per update", out.stdout).group(1))
    peak = int(re.search(r"peak_kib (\d+)", out.stderr).group(1)) / 1024
    return ms, peak


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="CMake build folder with benchmarks/bism/bism_step")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--hidden", default="100,400")
    args = ap.parse_args()
    ours = Path(args.build) / "benchmarks" / "bism" / "bism_step"
    if not ours.exists():
        sys.exit(f"{ours} not found: cmake -DRATIOMATCH_BUILD_BENCHMARKS=ON, then build the target bism_step")
    torch_script = ROOT / "benchmarks" / "bism" / "torch_bism_step.py"
    records = []
    for hidden in [int(h) for h in args.hidden.split(",")]:
        iters_ours, iters_torch = (100, 30) if hidden <= 100 else (40, 10)
        shape = ["--visible", "784", "--hidden", str(hidden), "--batch", "100"]
        for malloc in ("default", "tuned"):
            env = dict(os.environ, OMP_NUM_THREADS="1")
            env.pop("GLIBC_TUNABLES", None)
            if malloc == "tuned":
                env["GLIBC_TUNABLES"] = TUNED
            for pair in range(args.pairs):
                ms_ours, peak_ours = timed([str(ours), "time"] + shape + ["--iters", str(iters_ours), "--float"], env)
                ms_torch, peak_torch = timed(["/usr/bin/python3", str(torch_script), "time"] + shape +
                                             ["--iters", str(iters_torch), "--threads", "1", "--float"], env)
                record = {"hidden": hidden, "malloc": malloc, "pair": pair, "ours_ms": ms_ours, "torch_ms": ms_torch,
                          "ratio": ms_torch / ms_ours, "ours_peak_mib": peak_ours, "torch_peak_mib": peak_torch}
                print(json.dumps(record), flush=True)
                records.append(record)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(), "load_average": os.getloadavg()}
    with open(RESULTS / "speed.jsonl", "w") as f:
        f.write(json.dumps({"meta": meta}) + "\n")
        for r in records:
            f.write(json.dumps(r) + "\n")
    lines = ["| hidden | malloc | ratiomatch ms/update (median, range) | PyTorch ms/update (median, range) | "
             "speed-up per pair (median, range) | peak MiB ratiomatch / PyTorch |", "|---|---|---|---|---|---|"]
    for hidden in sorted({r["hidden"] for r in records}):
        for malloc in ("default", "tuned"):
            rs = [r for r in records if r["hidden"] == hidden and r["malloc"] == malloc]
            col = lambda k: [r[k] for r in rs]
            fmt = lambda v: f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})"
            ratio = col("ratio")
            lines.append(f"| {hidden} | {malloc} | {fmt(col('ours_ms'))} | {fmt(col('torch_ms'))} | "
                         f"{statistics.median(ratio):.2f}× ({min(ratio):.2f}–{max(ratio):.2f}) | "
                         f"{max(col('ours_peak_mib')):.0f} / {max(col('torch_peak_mib')):.0f} |")
    lines.append(f"\n{len(records)} pairs; load average at the end {meta['load_average'][0]:.2f} on "
                 f"{meta['cpus']} logical CPUs; {meta['date']}.")
    (RESULTS / "speed.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'speed.md'}")


if __name__ == "__main__":
    main()
