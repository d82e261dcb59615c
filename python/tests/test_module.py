"""The Python module: every bound function once, views, dtypes and errors."""
import threading
import time

import numpy as np
import pytest

import ratiomatch as rm

DTYPES = [np.float32, np.float64]


def bits(n, d, seed=0, dtype=np.float64):
    return (np.random.default_rng(seed).random((n, d)) < 0.5).astype(dtype)


def binary_models(dtype):
    engine = rm.Engine(5)
    ising = rm.IsingModel(6, dtype=dtype)
    ising.params[:] = np.random.default_rng(1).normal(0, 0.3, ising.num_params)
    mlp = rm.MlpEnergy(6, [8, 8], activation="learnable-swish", dtype=dtype)
    mlp.initialize(engine)
    rbm = rm.BernoulliRBM(6, 4, dtype=dtype)
    rbm.initialize(engine)
    rbm.params[:] = np.random.default_rng(2).normal(0, 0.5, rbm.num_params)
    return [ising, mlp, rbm]


@pytest.mark.parametrize("dtype", DTYPES)
def test_models_report_their_dtype_and_are_instances_of_their_family(dtype):
    ising, mlp, rbm = binary_models(dtype)
    for model, family in [(ising, rm.IsingModel), (mlp, rm.MlpEnergy), (rbm, rm.BernoulliRBM)]:
        assert isinstance(model, family)
        assert model.dtype == np.dtype(dtype)
        assert model.params.dtype == np.dtype(dtype)
        assert model.params.shape == (model.num_params,)
    assert not isinstance(mlp, rm.IsingModel)
    with pytest.raises(TypeError, match="dtype"):
        rm.MlpEnergy(4, [3], dtype=np.int32)


def test_params_is_a_writable_view_of_the_model():
    model = rm.IsingModel(3)
    view = model.params
    view[model.num_params - 3:] = [1.0, -2.0, 0.5]  # b
    X = np.array([[1.0, 1.0, 1.0]])
    assert model.energy(X)[0] == pytest.approx(-(1.0 - 2.0 + 0.5))
    assert np.shares_memory(model.params, model.bias)
    model.coupling[0, 1] = 0.25
    assert model.params[1] == 0.25
    model.params = np.zeros(model.num_params)  # assignment copies in
    assert model.energy(X)[0] == 0.0
    del model  # the view keeps the model alive
    view[0] = 1.0
    with pytest.raises(ValueError, match="params"):
        rm.IsingModel(3).params = np.zeros(5)


def test_mlp_layer_views_follow_the_pytorch_order():
    model = rm.MlpEnergy(3, [2], activation="learnable-swish")
    assert model.widths == [3, 2, 1] and model.num_layers == 2
    model.weight(0)[:] = [[1, 2, 3], [4, 5, 6]]
    model.bias(0)[:] = [7, 8]
    np.testing.assert_array_equal(model.params[:8], [1, 2, 3, 4, 5, 6, 7, 8])
    assert model.params[-1] == 1.0 and model.slope == 1.0  # beta last, initially 1
    assert model.activation == "learnable-swish"
    with pytest.raises(IndexError):
        model.weight(2)


def test_gradients_match_finite_differences():
    X = bits(7, 6, seed=3)
    for model in binary_models(np.float64):
        weights = np.linspace(0.5, 1.5, 7)
        g = model.param_gradient(X, weights)
        theta = model.params.copy()
        for k in np.random.default_rng(0).choice(model.num_params, 6, replace=False):
            h = 1e-6
            model.params[k] = theta[k] + h
            up = weights @ model.energy(X)
            model.params[k] = theta[k] - h
            down = weights @ model.energy(X)
            model.params[k] = theta[k]
            assert g[k] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-8)
        G = model.input_gradient(X)
        assert G.shape == X.shape


def test_fortran_and_c_ordered_inputs_give_the_same_results():
    model = binary_models(np.float64)[1]
    X = bits(9, 6, seed=4)
    np.testing.assert_array_equal(model.energy(X), model.energy(np.asfortranarray(X)))
    np.testing.assert_allclose(model.energy(X[::2]), model.energy(X)[::2], rtol=1e-14)  # strided view (another GEMM size)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_binary_estimator_runs_on_every_binary_model(dtype):
    estimators = [rm.RatioMatching(o) for o in ("squared", "hyvarinen", "sqrt")]
    estimators += [rm.UniformSampledRM(2), rm.GradientGuidedRM(2, "basic"), rm.GradientGuidedRM(2, "advanced", "sqrt"),
                   rm.TaylorRatioMatching("hyvarinen"), rm.ContrastiveDivergence(1, "gibbs"),
                   rm.ContrastiveDivergence(2, "gwg"), rm.PersistentContrastiveDivergence(4, 1, "gibbs")]
    X = bits(4, 6, seed=5, dtype=dtype)
    for model in binary_models(dtype):
        for est in estimators:
            loss, grad = est.loss_and_gradient(model, X, rm.Engine(1))
            assert np.isfinite(loss) and grad.shape == (model.num_params,) and grad.dtype == np.dtype(dtype)
            # loss() makes the same draws as loss_and_gradient from the same engine state
            if not isinstance(est, rm.PersistentContrastiveDivergence):
                assert est.loss(model, X, rm.Engine(1)) == pytest.approx(loss, rel=1e-6)
    rbm = binary_models(dtype)[2]
    for est in (rm.ContrastiveDivergence(1, "block"), rm.PersistentContrastiveDivergence(4, 1, "block")):
        loss, grad = est.loss_and_gradient(rbm, X, rm.Engine(2))
        assert np.isfinite(loss)
    with pytest.raises(TypeError, match="BernoulliRBM"):
        rm.ContrastiveDivergence(1, "block").loss_and_gradient(binary_models(dtype)[0], X, rm.Engine(1))


def test_exact_ratio_matching_equals_its_definition():
    # J(x) = sum_i f(E(x_-i) - E(x)) per row, batch mean, with f(t) = exp(-2t) (squared ratio),
    # sigmoid(-t)^2 (Hyvarinen's) or exp(-t/2) (square root).
    model = binary_models(np.float64)[1]
    X = bits(5, 6, seed=6)
    e = model.energy(X)
    deltas = []
    for i in range(6):
        flipped = X.copy()
        flipped[:, i] = 1 - flipped[:, i]
        deltas.append(model.energy(flipped) - e)
    t = np.array(deltas)
    for objective, f in [("squared", lambda t: np.exp(-2 * t)), ("hyvarinen", lambda t: (1 / (1 + np.exp(t))) ** 2),
                         ("sqrt", lambda t: np.exp(-t / 2))]:
        loss, _ = rm.RatioMatching(objective).loss_and_gradient(model, X, rm.Engine(0))
        assert loss == pytest.approx(f(t).sum() / 5, rel=1e-12)


def test_pcd_keeps_its_chains():
    model = binary_models(np.float64)[0]
    pcd = rm.PersistentContrastiveDivergence(5, 1, "gibbs")
    assert pcd.chains().shape == (0, 0)
    pcd.loss_and_gradient(model, bits(3, 6), rm.Engine(1))
    chains = pcd.chains()
    assert chains.shape == (5, 6) and set(np.unique(chains)) <= {0.0, 1.0}
    pcd.reset()
    assert pcd.chains().shape == (0, 0)


def test_bad_input_raises_errors_naming_the_argument():
    model = rm.MlpEnergy(4, [3], dtype=np.float32)
    est = rm.GradientGuidedRM(2)
    X = bits(3, 4, dtype=np.float32)
    with pytest.raises(TypeError, match="X: expected dtype float32"):
        est.loss_and_gradient(model, X.astype(np.float64), rm.Engine(1))
    with pytest.raises(TypeError, match="X: expected a numpy array"):
        model.energy([[0, 1, 0, 1]])
    with pytest.raises(ValueError, match="X: expected 4 columns"):
        model.energy(bits(3, 5, dtype=np.float32))
    with pytest.raises(ValueError, match="2-D"):
        model.energy(np.zeros(4, dtype=np.float32))
    bad = X.copy()
    bad[1, 2] = 0.5
    with pytest.raises(ValueError, match="binary"):
        est.loss_and_gradient(model, bad, rm.Engine(1))
    with pytest.raises(ValueError, match="objective"):
        rm.RatioMatching("cubic")
    with pytest.raises(ValueError, match="variant"):
        rm.GradientGuidedRM(2, "fancy")
    with pytest.raises(ValueError, match="sampler"):
        rm.ContrastiveDivergence(1, "hmc")
    with pytest.raises(ValueError):
        rm.UniformSampledRM(0)
    with pytest.raises(TypeError, match="does not apply"):
        rm.ScoreMatching().loss_and_gradient(model, X, rm.Engine(1))
    with pytest.raises(ValueError, match="activation"):
        rm.MlpEnergy(4, [3], activation="relu")
    with pytest.raises(rm.NumericalError):
        huge = rm.IsingModel(4)
        huge.params[:] = np.inf
        rm.RatioMatching().loss_and_gradient(huge, bits(2, 4), rm.Engine(1))
    assert issubclass(rm.NumericalError, ArithmeticError)


@pytest.mark.parametrize("dtype", DTYPES)
def test_samplers(dtype):
    ising, mlp, rbm = binary_models(dtype)
    for sampler in (rm.GibbsSampler(), rm.GibbsWithGradients(0.5)):
        for model in (ising, mlp, rbm):
            S = sampler.sample(model, 3, 2, rm.Engine(1))
            assert S.shape == (3, 6) and S.dtype == np.dtype(dtype)
            X0 = bits(3, 6, dtype=dtype)
            X1 = sampler.run(model, X0, 2, rm.Engine(1))
            assert X1.shape == X0.shape and set(np.unique(X1)) <= {0.0, 1.0}
    assert rm.BlockGibbsSampler().sample(rbm, 3, 2, rm.Engine(1)).shape == (3, 6)
    with pytest.raises(TypeError, match="BernoulliRBM"):
        rm.BlockGibbsSampler().sample(ising, 3, 2, rm.Engine(1))
    with pytest.raises(ValueError, match="num_chains"):
        rm.GibbsSampler().sample(ising, 0, 2, rm.Engine(1))


def test_gibbs_samples_follow_the_exact_distribution():
    model = binary_models(np.float64)[0]
    p = np.exp(rm.log_probabilities(model))
    S = rm.GibbsSampler().sample(model, 20000, 30, rm.Engine(3))
    index = (S * (1 << np.arange(6))).sum(axis=1).astype(int)
    freq = np.bincount(index, minlength=64) / len(S)
    # chi-square-like bound: every state within 5 standard errors
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / len(S)) + 1e-3)


def test_exact_metrics_agree_with_enumeration():
    ising, mlp, rbm = binary_models(np.float64)
    states = ((np.arange(64)[:, None] >> np.arange(6)) & 1).astype(np.float64)
    for model in (ising, mlp, rbm):
        log_z = np.log(np.sum(np.exp(-model.energy(states))))
        assert rm.log_partition(model) == pytest.approx(log_z, rel=1e-12)
        np.testing.assert_allclose(rm.log_probabilities(model), -model.energy(states) - log_z, rtol=1e-10)
        X = states[[1, 5, 9]]
        assert rm.mean_log_likelihood(model, X) == pytest.approx(np.mean(-model.energy(X) - log_z), rel=1e-12)
        assert rm.pseudo_log_likelihood(model, X) < 0
    assert rbm.log_partition() == pytest.approx(rm.log_partition(rbm), rel=1e-12)


def test_rbm_members_and_ais():
    rbm = binary_models(np.float64)[2]
    X = bits(4, 6, seed=8)
    P = rbm.hidden_probabilities(X)
    np.testing.assert_allclose(P, 1 / (1 + np.exp(-(X @ rbm.weight.T + rbm.hidden_bias))), rtol=1e-12)
    Q = rbm.visible_probabilities(np.ones((2, 4)))
    assert Q.shape == (2, 6)
    rbm.set_visible_bias_from_data(X)
    estimate = rm.annealed_log_partition(rbm, rbm.visible_bias.copy(), runs=200, temperatures=2000, engine=rm.Engine(1))
    assert estimate["log_partition"] == pytest.approx(rbm.log_partition(), abs=4 * estimate["standard_error"] + 1e-3)
    assert len(estimate["log_weights"]) == 200


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_single_site_ais_of_any_binary_model(dtype):
    for model in binary_models(dtype):
        exact = rm.log_partition(model)
        estimate = rm.annealed_log_partition_single_site(model, np.zeros(model.dim, dtype=dtype), runs=100,
                                                         temperatures=300 * model.dim, engine=rm.Engine(3))
        assert estimate["log_partition"] == pytest.approx(exact, abs=4 * estimate["standard_error"] + 2e-3)
    with pytest.raises(ValueError, match="base_visible_bias"):
        rm.annealed_log_partition_single_site(model, np.zeros(model.dim + 1, dtype=dtype), temperatures=10,
                                              engine=rm.Engine(3))


def test_ising_helpers():
    truth = rm.IsingModel.periodic_lattice(3, 0.2, dtype=np.float32)
    assert truth.coupling[0, 1] == pytest.approx(0.2) and truth.dtype == np.float32
    data = rm.sample_ising_data(truth, 10, 5, rm.Engine(1))
    assert data.shape == (10, 9)
    assert rm.coupling_rmse(truth, truth) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_bernoulli_rbm_and_score_matching(dtype):
    model = rm.GaussianBernoulliRBM(3, 2, dtype=dtype)
    model.initialize(rm.Engine(1), 0.3)
    V = np.random.default_rng(0).normal(size=(6, 3)).astype(dtype)
    model.set_visible_from_data(V)
    assert model.weight.shape == (2, 3) and model.log_std.shape == (3,)
    assert model.laplacian(V).shape == (6,)
    assert model.hidden_probabilities(V).shape == (6, 2)
    assert model.visible_mean(np.ones((2, 2), dtype=dtype)).shape == (2, 3)
    assert model.gibbs(V, 2, rm.Engine(1)).shape == V.shape
    ll = model.mean_log_likelihood(V)
    assert ll == pytest.approx(np.mean(-model.energy(V)) - model.log_partition(), rel=1e-4)
    estimate = rm.annealed_log_partition(model, runs=100, temperatures=1000, engine=rm.Engine(2))
    assert estimate["log_partition"] == pytest.approx(model.log_partition(), abs=0.05)
    estimators = [rm.ScoreMatching(), rm.DenoisingScoreMatching(0.1), rm.SlicedScoreMatching(2),
                  rm.BiSM(3, 2, dtype=dtype), rm.BiSM(3, 2, objective="sliced", dtype=dtype),
                  rm.GaussianRBMContrastiveDivergence(1, persistent=True, dtype=dtype)]
    for est in estimators:
        loss, grad = est.loss_and_gradient(model, V, rm.Engine(3))
        assert np.isfinite(loss) and grad.shape == (model.num_params,)
    bism = rm.BiSM(3, 2, dtype=dtype)
    bism.initialize_posterior(rm.Engine(1))
    bism.set_posterior_to_true(model)
    np.testing.assert_array_equal(bism.posterior_params[:6], model.weight.ravel())
    with pytest.raises(TypeError, match="loss_and_gradient"):
        rm.GaussianRBMContrastiveDivergence(1, dtype=dtype).loss(model, V, rm.Engine(1))
    with pytest.raises(TypeError, match="does not apply"):
        rm.RatioMatching().loss_and_gradient(model, V, rm.Engine(1))
    with pytest.raises(ValueError, match="objective"):
        rm.BiSM(3, 2, objective="exact")


def test_score_matching_gradient_matches_finite_differences_of_its_loss():
    model = rm.GaussianBernoulliRBM(3, 2)
    model.initialize(rm.Engine(1), 0.5)
    V = np.random.default_rng(1).normal(size=(5, 3))
    est = rm.ScoreMatching()
    _, grad = est.loss_and_gradient(model, V, rm.Engine(0))
    theta = model.params.copy()
    for k in range(model.num_params):
        model.params[k] = theta[k] + 1e-6
        up = est.loss(model, V, rm.Engine(0))
        model.params[k] = theta[k] - 1e-6
        down = est.loss(model, V, rm.Engine(0))
        model.params[k] = theta[k]
        assert grad[k] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-7)


def test_adam_and_clipping_follow_pytorch_semantics():
    adam = rm.Adam(3, lr=0.1, weight_decay=0.01)
    theta = np.array([1.0, -1.0, 0.5])
    g = np.array([0.5, 0.0, -2.0])
    adam.step(theta, g)
    # first step of Adam: theta - lr * sign-like m_hat / (sqrt(v_hat) + eps), with L2 in the gradient
    g_total = g + 0.01 * np.array([1.0, -1.0, 0.5])
    expected = np.array([1.0, -1.0, 0.5]) - 0.1 * g_total / (np.abs(g_total) + 1e-8)
    np.testing.assert_allclose(theta, expected, rtol=1e-12)
    assert adam.step_count == 1 and adam.lr == 0.1
    adam.lr = 0.01
    assert adam.lr == 0.01
    grad = np.array([3.0, 4.0])
    assert rm.clip_gradient_norm(grad, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(grad, [0.6, 0.8], rtol=1e-6)  # max_norm / (norm + 1e-6), as PyTorch
    model = rm.MlpEnergy(4, [3], dtype=np.float32)
    assert rm.Adam(model).num_params == model.num_params
    with pytest.raises(TypeError, match="float64"):
        rm.Adam(model).step(model.params, np.zeros(model.num_params))
    with pytest.raises(ValueError, match="lr"):
        rm.Adam(3, lr=-1.0)


def test_mmd_and_toy_data():
    assert set(rm.TOY_DATASETS) == {"2spirals", "8gaussians", "circles", "moons", "pinwheel", "swissroll",
                                    "checkerboard"}
    points = rm.sample_toy2d("moons", 500, rm.Engine(1))
    assert points.shape == (500, 2) and points.dtype == np.float64
    encoder = rm.GrayCodeEncoder.fit(16, points)
    codes = encoder.encode(points, dtype=np.float32)
    assert codes.shape == (500, 16) and codes.dtype == np.float32
    assert encoder.encode(points).dtype == np.float64
    with pytest.raises(TypeError, match="float32 or float64"):
        encoder.encode(points, dtype=np.int32)
    back = encoder.decode(codes)
    assert np.max(np.abs(back - points)) < 4 / encoder.int_scale
    X, Y = bits(50, 8, seed=1), bits(60, 8, seed=2)
    m = rm.mmd_squared(X, Y)
    # the U-statistic with k = d - Hamming
    K = lambda A, B: 8 - (A[:, None, :] != B[None, :, :]).sum(-1)  # noqa: E731
    kxx, kyy, kxy = K(X, X), K(Y, Y), K(X, Y)
    expected = ((kxx.sum() - np.trace(kxx)) / (50 * 49) + (kyy.sum() - np.trace(kyy)) / (60 * 59)
                - 2 * kxy.mean())
    assert m == pytest.approx(expected, rel=1e-10)
    assert rm.mmd_squared(X.astype(np.float32), Y.astype(np.float32), "exp-hamming") == pytest.approx(
        rm.mmd_squared(X, Y, "exp-hamming"), rel=1e-6)
    with pytest.raises(ValueError, match="kernel"):
        rm.mmd_squared(X, Y, "gaussian")
    with pytest.raises(ValueError):
        rm.sample_toy2d("spiral", 5, rm.Engine(1))


def test_fashion_mnist_reader(tmp_path):
    import gzip
    import os
    import struct

    folder = "/usr/share/datasets/fashion-mnist"
    if os.path.exists(os.path.join(folder, "t10k-images-idx3-ubyte.gz")):
        X = rm.read_fashion_mnist("test", dtype=np.float32)
        assert X.shape == (10000, 784) and X.dtype == np.float32 and set(np.unique(X)) == {0.0, 1.0}
        images = rm.read_idx_images(os.path.join(folder, "t10k-images-idx3-ubyte.gz"))
        np.testing.assert_array_equal(X, (images.reshape(10000, 784) >= 128).astype(np.float32))
        labels = rm.read_idx_labels(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"))
        assert labels.shape == (10000,) and labels.max() == 9
        D = rm.read_fashion_mnist("test", binarize="dequantize", engine=rm.Engine(1), dtype=np.float64)
        assert D.dtype == np.float64 and 0 < D.min() and D.max() < 1
    # a small file of our own, then a truncated one
    path = tmp_path / "images.gz"
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8)
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 2, 3, 4) + pixels.tobytes())
    np.testing.assert_array_equal(rm.read_idx_images(str(path)), pixels.reshape(2, 3, 4))
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 2, 3, 4) + pixels.tobytes()[:-5])
    with pytest.raises(rm.IdxError, match="offset"):
        rm.read_idx_images(str(path))
    with pytest.raises(ValueError, match="engine"):
        rm.read_fashion_mnist("test", binarize="stochastic", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="binarize"):
        rm.read_fashion_mnist("test", binarize="bogus", data_dir=str(tmp_path))
    with pytest.raises(rm.IdxError, match="dataset-fashion-mnist"):
        rm.read_fashion_mnist("train", data_dir=str(tmp_path))


def test_arrays_with_an_equal_but_distinct_dtype_object_are_accepted():
    import pickle

    model = binary_models(np.float64)[1]
    X = bits(3, 6)
    unpickled = pickle.loads(pickle.dumps(X))
    np.testing.assert_array_equal(model.energy(unpickled), model.energy(X))
    loss, _ = rm.RatioMatching().loss_and_gradient(model, unpickled, rm.Engine(1))
    assert loss == rm.RatioMatching().loss_and_gradient(model, X, rm.Engine(1))[0]
    assert rm.mmd_squared(pickle.loads(pickle.dumps(X.astype(np.float32))), X.astype(np.float32)) == pytest.approx(
        rm.mmd_squared(X, X), rel=1e-6)


def test_model_classes_cannot_be_subclassed():
    with pytest.raises(TypeError):
        type("MyIsing", (rm.IsingModel.float64,), {})


def test_one_estimator_shared_by_threads():
    # calls run without the GIL; the estimator's workspaces take one call at a time
    model = rm.MlpEnergy(16, [64, 64], dtype=np.float64)
    model.initialize(rm.Engine(1))
    est = rm.RatioMatching()
    X = bits(64, 16, seed=9)
    expected = est.loss(model, X, rm.Engine(1))
    results, errors = [], []

    def work():
        try:
            for _ in range(20):
                results.append(est.loss(model, X, rm.Engine(1)))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 80 and all(r == expected for r in results)


def test_pcd_chains_of_a_float32_model():
    model = rm.IsingModel(4, dtype=np.float32)
    pcd = rm.PersistentContrastiveDivergence(5, 1)
    pcd.loss_and_gradient(model, bits(3, 4, dtype=np.float32), rm.Engine(1))
    assert pcd.chains().shape == (5, 4) and pcd.chains().dtype == np.float32
    assert pcd.chains(np.float64).shape == (0, 0)


def test_engine_is_reproducible_and_picklable():
    import pickle

    a, b = rm.Engine(7), rm.Engine(7)
    assert [a.next() for _ in range(3)] == [b.next() for _ in range(3)]
    c = pickle.loads(pickle.dumps(a))
    assert c.next() == a.next()
    a.seed(7)
    assert a.next() == rm.Engine(7).next()
    with pytest.raises(ValueError, match="state"):
        pickle.loads(pickle.dumps(a).replace(b"1", b"x"))


def test_long_calls_release_the_gil():
    model = rm.MlpEnergy(32, [256, 256], dtype=np.float32)
    model.initialize(rm.Engine(1))
    ticks = []
    done = threading.Event()

    def work():
        rm.GibbsSampler().sample(model, 2000, 3, rm.Engine(2))
        done.set()

    thread = threading.Thread(target=work)
    thread.start()
    start = time.perf_counter()
    while not done.is_set():
        ticks.append(time.perf_counter() - start)
        time.sleep(0.001)
    thread.join()
    # the main thread kept running while the sampler worked
    assert len(ticks) > 20


def test_help_is_useful():
    doc = rm.GradientGuidedRM.__doc__ + rm.GradientGuidedRM.loss_and_gradient.__doc__
    assert "softmax(2(2x-1)" in doc and "(n, model.dim" in doc
    assert "float32" in rm.MlpEnergy.__doc__ and "torch.nn.Linear" in rm.MlpEnergy.__doc__
