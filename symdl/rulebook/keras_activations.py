"""``keras.activations`` that PyTorch lacks: squareplus and sparse_plus.

Definitions follow Keras 3 (``keras.activations.squareplus(x, b=4)`` and
``keras.activations.sparse_plus(x)``). squareplus is Barron's (2021)
algebraic softplus (z + √(z² + b))/2; sparse_plus is the C¹ piecewise
quadratic of Martins et al. (sparsemax's loss): 0, (z + 1)²/4, z below −1,
between, above 1. Both are continuous with a continuous derivative: no kinks.
"""

from __future__ import annotations

import sympy as sp

from .definition import Definition, Param
from .registry import register

z = sp.Symbol("z", real=True)


@register("squareplus", "activation", (Param("b", 4.0, "smoothness near 0 (b = 0 is ReLU)", positive=True),))
def squareplus(b: sp.Symbol) -> Definition:
    """g(z; b) = (z + √(z² + b))/2; g' = (1 + z/√(z² + b))/2."""
    root = sp.sqrt(z**2 + b)
    return Definition(
        expr=(z + root) / 2,
        inputs=(z,),
        textbook=(1 + z / root) / 2,
        # z + √(z² + b) = b/(√(z² + b) − z): for z ≪ 0 the sum cancels (0 at z = −1e9 in float64, 25 % off at −1e8),
        # the quotient does not.
        stable_expr=sp.Piecewise(((z + root) / 2, z >= 0), (b / (2 * (root - z)), True)),
        stable_derivative=sp.Piecewise(((1 + z / root) / 2, z >= 0), (b / (2 * root * (root - z)), True)),
        notes="Printed as b/(2(√(z² + b) − z)) for z < 0, where z + √(z² + b) cancels.",
    )


@register("sparse_plus", "activation")
def sparse_plus() -> Definition:
    """g(z) = 0 for z ≤ −1, (z + 1)²/4 for −1 < z < 1, z for z ≥ 1; g' = 0, (z + 1)/2, 1 (continuous)."""
    return Definition(
        expr=sp.Piecewise((0, z <= -1), ((z + 1) ** 2 / 4, z < 1), (z, True)),
        inputs=(z,),
        textbook=sp.Piecewise((0, z <= -1), ((z + 1) / 2, z < 1), (1, True)),
    )
