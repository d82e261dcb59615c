"""Training from Python: the same run as the C++ example, bit for bit; resume; evaluator; errors."""
import csv
import os
import subprocess
import sys

import numpy as np
import pytest

import ratiomatch as rm


def losses(path):
    with open(path) as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def synthetic_run_in_python(seed, iterations, out_dir, hidden=(32, 32)):
    """train_synthetic's setup, step for step: the encoder and the initial weights from Engine(seed),
    the training engine seeded as the example does, batches of 128 drawn from it."""
    setup = rm.Engine(seed)
    encoder = rm.GrayCodeEncoder.fit(32, rm.sample_toy2d("2spirals", 5000, setup))
    model = rm.MlpEnergy(32, list(hidden), activation="learnable-swish", dtype=np.float32)
    model.initialize(setup)
    adam = rm.Adam(model, lr=5e-4, weight_decay=1e-4)
    estimator = rm.GradientGuidedRM(10, "advanced", "squared")
    trainer = rm.Trainer(model, estimator, adam, iterations=iterations, clip_norm=1.0, log_every=1,
                         checkpoint_every=0, out_dir=str(out_dir))
    engine = rm.Engine((seed * 2654435761 + 17) % 2**64)
    result = trainer.run(lambda e: encoder.encode(rm.sample_toy2d("2spirals", 128, e), dtype=np.float32), engine)
    return result, model


def test_a_python_training_equals_the_same_training_in_cpp(tmp_path):
    binary = os.environ.get("RATIOMATCH_TRAIN_SYNTHETIC")
    if not binary:
        pytest.skip("RATIOMATCH_TRAIN_SYNTHETIC (the path of examples/train_synthetic) is not set")
    # Both sides on one thread: the estimators' batch sums are split over the OpenMP threads, and
    # PyTorch (imported by other tests of this process) changes the thread count.
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cpp_out = tmp_path / "cpp"
    subprocess.run([binary, "--data", "2spirals", "--estimator", "gg-advanced", "--objective", "squared",
                    "--iters", "200", "--log-every", "1", "--checkpoint-every", "0", "--hidden", "32,32",
                    "--seed", "3", "--no-mmd", "--grid-size", "4", "--image-size", "16", "--out", str(cpp_out)],
                   check=True, capture_output=True, env=env)
    subprocess.run([sys.executable, __file__, "3", "200", str(tmp_path / "py")], check=True, env=env)
    cpp, py = losses(cpp_out / "log.csv"), losses(tmp_path / "py" / "log.csv")
    assert len(py) == len(cpp) == 200
    assert py == cpp  # the same loss trace, exactly
    # The example's params/*.npy are the trained tensors with PyTorch's names and shapes, in params() order.
    params = cpp_out / "params"
    shapes = {"layer0.weight": (32, 32), "layer0.bias": (32,), "layer1.weight": (32, 32), "layer1.bias": (32,),
              "layer2.weight": (1, 32), "layer2.bias": (1,), "swish_beta": ()}
    tensors = {name: np.load(params / f"{name}.npy") for name in shapes}
    assert {name: t.shape for name, t in tensors.items()} == shapes
    assert all(t.dtype == np.float32 for t in tensors.values())
    flat = np.concatenate([t.ravel() for t in tensors.values()])
    np.testing.assert_array_equal(flat, np.load(tmp_path / "py" / "params.npy"))


def test_a_resumed_python_run_equals_an_uninterrupted_one(tmp_path):
    full, model_full = synthetic_run_in_python(4, 60, tmp_path / "full", hidden=(16,))

    setup = rm.Engine(4)
    encoder = rm.GrayCodeEncoder.fit(32, rm.sample_toy2d("2spirals", 5000, setup))
    batches = lambda e: encoder.encode(rm.sample_toy2d("2spirals", 128, e), dtype=np.float32)  # noqa: E731

    def make(iterations):
        model = rm.MlpEnergy(32, [16], activation="learnable-swish", dtype=np.float32)
        model.initialize(rm.Engine(99))  # overwritten by the checkpoint on resume
        adam = rm.Adam(model, lr=5e-4, weight_decay=1e-4)
        estimator = rm.GradientGuidedRM(10, "advanced", "squared")
        trainer = rm.Trainer(model, estimator, adam, iterations=iterations, log_every=1, checkpoint_every=30,
                             out_dir=str(tmp_path / "parts"))
        return model, adam, estimator, trainer

    # the first part: the same start as the full run, stopped at 30
    setup = rm.Engine(4)
    rm.GrayCodeEncoder.fit(32, rm.sample_toy2d("2spirals", 5000, setup))
    model, adam, estimator, trainer = make(30)
    model.initialize(setup)
    trainer.run(batches, rm.Engine((4 * 2654435761 + 17) % 2**64))
    # a new process would do this: fresh objects, resume from the checkpoint, continue to 60
    model2, adam2, estimator2, trainer2 = make(60)
    engine = rm.Engine(0)
    trainer2.resume(engine)
    assert trainer2.start_iteration == 30
    trainer2.run(batches, engine)
    np.testing.assert_array_equal(model2.params, model_full.params)
    assert losses(tmp_path / "parts" / "log.csv") == losses(tmp_path / "full" / "log.csv")


def test_trainer_evaluator_columns_and_checkpoint_errors(tmp_path):
    model = rm.IsingModel(6)
    adam = rm.Adam(model, lr=0.01)
    estimator = rm.RatioMatching("hyvarinen")
    data = (np.random.default_rng(0).random((64, 6)) < 0.3).astype(np.float64)
    trainer = rm.Trainer(model, estimator, adam, iterations=20, log_every=5, eval_every=10, out_dir=str(tmp_path))
    trainer.set_evaluator(["pll"], lambda iteration: [rm.pseudo_log_likelihood(model, data)])
    result = trainer.run(lambda e: data, rm.Engine(1))
    assert result["iterations"] == 20
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["pll"] != "" for r in rows] == [False, True, False, True]
    assert float(rows[-1]["pll"]) > float(rows[1]["pll"])  # it learns
    other = rm.Trainer(rm.IsingModel(5), estimator, rm.Adam(rm.IsingModel(5)), iterations=30, out_dir=str(tmp_path))
    with pytest.raises(rm.CheckpointError):
        other.resume(rm.Engine(1))


def test_trainer_refuses_mismatches_and_reports_callback_errors(tmp_path):
    model = rm.IsingModel(4)
    with pytest.raises(TypeError, match="optimizer"):
        rm.Trainer(model, rm.RatioMatching(), rm.Adam(4, dtype=np.float32), iterations=5)
    with pytest.raises(TypeError, match="does not apply"):
        rm.Trainer(model, rm.ScoreMatching(), rm.Adam(model), iterations=5)
    trainer = rm.Trainer(model, rm.RatioMatching(), rm.Adam(model), iterations=5)
    with pytest.raises(TypeError, match="next_batch"):
        trainer.run(lambda e: np.zeros((3, 4), dtype=np.float32), rm.Engine(1))
    with pytest.raises(ValueError, match="parameters"):
        rm.Trainer(model, rm.RatioMatching(), rm.Adam(7), iterations=5)
    with pytest.raises(ValueError, match="must be a multiple of log_every"):  # no row at 15, 30, 45
        rm.Trainer(model, rm.RatioMatching(), rm.Adam(model), iterations=50, log_every=20, eval_every=15)
    evaluated = rm.Trainer(model, rm.RatioMatching(), rm.Adam(model), iterations=5, eval_every=5)
    evaluated.set_evaluator(["a", "b"], lambda iteration: [1.0])
    with pytest.raises(ValueError, match="2 values"):
        evaluated.run(lambda e: np.ones((2, 4)), rm.Engine(1))

    def broken(engine):
        raise KeyError("no more data")

    with pytest.raises(KeyError, match="no more data"):
        rm.Trainer(model, rm.RatioMatching(), rm.Adam(model), iterations=5).run(broken, rm.Engine(1))
    # a numerical failure ends the run with a message instead of raising
    model.params[:] = np.nan
    result = rm.Trainer(model, rm.RatioMatching(), rm.Adam(model), iterations=5).run(
        lambda e: np.ones((2, 4)), rm.Engine(1))
    assert result["failed"] and "finite" in result["message"]


def test_an_evaluator_or_data_source_that_raises_loses_no_training(tmp_path):
    """Their own exception reaches the caller after the iterations done are checkpointed; the run
    then goes on (resumed, or on the same trainer) to the uninterrupted result."""
    data = (np.random.default_rng(0).random((64, 6)) < 0.3).astype(np.float64)

    def trainer_for(model, out, evaluator):
        trainer = rm.Trainer(model, rm.RatioMatching("hyvarinen"), rm.Adam(model, lr=0.01), iterations=30,
                             log_every=5, eval_every=10, checkpoint_every=0, out_dir=str(out))
        trainer.set_evaluator(["norm"], evaluator)
        return trainer

    def rows(out):
        with open(out / "log.csv") as f:
            return [(r["iteration"], r["loss"], r["norm"]) for r in csv.DictReader(f)]

    straight = rm.IsingModel(6)
    trainer_for(straight, tmp_path / "straight", lambda i: [float(np.linalg.norm(straight.params))]).run(
        lambda e: data, rm.Engine(1))

    # The evaluator raises at iteration 20: checkpointed, its row owed; resumed, the row is written.
    model = rm.IsingModel(6)
    broken = [True]

    def evaluator(iteration):
        if broken[0] and iteration == 20:
            raise KeyError("no reference data")
        return [float(np.linalg.norm(model.params))]

    with pytest.raises(KeyError, match="no reference data"):
        trainer_for(model, tmp_path / "evaluator", evaluator).run(lambda e: data, rm.Engine(1))
    assert rows(tmp_path / "evaluator")[-1][0] == "15"
    resumed_model = rm.IsingModel(6)
    resumed = trainer_for(resumed_model, tmp_path / "evaluator", lambda i: [float(np.linalg.norm(resumed_model.params))])
    engine = rm.Engine(7)
    resumed.resume(engine)
    assert resumed.start_iteration == 20
    resumed.run(lambda e: data, engine)
    np.testing.assert_array_equal(resumed_model.params, straight.params)
    assert rows(tmp_path / "evaluator") == rows(tmp_path / "straight")

    # The data source raises while drawing iteration 15; the same trainer then goes on.
    model = rm.IsingModel(6)
    drawn = []

    def ends_early(engine):
        drawn.append(1)
        if len(drawn) == 15:
            raise StopIteration("the data ran out")
        return data

    trainer = trainer_for(model, tmp_path / "source", lambda i: [float(np.linalg.norm(model.params))])
    engine = rm.Engine(1)
    with pytest.raises(StopIteration, match="the data ran out"):
        trainer.run(ends_early, engine)
    assert trainer.start_iteration == 14
    trainer.run(ends_early, engine)
    np.testing.assert_array_equal(model.params, straight.params)
    assert rows(tmp_path / "source") == rows(tmp_path / "straight")


def test_flush_denormals_is_a_trainer_option():
    """The run's thread flushes subnormal numbers to zero (numpy in the evaluator sees it) unless told not to."""
    data = (np.random.default_rng(0).random((32, 5)) < 0.3).astype(np.float64)
    small = np.array([1e-20], dtype=np.float32)
    for flush in (True, False):
        model = rm.IsingModel(5)
        trainer = rm.Trainer(model, rm.RatioMatching("hyvarinen"), rm.Adam(model, lr=0.01), iterations=10,
                             log_every=5, eval_every=5, flush_denormals=flush)
        products = []
        trainer.set_evaluator(["product"], lambda iteration: products.append(float((small * small)[0])) or [0.0])
        assert trainer.run(lambda e: data, rm.Engine(1))["iterations"] == 10
        assert len(products) == 2
        assert all((p == 0.0) == flush for p in products)
    assert float((small * small)[0]) != 0.0  # restored after the run


if __name__ == "__main__":  # the Python side of the comparison, in a process of its own
    result, trained = synthetic_run_in_python(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
    assert result["iterations"] == int(sys.argv[2]) and not result["failed"]
    np.save(os.path.join(sys.argv[3], "params.npy"), trained.params)


def test_estimator_state_goes_into_the_checkpoint(tmp_path):
    # PCD's chains are part of the checkpoint: a resumed run continues them bit for bit.
    data = (np.random.default_rng(1).random((32, 8)) < 0.4).astype(np.float64)

    def train(iterations, out, resume=False):
        model = rm.IsingModel(8)
        pcd = rm.PersistentContrastiveDivergence(16, 2, "gibbs")
        trainer = rm.Trainer(model, pcd, rm.Adam(model, lr=0.02), iterations=iterations, log_every=1,
                             checkpoint_every=10, out_dir=str(out))
        engine = rm.Engine(5)
        if resume:
            trainer.resume(engine)
        trainer.run(lambda e: data, engine)
        return model, pcd

    full_model, full_pcd = train(20, tmp_path / "full")
    train(10, tmp_path / "parts")
    model, pcd = train(20, tmp_path / "parts", resume=True)
    np.testing.assert_array_equal(model.params, full_model.params)
    np.testing.assert_array_equal(pcd.chains(), full_pcd.chains())
