"""Weights between MlpEnergy and PyTorch: energies and input gradients agree to float rounding."""
import numpy as np
import pytest

import ratiomatch as rm

torch = pytest.importorskip("torch")


def bits(n, d, seed=0, dtype=np.float64):
    return (np.random.default_rng(seed).random((n, d)) < 0.5).astype(dtype)


def torch_energy_and_gradient(module, X):
    x = torch.from_numpy(X.copy()).requires_grad_(True)
    e = module(x).squeeze(-1)
    (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach().numpy(), g.numpy()


@pytest.mark.parametrize("activation", ["swish", "learnable-swish", "tanh", "elu", "softplus"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_torch_and_back_keeps_energies_and_gradients(activation, dtype):
    model = rm.MlpEnergy(10, [16, 8], activation=activation, dtype=dtype)
    model.initialize(rm.Engine(3))
    if activation == "learnable-swish":
        model.params[-1] = 1.7
    module = model.to_torch()
    X = bits(12, 10, seed=1, dtype=dtype)
    e_torch, g_torch = torch_energy_and_gradient(module, X)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(model.energy(X), e_torch, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(model.input_gradient(X), g_torch, rtol=rtol, atol=rtol)
    back = rm.MlpEnergy.from_torch(module)
    assert back.dtype == np.dtype(dtype) and back.activation == activation and back.widths == model.widths
    np.testing.assert_array_equal(back.params, model.params)


def test_from_a_pytorch_module_and_its_state_dict():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.SiLU(), torch.nn.Linear(5, 1)).double()
    model = rm.MlpEnergy.from_torch(module)
    X = bits(7, 6, seed=2)
    e_torch, g_torch = torch_energy_and_gradient(module, X)
    np.testing.assert_allclose(model.energy(X), e_torch, rtol=1e-12)
    np.testing.assert_allclose(model.input_gradient(X), g_torch, rtol=1e-12, atol=1e-14)
    from_state = rm.MlpEnergy.from_torch(module.state_dict(), activation="swish", dtype=np.float32)
    assert from_state.dtype == np.float32
    np.testing.assert_allclose(from_state.params, model.params.astype(np.float32))


def test_a_shared_learnable_slope_as_in_the_reference_network():
    LearnableSwish = rm.torch_interop.learnable_swish_class()
    act = LearnableSwish(2.5, dtype=torch.float64)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), act, torch.nn.Linear(3, 3), act, torch.nn.Linear(3, 1)).double()
    model = rm.MlpEnergy.from_torch(module)
    assert model.slope == 2.5
    X = bits(5, 4, seed=3)
    e_torch, g_torch = torch_energy_and_gradient(module, X)
    np.testing.assert_allclose(model.energy(X), e_torch, rtol=1e-12)
    np.testing.assert_allclose(model.input_gradient(X), g_torch, rtol=1e-12, atol=1e-14)


def test_modules_with_the_learnable_slope_pickle():
    import pickle

    model = rm.MlpEnergy(4, [3], activation="learnable-swish")
    module = pickle.loads(pickle.dumps(model.to_torch()))
    X = bits(2, 4)
    np.testing.assert_allclose(torch_energy_and_gradient(module, X)[0], model.energy(X), rtol=1e-12)


def test_unsupported_modules_are_refused():
    with pytest.raises(ValueError, match="unsupported layer ReLU"):
        rm.MlpEnergy.from_torch(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="1 output"):
        rm.MlpEnergy.from_torch(torch.nn.Sequential(torch.nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="one activation"):
        rm.MlpEnergy.from_torch(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 3),
                                                    torch.nn.SiLU(), torch.nn.Linear(3, 1)))
    with pytest.raises(TypeError, match="Sequential"):
        rm.MlpEnergy.from_torch(torch.nn.Linear(4, 1))
    with pytest.raises(ValueError, match="activation"):
        rm.MlpEnergy.from_torch({"0.weight": torch.zeros(1, 4), "0.bias": torch.zeros(1)})


@pytest.mark.parametrize("settings", [dict(momentum=0.9, dampening=0.25, weight_decay=0.01),
                                      dict(momentum=0.8, nesterov=True), dict(weight_decay=0.1)])
def test_sgd_takes_the_steps_of_torch_optim_sgd(settings):
    rng = np.random.default_rng(7)
    start = rng.normal(size=6)
    grads = rng.normal(size=(4, 6))
    theta = start.copy()
    ours = rm.Sgd(6, lr=0.05, **settings)
    weight = torch.nn.Parameter(torch.from_numpy(start.copy()))
    theirs = torch.optim.SGD([weight], lr=0.05, **settings)
    for g in grads:
        ours.step(theta, g)
        weight.grad = torch.from_numpy(g.copy())
        theirs.step()
        np.testing.assert_allclose(theta, weight.detach().numpy(), rtol=1e-14, atol=1e-15)
