#!/usr/bin/env python3
"""Train an energy model on 2spirals coded as 32 bits (the RMwGGIS synthetic experiment) from
Python, then plot the data, the model's samples and its energy with matplotlib.

Usage: PYTHONPATH=build/python /usr/bin/python3 examples/python/train_2spirals.py [--iters 3000] [--out out/python]
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ratiomatch as rm  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--iters", type=int, default=3000)
parser.add_argument("--out", default="out/python")
parser.add_argument("--samples", type=int, default=4000, help="model and data samples for the MMD")
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)

# The data: 2-D points, Gray-coded as 32 bits (16 per coordinate).
engine = rm.Engine(1)
encoder = rm.GrayCodeEncoder.fit(32, rm.sample_toy2d("2spirals", 5000, engine))

# The paper's network and recipe, with Hyvarinen's objective (consistent: the model is the data's p).
model = rm.MlpEnergy(32, [256, 256, 256], activation="learnable-swish", dtype=np.float32)
model.initialize(engine)
estimator = rm.GradientGuidedRM(10, "advanced", objective="hyvarinen")
adam = rm.Adam(model, lr=5e-4, weight_decay=1e-4)
trainer = rm.Trainer(model, estimator, adam, iterations=args.iters, log_every=100, out_dir=args.out, progress=True)
result = trainer.run(lambda e: encoder.encode(rm.sample_toy2d("2spirals", 128, e), dtype=np.float32), engine)
print(f"{result['iterations']} updates in {result['wall_seconds']:.1f} s, final loss {result['final_loss']:.4f}")

# Evaluate: 4000 Gibbs samples (20 sweeps from uniform bits) against 4000 data points.
samples = rm.GibbsSampler().sample(model, args.samples, 20, rm.Engine(2))
data = rm.sample_toy2d("2spirals", args.samples, rm.Engine(3))
print(f"MMD (Hamming kernel): {rm.mmd_squared(samples, encoder.encode(data, dtype=np.float32)):.5f}")

# Pictures: data, decoded samples, and exp(-E) on a grid of the plane.
points = encoder.decode(samples)
side = np.linspace(-4.5, 4.5, 200)
grid = np.array([[x, y] for y in side[::-1] for x in side])
energy = model.energy(encoder.encode(grid, dtype=np.float32)).reshape(200, 200)
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
axes[0].scatter(data[:, 0], data[:, 1], s=1, c="k")
axes[0].set_title("data")
axes[1].scatter(points[:, 0], points[:, 1], s=1, c="tab:red")
axes[1].set_title("model samples (Gibbs)")
axes[2].imshow(np.exp(-(energy - energy.min())), extent=(-4.5, 4.5, -4.5, 4.5), cmap="viridis")
axes[2].set_title("exp(-E)")
for ax in axes:
    ax.set_xlim(-4.5, 4.5)
    ax.set_ylim(-4.5, 4.5)
    ax.set_aspect("equal")
fig.tight_layout()
fig.savefig(os.path.join(args.out, "2spirals.png"), dpi=100)
print(f"picture: {os.path.join(args.out, '2spirals.png')}")
