"""Derivatives as network math needs them."""

from __future__ import annotations

import sympy as sp

__all__ = ["diff_away_from_jumps"]


def diff_away_from_jumps(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """d expr / d var, with DiracDelta (the derivative of sign or Heaviside) as 0.

    It is 0 away from the jump, and the value at a jump is the kink convention's business.
    """
    return sp.diff(expr, var).replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
