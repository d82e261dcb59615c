#!/usr/bin/env python3
"""PyTorch reference side of the ratiomatch / PyTorch performance comparison.

Times one training step of a binary energy-based model learned by ratio matching, written
the way the public PyTorch code of RMwGGIS (Liu, Liu & Ji, ICLR 2023) does it, or one
batched systematic-scan Gibbs sample of the same model.

Model: MLP d -> 256 -> 256 -> 256 -> 1, SiLU after every hidden layer (torch.nn.Linear,
default initialisation), float32, Adam(lr=1e-4), gradient norm clipped to 1.0.
A step is zero_grad, loss, backward, clip, optimizer.step on a fixed random binary batch.

Estimators (squared ratio f(dE) = exp(-2 dE), dE_i = E(x with bit i flipped) - E(x), batch
mean of the per-row objective; s = --flips):
  rm           sum_i exp(2 (E(x) - E(x_-i))) over all d flips (n*d flipped rows materialised)
  uniform      (d/s) sum_t r_t^2, s bits uniform with replacement
  gg-basic     (1/s) sum_t r_t^2 / n(i_t), s bits ~ n with replacement
  gg-advanced  sum_t r_t^2, s distinct bits ~ n
with the gradient-guided proposal n = softmax(2 (2x-1) * grad_x E(x)) held fixed
(stop-gradient). Base and flipped rows go through the network in one call.

Usage (needs torch, e.g. Debian's python3-torch; run it with /usr/bin/python3):
  /usr/bin/python3 benchmarks/compare_pytorch/torch_step.py --mode step --estimator gg-basic \
      --dim 32 --batch 128 --threads 1
  /usr/bin/python3 benchmarks/compare_pytorch/torch_step.py --mode gibbs --dim 32 --chains 4000

Prints one line of JSON on stdout (see `report`).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

HIDDEN = 256
DEPTH = 3  # hidden layers
LEARNING_RATE = 1e-4
CLIP_NORM = 1.0
ESTIMATORS = ("rm", "uniform", "gg-basic", "gg-advanced")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("step", "gibbs"), default="step")
    parser.add_argument("--estimator", choices=ESTIMATORS, default="gg-basic")
    parser.add_argument("--dim", type=int, default=32, help="number of bits d")
    parser.add_argument("--batch", type=int, default=128, help="training batch size n")
    parser.add_argument("--flips", type=int, default=10, help="flips s per row (sampled estimators)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads")
    parser.add_argument("--steps", type=int, default=30, help="timed steps (gibbs: timed samples)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chains", type=int, default=4000, help="gibbs: parallel chains")
    parser.add_argument("--sweeps", type=int, default=20, help="gibbs: sweeps per sample")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop once the timed steps took this long (at least 3 timed steps)")
    args = parser.parse_args(argv)
    for name in ("dim", "batch", "flips", "threads", "steps", "chains", "sweeps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be positive")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.mode == "step" and args.estimator == "gg-advanced" and args.flips > args.dim:
        parser.error("gg-advanced draws --flips distinct bits: it must not exceed --dim")
    return args


def limit_threads(threads):
    """Pins the BLAS/OpenMP thread pools; must run before torch is imported."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)


# ---------------------------------------------------------------------------------------------
# Floating-point operation counts


def layer_shapes(dim):
    """(inputs, outputs) of every nn.Linear of the energy network."""
    widths = [dim] + [HIDDEN] * DEPTH + [1]
    return list(zip(widths[:-1], widths[1:]))


def forward_macs(dim):
    """Multiply-adds of the matrix products of one row's forward pass: sum of in*out."""
    return sum(i * o for i, o in layer_shapes(dim))


def training_flops(dim, rows):
    """Flops of forward + backward of `rows` rows whose input does not require a gradient.

    Forward: every layer (sum in*out per row). Backward: the weight-gradient product of every
    layer (sum in*out again) and the input-delta product of every layer except the first one
    (sum in*out - d*256). Total 2 * rows * (3 * sum in*out - d*256), 2 flops per multiply-add.
    """
    macs = forward_macs(dim)
    first = layer_shapes(dim)[0]
    return 2 * rows * (3 * macs - first[0] * first[1])


def input_gradient_flops(dim, rows):
    """Flops of grad_x E at `rows` rows: forward, then input deltas of every layer (first too);
    no weight gradients. 2 * rows * 2 * sum in*out."""
    return 2 * rows * 2 * forward_macs(dim)


def step_flops(estimator, dim, batch, flips):
    """Flops of one training step (matrix products only).

    rm:        training_flops(d, n (1 + d))
    uniform:   training_flops(d, n (1 + s))
    gg-*:      training_flops(d, n (1 + s)) + input_gradient_flops(d, n)
    """
    flipped_rows = batch * (dim if estimator == "rm" else flips)
    flops = training_flops(dim, batch + flipped_rows)
    if estimator.startswith("gg"):
        flops += input_gradient_flops(dim, batch)
    return flops


def gibbs_flops(dim, chains, sweeps):
    """Flops of one Gibbs sample: per sweep and bit, forwards of 2 * chains rows.
    2 * sweeps * d * 2 * chains * sum in*out."""
    return 2 * sweeps * dim * 2 * chains * forward_macs(dim)


# ---------------------------------------------------------------------------------------------
# Model, estimators, sampler (torch is imported by `main` after the thread pools are pinned)


def energy_network(torch, dim):
    """MLP d -> 256 -> 256 -> 256 -> 1 with SiLU after every hidden layer; output E(x)."""
    layers = []
    for inputs, outputs in layer_shapes(dim)[:-1]:
        layers += [torch.nn.Linear(inputs, outputs), torch.nn.SiLU()]
    layers.append(torch.nn.Linear(HIDDEN, 1))
    return torch.nn.Sequential(*layers)


def with_flips(torch, x, bits):
    """Rows [x; x_r with bit bits[r, t] flipped for every r, t] as one (n + n*k) x d batch;
    flipped row of (r, t) at n + r*k + t."""
    n, d = x.shape
    k = bits.shape[1]
    rows = torch.empty(n + n * k, d, dtype=x.dtype)
    rows[:n] = x
    flipped = rows[n:].view(n, k, d)
    flipped.copy_(x.unsqueeze(1).expand(n, k, d))
    index = bits.unsqueeze(2)
    flipped.scatter_(2, index, 1 - flipped.gather(2, index))
    return rows


def flip_energies(torch, model, x, bits):
    """E(x) (n) and E of the flipped rows (n x k) from one network call."""
    n, k = bits.shape
    energy = model(with_flips(torch, x, bits)).view(-1)
    return energy[:n], energy[n:].view(n, k)


def log_proposal(torch, model, x):
    """log n(i | x) = log_softmax(2 (2x - 1) * grad_x E(x)), detached (stop-gradient)."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (gradient,) = torch.autograd.grad(model(x).sum(), x)
    return torch.log_softmax(2 * (2 * x.detach() - 1) * gradient, dim=1)


def estimator_loss(torch, model, x, estimator, flips):
    """Batch-mean ratio-matching loss of `estimator` (differentiable in the parameters)."""
    n, d = x.shape
    if estimator == "rm":
        bits = torch.arange(d).expand(n, d)
        base, flipped = flip_energies(torch, model, x, bits)
        return torch.exp(2 * (base.unsqueeze(1) - flipped)).sum(1).mean()
    if estimator == "uniform":
        bits = torch.randint(d, (n, flips))
        base, flipped = flip_energies(torch, model, x, bits)
        return (d / flips) * torch.exp(2 * (base.unsqueeze(1) - flipped)).sum(1).mean()
    log_n = log_proposal(torch, model, x)
    basic = estimator == "gg-basic"
    bits = torch.multinomial(log_n.exp(), flips, replacement=basic)
    base, flipped = flip_energies(torch, model, x, bits)
    log_ratio_sq = 2 * (base.unsqueeze(1) - flipped)
    if basic:
        return torch.exp(log_ratio_sq - log_n.gather(1, bits)).sum(1).mean() / flips
    return torch.exp(log_ratio_sq).sum(1).mean()


def make_step(torch, model, x, estimator, flips):
    """One optimisation step as a closure returning the loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    def step():
        optimizer.zero_grad()
        loss = estimator_loss(torch, model, x, estimator, flips)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        return loss.item()

    return step


def gibbs_sample(torch, model, dim, chains, sweeps):
    """Systematic-scan Gibbs from uniform random bits: for every bit in order, E with the bit
    set to 0 and to 1 (one call on 2*chains rows), p(bit = 1) = sigmoid(E0 - E1)."""
    x = torch.randint(2, (chains, dim)).float()
    with torch.no_grad():
        for _ in range(sweeps):
            for i in range(dim):
                pair = torch.cat([x, x])
                pair[:chains, i] = 0
                pair[chains:, i] = 1
                energy = model(pair).view(2, chains)
                x[:, i] = torch.bernoulli(torch.sigmoid(energy[0] - energy[1]))
    return x


def make_gibbs(torch, model, dim, chains, sweeps):
    """One whole Gibbs sample as a closure returning the mean bit (a sanity value)."""
    return lambda: gibbs_sample(torch, model, dim, chains, sweeps).mean().item()


# ---------------------------------------------------------------------------------------------
# Timing and report


def timed_run(work, warmup, steps, max_seconds):
    """Runs `work` warmup times, then up to `steps` timed times (stopping early once
    `max_seconds` of timed work is spent, but after at least 3 timed runs).
    Returns (per-run seconds, first value, last value)."""
    values = [work() for _ in range(warmup)]
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        values.append(work())
        times.append(time.perf_counter() - start)
        if max_seconds is not None and len(times) >= 3 and sum(times) >= max_seconds:
            break
    return times, values[0], values[-1]


def blas_gflops(torch, rows=1024, inner=256, cols=256, seconds=0.3):
    """GFLOP/s of torch.matmul on float32 (rows x inner) @ (inner x cols) at the current thread
    count: the best of 5 timed batches of calls."""
    a, b = torch.randn(rows, inner), torch.randn(inner, cols)
    calls = 1
    while True:  # size a batch to take about seconds / 5
        start = time.perf_counter()
        for _ in range(calls):
            torch.matmul(a, b)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 5:
            break
        calls *= 2
    best = min(_time_calls(torch.matmul, a, b, calls) for _ in range(5))
    return 2 * rows * inner * cols / best / 1e9


def _time_calls(fn, a, b, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn(a, b)
    return (time.perf_counter() - start) / calls


def report(args, torch, times, flops, loss_first, loss_last, blas):
    """The JSON record of one run. Times are per step (gibbs: per whole sample); loss_first is
    the loss of the first step run (warm-up included), loss_last of the last one (gibbs: the
    mean bit of the first and last sample)."""
    median = statistics.median(times)
    return {
        "side": "pytorch",
        "mode": args.mode,
        "estimator": args.estimator,
        "dim": args.dim,
        "batch": args.batch,
        "flips": args.flips,
        "threads": args.threads,
        "steps": len(times),
        "median_ms": median * 1e3,
        "min_ms": min(times) * 1e3,
        "flops_per_step": flops,
        "gflops": flops / median / 1e9,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loss_first": loss_first,
        "loss_last": loss_last,
        "torch_version": torch.__version__,
        "blas_gflops_1024x256x256": blas,
        "chains": args.chains,
        "sweeps": args.sweeps,
    }


def main(argv=None):
    args = parse_args(argv)
    limit_threads(args.threads)
    import torch  # noqa: E402  (after the thread pools are pinned)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = energy_network(torch, args.dim)
    if args.mode == "gibbs":
        work = make_gibbs(torch, model, args.dim, args.chains, args.sweeps)
        flops = gibbs_flops(args.dim, args.chains, args.sweeps)
    else:
        x = torch.bernoulli(torch.full((args.batch, args.dim), 0.5))
        work = make_step(torch, model, x, args.estimator, args.flips)
        flops = step_flops(args.estimator, args.dim, args.batch, args.flips)
    times, first, last = timed_run(work, args.warmup, args.steps, args.max_seconds)
    blas = blas_gflops(torch)
    print(json.dumps(report(args, torch, times, flops, first, last, blas)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
