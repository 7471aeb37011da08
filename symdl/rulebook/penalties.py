"""Weight penalties Ω(w) = Σ ω(w), summed over all weights; gradient element-wise."""

from __future__ import annotations

import sympy as sp

from .definition import Definition, Param
from .registry import register

w = sp.Symbol("w", real=True)
_STRENGTH = Param("lam", 0.01, "penalty strength λ")


@register("l1", "penalty", (_STRENGTH,))
def l1(lam: sp.Symbol) -> Definition:
    """Ω(w) = λ·Σ|w|; ∂Ω/∂w = λ·sign(w), the subgradient 0 at w = 0."""
    return Definition(
        expr=lam * sp.Abs(w),
        inputs=(w,),
        textbook=lam * sp.sign(w),
        pytorch_kinks={sp.Integer(0): sp.Integer(0)},
        reduce_sum=True,
    )


@register("l2", "penalty", (_STRENGTH,))
def l2(lam: sp.Symbol) -> Definition:
    """Ω(w) = λ·Σw² (no ½, as Keras' l2); ∂Ω/∂w = 2λw."""
    return Definition(expr=lam * w**2, inputs=(w,), textbook=2 * lam * w, reduce_sum=True)
