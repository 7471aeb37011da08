"""The shortest of a few equal forms of an expression, for a line a person reads (a jump, a one-sided value).

``factor`` alone writes 1 − e²⁰/(1 + e²⁰) as 1/((1 + e⁴)(e¹⁶ − e¹² + e⁸ − e⁴ + 1))
(it factors 1 + x⁵ in x = e⁴); ``cancel`` gives 1/(1 + e²⁰). Each candidate is
the same value (these are identities), and the one with the fewest operations
wins; ``factor``'s is kept unless another has more than :data:`FACTOR_SLACK`
fewer (−d(d − 2)/2 rather than d(2 − d)/2 or d²/2 − d).
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

__all__ = ["FACTOR_SLACK", "MAX_READABLE_OPS", "approximately", "readable"]

#: Above this many operations only the expression as given is used: factor and cancel grow with its size, and a
#: line to read should not wait on them (the jump of a formula's boundary is a handful of operations).
MAX_READABLE_OPS = 80

#: Operations ``factor``'s form may have beyond the shortest form and still be chosen: a sign pulled out front
#: (one operation) reads better as a product than the expanded form does.
FACTOR_SLACK = 1


def _exp_form(e: sp.Expr) -> sp.Expr:
    return sp.factor(e.rewrite(sp.exp)) if e.has(sp.cosh, sp.sinh, sp.tanh) else e


def _as_given(e: sp.Expr) -> sp.Expr:
    return e


#: In order of preference on a tie.
_FORMS: tuple[Callable[[sp.Expr], sp.Expr], ...] = (_as_given, sp.cancel, sp.together, _exp_form)


def readable(expr: sp.Expr) -> sp.Expr:
    """factor(e), unless one of {e, cancel(e), together(e), e with cosh/sinh as exp} has > FACTOR_SLACK fewer operations.

    Among those, the fewest operations, then the shortest text, then the first.
    """
    if not isinstance(expr, sp.Expr) or expr.is_Atom or sp.count_ops(expr) > MAX_READABLE_OPS:
        return expr
    candidates = []
    for form in _FORMS:
        try:
            candidates.append(form(expr))
        except (sp.PolynomialError, NotImplementedError, TypeError, ValueError):  # a form SymPy cannot take here
            continue
    shortest = min(candidates, key=lambda c: (sp.count_ops(c), len(str(c))))  # min keeps the first of equals
    try:
        factored = sp.factor(expr)
    except (sp.PolynomialError, NotImplementedError, TypeError, ValueError):
        return shortest
    return factored if sp.count_ops(factored) <= sp.count_ops(shortest) + FACTOR_SLACK else shortest


def approximately(expr: sp.Expr, digits: int = 3) -> str:
    """`` (≈ 2.06e-09)`` (``digits`` significant) for a number that is not a rational written out; empty otherwise (symbols, 1/2, 0)."""
    if not isinstance(expr, sp.Expr) or expr.free_symbols or expr.is_Rational:
        return ""
    value = sp.N(expr, 15)
    if not value.is_real or not value.is_finite:
        return ""
    return f" (≈ {float(value):.{digits}g})"
