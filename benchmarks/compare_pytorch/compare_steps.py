#!/usr/bin/env python3
"""Compares two runs of the same training steps, written by match_steps and torch_train.py
(`steps` sub-command): loss and pre-clipping gradient norm at every step, and the gradient and
parameters at the dumped steps. Prints a Markdown table.

Usage: compare_steps.py PREFIX_A PREFIX_B WEIGHTS0 [--steps 1,10,100]
  PREFIX_A.csv, PREFIX_A_grad_K.bin, PREFIX_A_params_K.bin (float64) and the same for B;
  WEIGHTS0 the raw float32 initial weights both started from (to measure how far the
  parameters moved, the scale the parameter difference is judged against).
"""
import argparse
import csv

import numpy as np


def read_log(prefix):
    with open(prefix + ".csv") as f:
        return {int(r["step"]): r for r in csv.DictReader(f)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("weights0")
    p.add_argument("--steps", default="1,10,100")
    args = p.parse_args()
    la, lb = read_log(args.a), read_log(args.b)
    w0 = np.fromfile(args.weights0, dtype=np.float32).astype(np.float64)
    print("| step | loss A | rel. diff loss | rel. diff grad norm | max rel. diff grad | "
          "max abs diff params | max abs param move | diff / move |")
    print("|---|---|---|---|---|---|---|---|")
    for k in [int(s) for s in args.steps.split(",")]:
        if k not in la or k not in lb:
            continue
        loss_a, loss_b = float(la[k]["loss"]), float(lb[k]["loss"])
        gn_a, gn_b = float(la[k]["grad_norm"]), float(lb[k]["grad_norm"])
        ga = np.fromfile(f"{args.a}_grad_{k}.bin")
        gb = np.fromfile(f"{args.b}_grad_{k}.bin")
        pa = np.fromfile(f"{args.a}_params_{k}.bin")
        pb = np.fromfile(f"{args.b}_params_{k}.bin")
        gdiff = np.max(np.abs(ga - gb)) / np.max(np.abs(ga))
        pdiff = np.max(np.abs(pa - pb))
        move = np.max(np.abs(pa - w0))
        print(f"| {k} | {loss_a:.9g} | {abs(loss_a - loss_b) / abs(loss_a):.2e} | {abs(gn_a - gn_b) / gn_a:.2e} | "
              f"{gdiff:.2e} | {pdiff:.2e} | {move:.2e} | {pdiff / move:.2e} |")
    worst = max(abs(float(la[k]["loss"]) - float(lb[k]["loss"])) / abs(float(la[k]["loss"]))
                for k in la if k in lb)
    print(f"\nlargest relative loss difference over all {len(la)} steps: {worst:.2e}")


if __name__ == "__main__":
    main()
