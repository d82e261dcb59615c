"""The Python examples run (briefly) and print their results."""
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python")


def run(script, *args):
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args], capture_output=True, text=True,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_train_2spirals(tmp_path):
    pytest.importorskip("matplotlib")
    out = run("train_2spirals.py", "--iters", "20", "--samples", "200", "--out", str(tmp_path))
    assert "MMD (Hamming kernel)" in out and (tmp_path / "2spirals.png").exists()


def test_rbm_fashion_mnist(tmp_path):
    pytest.importorskip("matplotlib")
    if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
        pytest.skip("dataset-fashion-mnist is not installed")
    out = run("rbm_fashion_mnist.py", "--iters", "30", "--hidden", "8", "--out", str(tmp_path))
    assert "test log-likelihood" in out and (tmp_path / "filters.png").exists()
