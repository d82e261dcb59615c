#!/usr/bin/env python3
"""Train a small Bernoulli RBM on Fashion-MNIST (784 bits, Debian's dataset-fashion-mnist) by
CD-1, PCD-1, exact ratio matching or gradient-guided ratio matching from Python; report the exact test log-likelihood (16 hidden
units: log Z by summing over the hidden layer) against the base-rate model, check it with AIS, save
the filters, and hand the weights to PyTorch.

Usage: PYTHONPATH=build/python /usr/bin/python3 examples/python/rbm_fashion_mnist.py [--estimator cd|pcd|rm|gg] [--iters 2000]

At 2,000 updates of 100 images, CD-1 reaches about -325 nats per test image against the base
rate's -383 (about 30 s); gradient-guided ratio matching with 16 hidden units stays below the
base rate at this budget (docs/results: it needs many more updates on this data).
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ratiomatch as rm  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--estimator", choices=["cd", "pcd", "rm", "gg"], default="cd")
parser.add_argument("--iters", type=int, default=2000)
parser.add_argument("--hidden", type=int, default=16)
parser.add_argument("--out", default="out/python_rbm")
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)

train = rm.read_fashion_mnist("train", dtype=np.float32)  # (60000, 784), pixel >= 128
test = rm.read_fashion_mnist("test", dtype=np.float32)
engine = rm.Engine(1)

rbm = rm.BernoulliRBM(784, args.hidden, dtype=np.float32)
rbm.initialize(engine)
rbm.set_visible_bias_from_data(train)  # start at the base-rate model
base_bias = rbm.visible_bias.copy()
base_rate = np.mean(test @ base_bias - np.sum(np.logaddexp(0, base_bias)))  # independent bits, nats per image

estimator = {
    "cd": lambda: rm.ContrastiveDivergence(1, "block"),
    "pcd": lambda: rm.PersistentContrastiveDivergence(100, 1, "block"),
    "rm": lambda: rm.RatioMatching("hyvarinen"),
    "gg": lambda: rm.GradientGuidedRM(50, "advanced", objective="hyvarinen"),
}[args.estimator]()
adam = rm.Adam(rbm, lr=1e-3)
trainer = rm.Trainer(rbm, estimator, adam, iterations=args.iters, log_every=100, progress=True)


def next_batch(e):
    # 100 training rows chosen by the engine (so the run repeats exactly from its seed)
    picks = [e.next() % len(train) for _ in range(100)]
    return train[picks]


result = trainer.run(next_batch, engine)
log_z = rbm.log_partition()  # exact: 2^hidden terms
test_ll = -np.mean(rbm.energy(test)) - log_z
ais = rm.annealed_log_partition(rbm, base_bias, runs=100, temperatures=2000, engine=rm.Engine(2))
print(f"{result['iterations']} updates in {result['wall_seconds']:.1f} s")
print(f"test log-likelihood {test_ll:.2f} nats per image (base rate {base_rate:.2f}); "
      f"log Z exact {log_z:.3f}, AIS {ais['log_partition']:.3f} +- {ais['standard_error']:.3f}")

fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for ax, w in zip(axes.ravel(), rbm.weight):
    ax.imshow(w.reshape(28, 28), cmap="gray")
    ax.axis("off")
fig.savefig(os.path.join(args.out, "filters.png"), dpi=80)
print(f"filters: {os.path.join(args.out, 'filters.png')}")

try:  # the weights in PyTorch: p(h | x) = sigmoid(x W^T + c)
    import torch

    linear = torch.nn.Linear(784, args.hidden)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(np.array(rbm.weight)))
        linear.bias.copy_(torch.from_numpy(np.array(rbm.hidden_bias)))
    p_torch = torch.sigmoid(linear(torch.from_numpy(test[:5]))).detach().numpy()
    print("p(h | x) from PyTorch equals ratiomatch's:", np.allclose(p_torch, rbm.hidden_probabilities(test[:5]), atol=1e-6))
except ImportError:
    pass
