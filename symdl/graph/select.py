"""where(c, x, y) = x where c holds, else y: numpy.where's result, bit for bit, chosen by integer arithmetic.

numpy.where branches per element: with a mask that changes from element to
element (an activation's z ≤ 0 over a batch) it mispredicts about half the
time. Here the choice is arithmetic on the bits, in the integer type of the
float's width (c as 0 or 1)::

    bits(result) = ((bits(x) ⊕ bits(y)) · c) ⊕ bits(y)

which is bits(x) where c = 1 (u ⊕ y ⊕ y = u) and bits(y) where c = 0: each
element's bits are copied from x or from y unchanged (NaN payloads and signed
zeros included). The only array made is the result; :func:`where_into` builds
it in x's buffer (x a temporary the caller no longer needs), as :func:`into`
applies a one-argument ufunc in its argument's buffer. Used by the numpy
code of :class:`symdl.graph.compiled.CompiledGraph`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["into", "where", "where_into"]


def where(condition: object, x: object, y: object) -> np.ndarray:
    """x where ``condition`` holds, else y (numpy.where, broadcast), with no branch per element for float arrays."""
    return _select(condition, x, y, reuse=False)


def where_into(condition: object, x: object, y: object) -> np.ndarray:
    """:func:`where`, written into x's buffer when x is a float array of the result's shape (x is overwritten)."""
    return _select(condition, x, y, reuse=True)


def _select(condition: object, x: object, y: object, reuse: bool) -> np.ndarray:
    c, a, b = np.asarray(condition), np.asarray(x), np.asarray(y)
    if a.dtype != b.dtype or a.dtype.kind != "f" or c.dtype != np.bool_:
        return np.where(c, a, b)
    ints = np.dtype(f"i{a.dtype.itemsize}")
    shape = np.broadcast_shapes(c.shape, a.shape, b.shape)
    y_bits = b.view(ints)
    if reuse and a.shape == shape and a.ndim and a.flags.owndata and a.flags.writeable and a.flags.c_contiguous:
        out = np.bitwise_xor(a.view(ints), y_bits, out=a.view(ints))
    else:
        out = np.bitwise_xor(a.view(ints), y_bits)
        if out.shape != shape:
            out = np.broadcast_to(out, shape).copy()
    np.multiply(out, c, out=out)
    np.bitwise_xor(out, y_bits, out=out)
    return out.view(a.dtype)


def into(function: np.ufunc, x: object) -> object:
    """f(x) written into x's buffer when x is a float array of its own (a temporary the caller made for f), else f(x).

    A float ufunc of one float argument returns the argument's dtype and shape: ``f(x, out=x)`` is f(x), bit for bit.
    """
    if isinstance(x, np.ndarray) and x.ndim and x.dtype.kind == "f" and x.flags.owndata and x.flags.writeable:
        return function(x, out=x)
    return function(x)
