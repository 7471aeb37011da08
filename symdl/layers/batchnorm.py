r"""Batch normalisation in numpy, generated from the proven SymPy expressions of :mod:`symdl.layers.batchnorm_symbolic`.

Every function here runs kernels printed by ``compile_index_kernel`` from
:data:`symdl.layers.batchnorm_symbolic.STAGES`; none of the formulas is written a
second time. ``x`` has shape (batch, features); per-feature parameters and
statistics have shape (features,).

* :func:`train_forward` — y = γ(x − μ_B)/√(σ²_B + ε) + β, with the batch mean
  and the *biased* batch variance (corrected two-pass: never E[x²] − E[x]²);
* :func:`train_vjp` — the proven closed form of the backward pass;
* :func:`inference_forward`, :func:`fold`, :func:`fold_linear` — Algorithm 2's
  inference transform and its folded forms;
* :func:`population_stats` — E[x] = mean of batch means, Var[x] = m/(m − 1) ·
  mean of batch variances; :func:`ema_update` and :func:`unbiased` — running
  statistics as PyTorch keeps them.

Dtype rule: the first array argument (``x``; ``gamma`` for :func:`fold`;
``W`` for :func:`fold_linear`; ``running``, ``batch_means``, ``var``) fixes the
working dtype, float32 or float64 (an integer array becomes float64). Every
other array must be a NumPy array of that dtype or of an integer dtype, or a
plain Python number or list; those are converted to it. A NumPy float array
of the *other* precision is refused with a ValueError rather than silently
cast (a float64 ``gamma`` with a float32 ``x`` would otherwise either lose
digits or promote the whole layer). Results have the working dtype.

Bad input (wrong shapes, non-finite values, negative variance, ε ≤ 0, a batch
size m < 2 where the unbiased variance needs m − 1 > 0, other dtypes) raises
one ``ValueError`` naming what is wrong and what is accepted.
"""

from __future__ import annotations

import numbers
from functools import cache

import numpy as np
import sympy as sp

from ..codegen.index_kernels import compile_index_kernel
from ..codegen.kernel import Kernel
from ..excerpt import excerpt
from .batchnorm_symbolic import STAGES, Stage, epsilon, m, momentum, n_batches

__all__ = [
    "ema_update",
    "fold",
    "fold_linear",
    "inference_forward",
    "kernel_sources",
    "population_stats",
    "train_forward",
    "train_vjp",
    "unbiased",
]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: The scalar arguments of the stages (one value for the whole call).
_SCALARS = frozenset({m, epsilon, n_batches, momentum})
_ACCEPTED = "float32 or float64 arrays, or integer arrays (converted)"


# --- generated kernels ---------------------------------------------------------------


@cache
def stage_kernel(group: str, name: str) -> tuple[Kernel, tuple[str, ...]]:
    """The stage ``name`` of ``STAGES[group]`` printed as a numpy kernel, and its argument names in order."""
    (stage,) = [s for s in STAGES[group] if s.name == name]
    arrays = sorted({e.base for e in stage.expr.atoms(sp.Indexed)}, key=lambda base: str(base.label))
    scalars = sorted(stage.expr.free_symbols & _SCALARS, key=str)
    args = (*arrays, *scalars)
    kernel = compile_index_kernel(stage.expr, args, stage.slots, stage.indices, f"bn_{group}_{name}")
    return kernel, tuple(str(a.label) if isinstance(a, sp.IndexedBase) else a.name for a in args)


def _run(group: str, env: dict[str, np.ndarray], names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Evaluate the stages of ``group`` (or only ``names``) in order, each reading earlier results from ``env``."""
    stages: tuple[Stage, ...] = STAGES[group]
    for stage in stages:
        if names is None or stage.name in names:
            kernel, args = stage_kernel(group, stage.name)
            env[stage.name] = kernel(*(env[a] for a in args))
    return env


def kernel_sources() -> dict[str, str]:
    """The generated source of every kernel, keyed ``group.stage`` (what actually runs)."""
    return {f"{g}.{s.name}": stage_kernel(g, s.name)[0].source for g, stages in STAGES.items() for s in stages}


# --- input checks ------------------------------------------------------------------------


def _lead(value: object, name: str) -> np.ndarray:
    """The array that fixes the working dtype: float32/float64 kept, integers → float64, finite."""
    arr = np.asarray(value)
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    elif arr.dtype not in _FLOATS:
        raise ValueError(f"{name} has dtype {arr.dtype}; accepted: {_ACCEPTED}")
    return _finite(arr, name)


def _follow(value: object, name: str, dtype: np.dtype, lead: str) -> np.ndarray:
    """Another array in the working ``dtype``: same-dtype or integer NumPy arrays, or Python numbers/lists."""
    is_numpy = isinstance(value, (np.ndarray, np.generic))
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and is_numpy and arr.dtype != dtype:
        raise ValueError(
            f"{name} has dtype {arr.dtype} but {lead} has dtype {dtype}; pass arrays of one float dtype "
            f"(e.g. {name}.astype({lead}.dtype)) — symdl does not cast between float precisions silently"
        )
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and arr.dtype not in _FLOATS):
        raise ValueError(f"{name} has dtype {arr.dtype}; accepted: {_ACCEPTED} matching {lead} ({dtype})")
    with np.errstate(over="ignore"):  # a Python float beyond float32's range becomes inf, refused just below
        arr = arr.astype(dtype, copy=False)
    return _finite(arr, name)


def _finite(arr: np.ndarray, name: str) -> np.ndarray:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity; accepted: finite real numbers")
    return arr


def _batch(x: object) -> np.ndarray:
    arr = _lead(x, "x")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"x has shape {arr.shape}; expected (batch, features) with batch ≥ 1 and features ≥ 1")
    return arr


def _per_feature(value: object, name: str, features: int, dtype: np.dtype, lead: str) -> np.ndarray:
    arr = _follow(value, name, dtype, lead)
    if arr.shape != (features,):
        raise ValueError(f"{name} has shape {arr.shape}; expected ({features},): one value per feature")
    return arr


def _variance(value: object, name: str, features: int, dtype: np.dtype, lead: str) -> np.ndarray:
    arr = _per_feature(value, name, features, dtype, lead)
    if np.any(arr < 0):
        raise ValueError(f"{name} has a negative entry ({float(arr.min())!r}); a variance must be ≥ 0")
    return arr


def _eps(eps: object, dtype: np.dtype) -> np.ndarray:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise ValueError(f"eps must be a positive real number, got {excerpt(eps)}")
    with np.errstate(over="ignore", under="ignore"):
        value = np.asarray(eps, dtype=dtype)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"eps must be positive and finite in {dtype} (e.g. 1e-5), got {excerpt(eps)}")
    return value


def _size(m: object, name: str = "m") -> int:
    if isinstance(m, bool) or not isinstance(m, numbers.Integral):
        raise ValueError(f"{name} must be an integer batch size ≥ 2, got {excerpt(m)}")
    if m < 2:
        raise ValueError(
            f"{name} = {m}: the unbiased variance m/(m − 1)·σ²_B needs a batch size m ≥ 2 "
            "(with m = 1 every batch variance is 0)"
        )
    return int(m)


def _scalar(value: float | int, dtype: np.dtype) -> np.ndarray:
    return np.asarray(value, dtype=dtype)


# --- the public API -------------------------------------------------------------------------


def train_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""y = γ (x − μ_B)/√(σ²_B + ε) + β with μ_B = mean of each column, σ²_B = (1/m) Σ_i (x_i − μ_B)².

    Returns ``(y, mean, var)``: y of x's shape, the batch mean μ_B and the
    *biased* batch variance σ²_B per feature (what Algorithm 1 normalises
    with; PyTorch stores the unbiased ``unbiased(var, m)`` in ``running_var``).

    Computed by the corrected two-pass algorithm: a first mean μ⁰, residuals
    d = x − μ⁰ (exact where x ≈ μ⁰), their mean μ_d (0 in exact arithmetic, it
    restores what μ⁰ rounded away), c = d − μ_d, σ²_B = mean of c², μ_B = μ⁰ + μ_d,
    y = c·γ/√(σ²_B + ε) + β with the per-feature factor computed once.
    Each stage is proven equal to the definition (``prove_stages``). A batch of
    one row (m = 1) is allowed: σ²_B = 0, x̂ = 0 and y = β whatever x.
    """
    x = _batch(x)
    features, dtype = x.shape[1], x.dtype
    env = {
        "x": x,
        "gamma": _per_feature(gamma, "gamma", features, dtype, "x"),
        "beta": _per_feature(beta, "beta", features, dtype, "x"),
        "m": _scalar(x.shape[0], dtype),
        "epsilon": _eps(eps, dtype),
    }
    _run("train_forward", env, ("mu0", "d", "mu_d", "c", "var_B", "mu_B", "inv_std", "scale_B", "y"))
    return env["y"], env["mu_B"], env["var_B"]


def train_vjp(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, dy: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""dx = γ/(m√(σ²_B+ε))·(m·dy − Σ_i dy_i − x̂·Σ_i dy_i x̂_i), dγ = Σ_i dy_i x̂_i, dβ = Σ_i dy_i.

    The vector-Jacobian product of :func:`train_forward` with cotangent ``dy``
    (the gradient of L = Σ dy·y), sums over the batch axis. The closed form is
    proven equal to SymPy's derivative of the transform at m = 1 … 6 and for
    symbolic m (``symdl.layers.batchnorm_symbolic.prove_vjp_symbolic``); it
    backpropagates through μ_B and σ²_B. ``beta`` does not enter the gradient
    and is checked only for its shape. Returns ``(dx, dgamma, dbeta)``.
    """
    x = _batch(x)
    features, dtype = x.shape[1], x.dtype
    env = {
        "x": x,
        "gamma": _per_feature(gamma, "gamma", features, dtype, "x"),
        "m": _scalar(x.shape[0], dtype),
        "epsilon": _eps(eps, dtype),
    }
    _per_feature(beta, "beta", features, dtype, "x")
    cotangent = _follow(dy, "dy", dtype, "x")
    if cotangent.shape != x.shape:
        raise ValueError(f"dy has shape {cotangent.shape}; expected x's shape {x.shape}")
    env["dy"] = cotangent
    _run("train_forward", env, ("mu0", "d", "mu_d", "c", "var_B", "inv_std", "xhat"))
    _run("train_backward", env)
    return env["dx"], env["dgamma"], env["dbeta"]


def inference_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, var: np.ndarray, eps: float = 1e-5
) -> np.ndarray:
    r"""y = γ (x − E[x])/√(Var[x] + ε) + β with fixed statistics ``mean`` = E[x], ``var`` = Var[x] (Algorithm 2).

    ``var`` is the population (unbiased) variance, as :func:`population_stats`
    or PyTorch's ``running_var`` give it. Equal to ``scale·x + shift`` of
    :func:`fold` (proven), but computed as written, which keeps the digits of
    x − E[x] when x is close to a large mean.
    """
    x = _batch(x)
    features, dtype = x.shape[1], x.dtype
    env = {
        "x": x,
        "gamma": _per_feature(gamma, "gamma", features, dtype, "x"),
        "beta": _per_feature(beta, "beta", features, dtype, "x"),
        "mean": _per_feature(mean, "mean", features, dtype, "x"),
        "var": _variance(var, "var", features, dtype, "x"),
        "epsilon": _eps(eps, dtype),
    }
    return _run("inference", env)["y"]


def population_stats(batch_means: np.ndarray, batch_vars: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    r"""E[x] = (1/N) Σ_u μ_B(u),  Var[x] = m/(m − 1) · (1/N) Σ_u σ²_B(u)  (Algorithm 2, line 10).

    ``batch_means`` and ``batch_vars`` have shape (N batches, features): the
    means and *biased* variances :func:`train_forward` returned for N training
    batches, each of size ``m`` ≥ 2. E[σ²_B] = (m − 1)/m·σ² for i.i.d. samples
    (proven), so the factor m/(m − 1) makes Var[x] unbiased.
    """
    means = _lead(batch_means, "batch_means")
    if means.ndim != 2 or means.shape[0] < 1:
        raise ValueError(f"batch_means has shape {means.shape}; expected (batches, features) with batches ≥ 1")
    variances = _follow(batch_vars, "batch_vars", means.dtype, "batch_means")
    if variances.shape != means.shape:
        raise ValueError(f"batch_vars has shape {variances.shape}; expected batch_means' shape {means.shape}")
    if np.any(variances < 0):
        raise ValueError(f"batch_vars has a negative entry ({float(variances.min())!r}); a variance must be ≥ 0")
    size = _size(m)
    env = {
        "batch_means": means,
        "batch_vars": variances,
        "m": _scalar(size, means.dtype),
        "n_batches": _scalar(means.shape[0], means.dtype),
    }
    _run("population", env)
    return env["pop_mean"], env["pop_var"]


def ema_update(running: np.ndarray, batch_value: np.ndarray, momentum: float = 0.1) -> np.ndarray:
    r"""new = (1 − momentum)·running + momentum·batch_value: an exponential moving average.

    PyTorch's convention: ``momentum`` weights the NEW value (default 0.1), so
    ``running_mean ← ema_update(running_mean, mean, 0.1)`` and, because
    PyTorch stores the UNBIASED batch variance while it normalises with the
    biased one, ``running_var ← ema_update(running_var, unbiased(var, m), 0.1)``
    with ``(y, mean, var) = train_forward(x, …)`` and m = ``x.shape[0]``.
    PyTorch starts from running_mean = 0 and running_var = 1. (Keras'
    ``momentum=0.99`` weights the OLD value: its momentum is 1 − PyTorch's.)
    With equal batch sizes, averaging instead of decaying (PyTorch's
    ``momentum=None``, a cumulative average) gives :func:`population_stats`.
    ``running`` is not modified; a new array is returned.
    """
    old = _lead(running, "running")
    new = _follow(batch_value, "batch_value", old.dtype, "running")
    if new.shape != old.shape:
        raise ValueError(f"batch_value has shape {new.shape}; expected running's shape {old.shape}")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be a real number in [0, 1] (PyTorch's default 0.1), got {excerpt(momentum)}")
    env = {"running": old.reshape(-1), "value": new.reshape(-1), "momentum": _scalar(float(momentum), old.dtype)}
    return _run("ema", env)["ema"].reshape(old.shape)


def unbiased(var: np.ndarray, m: int) -> np.ndarray:
    r"""m/(m − 1)·σ²_B: the unbiased variance from a biased batch variance of a batch of size m ≥ 2.

    What PyTorch's BatchNorm puts into ``running_var`` (through
    :func:`ema_update`) while normalising with the biased σ²_B.
    """
    biased = _lead(var, "var")
    if np.any(biased < 0):
        raise ValueError(f"var has a negative entry ({float(biased.min())!r}); a variance must be ≥ 0")
    env = {"biased": biased.reshape(-1), "m": _scalar(_size(m), biased.dtype)}
    return _run("unbiased", env)["unbiased"].reshape(biased.shape)


def fold(
    gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, var: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray]:
    r"""scale = γ/√(Var + ε), shift = β − γ·E[x]/√(Var + ε): inference BN as y = scale·x + shift (proven)."""
    g = _lead(gamma, "gamma")
    if g.ndim != 1 or g.shape[0] < 1:
        raise ValueError(f"gamma has shape {g.shape}; expected (features,) with features ≥ 1")
    features, dtype = g.shape[0], g.dtype
    env = {
        "gamma": g,
        "beta": _per_feature(beta, "beta", features, dtype, "gamma"),
        "mean": _per_feature(mean, "mean", features, dtype, "gamma"),
        "var": _variance(var, "var", features, dtype, "gamma"),
        "epsilon": _eps(eps, dtype),
    }
    _run("fold", env)
    return env["scale"], env["shift"]


def fold_linear(
    W: np.ndarray,
    b: np.ndarray | None,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray]:
    r"""W' = diag(γ/√(Var + ε))·W,  b' = γ(b − E[x])/√(Var + ε) + β  (b = 0 when ``b`` is None).

    Folds inference BN into the linear layer z = a Wᵀ + b before it (W of
    shape (features, inputs), the layout of PyTorch's ``nn.Linear.weight`` and
    of symdl's networks): BN_inference(a Wᵀ + b) = a W'ᵀ + b', proven with and
    without bias. Returns ``(W', b')``; b' has shape (features,) either way.
    """
    weights = _lead(W, "W")
    if weights.ndim != 2 or weights.shape[0] < 1 or weights.shape[1] < 1:
        raise ValueError(f"W has shape {weights.shape}; expected (features, inputs), both ≥ 1")
    features, dtype = weights.shape[0], weights.dtype
    env: dict[str, np.ndarray] = {
        "W": weights,
        "gamma": _per_feature(gamma, "gamma", features, dtype, "W"),
        "beta": _per_feature(beta, "beta", features, dtype, "W"),
        "mean": _per_feature(mean, "mean", features, dtype, "W"),
        "var": _variance(var, "var", features, dtype, "W"),
        "epsilon": _eps(eps, dtype),
    }
    if b is None:
        _run("fold_linear", env, ("W_folded", "b_folded_nobias"))
        return env["W_folded"], env["b_folded_nobias"]
    env["b"] = _per_feature(b, "b", features, dtype, "W")
    _run("fold_linear", env, ("W_folded", "b_folded"))
    return env["W_folded"], env["b_folded"]
