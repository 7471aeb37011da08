r"""BP1–BP4 as claims to check: the equations sorted by layer, instantiated at a unit, δ unrolled; exact counterexamples.

A claim is refuted by one instance: a concrete smooth φ and C with their exact
derivatives (φ(u) = u + u²/3, C(u, v) = (u − v)²/2 + u³/5) and rational weights
at small widths. Used by :mod:`symdl.backprop.index_proofs` and
:mod:`symdl.backprop.concrete_proofs`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from .index_form import (
    COST,
    bias,
    cost,
    cost_prime,
    delta,
    sigma,
    sigma_prime,
    weight,
    width,
)

__all__ = ["instantiate", "sort_equations", "unroll_deltas"]

# The unit a derivative is taken at: w^l_{pq}, b^l_p.
p, q = sp.symbols("p q", integer=True, nonnegative=True)


# --- equations as claims -----------------------------------------------------


@dataclass(frozen=True)
class _Claims:
    """Equations sorted by what they define: δ^l, ∂C/∂b^l, ∂C/∂w^l; each as (its free indices, rhs)."""

    deltas: Mapping[int, tuple[tuple[sp.Symbol, ...], sp.Expr]]
    biases: Mapping[int, tuple[tuple[sp.Symbol, ...], sp.Expr]]
    weights: Mapping[int, tuple[tuple[sp.Symbol, ...], sp.Expr]]


def _layer_of(base: sp.IndexedBase, maker: Callable[[int], sp.IndexedBase], depth: int, start: int = 1) -> int | None:
    for layer in range(start, depth + 1):
        if base == maker(layer):
            return layer
    return None


def sort_equations(equations: Iterable[sp.Eq], depth: int) -> _Claims:
    """The index-form equations of a depth-``depth`` network sorted into δ (BP1/BP2), ∂C/∂b (BP3) and ∂C/∂w (BP4) claims."""
    deltas, biases, weights = {}, {}, {}
    for eq in equations:
        if not isinstance(eq, sp.Eq):
            raise TypeError(f"equations must be sympy Eq objects, got {type(eq).__name__}")
        lhs = eq.lhs
        if isinstance(lhs, sp.Indexed) and (layer := _layer_of(lhs.base, delta, depth)) is not None:
            deltas[layer] = (lhs.indices, eq.rhs)
            continue
        if isinstance(lhs, sp.Derivative) and lhs.expr == COST and len(lhs.variables) == 1:
            target = lhs.variables[0]
            if isinstance(target, sp.Indexed):
                if (layer := _layer_of(target.base, bias, depth)) is not None:
                    biases[layer] = (target.indices, eq.rhs)
                    continue
                if (layer := _layer_of(target.base, weight, depth)) is not None:
                    weights[layer] = (target.indices, eq.rhs)
                    continue
        raise ValueError(f"equation {eq} defines neither delta^l nor dC/db^l nor dC/dw^l of a depth-{depth} network")
    return _Claims(deltas, biases, weights)


def instantiate(indices: Sequence[sp.Symbol], rhs: sp.Expr, values: Sequence[sp.Expr]) -> sp.Expr:
    """``rhs`` with its free indices set to ``values``, bound sum indices first renamed apart (no capture)."""
    rhs = rhs.replace(
        lambda e: isinstance(e, sp.Sum),
        lambda e: e.xreplace({v: sp.Dummy(v.name, integer=True) for v in e.variables}),
    )
    return rhs.xreplace(dict(zip(indices, values)))


def unroll_deltas(expr: sp.Expr, claims: _Claims, depth: int) -> sp.Expr:
    """``expr`` with every δ^l[i] replaced by its equation's right side, repeatedly, until no δ is left."""
    for _ in range(depth + 1):
        found = [e for e in expr.atoms(sp.Indexed) if _layer_of(e.base, delta, depth) is not None]
        if not found:
            return expr
        subs = {}
        for e in found:
            layer = _layer_of(e.base, delta, depth)
            if layer is None or layer not in claims.deltas:
                raise ValueError(f"no equation defines delta^{layer}")
            indices, rhs = claims.deltas[layer]
            subs[e] = instantiate(indices, rhs, e.indices)
        expr = expr.xreplace(subs)
    raise ValueError("the delta equations refer to each other in a cycle")


# --- counterexamples ---------------------------------------------------------

_u, _v = sp.symbols("u v", real=True)
# A concrete smooth φ and C with their exact derivatives: one instance is enough to refute a claim for all φ, C.
_WITNESS_FUNCTIONS: tuple[tuple[type[sp.Function], sp.Lambda], ...] = (
    (sigma, sp.Lambda(_u, _u + _u**2 / 3)),
    (sigma_prime, sp.Lambda(_u, 1 + 2 * _u / 3)),
    (cost, sp.Lambda((_u, _v), (_u - _v) ** 2 / 2 + _u**3 / 5)),
    (cost_prime, sp.Lambda((_u, _v), _u - _v + 3 * _u**2 / 5)),
)


def _rational_values(atoms: Iterable[sp.Expr], seed: int) -> dict[sp.Expr, sp.Rational]:
    ordered = sorted(atoms, key=sp.default_sort_key)
    values = {}
    for t, atom in enumerate(ordered):
        value = Fraction((7 * t + 3 * seed + 2) % 11 - 5, 3 + (t + seed) % 4)
        values[atom] = sp.Rational(value.numerator, value.denominator) if value else sp.Rational(1, 7)
    return values


def _expand_sums(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every sum over concrete bounds written out term by term (Sum.doit looks for closed forms: slow)."""

    def write_out(s: sp.Sum) -> sp.Expr:
        if not all(bound.is_Integer for _, low, high in s.limits for bound in (low, high)):
            return s
        terms = [s.function]
        for var, low, high in reversed(s.limits):  # the last limit is the outermost
            terms = [t.xreplace({var: value}) for t in terms for value in range(int(low), int(high) + 1)]
        return sp.Add(*terms)

    return expr.replace(lambda e: isinstance(e, sp.Sum), write_out)


def _counterexample(difference: sp.Expr, depth: int, free: Sequence[sp.Symbol]) -> str | None:
    """An exact point (widths, p, q, weights, φ, C) where ``difference`` ≠ 0, described; None if none found."""
    sizes = {width(layer): 2 for layer in range(depth + 1)}
    for choice in itertools.product(range(2), repeat=len(free)):
        at = {**sizes, **dict(zip(free, choice))}
        concrete = _expand_sums(difference.xreplace(at))
        for seed in range(2):
            values = _rational_values(concrete.atoms(sp.Indexed), seed)
            value = concrete.xreplace(values)
            for function, lam in _WITNESS_FUNCTIONS:
                value = value.replace(function, lam)
            if value.is_Rational and value != 0:
                where = ", ".join(f"{s} = {v}" for s, v in at.items())
                return (
                    f"refuted by an exact counterexample: {where}, phi(u) = u + u²/3, C(a, y) = (a − y)²/2 + a³/5, "
                    f"rational weights (seed {seed}) give a difference of {value}"
                )
    return None
