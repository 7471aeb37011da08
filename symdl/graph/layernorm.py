r"""LayerNorm in a graph (Keras' ``LayerNormalization``): yᵢ = γᵢ (xᵢ − μ)/√(σ² + ε) + βᵢ over each sample's features.

Per sample, over the n features of the node (Ba, Kiros & Hinton 2016):
μ = (1/n) Σⱼ xⱼ, σ² = (1/n) Σₖ (xₖ − μ)² (the centred values squared, never
E[x²] − μ², which cancels), x̂ᵢ = (xᵢ − μ)/√(σ² + ε). The same in training and
at inference: no running statistics. The layer *is* a
:class:`~symdl.graph.formula.Formula` of the one :func:`symdl.formula_layer`
:func:`layer_norm_formula` writes, so its VJPs are derived by delta
contraction, proven at concrete widths and printed (numpy, JAX, torch) from
that expression like any formula layer's.

>>> from symdl.graph import Input, LayerNorm, Model
>>> x = Input(4)
>>> model = Model(x, LayerNorm()(x), losses="mse")
>>> sorted(model.parameter_shapes.items())
[('beta1', (4,)), ('gamma1', (4,))]

:func:`textbook_vjp` is the backward pass as a textbook writes it, with
g = ∂C/∂y and ĝ = γ ⊙ g:
∂C/∂xᵢ = (ĝᵢ − mean(ĝ) − x̂ᵢ · mean(ĝ ⊙ x̂)) / √(σ² + ε); :func:`prove_textbook`
proves it equal to the derivative at concrete widths, exactly.
"""

from __future__ import annotations

import sympy as sp

from ..arguments import number_in_range
from ..excerpt import excerpt
from ..formula_layers.layer import FormulaLayer, formula_layer
from ..symbolic.index_parse import dimension, index_symbol
from ..symbolic.proof import Proof
from .formula import Formula

__all__ = ["LayerNorm", "layer_norm_formula", "prove_textbook", "textbook_vjp"]

_MEAN = "sum(x[j], j)/n"


def layer_norm_formula(epsilon: float = 1e-3, center: bool = True, scale: bool = True) -> FormulaLayer:
    """The formula layer y[i] = gamma[i]*(x[i] − μ)/sqrt(σ² + ε) + beta[i] over the dimension ``n`` (γ, β as flagged)."""
    xhat = f"(x[i] - {_MEAN})/sqrt(sum((x[k] - {_MEAN})**2, k)/n + {epsilon!r})"
    text = "y[i] = " + (f"gamma[i]*{xhat}" if scale else xhat) + (" + beta[i]" if center else "")
    params = {name: "n" for name, flag in (("gamma", scale), ("beta", center)) if flag}
    return formula_layer(text, inputs={"x": "n"}, params=params, name="layer_norm")


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"LayerNorm: {what} must be True or False, got {excerpt(value)}")
    return value


class LayerNorm(Formula):
    """Keras' ``LayerNormalization(epsilon=1e-3, center=True, scale=True)`` over the features of a node: γ (from 1)
    when ``scale``, β (from 0) when ``center``; PyTorch's ``nn.LayerNorm(n, eps=1e-5)`` is ``LayerNorm(epsilon=1e-5)``."""

    def __init__(self, epsilon: float = 1e-3, center: bool = True, scale: bool = True, name: str | None = None) -> None:
        self.epsilon = number_in_range("LayerNorm: epsilon", epsilon, 0.0, None)
        self.center, self.scale = _flag(center, "center"), _flag(scale, "scale")
        layer = layer_norm_formula(self.epsilon, self.center, self.scale)
        super().__init__(layer, init={"gamma": 1.0} if self.scale else None, name=name)

    def config(self) -> dict[str, object]:
        return {"epsilon": self.epsilon, "center": self.center, "scale": self.scale}

    def to_config(self) -> dict[str, object]:
        return self.config()

    @classmethod
    def from_config(cls, config: dict[str, object]) -> LayerNorm:
        extra = sorted(set(config) - {"epsilon", "center", "scale"})
        if extra:
            raise ValueError(f"LayerNorm: unknown key {extra[0]!r}; keys: epsilon, center, scale")
        return cls(**config)  # type: ignore[arg-type]


# --- the textbook backward pass, proven --------------------------------------------------------------------------


def textbook_vjp(layer: FormulaLayer, epsilon: float = 1e-3, variant: str = "textbook") -> sp.Expr:
    r"""∂C/∂x[i′] = (ĝ[i′] − (1/n) Σᵢ ĝ[i] − x̂[i′] (1/n) Σᵢ ĝ[i] x̂[i]) / √(σ² + ε), ĝ = γ ⊙ v_y, in the layer's symbols.

    ``layer`` is :func:`layer_norm_formula`'s (its ε ``epsilon``). ``variant="no_xhat_term"`` leaves out the x̂ · mean(ĝ ⊙ x̂) term (the gradient through σ²): a wrong claim that
    :func:`prove_textbook` must refute.
    """
    if variant not in ("textbook", "no_xhat_term"):
        raise ValueError(f"textbook_vjp: variant must be 'textbook' or 'no_xhat_term', got {excerpt(variant)}")
    x, v = sp.IndexedBase("x", real=True), sp.IndexedBase("v_y", real=True)
    gamma = sp.IndexedBase("gamma", real=True) if "gamma" in layer.params else None
    i, j, k = (index_symbol(c) for c in "ijk")
    (p,) = layer.vjp_indices("x")
    n = dimension("n")
    mean = sp.Sum(x[j], (j, 0, n - 1)) / n
    root = sp.sqrt(sp.Sum((x[k] - mean) ** 2, (k, 0, n - 1)) / n + sp.Rational(repr(float(epsilon))))

    def xhat(at: sp.Symbol) -> sp.Expr:
        return (x[at] - mean) / root

    def ghat(at: sp.Symbol) -> sp.Expr:
        return v[at] * gamma[at] if gamma is not None else v[at]

    through_sigma = xhat(p) * sp.Sum(ghat(i) * xhat(i), (i, 0, n - 1)) / n
    body = ghat(p) - sp.Sum(ghat(i), (i, 0, n - 1)) / n - (through_sigma if variant == "textbook" else 0)
    return body / root


def prove_textbook(width: int, epsilon: float = 1e-3, variant: str = "textbook", scale: bool = True) -> Proof:
    """:func:`textbook_vjp` minus the derivative of Σᵢ v_y[i] y[i] by each x[p], shown ≡ 0 exactly at n = ``width``."""
    layer = layer_norm_formula(epsilon, center=True, scale=scale)
    proofs = layer.prove({"n": width}, claims={"x": textbook_vjp(layer, epsilon, variant)})
    return next(proof for label, proof in proofs.items() if label.startswith("vjp by x "))
