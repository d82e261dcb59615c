#!/usr/bin/env python3
"""Side-by-side timing of ratiomatch and PyTorch on the RMwGGIS training step and Gibbs sampler.

Runs every configuration on both sides, one process at a time (never concurrently):
PyTorch through torch_step.py, ratiomatch through the compare_step program, which accepts the
same flags and prints the same one-line JSON record. Writes the raw records to a JSON Lines
file and a Markdown report with the time per step, the speed ratio, GFLOP/s and peak memory.

Usage (run it with /usr/bin/python3, whose torch the PyTorch side uses):
  cmake --build build --target compare_step
  /usr/bin/python3 benchmarks/compare_pytorch/compare.py
  /usr/bin/python3 benchmarks/compare_pytorch/compare.py --configs 32x128 --estimators uniform \\
      --threads 1 --no-gibbs                                   # a quick run

The driver itself needs only the Python standard library. It refuses to run when torch's
matrix product is slow (the reference BLAS), which would make the comparison meaningless.
"""
import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TORCH_STEP = HERE / "torch_step.py"
MIN_BLAS_GFLOPS = 20.0
ESTIMATORS = ("rm", "uniform", "gg-basic", "gg-advanced")
SIDES = (("pytorch", "PyTorch"), ("ratiomatch", "ratiomatch"))


@dataclasses.dataclass(frozen=True)
class Run:
    """One benchmark configuration, run once per side."""

    mode: str
    dim: int
    threads: int
    steps: int
    warmup: int
    max_seconds: float | None
    seed: int
    estimator: str = ""
    batch: int = 0
    flips: int = 0
    chains: int = 0
    sweeps: int = 0

    def flags(self):
        """The command-line flags both programs accept."""
        flags = ["--mode", self.mode, "--dim", str(self.dim), "--threads", str(self.threads),
                 "--steps", str(self.steps), "--warmup", str(self.warmup), "--seed", str(self.seed)]
        if self.mode == "step":
            flags += ["--estimator", self.estimator, "--batch", str(self.batch), "--flips", str(self.flips)]
        else:
            flags += ["--chains", str(self.chains), "--sweeps", str(self.sweeps)]
        if self.max_seconds is not None:
            flags += ["--max-seconds", str(self.max_seconds)]
        return flags

    def label(self):
        if self.mode == "step":
            return f"{self.estimator} d={self.dim} batch={self.batch} threads={self.threads}"
        return f"gibbs d={self.dim} {self.chains}x{self.sweeps} threads={self.threads}"

    def row_key(self):
        """What identifies a table row (everything but the thread count)."""
        return row_key(vars(self))


def row_key(fields):
    """The table row of a run or of a record: (mode, d, batch, estimator) for a training step,
    (mode, d, chains, sweeps) for Gibbs."""
    if fields["mode"] == "step":
        return ("step", fields["dim"], fields["batch"], fields["estimator"])
    return ("gibbs", fields["dim"], fields["chains"], fields["sweeps"])


# ---------------------------------------------------------------------------------------------
# Command line and plan


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpp", type=Path, default=REPO / "build/benchmarks/compare_pytorch/compare_step",
                        help="the ratiomatch compare_step program")
    parser.add_argument("--gemm", type=Path, default=REPO / "build/benchmarks/bench_gemm",
                        help="the bench_gemm program (this machine's SGEMM rate with Eigen)")
    parser.add_argument("--python", default="/usr/bin/python3", help="interpreter with torch for torch_step.py")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: rebuild the Markdown report from the records in --json")
    parser.add_argument("--json", type=Path, default=REPO / "out/compare_pytorch.jsonl", help="raw records")
    parser.add_argument("--markdown", type=Path, default=REPO / "out/compare_pytorch.md", help="report")
    parser.add_argument("--configs", default="32x128,256x1024,1024x128,2048x256",
                        help="comma-separated DIMxBATCH training configurations")
    parser.add_argument("--estimators", default=",".join(ESTIMATORS), help="comma-separated estimators")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--flips", type=int, default=10, help="flips per row of the sampled estimators")
    parser.add_argument("--steps", type=int, default=30, help="timed steps, sampled estimators")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps, sampled estimators")
    parser.add_argument("--rm-steps", type=int, default=5, help="timed steps, exact ratio matching")
    parser.add_argument("--rm-warmup", type=int, default=1, help="untimed steps, exact ratio matching")
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="time budget of the timed part of an rm or gibbs run (at least 3 timed steps)")
    parser.add_argument("--no-gibbs", dest="gibbs", action="store_false", help="skip the Gibbs runs")
    parser.add_argument("--gibbs-dim", type=int, default=32)
    parser.add_argument("--gibbs-chains", type=int, default=4000)
    parser.add_argument("--gibbs-sweeps", type=int, default=20)
    parser.add_argument("--gibbs-steps", type=int, default=3, help="timed Gibbs samples")
    parser.add_argument("--gibbs-warmup", type=int, default=1, help="untimed Gibbs samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a run is killed")
    args = parser.parse_args(argv)
    try:
        args.configs = [tuple(int(v) for v in c.lower().split("x")) for c in args.configs.split(",") if c]
        args.threads = sorted({int(t) for t in args.threads.split(",") if t})
    except ValueError:
        parser.error("--configs takes DIMxBATCH,... and --threads integers")
    if any(len(c) != 2 for c in args.configs):
        parser.error("--configs takes DIMxBATCH,...")
    args.estimators = [e for e in args.estimators.split(",") if e]
    unknown = set(args.estimators) - set(ESTIMATORS)
    if unknown:
        parser.error(f"unknown estimators {sorted(unknown)}; choose from {', '.join(ESTIMATORS)}")
    return args


def plan(args):
    """Every run, in the order they execute."""
    runs = []
    for dim, batch in args.configs:
        for estimator in args.estimators:
            exact = estimator == "rm"
            for threads in args.threads:
                runs.append(Run(mode="step", estimator=estimator, dim=dim, batch=batch, flips=args.flips,
                                threads=threads, seed=args.seed,
                                steps=args.rm_steps if exact else args.steps,
                                warmup=args.rm_warmup if exact else args.warmup,
                                max_seconds=args.max_seconds if exact else None))
    if args.gibbs:
        for threads in args.threads:
            runs.append(Run(mode="gibbs", dim=args.gibbs_dim, chains=args.gibbs_chains, sweeps=args.gibbs_sweeps,
                            threads=threads, steps=args.gibbs_steps, warmup=args.gibbs_warmup,
                            max_seconds=args.max_seconds, seed=args.seed))
    return runs


# ---------------------------------------------------------------------------------------------
# Running


def progress(message):
    print(f"compare: {message}", file=sys.stderr, flush=True)


def last_json_line(text):
    """The last line of `text` that is a JSON object, or None."""
    for line in reversed(text.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            return record
    return None


def execute(command, side, run, timeout):
    """Runs one side of one configuration; a crash, a timeout or unreadable output gives a
    record with "failed": true and the tail of stderr."""
    failure = {"side": side, "mode": run.mode, "estimator": run.estimator, "dim": run.dim, "batch": run.batch,
               "flips": run.flips, "chains": run.chains, "sweeps": run.sweeps, "threads": run.threads,
               "failed": True, "command": " ".join(command)}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        stderr = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else expired.stderr
        return {**failure, "returncode": None, "stderr_tail": f"killed after {timeout:g} s\n{tail(stderr)}"}
    except OSError as error:
        return {**failure, "returncode": None, "stderr_tail": str(error)}
    if done.returncode != 0:
        return {**failure, "returncode": done.returncode, "stderr_tail": tail(done.stderr or done.stdout)}
    record = last_json_line(done.stdout)
    if record is None:
        return {**failure, "returncode": 0, "stderr_tail": f"no JSON record on stdout\n{tail(done.stderr)}"}
    return record


def tail(text, lines=15):
    return "\n".join((text or "").strip().splitlines()[-lines:])


def probe_torch(python):
    """A tiny PyTorch run at 1 thread: its torch version and matmul GFLOP/s."""
    run = Run(mode="step", estimator="uniform", dim=32, batch=16, flips=4, threads=1, steps=3, warmup=0,
              max_seconds=None, seed=0)
    return execute([python, str(TORCH_STEP)] + run.flags(), "pytorch", run, timeout=600)


def check_prerequisites(args):
    """Exits with a message unless torch works with a fast BLAS and the C++ program exists.
    Returns the probe record."""
    probe = probe_torch(args.python)
    if probe.get("failed"):
        sys.exit(f"compare: cannot run PyTorch with {args.python}:\n{probe['stderr_tail']}")
    gflops = probe["blas_gflops_1024x256x256"]
    if gflops < MIN_BLAS_GFLOPS:
        sys.exit(f"compare: torch.matmul runs at {gflops:.1f} GFLOP/s on one thread (< {MIN_BLAS_GFLOPS:g}): "
                 "torch is using the slow reference BLAS, so the comparison would be meaningless.\n"
                 "Install an optimised BLAS, e.g. `sudo apt-get install libopenblas0-openmp`, and run again.")
    if not os.access(args.cpp, os.X_OK):
        sys.exit(f"compare: {args.cpp} is not an executable; build it first "
                 "(cmake --build build --target compare_step) or pass --cpp")
    return probe


def cpu_model():
    """The CPU's model name from lscpu, else /proc/cpuinfo, else platform."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in text.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_record(args, probe):
    return {"side": "meta", "cpu": cpu_model(), "logical_cpus": os.cpu_count(),
            "available_cpus": len(os.sched_getaffinity(0)), "torch_version": probe["torch_version"],
            "torch_blas_gflops_1_thread": probe["blas_gflops_1024x256x256"],
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpp": str(args.cpp), "python": args.python}


def run_all(args, runs, json_file):
    """Runs every configuration on both sides; returns {(row key, threads, side): record}."""
    commands = {"pytorch": [args.python, str(TORCH_STEP)], "ratiomatch": [str(args.cpp)]}
    results = {}
    total = len(runs) * len(SIDES)
    for index, (run, (side, _)) in enumerate(((r, s) for r in runs for s in SIDES), start=1):
        progress(f"[{index}/{total}] {side} {run.label()}")
        record = execute(commands[side] + run.flags(), side, run, args.timeout)
        json_file.write(json.dumps(record) + "\n")
        json_file.flush()
        results[(run.row_key(), run.threads, side)] = record
        progress(f"    {describe(record)}")
    return results


def describe(record):
    if record.get("failed"):
        last = record["stderr_tail"].splitlines()[-1:]
        return f"FAILED (exit {record['returncode']}): {last[0] if last else 'no output'}"
    return (f"{cell(record, 'median_ms')} ms (median of {record.get('steps', '?')}), "
            f"{cell(record, 'gflops')} GFLOP/s, {cell(record, 'peak_rss_mib')} MiB")


# ---------------------------------------------------------------------------------------------
# Report


def number(value):
    """A value with about three significant digits, no exponent."""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def cell(record, field):
    if record is not None and record.get("failed"):
        return "failed"
    v = value(record, field)
    return "—" if v is None else number(v)


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return "—"
    return f"{numerator / denominator:.2f}×"


def value(record, field="median_ms"):
    """A numeric field of a successful record, else None."""
    if record is None or record.get("failed"):
        return None
    v = record.get(field)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def row_title(key):
    """The first cells of a table row: d, batch (or chains), estimator (or Gibbs sweeps)."""
    if key[0] == "step":
        _, dim, batch, estimator = key
        return [str(dim), str(batch), estimator]
    _, dim, chains, sweeps = key
    return [str(dim), str(chains), f"gibbs, {sweeps} sweeps"]


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def time_table(title, keys, threads, results):
    """Milliseconds per step (or per Gibbs sample) on both sides at every thread count; the ratio
    at the lowest thread count is PyTorch / ratiomatch, at higher ones the best PyTorch time
    with up to that many threads / ratiomatch's."""
    header = list(title)
    for i, t in enumerate(threads):
        header += [f"PyTorch {t}T ms", f"ratiomatch {t}T ms",
                   f"PyTorch / ratiomatch {t}T" if i == 0 else f"best PyTorch / ratiomatch {t}T"]
    rows = []
    for key in keys:
        row = row_title(key)
        for i, t in enumerate(threads):
            torch_record, cpp_record = results.get((key, t, "pytorch")), results.get((key, t, "ratiomatch"))
            torch_times = [value(results.get((key, u, "pytorch"))) for u in threads[:i + 1]]
            torch_times = [v for v in torch_times if v is not None]
            best = min(torch_times) if torch_times else None
            row += [cell(torch_record, "median_ms"), cell(cpp_record, "median_ms"),
                    ratio(value(torch_record) if i == 0 else best, value(cpp_record))]
        rows.append(row)
    return table(header, rows)


def throughput_table(keys, threads, results, sgemm):
    """GFLOP/s (and ratiomatch's as a fraction of the SGEMM rate at the same thread count) and
    peak resident memory of both sides for every run."""
    header = ["d", "batch / chains", "estimator", "threads", "PyTorch GFLOP/s", "ratiomatch GFLOP/s",
              "ratiomatch / SGEMM rate", "PyTorch peak MiB", "ratiomatch peak MiB", "memory PyTorch / ratiomatch"]
    rows = []
    for key in keys:
        for t in threads:
            torch_record, cpp_record = results.get((key, t, "pytorch")), results.get((key, t, "ratiomatch"))
            rows.append(row_title(key) + [str(t), cell(torch_record, "gflops"), cell(cpp_record, "gflops"),
                                          percent(value(cpp_record, "gflops"), sgemm.get(t)),
                                          cell(torch_record, "peak_rss_mib"), cell(cpp_record, "peak_rss_mib"),
                                          ratio(value(torch_record, "peak_rss_mib"),
                                                value(cpp_record, "peak_rss_mib"))])
    return table(header, rows)


def percent(numerator, denominator):
    if numerator is None or not denominator:
        return "—"
    return f"{100 * numerator / denominator:.0f} %"


def met(ok):
    return "met" if ok else "**not met**"


def targets_section(step_keys, gibbs_keys, threads, results, sgemm):
    """Each target of the comparison with the figure reached and whether it is met."""
    lines = ["| target | run | reached | |", "|---|---|---|---|"]

    def add(target, run, reached, ok):
        if reached is not None:
            lines.append(f"| {target} | {run} | {reached} | {met(ok)} |")

    def best_torch(key):
        times = [value(results.get((key, t, "pytorch"))) for t in threads]
        times = [v for v in times if v is not None]
        return min(times) if times else None

    for key in step_keys:
        _, dim, batch, estimator = key
        run = f"{estimator}, d={dim}, batch {batch}"
        for t in threads:
            gflops = value(results.get((key, t, "ratiomatch")), "gflops")
            if gflops is not None and sgemm.get(t):
                add(f"≥ 70 % of SGEMM, {t} thread(s)", run, percent(gflops, sgemm[t]), gflops >= 0.7 * sgemm[t])
        cpp1 = value(results.get((key, 1, "ratiomatch")))
        torch1 = value(results.get((key, 1, "pytorch")))
        cpp2 = value(results.get((key, 2, "ratiomatch")))
        if estimator != "rm":
            if cpp1 and torch1:
                add("≥ 1.5× PyTorch, 1 thread", run, f"{torch1 / cpp1:.2f}×", torch1 / cpp1 >= 1.5)
            if cpp2 and best_torch(key):
                r = best_torch(key) / cpp2
                add("≥ 2.5× best PyTorch, 2 threads", run, f"{r:.2f}×", r >= 2.5)
        elif dim >= 256:
            if cpp1 and torch1:
                add("≥ 5× PyTorch, 1 thread", run, f"{torch1 / cpp1:.2f}×", torch1 / cpp1 >= 5)
            if dim >= 1024:
                mem_cpp = value(results.get((key, 1, "ratiomatch")), "peak_rss_mib")
                mem_torch = value(results.get((key, 1, "pytorch")), "peak_rss_mib")
                if mem_cpp and mem_torch:
                    add("peak memory ≤ 1/10 of PyTorch's", run, f"1/{mem_torch / mem_cpp:.0f}",
                        mem_torch / mem_cpp >= 10)
    for key in gibbs_keys:
        cpp1 = value(results.get((key, 1, "ratiomatch")))
        torch1 = value(results.get((key, 1, "pytorch")))
        if cpp1 and torch1:
            add("Gibbs ≥ 4× PyTorch, 1 thread", f"{key[2]} chains × {key[3]} sweeps, d={key[1]}",
                f"{torch1 / cpp1:.2f}×", torch1 / cpp1 >= 4)
    return "\n".join(lines)


def failure_section(results):
    failed = [r for r in results.values() if r.get("failed")]
    if not failed:
        return ""
    parts = ["## Failed runs", ""]
    for record in failed:
        parts += [f"- {record['side']}: `{record['command']}` (exit {record['returncode']})", "",
                  "  ```", *["  " + line for line in record["stderr_tail"].splitlines()], "  ```", ""]
    return "\n".join(parts)


def markdown(meta, runs, threads, flips, results, sgemm):
    step_keys = list(dict.fromkeys(r.row_key() for r in runs if r.mode == "step"))
    gibbs_keys = list(dict.fromkeys(r.row_key() for r in runs if r.mode == "gibbs"))
    parts = [
        "# ratiomatch and PyTorch: RMwGGIS training step and Gibbs sampling",
        "",
        f"- CPU: {meta['cpu']}, {meta['logical_cpus']} logical CPUs ({meta['available_cpus']} available)",
        f"- PyTorch {meta['torch_version']}, torch.matmul float32 1024×256 @ 256×256 on one thread: "
        f"{meta['torch_blas_gflops_1_thread']:.0f} GFLOP/s",
        f"- Date: {meta['date']}",
        "- Eigen SGEMM (float, 512×256 · 256×256, bench_gemm) in the same run: "
        + (", ".join(f"{sgemm[t]:.0f} GFLOP/s on {t} thread{'s' if t > 1 else ''}" for t in sorted(sgemm)) or "not measured"),
        "",
        "Energy model: MLP d → 256 → 256 → 256 → 1 with SiLU, float32; Adam (lr 1e-4) with gradient-norm",
        "clipping at 1.0. One step is loss, gradient, clipping and update on a fixed random binary batch;",
        f"the sampled estimators flip {flips} bits per row, `rm` all d. Times are medians over the timed steps",
        "(`rm` and Gibbs stop after a time budget, with at least 3 steps); a ratio above 1× means",
        "ratiomatch is faster. Each side counts its own matrix-product flops; peak memory is the",
        "process's peak resident set size. Every run is a separate process, one at a time.",
    ]
    if step_keys:
        parts += ["", "## Training step, ms per step", "", time_table(("d", "batch", "estimator"), step_keys, threads, results)]
    if gibbs_keys:
        parts += ["", "## Gibbs sampling, ms per sample (all sweeps)", "", time_table(("d", "chains", "sampler"), gibbs_keys, threads, results)]
    parts += ["", "## Throughput and memory", "", throughput_table(step_keys + gibbs_keys, threads, results, sgemm)]
    parts += ["", "## Targets", "", targets_section(step_keys, gibbs_keys, threads, results, sgemm), ""]
    failures = failure_section(results)
    if failures:
        parts += ["", failures]
    return "\n".join(parts)


def measure_gemm(args):
    """This machine's float SGEMM rate with Eigen at the MLP's main shape (512×256 · 256×256)
    for every thread count, from bench_gemm: records {"side": "gemm", "threads", "gflops"}."""
    if not os.access(args.gemm, os.X_OK):
        progress(f"{args.gemm} not found: no SGEMM reference (build the bench_gemm target)")
        return []
    command = [str(args.gemm), "--benchmark_filter=BM_GemmForward<float>/rows:512/in:256/out:256/",
               "--benchmark_format=json", "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        progress(f"bench_gemm failed: {tail(done.stderr, 3)}")
        return []
    records = []
    for bench in json.loads(done.stdout)["benchmarks"]:
        if bench.get("aggregate_name") != "median":
            continue
        threads = int(bench["run_name"].split("threads:")[1].split("/")[0])
        if threads in args.threads:
            records.append({"side": "gemm", "threads": threads, "gflops": bench["GFLOP/s"] / 1e9})
    return records


def load_records(path):
    """The records of an earlier run: (meta, gemm records, step/gibbs records)."""
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    meta = next(r for r in records if r.get("side") == "meta")
    gemm = [r for r in records if r.get("side") == "gemm"]
    return meta, gemm, [r for r in records if r.get("side") in ("pytorch", "ratiomatch")]


def record_key(record):
    """The (row key, threads, side) under which a record is reported."""
    return row_key(record), record["threads"], record["side"]


def main(argv=None):
    args = parse_args(argv)
    runs = plan(args)
    if args.report_only:
        meta, gemm, records = load_records(args.json)
        results = {record_key(r): r for r in records}
    else:
        progress("checking torch's BLAS speed (1 thread)")
        probe = check_prerequisites(args)
        meta = machine_record(args, probe)
        progress(f"{meta['cpu']}, torch {meta['torch_version']}, {meta['torch_blas_gflops_1_thread']:.0f} GFLOP/s")
        gemm = measure_gemm(args)
        for g in gemm:
            progress(f"Eigen SGEMM 512x256x256, {g['threads']} thread(s): {g['gflops']:.0f} GFLOP/s")
        args.json.parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as json_file:
            json_file.write(json.dumps(meta) + "\n")
            for g in gemm:
                json_file.write(json.dumps(g) + "\n")
            results = run_all(args, runs, json_file)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    sgemm = {g["threads"]: g["gflops"] for g in gemm}
    args.markdown.write_text(markdown(meta, runs, args.threads, args.flips, results, sgemm))
    progress(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
