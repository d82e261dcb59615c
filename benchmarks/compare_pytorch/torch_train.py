#!/usr/bin/env python3
"""PyTorch trainer of the RMwGGIS synthetic recipe, the reference side of the learning-quality
comparison with ratiomatch (match_steps.cpp).

Recipe (Liu, Liu & Ji, ICLR 2023, synthetic experiment): MLP d -> 256 -> 256 -> 256 -> 1 with
Swish x*sigmoid(beta*x) after each hidden layer (beta = 1 frozen by default, as ratiomatch's
MlpEnergy; --learn-beta makes one beta shared by all layers learnable), torch.nn.Linear's
default initialisation; gradient-guided 'advanced' ratio matching: for each row x of the batch,
the proposal n = softmax(2 (2x-1) * grad_x E(x)) (stop-gradient), s distinct bits i_t ~ n
without replacement (torch.multinomial), loss sum_t exp(2 (E(x) - E(x with bit i_t flipped))),
batch mean; Adam(lr 5e-4, weight_decay 1e-4: L2 added to the gradient inside the step, after
clipping), gradient norm clipped to 1; batch 128, fresh data every batch. Data: FFJORD's toy
generators in NumPy, each coordinate coded as a sign bit and the Gray code of
int(|x| * int_scale) (int_scale = 2^(d/2-1) / (max|x| + 2) over 5000 samples unless given).

Sub-commands (run with /usr/bin/python3; weights are raw float32 in nn.Linear parameter order,
batches raw uint8 rows of d bytes, bit selections raw int32):
  train   --seed S --iters N --out DIR [--int-scale X] [--init-weights w.bin]
          trains; writes DIR/log.csv (every step: loss, pre-clipping gradient norm, parameter
          norm, beta) and DIR/weights_K.bin every --save-every steps.
  steps   --weights w.bin --batches b.u8 --steps N --estimator rm|gg [--out PREFIX] [--double]
          N steps on consecutive batches from the file (rm: exact ratio matching; gg: advanced,
          the drawn bits written to PREFIX_bits.i32 for match_steps --estimator gg-bits);
          PREFIX.csv and PREFIX_{grad,params}_K.bin as match_steps writes them.
  batches --seed S --count N --out b.u8 --int-scale X    N rows of 2spirals coded for d bits.
  eval    --weights w.bin --seed S [--int-scale X] [--beta B]
          the public code's evaluation: 4000 fresh data rows, 4000 Gibbs chains from uniform
          bits, 20 systematic sweeps at inverse temperature B, MMD^2 U-statistic with
          k = d - Hamming.
  draws   --weights w.bin --batches b.u8 --rows R --reps M --out PREFIX
          inclusion frequencies of torch.multinomial's s distinct bits, as match_steps draws.
  points  --seed S --count N --out p.f64 / encode --points p.f64 --int-scale X --out b.u8
          raw 2spirals points and their code, for comparing the encoders.
"""
import argparse
import csv
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn

DIM = 32
HIDDEN = 256


# ------------------------------------------------------------------------------------ data

def toy_points(name, n, rng):
    """FFJORD's inf_train_gen for the data sets used here (NumPy generator `rng`)."""
    if name == "2spirals":
        m = np.sqrt(rng.rand(n // 2, 1)) * 540 * (2 * np.pi) / 360
        dx = -np.cos(m) * m + rng.rand(n // 2, 1) * 0.5
        dy = np.sin(m) * m + rng.rand(n // 2, 1) * 0.5
        x = np.vstack((np.hstack((dx, dy)), np.hstack((-dx, -dy)))) / 3
        return x + rng.randn(*x.shape) * 0.1
    if name == "checkerboard":
        x1 = rng.rand(n) * 4 - 2
        x2 = rng.rand(n) - rng.randint(0, 2, n) * 2 + (np.floor(x1) % 2)
        return np.stack([x1, x2], 1) * 2
    raise ValueError(f"data set {name} is not implemented here")


def fit_int_scale(name, dim, rng):
    f_scale = np.max(np.abs(toy_points(name, 5000, rng))) + 1
    return 2 ** (dim // 2 - 1) / (f_scale + 1)


def encode(points, dim, int_scale):
    """Sign bit + Gray code (most significant first) of int(|x| * int_scale), per coordinate."""
    b = dim // 2 - 1
    scaled = points * int_scale
    out = np.zeros((points.shape[0], dim), dtype=np.uint8)
    for c in range(2):
        v = np.abs(scaled[:, c]).astype(np.int64)  # int() truncates toward zero
        if np.any(v >= 1 << b):
            raise ValueError("a point lies outside the code's range")
        g = v ^ (v >> 1)
        out[:, c * (b + 1)] = (scaled[:, c] < 0).astype(np.uint8)
        for k in range(b):
            out[:, c * (b + 1) + 1 + k] = (g >> (b - 1 - k)) & 1
    return out


# ----------------------------------------------------------------------------------- model

class Swish(nn.Module):
    def __init__(self, learn_beta):
        super().__init__()
        beta = torch.tensor(1.0)
        if learn_beta:
            self.beta = nn.Parameter(beta)
        else:
            self.register_buffer("beta", beta)

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)


class Energy(nn.Module):
    def __init__(self, dim=DIM, hidden=HIDDEN, depth=3, learn_beta=False):
        super().__init__()
        widths = [dim] + [hidden] * depth + [1]
        self.linears = nn.ModuleList(nn.Linear(widths[k], widths[k + 1]) for k in range(len(widths) - 1))
        self.swish = Swish(learn_beta)  # one module (one beta) shared by every hidden layer

    def forward(self, x):
        for layer in self.linears[:-1]:
            x = self.swish(layer(x))
        return self.linears[-1](x).squeeze(-1)

    def flat(self):
        return torch.cat([p.detach().reshape(-1) for layer in self.linears for p in (layer.weight, layer.bias)])

    def load_flat(self, values):
        values = torch.as_tensor(values)
        at = 0
        with torch.no_grad():
            for layer in self.linears:
                for p in (layer.weight, layer.bias):
                    p.copy_(values[at:at + p.numel()].reshape(p.shape))
                    at += p.numel()
        if at != values.numel():
            raise ValueError(f"{values.numel()} numbers for {at} parameters")


def load_weights(path):
    return np.fromfile(path, dtype=np.float32)


def save_weights(model, path):
    model.flat().to(torch.float32).numpy().tofile(path)


# ------------------------------------------------------------------------------- estimators

def log_proposal(model, x):
    """log softmax(2 (2x-1) * grad_x E(x)), detached."""
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x).sum(), x)
    return torch.log_softmax(2 * (2 * x.detach() - 1) * g, dim=-1)


def flip(x, bits):
    """Rows x repeated for each column of `bits` (n x s), bit bits[r, t] flipped: (s*n) x d, flip-major."""
    n = x.shape[0]
    rows = torch.arange(n)
    out = []
    for t in range(bits.shape[1]):
        y = x.clone()
        y[rows, bits[:, t]] = 1 - y[rows, bits[:, t]]
        out.append(y)
    return torch.cat(out, 0)


def advanced_loss(model, x, bits, pairing="row"):
    """pairing 'row': term (r, t) = exp(2 (E(x_r) - E(x_r with bit bits[r, t] flipped))).
    pairing 'official': the public code's reshape of the flip-major column of flipped energies
    to n x s, which pairs E(x_i) with flipped row i*s + t of that column (row (i*s + t) mod n)."""
    n, s = bits.shape
    e = model(x)
    e_flip = model(flip(x, bits))
    e_flip = e_flip.reshape(n, s) if pairing == "official" else e_flip.reshape(s, n).t()
    return torch.exp(2 * (e[:, None] - e_flip)).sum(1).mean()


def exact_loss(model, x):
    n, d = x.shape
    bits = torch.arange(d).repeat(n, 1)
    return advanced_loss(model, x, bits)


def draw_bits(model, x, s):
    return torch.multinomial(log_proposal(model, x).exp(), s, replacement=False)


def grad_norm_and_clip(model, clip):
    params = [p for p in model.parameters() if p.grad is not None]
    if clip > 0:
        return float(torch.nn.utils.clip_grad_norm_(params, max_norm=clip))
    return float(torch.norm(torch.stack([p.grad.norm() for p in params])))


def flat_grad(model):
    return torch.cat([p.grad.reshape(-1) for layer in model.linears for p in (layer.weight, layer.bias)])


# ----------------------------------------------------------------------------- sub-commands

def make_model(args):
    model = Energy(learn_beta=getattr(args, "learn_beta", False))
    if getattr(args, "init_weights", None):
        model.load_flat(load_weights(args.init_weights))
    if getattr(args, "weights", None):
        model.load_flat(load_weights(args.weights))
    return model


def cmd_train(args):
    torch.manual_seed(args.seed)
    rng = np.random.RandomState(args.seed)
    int_scale = args.int_scale or fit_int_scale(args.data, DIM, np.random.RandomState(1))
    model = make_model(args)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump({**vars(args), "int_scale_used": int_scale}, f)
    log = open(os.path.join(args.out, "log.csv"), "w", newline="")
    w = csv.writer(log)
    w.writerow(["step", "loss", "grad_norm", "param_norm", "beta"])
    if args.save_every:
        save_weights(model, os.path.join(args.out, "weights_0.bin"))
    for step in range(1, args.iters + 1):
        x = torch.from_numpy(encode(toy_points(args.data, args.batch, rng), DIM, int_scale)).float()
        bits = draw_bits(model, x, args.flips)
        loss = advanced_loss(model, x, bits, args.pairing)
        opt.zero_grad()
        loss.backward()
        norm = grad_norm_and_clip(model, args.clip)
        opt.step()
        w.writerow([step, f"{loss.item():.7g}", f"{norm:.7g}", f"{model.flat().norm().item():.7g}",
                    f"{float(model.swish.beta):.6g}"])
        if args.save_every and step % args.save_every == 0:
            save_weights(model, os.path.join(args.out, f"weights_{step}.bin"))
            log.flush()
    log.close()


def cmd_steps(args):
    model = make_model(args)
    if args.double:
        model = model.double()
    dtype = torch.float64 if args.double else torch.float32
    raw = np.fromfile(args.batches, dtype=np.uint8).reshape(-1, DIM)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    gen_seed = args.seed
    torch.manual_seed(gen_seed)
    all_bits = []
    given_bits = np.fromfile(args.bits, dtype=np.int32) if args.bits else None
    with open(args.out + ".csv", "w") as f:
        f.write("step,loss,grad_norm,param_norm\n")
        for t in range(1, args.steps + 1):
            x = torch.from_numpy(raw[(t - 1) * args.batch:t * args.batch].astype(np.float64)).to(dtype)
            if args.estimator == "rm":
                loss = exact_loss(model, x)
            else:
                if t == 1:
                    log_proposal(model, x).to(torch.float64).numpy().tofile(args.out + "_logprop_1.bin")
                if args.bits:
                    n = x.shape[0]
                    bits = torch.from_numpy(given_bits[(t - 1) * n * args.flips:t * n * args.flips]
                                            .reshape(n, args.flips).astype(np.int64))
                else:
                    bits = draw_bits(model, x, args.flips)
                all_bits.append(bits.to(torch.int32).numpy())
                loss = advanced_loss(model, x, bits, args.pairing)
            opt.zero_grad()
            loss.backward()
            dump = t in args.dump_at
            if dump:
                flat_grad(model).to(torch.float64).numpy().tofile(f"{args.out}_grad_{t}.bin")
            norm = grad_norm_and_clip(model, args.clip)
            opt.step()
            f.write(f"{t},{loss.item():.17g},{norm:.17g},{model.flat().double().norm().item():.17g}\n")
            if dump:
                model.flat().to(torch.float64).numpy().tofile(f"{args.out}_params_{t}.bin")
    if all_bits and not args.bits:
        np.concatenate(all_bits).astype(np.int32).tofile(args.out + "_bits.i32")


def cmd_batches(args):
    rng = np.random.RandomState(args.seed)
    encode(toy_points(args.data, args.count, rng), DIM, args.int_scale).tofile(args.out)


def gibbs(model, chains, sweeps, beta, gen):
    x = torch.randint(0, 2, (chains, DIM), generator=gen).float()
    with torch.no_grad():
        for _ in range(sweeps):
            for i in range(DIM):
                x0 = x.clone()
                x0[:, i] = 0
                x1 = x.clone()
                x1[:, i] = 1
                p1 = torch.sigmoid(beta * (model(x0) - model(x1)))
                x[:, i] = (torch.rand(chains, generator=gen) < p1).float()
    return x


def hamming_mmd(x, y):
    """MMD^2 U-statistic with k = d - Hamming (the public code's hamming_mmd_new), in float64."""
    x = x.double()
    y = y.double()
    d = x.shape[1]

    def ksum(a, b):
        return (d * a.shape[0] * b.shape[0] - (a.sum(1)[:, None] + b.sum(1)[None, :] - 2 * a @ b.t()).sum()).item()

    m, n = x.shape[0], y.shape[0]
    kxx = (ksum(x, x) - d * m) / (m * (m - 1))
    kyy = (ksum(y, y) - d * n) / (n * (n - 1))
    return kxx + kyy - 2 * ksum(x, y) / (m * n)


def cmd_eval(args):
    model = make_model(args)
    rng = np.random.RandomState(args.seed + 5)
    int_scale = args.int_scale or fit_int_scale(args.data, DIM, np.random.RandomState(1))
    data = torch.from_numpy(encode(toy_points(args.data, 4000, rng), DIM, int_scale)).float()
    gen = torch.Generator().manual_seed(args.seed)
    samples = gibbs(model, 4000, 20, args.beta, gen)
    print(json.dumps({"weights": args.weights, "beta": args.beta, "mmd": hamming_mmd(samples, data)}))


def cmd_draws(args):
    model = make_model(args)
    x = torch.from_numpy(np.fromfile(args.batches, dtype=np.uint8).reshape(-1, DIM)[:args.rows].astype(np.float32))
    probs = log_proposal(model, x).exp()
    torch.manual_seed(args.seed)
    count = torch.zeros_like(probs, dtype=torch.float64)
    rows = torch.arange(args.rows)[:, None].expand(-1, args.flips)
    for _ in range(args.reps):
        bits = torch.multinomial(probs, args.flips, replacement=False)
        count.index_put_((rows, bits), torch.ones(bits.shape, dtype=torch.float64), accumulate=True)
    with open(args.out + "_draws.csv", "w") as f:
        f.write("row,bit,frequency,proposal\n")
        for r in range(args.rows):
            for i in range(DIM):
                f.write(f"{r},{i},{count[r, i].item() / args.reps:.10g},{probs[r, i].item():.10g}\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--seed", type=int, default=1)
        sp.add_argument("--data", default="2spirals")
        sp.add_argument("--out", default="out/torch")
        sp.add_argument("--int-scale", type=float, default=0.0)
        sp.add_argument("--learn-beta", action="store_true")
        sp.add_argument("--flips", type=int, default=10)
        sp.add_argument("--pairing", choices=("row", "official"), default="row",
                        help="official: the public code's pairing of base and flipped energies")
        return sp

    tr = common(sub.add_parser("train"))
    tr.add_argument("--iters", type=int, default=10000)
    tr.add_argument("--batch", type=int, default=128)
    tr.add_argument("--lr", type=float, default=5e-4)
    tr.add_argument("--weight-decay", type=float, default=1e-4)
    tr.add_argument("--clip", type=float, default=1.0)
    tr.add_argument("--save-every", type=int, default=1000)
    tr.add_argument("--init-weights")
    st = common(sub.add_parser("steps"))
    st.add_argument("--weights", required=True)
    st.add_argument("--batches", required=True)
    st.add_argument("--steps", type=int, default=1)
    st.add_argument("--batch", type=int, default=128)
    st.add_argument("--estimator", choices=("rm", "gg"), default="rm")
    st.add_argument("--lr", type=float, default=5e-4)
    st.add_argument("--weight-decay", type=float, default=1e-4)
    st.add_argument("--clip", type=float, default=1.0)
    st.add_argument("--dump-at", type=lambda v: [int(a) for a in v.split(",")], default=[1, 10, 100])
    st.add_argument("--double", action="store_true")
    st.add_argument("--bits", help="gg: int32 bit selections to use instead of drawing (n x s per step)")
    ba = common(sub.add_parser("batches"))
    ba.add_argument("--count", type=int, required=True)
    ev = common(sub.add_parser("eval"))
    ev.add_argument("--weights", required=True)
    ev.add_argument("--beta", type=float, default=1.0)
    dr = common(sub.add_parser("draws"))
    dr.add_argument("--weights", required=True)
    dr.add_argument("--batches", required=True)
    dr.add_argument("--rows", type=int, default=4)
    dr.add_argument("--reps", type=int, default=100000)
    pt = common(sub.add_parser("points"))
    pt.add_argument("--count", type=int, required=True)
    en = common(sub.add_parser("encode"))
    en.add_argument("--points", required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.cmd == "points":
        toy_points(args.data, args.count, np.random.RandomState(args.seed)).astype(np.float64).tofile(args.out)
    elif args.cmd == "encode":
        pts = np.fromfile(args.points, dtype=np.float64).reshape(-1, 2)
        encode(pts, DIM, args.int_scale).tofile(args.out)
    else:
        {"train": cmd_train, "steps": cmd_steps, "batches": cmd_batches, "eval": cmd_eval,
         "draws": cmd_draws}[args.cmd](args)


if __name__ == "__main__":
    main()
