"""Sgd (the update of torch.optim.SGD) and Penalized(estimator, IsingCouplingL1(lam)): their
arithmetic, errors, and training with them (a Trainer run equals the same loop written out, and a
resumed run equals an uninterrupted one)."""
import numpy as np
import pytest

import ratiomatch as rm


def test_sgd_takes_the_torch_sgd_step_with_momentum_dampening_and_weight_decay():
    lr, mu, damp, wd = 0.1, 0.9, 0.25, 0.01
    theta = np.array([1.0, -1.0, 0.5])
    grads = [np.array([0.5, 0.0, -2.0]), np.array([-1.0, 0.3, 0.7]), np.array([0.2, 0.2, -0.1])]
    sgd = rm.Sgd(3, lr=lr, momentum=mu, dampening=damp, weight_decay=wd)
    expected, buffer = theta.copy(), None
    for g in grads:
        sgd.step(theta, g)
        d = g + wd * expected
        buffer = d.copy() if buffer is None else mu * buffer + (1 - damp) * d  # no dampening at the first step
        expected = expected - lr * buffer
        np.testing.assert_allclose(theta, expected, rtol=1e-14)
    assert sgd.step_count == 3 and sgd.lr == lr

    nesterov = rm.Sgd(3, lr=lr, momentum=mu, nesterov=True)
    theta, expected, buffer = np.zeros(3), np.zeros(3), None
    for g in grads:
        nesterov.step(theta, g)
        buffer = g.copy() if buffer is None else mu * buffer + g
        expected = expected - lr * (g + mu * buffer)
        np.testing.assert_allclose(theta, expected, rtol=1e-14)

    plain = rm.Sgd(3, lr=0.5)
    theta = np.ones(3)
    plain.step(theta, grads[0])
    np.testing.assert_array_equal(theta, np.ones(3) - 0.5 * grads[0])
    plain.lr = 0.25
    assert plain.lr == 0.25


def test_sgd_errors_and_sizes():
    model = rm.IsingModel(4, dtype=np.float32)
    assert rm.Sgd(model).num_params == model.num_params == 20
    with pytest.raises(TypeError, match="float64"):
        rm.Sgd(model).step(model.params, np.zeros(model.num_params))
    with pytest.raises(ValueError, match="lr"):
        rm.Sgd(3, lr=0.0)
    with pytest.raises(ValueError, match="momentum"):
        rm.Sgd(3, momentum=-0.1)
    with pytest.raises(ValueError, match="nesterov"):
        rm.Sgd(3, nesterov=True)
    with pytest.raises(ValueError, match="3 entries"):
        rm.Sgd(3).step(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="lr"):
        rm.Sgd(3).lr = -1.0


def random_ising(d, seed):
    model = rm.IsingModel(d)
    rng = np.random.default_rng(seed)
    model.params[:] = rng.normal(0.0, 0.3, model.num_params)
    model.coupling[d // 2, (d // 2 + 1) % d] = 0.0  # an entry at the kink of |J|: subgradient 0
    return model


def bits(n, d, seed):
    return (np.random.default_rng(seed).random((n, d)) < 0.5).astype(np.float64)


@pytest.mark.parametrize("make", [lambda: rm.RatioMatching("hyvarinen"), lambda: rm.GradientGuidedRM(3, "basic"),
                                  lambda: rm.UniformSampledRM(2, "sqrt")])
def test_penalized_adds_lam_times_the_l1_norm_of_the_couplings_and_its_subgradient(make):
    d, lam = 5, 0.07
    model, X = random_ising(d, 1), bits(16, d, 2)
    J = model.coupling.copy()
    off_diagonal = ~np.eye(d, dtype=bool)
    penalty = rm.IsingCouplingL1(lam)
    assert penalty.lam == lam
    assert penalty.value(model) == pytest.approx(lam * np.abs(J[off_diagonal]).sum(), rel=1e-14)

    inner = make()
    loss, grad = rm.Penalized(inner, penalty).loss_and_gradient(model, X, rm.Engine(5))
    inner_loss, inner_grad = inner.loss_and_gradient(model, X, rm.Engine(5))  # the same draws
    assert loss == pytest.approx(inner_loss + penalty.value(model), rel=1e-12)
    expected = inner_grad.copy()
    expected[: d * d] += lam * (np.sign(J) * off_diagonal).ravel()  # J row-major, then the bias untouched
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)
    assert rm.Penalized(inner, penalty).loss(model, X, rm.Engine(5)) == pytest.approx(loss, rel=1e-12)

    # lam = 0 is the estimator itself
    loss0, grad0 = rm.Penalized(inner, rm.IsingCouplingL1(0.0)).loss_and_gradient(model, X, rm.Engine(5))
    assert loss0 == inner_loss
    np.testing.assert_array_equal(grad0, inner_grad)


def test_penalized_in_single_precision_and_its_errors():
    model = rm.IsingModel(4, dtype=np.float32)
    model.params[:] = np.linspace(-0.5, 0.5, model.num_params, dtype=np.float32)
    X = bits(8, 4, 3).astype(np.float32)
    loss, grad = rm.Penalized(rm.RatioMatching(), rm.IsingCouplingL1(0.1)).loss_and_gradient(model, X, rm.Engine(1))
    inner_loss, inner_grad = rm.RatioMatching().loss_and_gradient(model, X, rm.Engine(1))
    assert grad.dtype == np.float32
    assert loss == pytest.approx(inner_loss + rm.IsingCouplingL1(0.1).value(model), rel=1e-6)
    off_diagonal = ~np.eye(4, dtype=bool)
    expected = inner_grad.astype(np.float64)
    expected[:16] += 0.1 * (np.sign(model.coupling) * off_diagonal).ravel()
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)

    with pytest.raises(ValueError, match="lam"):
        rm.IsingCouplingL1(-0.1)
    with pytest.raises(ValueError, match="lam"):
        rm.IsingCouplingL1(float("nan"))
    with pytest.raises(TypeError, match="estimator"):
        rm.Penalized("ratio matching", rm.IsingCouplingL1(0.1))
    with pytest.raises(TypeError):
        rm.Penalized(rm.RatioMatching(), 0.1)
    mlp = rm.MlpEnergy(4, [3])
    with pytest.raises(TypeError, match="penalizes an IsingModel's couplings"):
        rm.Penalized(rm.RatioMatching(), rm.IsingCouplingL1(0.1)).loss_and_gradient(mlp, bits(2, 4, 0), rm.Engine(1))
    with pytest.raises(TypeError, match="penalizes an IsingModel's couplings"):
        rm.Trainer(mlp, rm.Penalized(rm.RatioMatching(), rm.IsingCouplingL1(0.1)), rm.Adam(mlp), iterations=2)
    with pytest.raises(TypeError) as plain_error:
        rm.ScoreMatching().loss_and_gradient(model, X, rm.Engine(1))
    assert "IsingCouplingL1" not in str(plain_error.value)


def draw_batch(truth, engine):
    return rm.sample_ising_data(truth, 32, 5, engine)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_trainer_run_with_penalized_and_sgd_equals_the_loop_written_out(optimizer, dtype):
    truth = rm.IsingModel.periodic_lattice(3, 0.3, dtype=dtype)  # 9 bits
    make_optimizer = {"sgd": lambda m: rm.Sgd(m, lr=0.05, momentum=0.9, weight_decay=1e-3),
                      "adam": lambda m: rm.Adam(m, lr=0.01)}[optimizer]

    def estimator():
        return rm.Penalized(rm.GradientGuidedRM(2, "basic", "hyvarinen"), rm.IsingCouplingL1(0.02))

    trained = rm.IsingModel(9, dtype=dtype)
    trainer = rm.Trainer(trained, estimator(), make_optimizer(trained), iterations=25, clip_norm=0.5, log_every=1)
    result = trainer.run(lambda e: draw_batch(truth, e), rm.Engine(11))
    assert result["iterations"] == 25 and not result["failed"]

    by_hand, engine = rm.IsingModel(9, dtype=dtype), rm.Engine(11)
    est, opt = estimator(), make_optimizer(by_hand)
    for _ in range(25):
        X = draw_batch(truth, engine)
        loss, grad = est.loss_and_gradient(by_hand, X, engine)
        rm.clip_gradient_norm(grad, 0.5)
        opt.step(by_hand.params, grad)
    assert loss == result["final_loss"]
    np.testing.assert_array_equal(trained.params, by_hand.params)
    assert np.abs(trained.coupling).sum() > 0


def test_a_resumed_run_with_sgd_momentum_and_penalized_pcd_equals_an_uninterrupted_one(tmp_path):
    truth = rm.IsingModel.periodic_lattice(3, 0.4)

    def make(iterations, out):
        model = rm.IsingModel(9)
        pcd = rm.PersistentContrastiveDivergence(8, 1, "gibbs")
        trainer = rm.Trainer(model, rm.Penalized(pcd, rm.IsingCouplingL1(0.01)),
                             rm.Sgd(model, lr=0.05, momentum=0.9, nesterov=True), iterations=iterations, log_every=1,
                             checkpoint_every=10, out_dir=str(out))
        return model, trainer

    full, trainer = make(20, tmp_path / "full")
    trainer.run(lambda e: draw_batch(truth, e), rm.Engine(3))

    _, first = make(10, tmp_path / "parts")
    first.run(lambda e: draw_batch(truth, e), rm.Engine(3))
    resumed, second = make(20, tmp_path / "parts")
    engine = rm.Engine(0)
    second.resume(engine)  # the model, Sgd's momentum buffer, PCD's chains and the engine
    assert second.start_iteration == 10
    second.run(lambda e: draw_batch(truth, e), engine)
    np.testing.assert_array_equal(resumed.params, full.params)

    # the Sgd checkpoint does not fit Adam, nor an Sgd without momentum (its buffer would be dropped)
    def resume_with(optimizer, out):
        model = rm.IsingModel(9)
        trainer = rm.Trainer(model, rm.Penalized(rm.PersistentContrastiveDivergence(8, 1, "gibbs"),
                                                 rm.IsingCouplingL1(0.01)),
                             optimizer(model), iterations=20, out_dir=str(out))
        trainer.resume(rm.Engine(0))

    with pytest.raises(rm.CheckpointError, match="optimizer"):
        resume_with(rm.Adam, tmp_path / "parts")
    with pytest.raises(rm.CheckpointError, match="momentum"):
        resume_with(lambda m: rm.Sgd(m, lr=0.05), tmp_path / "parts")
    # and an Adam checkpoint does not fit Sgd
    adam_run = rm.IsingModel(9)
    rm.Trainer(adam_run, rm.Penalized(rm.PersistentContrastiveDivergence(8, 1, "gibbs"), rm.IsingCouplingL1(0.01)),
               rm.Adam(adam_run), iterations=10, checkpoint_every=10, out_dir=str(tmp_path / "adam")).run(
        lambda e: draw_batch(truth, e), rm.Engine(3))
    with pytest.raises(rm.CheckpointError, match="optimizer"):
        resume_with(lambda m: rm.Sgd(m, lr=0.05, momentum=0.9), tmp_path / "adam")
