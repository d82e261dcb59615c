#!/usr/bin/env python3
"""Checks the log Z estimates behind docs/results/fashion_mnist.md, from the trained parameters.

1. A certain lower bound of log Z for every run: Z ≥ exp(−E(x)) for any state x, so log Z is at
   least the largest −E(x) over the training images and over model samples (--chains chains,
   block Gibbs for an RBM, single-site Gibbs for the MLP energy). For an RBM also
   Z = Σ_h exp(f(h)) ≥ exp(f(h)) for any hidden state, f(h) = cᵀh + Σ_i softplus(b_i + W_{:,i}·h),
   and greedy coordinate ascent on f from many hidden states (random ones, the data's and the
   samples') finds modes that neither the Gibbs chains nor AIS visit. An AIS estimate below this
   bound is wrong, and mean(−E(test)) − bound is a certain upper bound of the test log-likelihood.
2. For the MLP energy, single-site AIS with more and more distributions: an AIS estimate is a
   stochastic lower bound of log Z; if it keeps rising, it has not converged.

Writes docs/results/fashion_mnist/{run}_checks.json, read by scripts/fashion_mnist.py.

Usage (needs the Python module, built by scripts/test.sh into build/python):
  PYTHONPATH=build/python /usr/bin/python3 scripts/fashion_mnist_checks.py out/fashion_mnist/h500_gg-basic ...
"""
import argparse
import json
import os
import time

import numpy as np

import ratiomatch as rm

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "docs", "results", "fashion_mnist")


def load_model(run):
    """The trained model of a train_rbm output folder, from summary.json and params/*.npy."""
    with open(os.path.join(run, "summary.json")) as f:
        summary = json.load(f)
    params = os.path.join(run, "params")
    if summary.get("model", "rbm") == "mlp":
        hidden = summary["mlp_hidden"]
        model = rm.MlpEnergy(784, hidden, activation="learnable-swish", dtype=np.float32)
        tensors = []
        for layer in range(len(hidden) + 1):
            tensors += [np.load(os.path.join(params, f"layer{layer}.{name}.npy")).ravel() for name in ("weight", "bias")]
        tensors.append(np.load(os.path.join(params, "swish_beta.npy")).ravel())
    else:
        model = rm.BernoulliRBM(784, summary["hidden"], dtype=np.float32)
        tensors = [np.load(os.path.join(params, f"{name}.npy")).ravel() for name in ("W", "b", "c")]
    model.params[:] = np.concatenate(tensors)
    return model, summary


def binarised(data_dir, split):
    name = "train-images-idx3-ubyte.gz" if split == "train" else "t10k-images-idx3-ubyte.gz"
    images = np.asarray(rm.read_idx_images(os.path.join(data_dir, name)))
    return (images.reshape(len(images), -1) >= 128).astype(np.float32)


def softplus(a):
    return np.logaddexp(0.0, a)


def hidden_mode_search(model, starts, sweeps=50):
    """The largest f(h) = cᵀh + Σ_i softplus(b_i + W_{:,i}·h) that greedy coordinate ascent reaches
    from the rows of `starts` (binary, n × hidden); each accepted flip raises f, so it stops."""
    W = model.weight.astype(np.float64)
    b = model.visible_bias.astype(np.float64)
    c = model.hidden_bias.astype(np.float64)
    H = starts.astype(np.float64).copy()
    A = H @ W + b
    for _ in range(sweeps):
        changed = False
        for j in range(W.shape[0]):
            sign = 1 - 2 * H[:, j]
            proposal = A + sign[:, None] * W[j]
            gain = sign * c[j] + (softplus(proposal) - softplus(A)).sum(1)
            take = gain > 1e-9
            if take.any():
                H[take, j] = 1 - H[take, j]
                A[take] = proposal[take]
                changed = True
        if not changed:
            break
    return float((H @ c + softplus(A).sum(1)).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="train_rbm output folders (with summary.json and params/)")
    parser.add_argument("--chains", type=int, default=500)
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--ais-multiples", default="20,100,500",
                        help="MLP: AIS distributions as multiples of d = 784")
    parser.add_argument("--ais-runs", type=int, default=20, help="MLP: AIS runs per estimate")
    args = parser.parse_args()
    train, test = binarised(args.data_dir, "train"), binarised(args.data_dir, "test")
    p = (train.sum(0) + 1) / (train.shape[0] + 2)  # smoothed marginals: the base-rate model
    base = np.log(p / (1 - p)).astype(np.float32)
    for run in args.runs:
        name = os.path.basename(os.path.normpath(run))
        model, summary = load_model(run)
        is_mlp = summary.get("model", "rbm") == "mlp"
        start = time.time()
        if is_mlp:
            samples = rm.GibbsSampler().sample(model, args.chains, 100, rm.Engine(17))
        else:
            samples = rm.BlockGibbsSampler().sample(model, args.chains, 1000, rm.Engine(17))
        best_sample = float(-model.energy(samples).min())
        best_train = float(-model.energy(train).min())
        bound = max(best_sample, best_train)
        best_hidden = None
        if not is_mlp:  # hidden modes from random states, the data's and the samples' hidden activations
            engine = np.random.default_rng(31)
            starts = np.vstack([
                engine.random((200, summary["hidden"])) < 0.5,
                model.hidden_probabilities(train[engine.choice(len(train), 200, replace=False)]) > 0.5,
                model.hidden_probabilities(samples[:200]) > 0.5,
            ])
            best_hidden = hidden_mode_search(model, starts)
            bound = max(bound, best_hidden)
        mean_test = float(-model.energy(test).astype(np.float64).mean())
        record = {
            "run": name,
            "log_partition_reported": summary["log_partition"],
            "log_partition_reported_stderr": summary.get("log_partition_stderr", 0.0),
            "log_partition_lower_bound": bound,
            "lower_bound_from": ("hidden mode search" if best_hidden is not None and best_hidden >= bound
                                 else "model samples" if best_sample >= best_train else "training images"),
            "largest_hidden_mode": best_hidden,
            "largest_negative_energy_samples": best_sample,
            "largest_negative_energy_train": best_train,
            "test_log_likelihood_reported": summary["test_log_likelihood"],
            "test_log_likelihood_upper_bound": mean_test - bound,
            "sample_chains": args.chains,
            "sample_steps": 100 if is_mlp else 1000,
            "seconds": time.time() - start,
        }
        if is_mlp:
            record["ais"] = []
            for multiple in (int(m) for m in args.ais_multiples.split(",")):
                t = time.time()
                e = rm.annealed_log_partition_single_site(model, base, runs=args.ais_runs,
                                                          temperatures=multiple * 784, engine=rm.Engine(multiple))
                w = np.exp(np.array(e["log_weights"]) - max(e["log_weights"]))
                record["ais"].append({"temperatures": multiple * 784, "runs": args.ais_runs,
                                      "log_partition": e["log_partition"], "standard_error": e["standard_error"],
                                      "largest_weight_share": float(w.max() / w.sum()), "seconds": time.time() - t})
        with open(os.path.join(RESULTS, f"{name}_checks.json"), "w") as f:
            json.dump(record, f, indent=2)
        print(f"{name}: log Z reported {record['log_partition_reported']:.1f}, certain lower bound {bound:.1f} "
              f"({record['lower_bound_from']}); test LL reported {summary['test_log_likelihood']:.1f}, "
              f"certain upper bound {record['test_log_likelihood_upper_bound']:.1f}", flush=True)


if __name__ == "__main__":
    main()
