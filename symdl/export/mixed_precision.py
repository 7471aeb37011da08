"""Mixed precision for the PyTorch and JAX network and graph modules: compute in bfloat16 or float16, float32 masters and sums.

As ``torch.autocast`` and mixed-precision JAX training do: the parameters are
float32 *master* copies (``init_params`` returns float32, ``train_step``
updates them), cast with X once to the compute dtype at the start of an
entry point; the targets Y stay float32 from the entry (a Y given in the compute
dtype is widened exactly), as autocast's loss reads float32 targets unrounded;
the matrix products and element-wise activations, forward and
backward, run in the compute dtype; the loss is computed in float32 from aᴸ
cast once to it and the float32 Y (its value, a vector rule such as softmax cross-entropy, and
the seed ∇ₐC, which is then scaled and rounded once to the compute dtype, as
autograd's backward through an autocast loss gives it); the loss and the
bias-gradient sums over the batch (and batch norm's batch statistics)
accumulate in float32; gradients
come back in float32; an optimizer's state and batch norm's running statistics
are float32 like the masters. float16's narrow range takes a static loss scale:
the seed ∇ₐC is multiplied by it and the float32 gradients divided by it (a
power of two, so both are exact). The penalty, as ``torch.amp`` with weight
decay and optax apply it, is computed in float32 on the masters once the
gradients are unscaled: ∂C/∂Wˡ = unscale(s·δˡ(aˡ⁻¹)ᵀ in the compute dtype) +
Ω'(Wˡ) in float32, and the loss's Σ Ω(Wˡ) likewise, so no λ overflows float16.
The module says so in its constants ``_dtype`` (compute), ``_param_dtype`` and
``_acc_dtype`` (float32) and ``_LOSS_SCALE``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..arguments import float_dtype
from ..backends import Backend
from ..excerpt import excerpt

__all__ = ["DEFAULT_LOSS_SCALE", "LOW_PRECISION", "MIXED_BACKENDS", "MixedPrecision", "mixed_precision"]

#: The compute dtypes of a mixed-precision module, by name (numpy has no bfloat16).
LOW_PRECISION = ("bfloat16", "float16")
#: The backends whose network modules compute in them.
MIXED_BACKENDS = ("torch", "jax")
#: bfloat16 has float32's exponent range: no scale. float16 flushes to 0 below 6e-8 (and has fewer bits below 6.1e-5)
#: and overflows above 65504: 2**10 lifts the gradient seed (a − y)/m of a batch of 4096 rows by ten binades, while a
#: scaled value overflows only where the unscaled one exceeds 64 (then train_step skips the step); the penalty, added
#: in float32 after the unscaling, is not scaled.
DEFAULT_LOSS_SCALE = {"bfloat16": 1.0, "float16": 2.0**10}


@dataclass(frozen=True)
class MixedPrecision:
    """A mixed-precision module's dtypes: ``compute`` ("bfloat16" or "float16"), float32 masters, and the loss scale."""

    compute: str
    loss_scale: float

    def constant_lines(self, backend: Backend) -> list[str]:
        """``_dtype``, ``_param_dtype``/``_acc_dtype`` and ``_LOSS_SCALE``, each said once in the module."""
        why = "float16's range: the gradient seed is scaled, the float32 gradients unscaled" if self.loss_scale != 1 else \
            "bfloat16 has float32's range: nothing to scale"
        return [
            backend.dtype_line(self.compute) + "  # compute: matrix products and activations, forward and backward",
            backend.dtype_line(np.dtype("float32"), "_param_dtype = _acc_dtype")
            + "  # master parameters, gradients; the loss and bias-gradient sums",
            f"_LOSS_SCALE = {self.loss_scale!r}  # {why}",
        ]

    def convention(self) -> str:
        """The module docstring's line on what runs in which dtype."""
        return (f"Mixed precision: params are float32 masters (init_params, train_step); X and Y float32 or {self.compute}. "
                f"Products and activations run in {self.compute}, the targets stay float32, the loss is computed in float32 from the outputs and targets, "
                f"the loss and the bias-gradient sums accumulate in float32, "
                f"a penalty is computed in float32 on the masters, gradients come back in float32" + (f", scaled by _LOSS_SCALE = {self.loss_scale!r} and unscaled; a step "
                "whose gradients overflow leaves params (and an optimizer's state, whose step count is then a 0-d "
                "array with the params) unchanged." if self.loss_scale != 1 else ".")
                + " Optimizer state and batch-norm running statistics are float32 like the params.")


def _dtype_name(dtype: object) -> str | None:
    """The name of a dtype given as a string, a numpy dtype or a type; None when numpy does not know it."""
    if isinstance(dtype, str):
        return dtype
    try:
        return np.dtype(dtype).name  # type: ignore[call-overload]
    except TypeError:
        return None


def mixed_precision(dtype: object, backend: Backend, network: object, loss_scale: float | None = None,
                    modules: str = "network") -> MixedPrecision | None:
    """The mixed precision ``dtype`` asks for ("bfloat16", "float16"), None for one dtype throughout; else a ValueError.

    Dropout masks are drawn in the compute dtype; an optimizer's state is float32 like the masters; batch norm's
    batch statistics accumulate in float32 and its running statistics are float32 buffers; the penalty (value and
    gradient term) is computed in float32 on the masters. With a loss scale other than 1 a step is kept only if the
    data term of its gradients is finite (params, slots and step count alike; the step count and the state's other
    scalars are then 0-d arrays on the params' device, so that the decision stays there). ``modules`` names the modules in the
    error line ("network", "graph").
    """
    name = _dtype_name(dtype)
    if name not in LOW_PRECISION:
        if loss_scale is not None:
            raise ValueError(f"loss_scale applies to the mixed-precision dtypes {', '.join(LOW_PRECISION)}, not to {name or dtype!r}")
        if backend.name in MIXED_BACKENDS:
            try:
                float_dtype(dtype)
            except ValueError:  # compile's line would leave out the mixed-precision dtypes this backend also takes
                raise ValueError(f"dtype: expected one of float64, float32, {', '.join(LOW_PRECISION)} (mixed precision), "
                                 f"got {excerpt(dtype)}") from None
        return None
    if backend.name not in MIXED_BACKENDS:
        raise ValueError(f"dtype {name!r} (mixed precision) is supported by the {' and '.join(MIXED_BACKENDS)} {modules} modules, "
                         f"not by backend {backend.name!r}")
    scale = DEFAULT_LOSS_SCALE[name] if loss_scale is None else _check_scale(loss_scale)
    return MixedPrecision(name, scale)


def _check_scale(value: object) -> float:
    """A loss scale: a power of two (scaling and unscaling are exact) from 1 to 2**15, float16's largest one."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and 1 <= float(value) <= 2**15:
        mantissa, _ = math.frexp(float(value))
        if mantissa == 0.5:
            return float(value)
    raise ValueError(f"loss_scale: expected a power of two from 1 to 2**15 (scaling by it is exact), got {excerpt(value)}")
