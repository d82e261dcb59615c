"""Weights between MlpEnergy and PyTorch: an nn.Sequential of Linear layers with one activation
after every hidden layer, ending in Linear(..., 1), whose output is the energy E(x).

PyTorch is imported only when these functions are called.
"""
import numpy as np

# torch.nn module class name -> ratiomatch activation name.
_ACTIVATIONS = {"SiLU": "swish", "Tanh": "tanh", "ELU": "elu", "Softplus": "softplus",
                "LearnableSwish": "learnable-swish"}


_LEARNABLE_SWISH = None


def learnable_swish_class():
    """The reference network's activation x * sigmoid(beta * x) with one learned beta, as a torch
    module class (made on first use, so that importing ratiomatch does not import torch; it is
    ratiomatch.torch_interop.LearnableSwish, so modules holding it pickle)."""
    global _LEARNABLE_SWISH
    if _LEARNABLE_SWISH is not None:
        return _LEARNABLE_SWISH
    import torch

    class LearnableSwish(torch.nn.Module):
        def __init__(self, beta=1.0, dtype=torch.float32):
            super().__init__()
            self.beta = torch.nn.Parameter(torch.tensor(float(beta), dtype=dtype))

        def forward(self, x):
            return x * torch.sigmoid(self.beta * x)

    LearnableSwish.__module__ = __name__
    LearnableSwish.__qualname__ = "LearnableSwish"
    _LEARNABLE_SWISH = LearnableSwish
    return LearnableSwish


def __getattr__(name):
    if name == "LearnableSwish":
        return learnable_swish_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_activation_module(module):
    name = type(module).__name__
    if name not in _ACTIVATIONS:
        raise ValueError(f"module: unsupported layer {name}; expected Linear and one of {sorted(_ACTIVATIONS)}")
    if name == "ELU" and module.alpha != 1.0:
        raise ValueError("module: ELU must have alpha = 1")
    if name == "Softplus" and (module.beta != 1 or module.threshold < 20):
        raise ValueError("module: Softplus must have beta = 1 and threshold >= 20 (ratiomatch's is exact)")
    return _ACTIVATIONS[name]


def _layers_from_module(module):
    import torch

    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"module: expected a torch.nn.Sequential or a state_dict, got {type(module).__name__}")
    children = list(module)  # iteration keeps a shared activation at every place (children() would not)
    linears, activation, beta, slope_module = [], None, None, None
    for k, child in enumerate(children):
        if isinstance(child, torch.nn.Linear):
            if k % 2 != 0:
                raise ValueError(f"module: layer {k} is Linear, expected an activation (Linear and activation alternate)")
            linears.append((child.weight.detach().cpu().numpy(),
                            None if child.bias is None else child.bias.detach().cpu().numpy()))
        else:
            if k % 2 != 1:
                raise ValueError(f"module: layer {k} is {type(child).__name__}, expected Linear")
            name = _check_activation_module(child)
            if activation is not None and name != activation:
                raise ValueError(f"module: one activation for all hidden layers, got {activation} and {name}")
            activation = name
            if name == "learnable-swish":
                if slope_module is not None and child is not slope_module and float(child.beta) != beta:
                    raise ValueError("module: the LearnableSwish layers must share one beta")
                slope_module, beta = child, float(child.beta.detach())
    if not children or not isinstance(children[-1], torch.nn.Linear):
        raise ValueError("module: the last layer must be Linear(..., 1)")
    return linears, activation or "swish", beta


def _layers_from_state_dict(state_dict, activation):
    keys = [k for k in state_dict if k.endswith(".weight")]  # a state_dict keeps the modules' order
    linears = []
    for k in keys:
        prefix = k[: -len("weight")]
        bias = state_dict.get(prefix + "bias")
        linears.append((state_dict[k].detach().cpu().numpy(), None if bias is None else bias.detach().cpu().numpy()))
    beta = None
    if activation == "learnable-swish":
        betas = [float(v) for k, v in state_dict.items() if k.endswith(".beta")]
        if not betas or max(betas) != min(betas):
            raise ValueError("state_dict: 'learnable-swish' needs one shared '.beta' entry")
        beta = betas[0]
    return linears, activation, beta


def from_torch(module, activation=None, dtype=None):
    """An MlpEnergy with the weights of `module`: a torch.nn.Sequential (Linear, activation, ...,
    Linear(..., 1)), or its state_dict together with `activation` ('swish', 'learnable-swish',
    'tanh', 'elu', 'softplus'). dtype defaults to the weights' (float32 or float64).
    Raises TypeError / ValueError naming what does not fit."""
    from . import MlpEnergy

    if isinstance(module, dict):
        if activation is None:
            raise ValueError("activation: needed with a state_dict (e.g. 'swish')")
        linears, act, beta = _layers_from_state_dict(module, activation)
    else:
        linears, act, beta = _layers_from_module(module)
        if activation is not None and activation != act:
            raise ValueError(f"activation: the module uses {act}, not {activation}")
    if not linears:
        raise ValueError("module: no Linear layer")
    if linears[-1][0].shape[0] != 1:
        raise ValueError(f"module: the last Linear must have 1 output, has {linears[-1][0].shape[0]}")
    for k in range(1, len(linears)):
        if linears[k][0].shape[1] != linears[k - 1][0].shape[0]:
            raise ValueError(f"module: Linear {k} takes {linears[k][0].shape[1]} inputs, the previous gives "
                             f"{linears[k - 1][0].shape[0]}")
    dt = np.dtype(dtype) if dtype is not None else linears[0][0].dtype
    model = MlpEnergy(linears[0][0].shape[1], [w.shape[0] for w, _ in linears[:-1]], activation=act, dtype=dt)
    for layer, (w, b) in enumerate(linears):
        model.weight(layer)[:] = w
        model.bias(layer)[:] = 0 if b is None else b
    if act == "learnable-swish":
        model.params[-1] = beta
    return model


def to_torch(model):
    """A torch.nn.Sequential equal to the MlpEnergy `model` (same dtype): Linear layers with the
    activation after each hidden one; with 'learnable-swish' one LearnableSwish module (one beta)
    shared by all hidden layers, as the RMwGGIS reference network."""
    import torch

    torch_dtype = torch.float32 if model.dtype == np.float32 else torch.float64
    widths = model.widths
    if model.activation == "learnable-swish":
        shared = learnable_swish_class()(model.slope, dtype=torch_dtype)
        make_activation = lambda: shared  # noqa: E731
    else:
        factory = {"swish": torch.nn.SiLU, "tanh": torch.nn.Tanh, "elu": torch.nn.ELU, "softplus": torch.nn.Softplus}
        make_activation = factory[model.activation]
    layers = []
    for layer in range(model.num_layers):
        linear = torch.nn.Linear(widths[layer], widths[layer + 1], dtype=torch_dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(model.weight(layer))))
            linear.bias.copy_(torch.from_numpy(np.array(model.bias(layer))))
        layers.append(linear)
        if layer + 1 < model.num_layers:
            layers.append(make_activation())
    return torch.nn.Sequential(*layers)
