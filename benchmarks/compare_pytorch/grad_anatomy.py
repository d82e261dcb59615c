#!/usr/bin/env python3
"""Where the pre-clipping gradient norm of the advanced gradient-guided estimator comes from.

For each given weights file (raw float32, nn.Linear order; e.g. torch_train.py's weights_K.bin
or match_steps export of a checkpoint), draws --batches fresh 2spirals batches of 128 and
reports, averaged over the batches: the gradient norm of the batch loss, the largest single
term r^2 = exp(2 (E(x) - E(x'))) of the batch, the share of the batch loss carried by its
largest row, the gradient norm of that row's part alone, the mean |dE| over all d flips of
the data rows, the parameter norm, and the norm of the gradient averaged over all the batches
(mean_gradient_norm: if it is about norm / sqrt(batches), single-batch gradients are mostly
noise around a small mean). One JSON line per weights file.

Usage: grad_anatomy.py --int-scale X w_1000.bin w_5000.bin ...
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_train as tt  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("weights", nargs="+")
    p.add_argument("--int-scale", type=float, required=True)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--seed", type=int, default=77)
    args = p.parse_args()
    torch.set_num_threads(1)
    for path in args.weights:
        model = tt.Energy()
        model.load_flat(tt.load_weights(path))
        rng = np.random.RandomState(args.seed)
        torch.manual_seed(args.seed)
        rows = {"norm": [], "max_term": [], "top_row_share": [], "top_row_norm": [], "rest_norm": [],
                "mean_abs_dE": [], "loss": []}
        total = None
        for _ in range(args.batches):
            x = torch.from_numpy(tt.encode(tt.toy_points("2spirals", 128, rng), tt.DIM, args.int_scale)).float()
            bits = tt.draw_bits(model, x, 10)
            n, s = bits.shape
            e = model(x)
            e_flip = model(tt.flip(x, bits)).reshape(s, n).t()
            terms = torch.exp(2 * (e[:, None] - e_flip))
            per_row = terms.sum(1)
            loss = per_row.mean()
            params = list(model.parameters())
            g = torch.autograd.grad(loss, params, retain_graph=True)
            top = int(per_row.argmax())
            g_top = torch.autograd.grad(per_row[top] / n, params, retain_graph=True)
            rest = torch.ones(n)
            rest[top] = 0
            g_rest = torch.autograd.grad((per_row * rest).sum() / n, params)
            with torch.no_grad():
                d_all = model(tt.flip(x, torch.arange(tt.DIM).repeat(n, 1))).reshape(tt.DIM, n).t() - e[:, None]
            norm = lambda gs: float(torch.sqrt(sum((a.double() ** 2).sum() for a in gs)))
            rows["norm"].append(norm(g))
            flat = torch.cat([a.reshape(-1).double() for a in g])
            total = flat if total is None else total + flat
            rows["max_term"].append(float(terms.max()))
            rows["top_row_share"].append(float(per_row[top] / per_row.sum()))
            rows["top_row_norm"].append(norm(g_top))
            rows["rest_norm"].append(norm(g_rest))
            rows["mean_abs_dE"].append(float(d_all.abs().mean()))
            rows["loss"].append(float(loss))
        out = {"weights": path, "param_norm": float(model.flat().norm())}
        for k, v in rows.items():
            out[k + "_mean"] = float(np.mean(v))
        out["norm_median"] = float(np.median(rows["norm"]))
        out["norm_max"] = float(np.max(rows["norm"]))
        out["mean_gradient_norm"] = float((total / args.batches).norm())
        out["noise_only_expectation"] = float(np.mean(rows["norm"]) / np.sqrt(args.batches))
        print(json.dumps(out))


if __name__ == "__main__":
    main()
