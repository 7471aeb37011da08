"""max/min and Heaviside as Piecewise, the forms a formula rule keeps: a derivative takes the branch that holds at a kink.

max(a, b) = Piecewise((a, a ≥ b), (b, True)) and Heaviside(x) = Piecewise((0, x < 0), (h₀, x = 0), (1, True)).
SymPy differentiates Max into Heaviside, whose value at 0 is 1/2; a Piecewise's derivative takes the branch that
holds there (relu(z) → 0 at 0, as PyTorch).
"""

from __future__ import annotations

import sympy as sp

__all__ = ["heaviside_piecewise", "minmax_piecewise"]


def minmax_piecewise(minmax: sp.Expr) -> sp.Expr:
    """max(a, b) → Piecewise((a, a ≥ b), (b, True)) (min alike) with the conditions comparing the arguments as typed.

    Rewritten all the way down, a condition turns |z| into an if-then-else whose arms numpy evaluates both:
    z/(1 + |z|) ≤ c became z/(1 − z) ≤ c for z < 0, which divides by 0 at z = 1. The values are kept too (a max/min
    inside one is rewritten already, from the inside out): |z − 1| rewritten became Piecewise((z − 1, z ≥ 1), (1 − z,
    True)), whose derivative at 1 takes its z ≥ 1 branch, 1, where |z − 1| alone gives sign(0) = 0, PyTorch's value.
    """
    shallow = minmax.rewrite(sp.Piecewise, deep=False)
    if not isinstance(shallow, sp.Piecewise):
        return minmax.rewrite(sp.Piecewise)
    return shallow


def heaviside_piecewise(step: sp.Heaviside) -> sp.Expr:
    """Heaviside(x, h0) as 0 for x < 0, h0 at 0 (SymPy's default 1/2), 1 for x > 0: a Piecewise, whose jump is a kink."""
    x, h0 = step.args[0], (step.args[1] if len(step.args) > 1 else sp.S.Half)
    return sp.Piecewise((0, x < 0), (h0, sp.Eq(x, 0)), (1, True))
