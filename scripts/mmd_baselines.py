#!/usr/bin/env python3
"""What the synthetic benchmark's MMD gives models that learned nothing but the data's extent.

For each data set of the RMwGGIS synthetic benchmark: the MMD² (Hamming kernel, 4,000 against 4,000
Gray-coded samples, the paper's evaluation) of samples drawn uniformly from the data's bounding box,
of uniform random bits, and of a second draw of the data itself (the floor set by sampling noise),
each repeated with other seeds. Writes docs/results/synthetic/full/mmd_baselines.json, which
`reproduce_synthetic.py --full --page-only` shows next to the published numbers.

Needs the Python module (PYTHONPATH=<build>/python) and /usr/bin/python3 with numpy.
"""
import argparse
import json
import os
import statistics

import numpy as np

import ratiomatch as rm

DATASETS = ["2spirals", "8gaussians", "circles", "moons", "pinwheel", "swissroll", "checkerboard"]


def baselines(dataset, repeats, samples, seed):
    engine = rm.Engine(seed)
    rng = np.random.default_rng(seed)
    encoder = rm.GrayCodeEncoder.fit(32, rm.sample_toy2d(dataset, 5000, engine))
    reference = rm.sample_toy2d(dataset, 100000, engine)
    low, high = reference.min(axis=0), reference.max(axis=0)
    out = {"uniform_box": [], "uniform_bits": [], "data": []}
    for _ in range(repeats):
        data = encoder.encode(rm.sample_toy2d(dataset, samples, engine))
        box = encoder.encode(rng.uniform(low, high, size=(samples, 2)))
        bits = (rng.random((samples, 32)) < 0.5).astype(np.float64)
        again = encoder.encode(rm.sample_toy2d(dataset, samples, engine))
        out["uniform_box"].append(rm.mmd_squared(box, data, "hamming"))
        out["uniform_bits"].append(rm.mmd_squared(bits, data, "hamming"))
        out["data"].append(rm.mmd_squared(again, data, "hamming"))
    return {k: {"mean": statistics.mean(v), "sd": statistics.stdev(v), "values": v} for k, v in out.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=os.path.join("docs", "results", "synthetic", "full", "mmd_baselines.json"))
    args = parser.parse_args()
    if args.repeats < 2:
        parser.error("--repeats must be at least 2 (the table gives a standard deviation)")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    result = {"samples": args.samples, "repeats": args.repeats, "kernel": "hamming",
              "datasets": {d: baselines(d, args.repeats, args.samples, args.seed) for d in DATASETS}}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    for d, b in result["datasets"].items():
        print(f"{d:13s} " + "  ".join(f"{k} {v['mean']:.5f} ± {v['sd']:.5f}" for k, v in b.items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
