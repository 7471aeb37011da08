"""The branch of a piecewise expression that holds at a point: each Piecewise, Abs, sign, Heaviside, Min and Max
replaced by the formula it takes there (a case analysis reads one branch per interval of every parameter sample)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import sympy as sp

from .real_conditions import condition_at, substituted
from .regimes import elementary

__all__ = ["PIECEWISE_ATOMS", "branch_and_value_at", "resolve_branches", "value_at"]

#: The nodes that choose a branch.
PIECEWISE_ATOMS = (sp.Piecewise, sp.Abs, sp.sign, sp.Heaviside, sp.Min, sp.Max)


def resolve_branches(expr: sp.Expr, at: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    """``expr`` with each Piecewise, Abs, sign, Min and Max replaced by the branch that holds at ``at``."""
    expr = _min_max_as_branches(elementary(expr))
    resolved: dict[sp.Basic, sp.Basic] = {}

    def resolve(e: sp.Basic) -> sp.Basic:
        # Outermost first: a Piecewise's condition is read at ``at`` before its value is resolved, so a branch not
        # taken is never rebuilt (SymPy's Piecewise of a picked inner branch cost 3 ms to collapse).
        if e in resolved:
            return resolved[e]
        if not e.has(*PIECEWISE_ATOMS):
            out = e
        elif isinstance(e, sp.Piecewise):
            out = resolve(_pick(e, at))
        elif isinstance(e, (sp.Min, sp.Max)):
            out = resolve(e.rewrite(sp.Piecewise))
        elif isinstance(e, (sp.Abs, sp.sign, sp.Heaviside)):
            arg = resolve(e.args[0])
            signed = _signed(arg, at, zero=isinstance(e, sp.sign))
            out = signed * arg if isinstance(e, sp.Abs) else signed if isinstance(e, sp.sign) else (1 + signed) / 2
        else:
            out = e.func(*(resolve(a) for a in e.args))
        resolved[e] = out
        return out

    return resolve(expr)


def value_at(expr: sp.Expr, var: sp.Symbol, at: sp.Expr, others: Mapping[sp.Symbol, sp.Expr] | None = None) -> sp.Expr:
    """``expr`` at ``var`` = ``at``. SymPy orders both sides of every condition when substituting, also in an
    if-then-else's arm not taken (|z| as ITE(z ≥ 0, z/(z + 1) ≤ 27, z/(1 − z) ≤ 27) orders zoo at z = −1, a
    TypeError): there the branches that hold at the point (the other symbols at ``others``) are picked first, then
    ``at`` substituted. ValueError or TypeError where they cannot be picked so."""
    return branch_and_value_at(expr, var, at, others)[1]


def branch_and_value_at(
    expr: sp.Expr, var: sp.Symbol, at: sp.Expr, others: Mapping[sp.Symbol, sp.Expr] | None = None
) -> tuple[sp.Expr, sp.Expr]:
    """(what is read at the point, its value there) of :func:`value_at`: ``expr`` itself where SymPy substitutes
    ``at``, else its branches that hold at ``at`` read at ``others`` (a point z = c is picked at c's value)."""
    try:
        return expr, expr.subs(var, at)
    except TypeError:
        others = dict(others or {})
        branch = resolve_branches(expr, {**others, var: substituted(at, others)})
        return branch, branch.subs(var, at)


@functools.lru_cache(maxsize=1024)
def _min_max_as_branches(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each Min and Max written as a Piecewise, once per process for each expression: a case analysis
    resolves the same expression's branches at every interval of every parameter sample (SymPy's rewrite of
    max(|2x − a − b|, |a − b|) took 7 ms each time)."""
    return expr.replace(lambda e: isinstance(e, (sp.Min, sp.Max)), lambda e: e.rewrite(sp.Piecewise))


def _pick(pw: sp.Piecewise, at: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    """The value of the first (value, condition) pair of ``pw`` whose condition is true at ``at``."""
    for value, cond in pw.args:
        truth = condition_at(cond, at)
        if truth == sp.true:
            return value
        if truth != sp.false:
            raise ValueError(f"cannot decide the condition {cond} at {dict(at)}")
    raise ValueError(f"no branch of {pw} holds at {dict(at)}")


def _signed(arg: sp.Expr, at: Mapping[sp.Symbol, sp.Expr], zero: bool = False) -> sp.Expr:
    """sign(arg) at ``at`` (30 digits), 1 at 0 unless ``zero`` (|u| = u and H(u) = 1 there, sign(0) = 0)."""
    value = sp.sign(sp.N(substituted(arg, at), 30))
    if value == 0 and not zero:
        return sp.S.One
    return value
