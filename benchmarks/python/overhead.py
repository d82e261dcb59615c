#!/usr/bin/env python3
"""The Python module's overhead: a Python loop of loss_and_gradient + clip_gradient_norm +
Adam.step against the same step in C++ (python_step_cpp), on one thread, alternating the two
several times. d = 32, batch 128: the paper's MLP (32-256-256-256-1, learnable Swish) with
gradient-guided ratio matching (s = 10), and an Ising model with exact ratio matching (a step of
microseconds, where a fixed per-call cost shows most).

Usage: OMP_NUM_THREADS=1 /usr/bin/python3 benchmarks/python/overhead.py BUILD_DIR [--rounds 3]
(BUILD_DIR with -DRATIOMATCH_BUILD_BENCHMARKS=ON; the module is taken from BUILD_DIR/python.)
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("build")
parser.add_argument("--rounds", type=int, default=3)
args = parser.parse_args()
sys.path.insert(0, os.path.join(args.build, "python"))
import ratiomatch as rm  # noqa: E402

X = np.array([[1.0 if (r * 7 + i * 3) % 5 < 2 else 0.0 for i in range(32)] for r in range(128)], dtype=np.float32)
SETUPS = {  # name: (steps, repeats, make)
    "mlp": (100, 5, lambda: (rm.MlpEnergy(32, [256, 256, 256], activation="learnable-swish", dtype=np.float32),
                             rm.GradientGuidedRM(10, "advanced", "squared"))),
    "ising": (5000, 5, lambda: (rm.IsingModel(32, dtype=np.float32), rm.RatioMatching("hyvarinen"))),
}


def python_ms_per_step(name, layout):
    steps, repeats, make = SETUPS[name]
    model, estimator = make()
    if name == "mlp":
        model.initialize(rm.Engine(3))
    adam = rm.Adam(model, lr=5e-4, weight_decay=1e-4)
    engine = rm.Engine(1)
    batch = np.asfortranarray(X) if layout == "F" else X
    params = model.params

    def step():
        _, grad = estimator.loss_and_gradient(model, batch, engine)
        rm.clip_gradient_norm(grad, 1.0)
        adam.step(params, grad)

    for _ in range(steps // 5 + 1):
        step()
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - begin) * 1e3 / steps)
    return statistics.median(times)


cpp = os.path.join(args.build, "benchmarks", "python_step_cpp")
print("| setup | C++ ms/step | Python ms/step (C-order batch) | Python ms/step (F-order batch) | overhead C / F |")
print("|---|---|---|---|---|")
for name, (steps, repeats, _) in SETUPS.items():
    c, pc, pf = [], [], []
    for _ in range(args.rounds):
        c.append(float(subprocess.run([cpp, name, str(steps), str(repeats)], check=True, capture_output=True,
                                      text=True).stdout))
        pc.append(python_ms_per_step(name, "C"))
        pf.append(python_ms_per_step(name, "F"))
    mc, mpc, mpf = statistics.median(c), statistics.median(pc), statistics.median(pf)
    print(f"| {name} | {mc:.4f} | {mpc:.4f} | {mpf:.4f} | {100 * (mpc / mc - 1):+.1f} % / {100 * (mpf / mc - 1):+.1f} % |",
          flush=True)
