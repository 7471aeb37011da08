"""A graph of formula layers (symdl.graph.Formula) for the module tests: every way a formula node prints.

A dense formula (matrix products inline), one with a sum over its input and a softplus (kernels with reductions),
a shared quadratic form (contractions: einsum, a parameter's VJP summed over the batch) and a two-input
formula fed through a stop-gradient.
"""

from __future__ import annotations

import symdl
from symdl.graph import Dense, Formula, Input, Model, StopGradient

__all__ = ["formula_graph"]


def formula_graph() -> Model:
    dense = symdl.formula_layer("y[i] = tanh(sum(W[i, j] * x[j], j) + b[i])", inputs={"x": "in"},
                                params={"W": ("out", "in"), "b": "out"}, name="mydense")
    scaled = symdl.formula_layer("y[i] = x[i] / (1 + sum(x[j]**2, j)) + 0.5 * softplus(a[i] * x[i])",
                                 inputs={"x": "n"}, params={"a": "n"}, name="scaled")
    quad = symdl.formula_layer("y[i] = sum(W[i, j] * x[j]**2, j) + c[i] * x[i]", inputs={"x": "n"},
                               params={"W": ("n", "n"), "c": "n"}, name="quad")
    mult = symdl.formula_layer("y[i] = x1[i] * x2[i] + exp(-x1[i])", inputs={"x1": "n", "x2": "n"}, name="mult")
    x = Input(3)
    h = Formula(dense, sizes={"out": 4})(x)
    shared = Formula(quad, init={"W": "he_normal", "c": 0.5})
    # a ≠ 0: at a = 0 every a·x is exactly 0, the kink of the printed stable softplus, where autodiff picks a side
    g = shared(Formula(scaled, init={"a": 0.3})(shared(h)))
    return Model(x, Dense(2)(Formula(mult)([g, StopGradient()(h)])), losses="mse")
