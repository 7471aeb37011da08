"""The two primitives every derivation in :mod:`symdl.rulebook` shares: d expr/d var with DiracDelta as 0, and the primed index.

They live below :mod:`~symdl.rulebook.rule`, :mod:`~symdl.rulebook.vector_rules` and
:mod:`~symdl.rulebook.derivation_steps`, so each of those can use them without importing another.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["diff", "fresh_index"]


def diff(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """d expr / d var, with DiracDelta (the derivative of sign or Heaviside) as 0: it is 0 away from the
    jump, and the value at a jump is the kink convention's business."""
    return sp.diff(expr, var).replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


def fresh_index(index: sp.Symbol) -> sp.Symbol:
    """i ↦ i′: the index of a Jacobian's target wrt[i′] next to the output's own index i (0 ≤ i′, an integer)."""
    return sp.Symbol(f"{index.name}'", integer=True, nonnegative=True)
