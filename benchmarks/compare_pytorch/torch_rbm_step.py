#!/usr/bin/env python3
"""PyTorch side of the speed comparison on a Bernoulli RBM at 784 bits (Fashion-MNIST size).

Times one training step of a Bernoulli RBM, or one annealed-importance-sampling estimate of its
log Z, written the way the public PyTorch code of ratio matching papers would write it: the
flipped copies of every row go through the whole free energy (no rank-1 update), autograd
gives every gradient.

Model: F(x) = -b.x - sum_j softplus(c_j + W_j.x), W hidden x visible ~ N(0, 0.01^2), float32.
A step is zero_grad, loss, backward, gradient norm clipped to 1, Adam(lr=1e-3), on a fixed
batch of binary rows (Bernoulli(0.3)). Ratio matching with Hyvarinen's objective
f(dE) = sigmoid(-dE)^2, dE_i = F(x with bit i flipped) - F(x), batch mean of the per-row sum
(s = --flips):
  rm           sum_i f(dE_i) over all d flips (n*d flipped rows materialised)
  uniform      (d/s) sum_t f(dE_t), s bits uniform with replacement
  gg-basic     (1/s) sum_t f(dE_t) / q(i_t), s bits ~ q with replacement
  gg-advanced  sum_t f(dE_t), s distinct bits ~ q
with the gradient-guided proposal q(i) proportional to f(-(2x-1)_i dF/dx_i) (stop-gradient);
  cd / pcd     F(x).mean() - F(x_k).mean(), x_k after k block-Gibbs steps (x -> h -> x) from the
               data (cd) or from persistent chains, one per row (pcd).
--mode ais: --ais-runs chains through --ais-temperatures block-Gibbs transitions of the
intermediate RBMs (Salakhutdinov & Murray 2008, base-rate model with the visible biases b),
in float64, returning log Z.

With --save-weights DIR the initial W, b, c and the batch x are written as .npy files, which
compare_rbm_step --weights DIR reads, so both sides can start from the same numbers.

Usage: /usr/bin/python3 benchmarks/compare_pytorch/torch_rbm_step.py --estimator gg-basic --threads 1
Prints one line of JSON on stdout.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

ESTIMATORS = ("rm", "uniform", "gg-basic", "gg-advanced", "cd", "pcd")
LEARNING_RATE = 1e-3
CLIP_NORM = 1.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("step", "ais"), default="step")
    parser.add_argument("--estimator", choices=ESTIMATORS, default="gg-basic")
    parser.add_argument("--visible", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--flips", type=int, default=10)
    parser.add_argument("--cd-steps", type=int, default=1)
    parser.add_argument("--ais-runs", type=int, default=100)
    parser.add_argument("--ais-temperatures", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20, help="timed units")
    parser.add_argument("--warmup", type=int, default=2, help="untimed units first")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop timing after this (3 units at least)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-weights", default=None, help="write W, b, c and x as .npy files here")
    args = parser.parse_args(argv)
    for name in ("visible", "hidden", "batch", "flips", "cd_steps", "ais_runs", "threads", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.ais_temperatures < 3:
        parser.error("--ais-temperatures must be at least 3")
    if args.estimator == "gg-advanced" and args.flips > args.visible:
        parser.error("gg-advanced draws --flips distinct bits: it must not exceed --visible")
    return args


def make_rbm(torch, visible, hidden):
    class RBM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.W = torch.nn.Parameter(0.01 * torch.randn(hidden, visible))
            self.b = torch.nn.Parameter(torch.zeros(visible))
            self.c = torch.nn.Parameter(torch.zeros(hidden))

        def forward(self, x):  # the free energy F(x), one value per row
            return -x @ self.b - torch.nn.functional.softplus(x @ self.W.t() + self.c).sum(1)

        def sample_h(self, x):
            return torch.bernoulli(torch.sigmoid(x @ self.W.t() + self.c))

        def sample_x(self, h):
            return torch.bernoulli(torch.sigmoid(h @ self.W + self.b))

    return RBM()


def with_flips(torch, x, bits):
    """Rows [x; x_r with bit bits[r, t] flipped for every r, t] as one (n + n*k) x d batch."""
    n, d = x.shape
    k = bits.shape[1]
    flipped = x.unsqueeze(1).expand(n, k, d).clone()
    index = bits.unsqueeze(2)
    flipped.scatter_(2, index, 1 - flipped.gather(2, index))
    return torch.cat([x, flipped.view(n * k, d)])


def log_f(torch, delta):
    """log of Hyvarinen's f(dE) = sigmoid(-dE)^2."""
    return -2 * torch.nn.functional.softplus(delta)


def ratio_matching_loss(torch, model, x, estimator, flips):
    n, d = x.shape
    if estimator == "rm":
        bits = torch.arange(d).expand(n, d)
    elif estimator == "uniform":
        bits = torch.randint(d, (n, flips))
    else:
        xg = x.detach().clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(model(xg).sum(), xg)
        log_q = torch.log_softmax(log_f(torch, -(2 * x - 1) * gradient), dim=1)
        bits = torch.multinomial(log_q.exp(), flips, replacement=estimator == "gg-basic")
    energy = model(with_flips(torch, x, bits))
    base, flipped = energy[:n], energy[n:].view(n, -1)
    terms = torch.exp(log_f(torch, flipped - base.unsqueeze(1)))
    if estimator == "rm":
        return terms.sum(1).mean()
    if estimator == "uniform":
        return (d / flips) * terms.sum(1).mean()
    if estimator == "gg-basic":
        return (terms / log_q.gather(1, bits).exp()).sum(1).mean() / flips
    return terms.sum(1).mean()


def make_step(torch, model, x, args):
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    chains = [torch.bernoulli(torch.full_like(x, 0.5))]

    def contrastive_loss():
        with torch.no_grad():
            v = x if args.estimator == "cd" else chains[0]
            for _ in range(args.cd_steps):
                v = model.sample_x(model.sample_h(v))
            if args.estimator == "pcd":
                chains[0] = v
        return model(x).mean() - model(v).mean()

    def step():
        optimizer.zero_grad()
        if args.estimator in ("cd", "pcd"):
            loss = contrastive_loss()
        else:
            loss = ratio_matching_loss(torch, model, x, args.estimator, args.flips)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        return loss.item()

    return step


def ais_schedule(temperatures):
    """Salakhutdinov & Murray's proportions: [0, 0.5), [0.5, 0.9), [0.9, 1]."""
    first = max(1, temperatures * 1000 // 14500)
    second = max(1, temperatures * 4000 // 14500)
    third = temperatures - first - second
    return ([0.5 * k / first for k in range(first)] + [0.5 + 0.4 * k / second for k in range(second)] +
            [0.9 + 0.1 * k / third for k in range(third + 1)])


def make_ais(torch, model, args):
    W = model.W.detach().double()
    b = model.b.detach().double()
    c = model.c.detach().double()
    a = b.clone()  # base-rate visible biases
    betas = ais_schedule(args.ais_temperatures)
    softplus = torch.nn.functional.softplus

    def log_p_star(x, beta):
        return (1 - beta) * (x @ a) + beta * (x @ b) + softplus(beta * (x @ W.t() + c)).sum(1)

    def run():
        with torch.no_grad():
            x = torch.bernoulli(torch.sigmoid(a).expand(args.ais_runs, -1))
            log_w = torch.zeros(args.ais_runs, dtype=torch.float64)
            for previous, beta in zip(betas[:-1], betas[1:]):
                log_w += log_p_star(x, beta) - log_p_star(x, previous)
                h = torch.bernoulli(torch.sigmoid(beta * (x @ W.t() + c)))
                x = torch.bernoulli(torch.sigmoid((1 - beta) * a + beta * (b + h @ W)))
            log_z0 = args.hidden * torch.log(torch.tensor(2.0, dtype=torch.float64)) + softplus(a).sum()
            return (log_z0 + torch.logsumexp(log_w, 0) - torch.log(torch.tensor(float(args.ais_runs)))).item()

    return run


def main(argv=None):
    args = parse_args(argv)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    import torch  # after the thread pools are pinned

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = make_rbm(torch, args.visible, args.hidden)
    x = torch.bernoulli(torch.full((args.batch, args.visible), 0.3))
    if args.save_weights:
        import numpy as np

        os.makedirs(args.save_weights, exist_ok=True)
        for name, tensor in (("W", model.W), ("b", model.b), ("c", model.c), ("x", x)):
            np.save(os.path.join(args.save_weights, f"{name}.npy"), tensor.detach().numpy())
    work = make_ais(torch, model, args) if args.mode == "ais" else make_step(torch, model, x, args)
    values = [work() for _ in range(args.warmup)]
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        values.append(work())
        times.append(time.perf_counter() - start)
        if len(times) >= 3 and sum(times) >= args.max_seconds:
            break
    print(json.dumps({
        "side": "pytorch", "mode": args.mode, "estimator": args.estimator if args.mode == "step" else "ais",
        "visible": args.visible, "hidden": args.hidden, "batch": args.batch, "flips": args.flips,
        "threads": args.threads, "steps": len(times), "median_ms": statistics.median(times) * 1e3,
        "min_ms": min(times) * 1e3, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "value_first": values[0], "value_last": values[-1], "torch_version": torch.__version__,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
