"""ratiomatch: energy-based models p(x) ∝ exp(-E(x)) learned without the partition function.

Binary data: ratio matching (RatioMatching, UniformSampledRM, GradientGuidedRM, TaylorRatioMatching)
with the per-flip objective 'squared' (the RMwGGIS paper's; learns p^(1/4)), 'hyvarinen' or 'sqrt'
(consistent); contrastive divergence and PCD as baselines; Penalized(estimator, IsingCouplingL1(lam))
adds an L1 penalty on an Ising model's couplings. Optimizers: Adam, Sgd. Continuous data: ScoreMatching,
DenoisingScoreMatching, SlicedScoreMatching, BiSM (Gaussian-Bernoulli RBM).

Arrays are numpy arrays: a batch X has shape (n, dim) and the model's dtype (float32 or float64,
chosen when the model is made; float64 is the default everywhere, as in numpy); entries of binary
data are exactly 0 or 1. The models' own members (energy, gradients) read Fortran-ordered arrays in
place and copy C-ordered ones (numpy's default) once into ratiomatch's column-major layout; the
estimators, samplers, metrics and the trainer always take a copy. model.params is a writable view
of the model's parameters (no copy). Randomness comes from an Engine (std::mt19937_64), so a seeded
run repeats exactly, and equals the same run in C++.

Threads: calls release the GIL. One estimator or sampler object serves one call at a time (its
workspaces are locked); a model being trained, or an Engine, must not be used from another thread
meanwhile.

Errors: TypeError for a wrong dtype or type, ValueError for a wrong shape, a non-binary entry or a
bad setting, NumericalError (an ArithmeticError) for a non-finite result, CheckpointError for a
checkpoint that does not match, IdxError for an unreadable IDX file. Long calls release the GIL.

Quick start::

    import numpy as np, ratiomatch as rm
    engine = rm.Engine(1)
    encoder = rm.GrayCodeEncoder.fit(32, rm.sample_toy2d("2spirals", 5000, engine))
    model = rm.MlpEnergy(32, [256, 256, 256], activation="learnable-swish", dtype=np.float32)
    model.initialize(engine)
    adam = rm.Adam(model, lr=5e-4, weight_decay=1e-4)
    trainer = rm.Trainer(model, rm.GradientGuidedRM(10, "advanced"), adam, iterations=2000)
    trainer.run(lambda e: encoder.encode(rm.sample_toy2d("2spirals", 128, e), dtype=np.float32), engine)
"""
import abc

import numpy as np

from . import _core
from ._core import (  # noqa: F401  (the public API)
    TOY_DATASETS,
    BlockGibbsSampler,
    CheckpointError,
    ContrastiveDivergence,
    DenoisingScoreMatching,
    Engine,
    GibbsSampler,
    GibbsWithGradients,
    GradientGuidedRM,
    GrayCodeEncoder,
    IdxError,
    IsingCouplingL1,
    NumericalError,
    Penalized,
    PersistentContrastiveDivergence,
    RatioMatching,
    ScoreMatching,
    SlicedScoreMatching,
    TaylorRatioMatching,
    Trainer,
    UniformSampledRM,
    __version__,
    annealed_log_partition,
    annealed_log_partition_single_site,
    clip_gradient_norm,
    coupling_rmse,
    log_partition,
    log_probabilities,
    mean_log_likelihood,
    mmd_squared,
    pseudo_log_likelihood,
    read_fashion_mnist,
    read_idx_images,
    read_idx_labels,
    sample_ising_data,
    sample_toy2d,
)


def _dtype_suffix(dtype):
    dt = np.dtype(dtype)
    if dt == np.float32:
        return "float32"
    if dt == np.float64:
        return "float64"
    raise TypeError(f"dtype: expected float32 or float64, got {dt}")


def _by_dtype(name, summary):
    """A class whose instances are the C++ type of the chosen dtype (`<name>_float32` or
    `<name>_float64`); isinstance(x, family) holds for both."""
    variants = {s: getattr(_core, f"{name}_{s}") for s in ("float32", "float64")}

    def __new__(cls, *args, dtype=np.float64, **kwargs):
        return variants[_dtype_suffix(dtype)](*args, **kwargs)

    init_doc = variants["float64"].__init__.__doc__ or ""
    doc = (f"{summary}\n\n{variants['float64'].__doc__}\n\nConstructor (plus dtype=np.float32 or np.float64, "
           f"default float64):\n{init_doc}\nInstances are {name}_float32 or {name}_float64 (see "
           f"help(ratiomatch.{name}.float64) for every member).")
    family = abc.ABCMeta(name, (abc.ABC,), {"__new__": __new__, "__doc__": doc, "__module__": __name__,
                                             "float32": variants["float32"], "float64": variants["float64"]})
    for variant in variants.values():
        family.register(variant)
    return family


IsingModel = _by_dtype("IsingModel", "IsingModel(dim, dtype=np.float64)")
MlpEnergy = _by_dtype("MlpEnergy", "MlpEnergy(dim, hidden, activation='swish', dtype=np.float64)")
BernoulliRBM = _by_dtype("BernoulliRBM", "BernoulliRBM(visible, hidden, dtype=np.float64)")
GaussianBernoulliRBM = _by_dtype("GaussianBernoulliRBM", "GaussianBernoulliRBM(visible, hidden, dtype=np.float64)")
BiSM = _by_dtype("BiSM", "BiSM(visible, hidden, objective='denoising', noise_std=0.05, inner_steps=5, "
                         "unroll_steps=5, lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, dtype=np.float64)")
GaussianRBMContrastiveDivergence = _by_dtype("GaussianRBMContrastiveDivergence",
                                             "GaussianRBMContrastiveDivergence(steps=1, persistent=False, "
                                             "dtype=np.float64)")


def _periodic_lattice(side, sigma, dtype=np.float64):
    """The lattice experiments' truth: side x side periodic lattice, J = sigma * adjacency, b = 0."""
    return getattr(_core, f"IsingModel_{_dtype_suffix(dtype)}").periodic_lattice(side, sigma)


IsingModel.periodic_lattice = staticmethod(_periodic_lattice)


def _size_and_dtype(model_or_num_params, dtype):
    """An optimizer's parameter count and dtype, from a model or a count (dtype default float64)."""
    if isinstance(model_or_num_params, (int, np.integer)):
        return int(model_or_num_params), np.float64 if dtype is None else dtype
    return model_or_num_params.num_params, model_or_num_params.dtype if dtype is None else dtype


def Adam(model_or_num_params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, dtype=None):
    """Adam (Kingma & Ba 2015) with PyTorch's semantics; weight_decay adds weight_decay * theta to the
    gradient (L2, not AdamW). Give a model (its size and dtype are used) or a parameter count and a
    dtype (default float64). step(params, grad) updates params in place, e.g. adam.step(model.params, g)."""
    num_params, dt = _size_and_dtype(model_or_num_params, dtype)
    adam_class = getattr(_core, f"Adam_{_dtype_suffix(dt)}")
    return adam_class(num_params, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)


def Sgd(model_or_num_params, lr=1e-2, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, dtype=None):
    """Stochastic gradient descent with the update of torch.optim.SGD (momentum, dampening, Nesterov,
    L2 weight_decay added to the gradient). Give a model (its size and dtype are used) or a parameter
    count and a dtype (default float64). step(params, grad) updates params in place."""
    num_params, dt = _size_and_dtype(model_or_num_params, dtype)
    return getattr(_core, f"Sgd_{_dtype_suffix(dt)}")(num_params, lr=lr, momentum=momentum, dampening=dampening,
                                                      weight_decay=weight_decay, nesterov=nesterov)


from .torch_interop import from_torch, to_torch  # noqa: E402  (needs the classes above)

MlpEnergy.from_torch = staticmethod(from_torch)
for _variant in (_core.MlpEnergy_float32, _core.MlpEnergy_float64):
    _variant.to_torch = to_torch
