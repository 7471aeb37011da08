"""φ′ of a piecewise activation through its output where a branch allows: ELU's φ′(z) = g + α for z ≤ 0, else 1.

On a branch where φ′ᵢ(z) − φᵢ(z) = cᵢ is a constant, φ′(z) = g + cᵢ with g = φ(z)
the activation's output, already computed by the forward pass: the backward pass
needs no exponential. SymPy checks φ′ᵢ − φᵢ − cᵢ = 0 symbolically on each branch
(the identity holds for every z of the branch); a branch where φ′ is a constant
keeps it (a kink's value too); any other branch, or a branch of φ′ with no branch of φ
that holds on it, and the rule keeps φ′(z). The conditions stay those of φ′ (in z), so the kink
convention of the rule is unchanged::

    ELU (α = 1):   φ′(z) = { g + 1  for z ≤ 0;  1 otherwise }
    SELU:          φ′(z) = { g + λα for z ≤ 0;  λ otherwise }

Used by :mod:`symdl.graph.layers` for the printed code (``LibraryForms(output_form=True)``).
"""

from __future__ import annotations

import sympy as sp

__all__ = ["piecewise_output_derivative"]

_G = sp.Symbol("g", real=True)
_CACHE: dict[tuple[sp.Lambda, sp.Lambda], sp.Lambda | None] = {}


def piecewise_output_derivative(forward: sp.Lambda, derivative: sp.Lambda) -> sp.Lambda | None:
    """φ′ as a Lambda of (z, g), g = φ(z), when some branch of φ′ is g plus a constant (module docstring); else None."""
    key = (forward, derivative)
    if key not in _CACHE:
        _CACHE[key] = _derive(forward, derivative)
    return _CACHE[key]


def _derive(forward: sp.Lambda, derivative: sp.Lambda) -> sp.Lambda | None:
    if len(forward.variables) != 1 or forward.variables != derivative.variables:
        return None
    (z,) = forward.variables
    f, d = sp.piecewise_fold(forward.expr), sp.piecewise_fold(derivative.expr)
    if not (isinstance(f, sp.Piecewise) and isinstance(d, sp.Piecewise)):
        return None
    f_conditions = [c for _, c in f.args]
    pieces, through_output = [], False
    for j, (di, dc) in enumerate(d.args):
        if z not in di.free_symbols:  # a constant slope (a kink's value): kept as it is
            pieces.append((di, dc))
            continue
        # φ′ takes this branch where dc holds and no earlier condition of φ′ does; φ takes its branch k
        # there when every condition before k is one φ′ tested earlier.
        if dc not in f_conditions:
            return None
        k = f_conditions.index(dc)
        if not set(f_conditions[:k]) <= {c for _, c in d.args[:j]}:
            return None
        fi = f.args[k][0]
        c = sp.expand(di - fi)
        if z in c.free_symbols or sp.expand(di - (fi + c)) != 0:
            return None
        pieces.append((_G + c, dc))
        through_output = True
    return sp.Lambda((z, _G), sp.Piecewise(*pieces)) if through_output else None
