"""Central differences: the numeric derivative every check of generated code compares with.

(f(x + h) − f(x − h))/2h element-wise, h = eps^(1/3)·max(1, |x|); with
stop_gradient's held values fixed for :func:`held_central_difference`, and
:func:`jump_free` telling where the window [x − h, x + h] holds no jump of a
floor, ceiling or round (elsewhere the quotient is ~1/h, not a derivative).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp

from ..codegen.kernel import compile_kernel
from ..symbolic.rounding import jump_atoms
from ..symbolic.stop_gradient import hold

__all__ = ["central_difference", "fd_step", "held_central_difference", "jump_free"]


def fd_step(x: np.ndarray) -> np.ndarray:
    """h = eps^(1/3)·max(1, |x|): the step that balances truncation against rounding."""
    x = np.asarray(x)
    return np.finfo(x.dtype).eps ** (1 / 3) * np.maximum(1, np.abs(x))


def central_difference(
    f: Callable[..., np.ndarray], args: Sequence[np.ndarray], index: int = 0, h: np.ndarray | None = None
) -> np.ndarray:
    """(f(…, x + h, …) − f(…, x − h, …)) / 2h element-wise in ``x = args[index]``, h exactly representable.

    ``f`` must be element-wise in its arguments (each output element depends
    on the same element of ``x`` only).
    """
    args = [np.asarray(a) for a in args]
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < len(args):
        raise ValueError(f"central_difference: index {index!r} is not an argument; {len(args)} given")
    x = args[index]
    if x.dtype.kind != "f":
        raise TypeError(f"central_difference: args[{index}] must be a float array, got dtype {x.dtype}")
    step = fd_step(x) if h is None else np.asarray(h, dtype=x.dtype)
    upper, lower = x + step, x - step
    plus = f(*args[:index], upper, *args[index + 1 :])
    minus = f(*args[:index], lower, *args[index + 1 :])
    return (plus - minus) / (upper - lower)


def held_central_difference(
    expr: sp.Expr, symbols: Sequence[sp.Symbol], args: Sequence[np.ndarray], index: int = 0
) -> np.ndarray:
    """:func:`central_difference` of ``expr``'s generated code with every stop_gradient(u) held at its value at ``args``.

    d/dx of f(x, sg(u(x))) is ∂f/∂x with the second slot fixed: the difference
    quotient of f(·, c) with c = u(args) (element-wise). Without stop_gradient
    this is the plain central difference of ``expr``.
    """
    body, held = hold(expr)
    symbols = list(symbols)
    forward = compile_kernel(body, [*symbols, *held], "held_forward")
    values = [np.asarray(a) for a in args]
    fixed = [np.asarray(compile_kernel(u + 0 * symbols[0], symbols, "held")(*values)) for u in held.values()]
    return central_difference(lambda *moved: forward(*moved, *fixed), values, index)


def jump_free(
    expr: sp.Expr, symbols: Sequence[sp.Symbol], args: Sequence[np.ndarray], index: int = 0, h: np.ndarray | None = None
) -> np.ndarray:
    """True where no floor, ceiling or round of ``expr`` in ``symbols[index]`` changes value on the central
    difference's window: its generated code gives the same integer at x − h, x and x + h (h as
    :func:`central_difference` takes it). All True when ``expr`` has none.

    floor(g(x)) jumps wherever g(x) crosses an integer, infinitely often; the
    window is judged by the code itself, so an argument rounded onto an integer
    counts as the jump it is in the code.
    """
    values = [np.asarray(a) for a in args]
    x = values[index]
    var = symbols[index]
    atoms = sorted((a for a in jump_atoms(expr) if a.has(var)), key=sp.default_sort_key)
    free = np.ones(np.broadcast_shapes(*(v.shape for v in values)), dtype=bool)
    if not atoms:
        return free
    step = fd_step(x) if h is None else np.asarray(h, dtype=x.dtype)
    moved = [x - step, x + step]
    for k, atom in enumerate(atoms):
        kernel = compile_kernel(atom + 0 * var, list(symbols), f"jump_{k}")
        centre = np.asarray(kernel(*values))
        for side in moved:
            free &= np.asarray(kernel(*values[:index], side, *values[index + 1 :])) == centre
    return free
