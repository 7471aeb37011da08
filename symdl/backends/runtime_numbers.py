"""|x| ≤ top (0 ≤ lr ≤ top): a number a generated module takes (a hyperparameter), checked in the words of every backend.

:func:`finite_real` serves the library's checks (:func:`symdl.network.checks.check_hyperparameter`) and is
copied into the generated numpy, PyTorch and JAX modules as ``_finite_real``, each passing the largest number
of its own dtype, with :func:`symdl.excerpt.excerpt` as ``_excerpt``. Importing this module imports no array library.
"""

from __future__ import annotations

import numbers

from ..excerpt import excerpt

__all__ = ["finite_real"]


def finite_real(name, value, top):
    """float(value) when it is a real number with |value| ≤ top (finite in a dtype whose largest number is top), else a ValueError.

    A learning rate (``name == "lr"``) is also ≥ 0: PyTorch's optimizers refuse lr < 0 ("Invalid learning rate"),
    a step with lr < 0 climbs the loss; lr = 0 is taken. Every check of lr, at call time or baked in, comes here.
    """
    try:
        number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else float("nan")
    except OverflowError:
        number = float("inf")
    low = 0.0 if name == "lr" else -top
    if not low <= number <= top:  # NaN, ±inf and what overflows in the dtype (1e300 in float32)
        span = f"{top:.1e}".replace("e+", "e")
        raise ValueError(f"{name}: expected a finite real number from {'0' if name == 'lr' else '-' + span} to {span}, "
                         f"got {excerpt(value)}")
    return number
