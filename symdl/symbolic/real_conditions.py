"""A branch condition read at a point, refusing in one line to order a value that is not real there.

An if-then-else decides its test first, so that the branch not taken is never
compared (``abs`` rewritten as ITE(z ≥ 0, z ≥ √z, z ≥ √−z) must not order √z
at z < 0); SymPy's TypeError for a comparison of a non-real number becomes a
:class:`~symdl.symbolic.grammar.FormulaError` saying where the formula is not
real and what is accepted instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from .grammar import FormulaError

__all__ = ["condition_at", "substituted"]


def condition_at(cond: sp.Basic, at: Mapping[sp.Symbol, sp.Expr]) -> sp.Basic:
    """``cond`` at ``at``, an if-then-else deciding its test first: ``abs`` rewritten as ITE(z ≥ 0, z ≥ √z, z ≥ √−z)
    must not order √z at z < 0, where that branch is not taken."""
    if cond in (sp.true, sp.false):
        return cond
    if isinstance(cond, sp.ITE):
        test = condition_at(cond.args[0], at)
        if test in (sp.true, sp.false):
            return condition_at(cond.args[1] if test == sp.true else cond.args[2], at)
    try:
        return substituted(cond, at)
    except TypeError:  # SymPy refuses to order a number that is not real (z ≥ √z at z < 0)
        raise FormulaError(_not_real_message(cond, at)) from None


def substituted(expr: sp.Basic, at: Mapping[sp.Basic, sp.Expr]) -> sp.Basic:
    """``expr`` at ``at``: one exact replacement of the symbols where every value is a number (the same result as
    SymPy's subs, without its sorting and per-key rebuilding: a case analysis reads every condition at every probe),
    else SymPy's subs."""
    if all(isinstance(v, sp.Basic) and v.is_number for v in at.values()):
        return expr.xreplace(dict(at))
    return expr.subs(at)


def _not_real_message(cond: sp.Basic, at: Mapping[sp.Symbol, sp.Expr]) -> str:
    """What is wrong with a condition that compares a value not real at ``at``, and what is accepted instead."""
    part = next((p for p in sp.postorder_traversal(cond) if isinstance(p, sp.Expr) and p.free_symbols
                 and _is_not_real(p.subs(at))), cond)
    where = ", ".join(f"{s} = {sp.nsimplify(v, rational=True) if v.is_Float else v}" for s, v in at.items()
                      if s in part.free_symbols)
    base = part.base if isinstance(part, sp.Pow) else part.args[0] if isinstance(part, sp.log) else None
    variables = sorted(base.free_symbols & set(at), key=str) if base is not None else []
    if base is not None and len(variables) == 1 and base.free_symbols <= set(variables):
        try:
            below = sp.solve_univariate_inequality(base < 0, variables[0], relational=True)
            where = str(below).replace("(-oo < ", "(").replace("-oo < ", "")
        except (NotImplementedError, ValueError, TypeError):
            pass
    return (f"{part} is not real for {where}, so the condition {cond} cannot be decided there: symdl compares "
            f"real values only; restrict the formula to where it is real, e.g. sqrt(abs(z)) or sqrt(max(z, 0)) "
            f"for sqrt(z)")


def _is_not_real(value: sp.Expr) -> bool:
    try:
        return sp.N(value, 15).is_real is False
    except (TypeError, ValueError, ZeroDivisionError):
        return False
