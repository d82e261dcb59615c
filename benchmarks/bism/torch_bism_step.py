#!/usr/bin/env python3
"""One bi-level score matching update of a Gaussian-Bernoulli RBM in PyTorch, with autograd through
the unrolled posterior steps (the BiSM reference code's approach, with a differentiable Adam as its
`higher.innerloop_ctx`), and the same analytic expectations as ratiomatch's `BiSM`:

    grad  --dir DIR [--objective dsm|ssm] [--inner K] [--unroll N] [--lr L] [--noise-std S]
          the update from bism_step's init files (float64); compares the loss, the hypergradient
          and the posterior with bism_step grad's output in DIR, and prints the differences
    time  --visible D --hidden H --batch B [--iters T] [--threads 1] [--float]
          seconds per update (K = N = 5, DSM)

Uses /usr/bin/python3 with Debian's python3-torch and python3-numpy.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def lower_objective(A, a, W, c, x):
    """The negative ELBO up to terms without φ: mean_r Σ_j [μ (z − z*) − softplus(z)]."""
    z = x @ A.T + a
    mu = torch.sigmoid(z)
    z_star = x @ W.T + c
    return (mu * (z - z_star) - F.softplus(z)).sum(1).mean()


def upper_objective(W, b, c, s, A, a, x, r, objective):
    lam = torch.exp(-2 * s)
    mu = torch.sigmoid(x @ A.T + a)
    slope = mu * (1 - mu)
    score = -(x - b) * lam + mu @ W
    B = W - A
    if objective == "dsm":
        e = score - r
        return (0.5 * (e ** 2).sum(1) + 0.5 * slope @ (B ** 2).sum(1)).mean()
    u = r
    p = (u * score).sum(1)
    beta, alpha = u @ B.T, u @ A.T
    return (0.5 * p ** 2 + (slope * (0.5 * beta ** 2 + alpha ** 2)).sum(1) - (u ** 2 * lam).sum(1)).mean()


def update(theta, phi, V, E, o):
    """K Adam steps on φ (no graph), then N differentiable Adam steps, J at φ_N, dJ/dθ."""
    W, b, c, s = theta
    A, a = [p.detach().clone() for p in phi]
    if o.objective == "dsm":
        x, r = V + o.noise_std * E, -E / o.noise_std
    else:
        x, r = V, E
    b1, b2, eps = 0.9, 0.95, 1e-8
    m = [torch.zeros_like(A), torch.zeros_like(a)]
    v = [torch.zeros_like(A), torch.zeros_like(a)]
    step = 0
    for _ in range(o.inner):  # ordinary steps: the posterior's persistent optimizer
        A.requires_grad_(True)
        a.requires_grad_(True)
        g = torch.autograd.grad(lower_objective(A, a, W.detach(), c.detach(), x), (A, a))
        step += 1
        with torch.no_grad():
            new = []
            for k, (p, gk) in enumerate(zip((A, a), g)):
                m[k] = b1 * m[k] + (1 - b1) * gk
                v[k] = b2 * v[k] + (1 - b2) * gk * gk
                new.append(p - o.lr * (m[k] / (1 - b1 ** step)) / ((v[k] / (1 - b2 ** step)).sqrt() + eps))
        A, a = new
    phi_after_inner = (A.detach().clone(), a.detach().clone())
    fast = [A.detach().requires_grad_(True), a.detach().requires_grad_(True)]
    mm, vv, t = [x_.clone() for x_ in m], [x_.clone() for x_ in v], step
    for _ in range(o.unroll):  # differentiable steps: the graph reaches θ through every gradient
        g = torch.autograd.grad(lower_objective(fast[0], fast[1], W, c, x), fast, create_graph=True)
        t += 1
        nxt = []
        for k in range(2):
            mm[k] = b1 * mm[k] + (1 - b1) * g[k]
            vv[k] = b2 * vv[k] + (1 - b2) * g[k] * g[k]
            nxt.append(fast[k] - o.lr * (mm[k] / (1 - b1 ** t)) / ((vv[k] / (1 - b2 ** t)).sqrt() + eps))
        fast = nxt
    J = upper_objective(W, b, c, s, fast[0], fast[1], x, r, o.objective)
    # With N = 0, c does not reach J (it enters only through the posterior): its gradient is zero.
    grads = torch.autograd.grad(J, (W, b, c, s), allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip((W, b, c, s), grads)]
    return J.detach(), grads, phi_after_inner


def load(dir_, name):
    return torch.from_numpy(np.load(Path(dir_) / f"{name}.npy"))


def grad_mode(o):
    torch.set_default_dtype(torch.float64)
    W, b, c, s = (load(o.dir, n).requires_grad_(True) for n in "Wbcs")
    A, a, V, E = (load(o.dir, n) for n in ("A", "a", "V", "E"))
    J, grads, phi = update((W, b, c, s), (A, a), V, E, o)
    ours_grad = np.load(Path(o.dir) / "grad.npy")
    ours_loss = float(np.load(Path(o.dir) / "loss.npy")[0])
    ours_phi = np.load(Path(o.dir) / "phi.npy")
    torch_grad = torch.cat([g.reshape(-1) for g in grads]).numpy()
    torch_phi = torch.cat([p.reshape(-1) for p in phi]).numpy()
    rel = lambda x, y: float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-300))
    print(f"{o.objective} K={o.inner} N={o.unroll}: loss {ours_loss:.12g} vs {float(J):.12g} "
          f"(rel {abs(ours_loss - float(J)) / abs(float(J)):.1e}); gradient rel {rel(ours_grad, torch_grad):.1e}; "
          f"posterior after K steps rel {rel(ours_phi, torch_phi):.1e}; |grad| {np.linalg.norm(torch_grad):.4g}")


def time_mode(o):
    torch.set_num_threads(o.threads)
    torch.set_default_dtype(torch.float32 if o.float else torch.float64)
    gen = torch.Generator().manual_seed(1)
    W = (0.01 * torch.randn(o.hidden, o.visible, generator=gen)).requires_grad_(True)
    b = torch.zeros(o.visible, requires_grad=True)
    c = torch.zeros(o.hidden, requires_grad=True)
    s = torch.zeros(o.visible, requires_grad=True)
    bound = 1 / o.visible ** 0.5
    A = (torch.rand(o.hidden, o.visible, generator=gen) * 2 - 1) * bound
    a = (torch.rand(o.hidden, generator=gen) * 2 - 1) * bound
    V = torch.rand(o.batch, o.visible, generator=gen)
    update((W, b, c, s), (A, a), V, torch.randn(o.batch, o.visible, generator=gen), o)  # warm-up
    start = time.perf_counter()
    for _ in range(o.iters):
        update((W, b, c, s), (A, a), V, torch.randn(o.batch, o.visible, generator=gen), o)
    seconds = (time.perf_counter() - start) / o.iters
    print(f"torch bism-{o.objective} K={o.inner} N={o.unroll} visible={o.visible} hidden={o.hidden} "
          f"batch={o.batch} {'float' if o.float else 'double'} threads={o.threads}: {1e3 * seconds:.3f} ms per update")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["grad", "time"])
    ap.add_argument("--dir", default="out/bism_step")
    ap.add_argument("--objective", default="dsm", choices=["dsm", "ssm"])
    ap.add_argument("--inner", type=int, default=5)
    ap.add_argument("--unroll", type=int, default=5)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--noise-std", type=float, default=0.05)
    ap.add_argument("--visible", type=int, default=784)
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--float", action="store_true")
    o = ap.parse_args()
    grad_mode(o) if o.mode == "grad" else time_mode(o)


if __name__ == "__main__":
    main()
