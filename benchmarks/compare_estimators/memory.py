#!/usr/bin/env python3
"""Peak memory of one training process per method on 2spirals (d = 32 and d = 256): 200 updates of
train_synthetic with the comparison's settings (the Hyvärinen ratio; only the final grid evaluation),
the process's maximum resident set as the kernel reports it (GNU time's %M), and the training time
per update from its summary, one thread.

Usage: /usr/bin/python3 benchmarks/compare_estimators/memory.py --build BUILD
Writes docs/results/estimator_choice/memory.md. Run it on a quiet machine (it also reports seconds
per update, which other load distorts).
"""
import argparse
import json
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "results" / "estimator_choice" / "memory.md"
METHODS = [("rm", []), ("uniform", []), ("gg-basic", []), ("gg-advanced", []), ("first-order", []),
           ("pcd-gwg", ["--pcd-steps", "5"])]


def measure(build, dim, method, extra):
    with tempfile.TemporaryDirectory() as out:
        cmd = ["/usr/bin/time", "-f", "%M %e", str(Path(build) / "examples" / "train_synthetic"), "--data", "2spirals",
               "--dim", str(dim), "--estimator", method, "--objective", "hyvarinen", "--iters", "200",
               "--eval-every", "0", "--no-mmd", "--log-every", "100", "--checkpoint-every", "0",
               "--image-size", "50", "--out", out] + extra
        done = subprocess.run(cmd, capture_output=True, text=True, env={"OMP_NUM_THREADS": "1"})
        if done.returncode != 0:
            raise SystemExit(f"{method} at d = {dim} failed: {done.stderr[-500:]}")
        peak_kb = done.stderr.strip().splitlines()[-1].split()[0]
        rate = json.loads((Path(out) / "summary.json").read_text())["iterations_per_second"]
        return int(peak_kb) / 1024, 1e3 / rate


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    a = ap.parse_args()
    lines = ["| method | peak memory, d = 32 (MiB) | peak memory, d = 256 (MiB) | ms per update, d = 32 | "
             "ms per update, d = 256 |", "|---|---|---|---|---|"]
    for method, extra in METHODS:
        m32, t32 = measure(a.build, 32, method, extra)
        m256, t256 = measure(a.build, 256, method, extra)
        lines.append(f"| {method} | {m32:.0f} | {m256:.0f} | {t32:.2f} | {t256:.2f} |")
        print(lines[-1], flush=True)
    OUT.write_text("<!-- written by benchmarks/compare_estimators/memory.py -->\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
