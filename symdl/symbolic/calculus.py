"""Derivatives as network math needs them."""

from __future__ import annotations

import functools

import sympy as sp

from ..budget import check_size

__all__ = ["diff_away_from_jumps", "fresh_index"]


def diff_away_from_jumps(expr: sp.Expr, var: sp.Symbol, of: str | None = None) -> sp.Expr:
    """d expr / d var, with DiracDelta (the derivative of sign or Heaviside) as 0.

    It is 0 away from the jump, and the value at a jump is the kink convention's business. A derivative of more
    than :data:`symdl.budget.MAX_NODES` nodes is :class:`symdl.budget.ExpressionTooLarge` ("the derivative of
    ``of`` by var …").
    """
    derived = _derivative(expr, var)
    check_size(derived, f"the derivative of {of or 'the expression'} by {var}")  # on each call: the limit may change
    return _without_deltas(derived)


# Once per process for each expression: a rule's checks and its planted mistakes take the same derivative again.
@functools.lru_cache(maxsize=1024)
def _derivative(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    return sp.diff(expr, var)


@functools.lru_cache(maxsize=1024)
def _without_deltas(derived: sp.Expr) -> sp.Expr:
    return derived.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


def fresh_index(index: sp.Symbol) -> sp.Symbol:
    """i → i′: a second index over the same axis (the input index of a Jacobian ∂out_i/∂in_i′)."""
    return sp.Symbol(f"{index.name}'", integer=True, nonnegative=True)
