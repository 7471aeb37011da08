"""The numpy helpers that generated kernels call at run time (``_as_float``, ``_finish``, ``_place``).

They live apart from the printers (:mod:`.kernel`, :mod:`.index_kernels`) so
that printing and proving — ``symdl derive`` — never import numpy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_array", "as_float_array", "finish", "place"]


def as_float_array(x: object, name: str) -> np.ndarray | float:
    """``x`` as a floating-point array: integers and bools become float64; other kinds are refused.

    A Python int or float stays a Python float, which numpy treats as "weak"
    (NEP 50): a float32 array with the scalar 0.5 stays float32.
    """
    if type(x) is int or type(x) is float:
        try:
            return float(x)
        except OverflowError:
            raise TypeError(f"{name}: {x} does not fit a float64") from None
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind in "iub":
        return arr.astype(np.float64)
    raise TypeError(f"{name}: expected real numbers (float or int array), got dtype {arr.dtype}")


def finish(
    value: object, shape: tuple[int, ...], dtype: np.dtype, reduce_sum: bool, inputs: tuple[np.ndarray, ...] = ()
) -> np.ndarray:
    """Broadcast ``value`` to ``shape`` in ``dtype``: constant results become full arrays, never an input itself."""
    out = np.asarray(value)
    if reduce_sum:
        return np.sum(np.broadcast_to(out, shape), dtype=dtype)
    if out.shape != shape:
        if out.ndim == 0:
            return np.full(shape, out, dtype=dtype)[()]
        out = np.broadcast_to(out, shape)
    if out.dtype != dtype or not out.flags.writeable or any(out is x for x in inputs):
        out = out.astype(dtype)
    return out[()] if shape == () else out


def place(arr: np.ndarray, slots: tuple[int, ...], depth: int) -> np.ndarray:
    """View of ``arr`` whose last ``len(slots)`` axes sit at ``slots`` of a trailing block of ``depth`` axes."""
    own = len(slots)
    lead = arr.shape[: arr.ndim - own]
    expanded = arr.reshape(lead + (1,) * (depth - own) + arr.shape[arr.ndim - own :])
    return np.moveaxis(expanded, list(range(-own, 0)), list(slots))


def as_array(x: object, name: str, axes: int = 0, kernel: str = "") -> np.ndarray:
    """Every argument as an array: axes are moved and indexed, which a Python float cannot do.

    ``axes``: how many last axes the kernel indexes; an array with fewer (a 0-d softmax input) is refused in one line.
    """
    arr = np.asarray(as_float_array(x, name))
    if arr.ndim < axes:
        need = "a last axis" if axes == 1 else f"{axes} last axes"
        raise ValueError(f"{kernel}: {name} needs {need} (the kernel's indices), got a {arr.ndim}-d array")
    return arr
