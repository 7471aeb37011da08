"""BP1–BP4 in matrix form, for a network built from library rules, as SymPy objects.

For one sample, layer l of an L-layer MLP computes

    zˡ = Wˡ aˡ⁻¹ + bˡ,    aˡ = φ(zˡ),    a⁰ = x,    C = Σⱼ ℓ(aᴸⱼ, yⱼ),

and backpropagation is

    BP1  δᴸ = ∇ₐC ⊙ φ′(zᴸ)
    BP2  δˡ = (Wˡ⁺¹)ᵀ δˡ⁺¹ ⊙ φ′(zˡ)
    BP3  ∂C/∂bˡ = δˡ
    BP4  ∂C/∂Wˡ = δˡ (aˡ⁻¹)ᵀ

The widths are symbols (``n_l``), so deriving the equations costs the same
for any width. Element-wise functions are :class:`Elementwise` nodes that
carry the rule's SymPy expression (a ``Lambda``); a vector rule (softmax, the
softmax cross-entropy) enters as a :class:`VectorRuleCall`, and BP1
becomes δᴸ = J_φ(zᴸ)ᵀ ∇ₐC. The proofs that these equations are the
derivative of C are in :mod:`symdl.backprop.index_proofs`: index notation (any
width, :func:`~symdl.backprop.index_proofs.prove_symbolic_widths`) and
:func:`symdl.backprop.index_proofs.prove_concrete_sizes` (scalars, exact).

SymPy's own derivative of matrix expressions is never used: it is not
trusted (of a loss over an element-wise activation of W·x it raises).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

# The seeds' index form (δˡⱼ = Σₖ wˡ⁺¹ₖⱼ δˡ⁺¹ₖ φ′(zˡⱼ), …) lives with its proofs' network; it is part of this module's API.
from ..display_hooks import Displayed
from ..layers.base import Layer, LayerSymbols
from ..layers.dense import bias_gradient, linear_forward, weight_gradient
from ..symbolic.array_nodes import Elementwise, KernelCall, VectorRuleCall
from .index_form import index_equations

__all__ = [
    "ActivationForms",
    "BackpropEquations",
    "KernelCall",
    "LossForms",
    "Elementwise",
    "LayerSymbols",
    "VectorRuleCall",
    "bp_equations",
    "index_equations",
    "layer_symbols",
]


def _width(l: int) -> sp.Symbol:
    return sp.Symbol(f"n_{l}", integer=True, positive=True)


def layer_symbols(
    depth: int,
    extra_inputs: Sequence[Sequence[str]] | None = None,
    parts: Sequence[Sequence[Layer]] | None = None,
    training: bool = True,
) -> tuple[sp.MatrixSymbol, list[LayerSymbols]]:
    """x = a⁰ and the symbols of blocks 1..depth; ``extra_inputs[l-1]`` names learned activation inputs (PReLU's α).

    ``parts[l-1]`` are the layers attached to block l (at most one "pre" and
    one "post"); a layer inactive in this mode (dropout at inference) is left out.
    """
    x = sp.MatrixSymbol("x", _width(0), 1)
    layers = []
    for l in range(1, depth + 1):
        n, n_prev = _width(l), _width(l - 1)
        extra = tuple(extra_inputs[l - 1]) if extra_inputs else ()
        attached = [p for p in (parts[l - 1] if parts else ()) if p.active(training)]
        placed = {p.position: p for p in attached}
        if len(placed) != len(attached):
            raise ValueError(f"layer {l}: at most one layer before and one after the activation, got {attached}")
        own = {sym.stem: sym.matrix(l, n) for p in attached for sym in p.symbols()}
        layers.append(
            LayerSymbols(
                index=l,
                width=n,
                W=sp.MatrixSymbol(f"W^{{{l}}}", n, n_prev),
                b=sp.MatrixSymbol(f"b^{{{l}}}", n, 1),
                z=sp.MatrixSymbol(f"z^{{{l}}}", n, 1),
                a=sp.MatrixSymbol(f"a^{{{l}}}", n, 1),
                delta=sp.MatrixSymbol(rf"\delta^{{{l}}}", n, 1),
                grad_W=sp.MatrixSymbol(rf"\frac{{\partial C}}{{\partial W^{{{l}}}}}", n, n_prev),
                grad_b=sp.MatrixSymbol(rf"\frac{{\partial C}}{{\partial b^{{{l}}}}}", n, 1),
                grad_a=sp.MatrixSymbol(rf"\frac{{\partial C}}{{\partial a^{{{l}}}}}", n, 1),
                extra=tuple(sp.MatrixSymbol(rf"\{e}^{{{l}}}" if len(e) > 1 else f"{e}^{{{l}}}", n, 1) for e in extra),
                grad_extra=tuple(
                    sp.MatrixSymbol(rf"\frac{{\partial C}}{{\partial \{e}^{{{l}}}}}", n, 1) for e in extra
                ),
                pre=placed.get("pre"),
                post=placed.get("post"),
                training=training,
                own=own,
            )
        )
    return x, layers


@dataclass(frozen=True)
class BackpropEquations(Displayed):
    """The equations of one network, in evaluation order, each an ``Eq(symbol, expression)``.

    ``forward`` computes zˡ, aˡ; ``loss_gradient`` is ∇ₐC; ``backward``
    holds BP1–BP4 (and the learned activation inputs' gradients), labelled.
    """

    x: sp.MatrixSymbol
    y: sp.MatrixSymbol
    layers: tuple[LayerSymbols, ...]
    forward: tuple[sp.Eq, ...]
    loss_gradient: sp.Eq
    backward: tuple[tuple[str, sp.Eq], ...]
    definitions: tuple[tuple[str, str], ...] = ()
    #: The same definitions as parts for other formats: (label, LaTeX name, arguments, expression or Unicode text).
    definition_forms: tuple[tuple[str, str, tuple[sp.Symbol, ...], sp.Expr | str], ...] = ()

    def all(self) -> list[sp.Eq]:
        return [*self.forward, self.loss_gradient, *(eq for _, eq in self.backward)]

    def latex(self) -> list[tuple[str, str]]:
        """(label, LaTeX) for every equation: the functions' definitions, the forward pass, then backward."""
        out = list(self.definitions)
        out += [("forward", _latex_eq(eq)) for eq in self.forward]
        out.append(("loss gradient", _latex_eq(self.loss_gradient)))
        out += [(label, _latex_eq(eq)) for label, eq in self.backward]
        return out


def _latex_eq(eq: sp.Eq) -> str:
    # SymPy writes the Hadamard product as \circ; the seeds (and Nielsen) write \odot.
    return f"{sp.latex(eq.lhs)} = {sp.latex(eq.rhs)}".replace(r"\circ", r"\odot")


@dataclass(frozen=True)
class ActivationForms:
    """What the equations need of an element-wise activation: φ, φ′ and the learned inputs' partials.

    ``derivative`` is a Lambda of (z, extras…); ``output_derivative``, when the
    rule has one, is φ′ as a Lambda of the output g alone (φ′ = 1 − g² for
    tanh), proven equal by the rule library: code that uses it need not keep zˡ.
    """

    name: str
    forward: sp.Lambda | None
    derivative: sp.Lambda | None
    output_derivative: sp.Lambda | None = None
    extras: tuple[str, ...] = ()
    extra_partials: tuple[sp.Lambda, ...] = ()
    vector_rule: str | None = None


@dataclass(frozen=True)
class LossForms:
    """ℓ(a, y) and ∂ℓ/∂a as Lambdas, or the vector rule that computes both; κ in C = κ · Σ_samples L.

    ``reduction`` None is the batch mean κ = 1/m; otherwise κ (:func:`symdl.rulebook.reductions.reduction_factor`),
    an expression in the symbol ``batch`` (m) at most.
    """

    name: str
    value: sp.Lambda | None
    gradient: sp.Lambda | None
    vector_rule: str | None = None
    reduction: sp.Expr | None = None
    batch: sp.Symbol | None = None

    def value_lambda(self) -> sp.Lambda:
        """ℓ(a, y) of an element-wise loss; a ValueError for a vector loss, whose rule computes it."""
        if self.value is None:
            raise ValueError(f"{self.name}: a vector loss has no element-wise ℓ (its rule {self.vector_rule} computes it)")
        return self.value

    def gradient_lambda(self) -> sp.Lambda:
        """∂ℓ/∂a of an element-wise loss; a ValueError for a vector loss, whose rule computes it."""
        if self.gradient is None:
            raise ValueError(f"{self.name}: a vector loss has no element-wise ∂ℓ/∂a (its rule {self.vector_rule} computes it)")
        return self.gradient

def bp_equations(
    hidden: Sequence[ActivationForms],
    output: ActivationForms,
    loss: LossForms,
    penalty: sp.Lambda | None = None,
    *,
    output_form: bool = False,
    parts: Sequence[Sequence[Layer]] | None = None,
    training: bool = True,
) -> BackpropEquations:
    """BP1–BP4 for a network whose layers 1..L−1 use ``hidden[l-1]`` and layer L uses ``output``.

    ``penalty`` is Ω'(w) applied to every weight (∂C/∂Wˡ gains Ω'∘Wˡ). With
    ``output_form`` φ′(zˡ) is written through the output, h(aˡ), wherever the
    rule proves such a form (the numeric code's choice); otherwise the
    equations read as in the seeds.

    ``parts[l-1]`` are the layers (:class:`symdl.layers.base.Layer`) attached
    to block l; each writes its own forward and backward equations. A "pre"
    layer (batch norm) turns the linear map's output uˡ into zˡ and gives
    ∂C/∂uˡ, which BP2 and BP4 then use in place of δˡ; a "post" layer
    (dropout) turns hˡ = φ(zˡ) into aˡ and maps ∂C/∂aˡ back to ∂C/∂hˡ.
    ``training=False`` builds the inference forward pass (only it is meaningful then).
    """
    acts = [*hidden, output]
    x, layers = layer_symbols(len(acts), [f.extras for f in acts], parts, training)
    depth = len(layers)
    y = sp.MatrixSymbol("y", layers[-1].width, 1)
    forward: list[sp.Eq] = []
    previous = x
    for layer, act in zip(layers, acts):
        forward.append(linear_forward(layer, previous))
        if layer.pre is not None:
            forward += layer.pre.forward(layer)
        forward.append(sp.Eq(layer.activation_output, _apply_forward(act, layer), evaluate=False))
        if layer.post is not None:
            forward += layer.post.forward(layer)
        previous = layer.a
    top = layers[-1]
    grad_a_C = sp.MatrixSymbol(r"\nabla_{a} C", top.width, 1)
    if loss.vector_rule is not None:
        loss_gradient = VectorRuleCall(loss.vector_rule, "vjp", top.a, y)
    else:
        loss_gradient = Elementwise(r"\ell'", loss.gradient, top.a, y)
    backward: list[tuple[str, sp.Eq]] = []
    for l in range(depth, 0, -1):
        layer, act = layers[l - 1], acts[l - 1]
        upstream = grad_a_C if l == depth else layers[l].W.T * layers[l].flowing
        if layer.post is not None:
            steps, upstream = layer.post.backward(layer, upstream)
            backward += steps
        if act.extras and l != depth:
            # ∂C/∂aˡ feeds both δˡ and the learned inputs' gradients: name it once.
            backward.append((f"dC/da{l}", sp.Eq(layer.grad_a, upstream, evaluate=False)))
            upstream = layer.grad_a
        label = "BP1" if l == depth else "BP2"
        delta = _times_derivative(act, layer, upstream, output_form)
        backward.append((f"{label} (layer {l})", sp.Eq(layer.delta, delta, evaluate=False)))
        for extra, grad, partial in zip(layer.extra, layer.grad_extra, act.extra_partials):
            d_extra = Elementwise(rf"\partial_{{{extra.name}}}{act.name}", partial, layer.z, *layer.extra)
            backward.append((f"dC/d{extra.name}", sp.Eq(grad, sp.HadamardProduct(upstream, d_extra), evaluate=False)))
        if layer.pre is not None:
            steps, _ = layer.pre.backward(layer, layer.delta)
            backward += steps
        if layer.has_bias:
            backward.append(bias_gradient(layer))
        backward.append(weight_gradient(layer, x if l == 1 else layers[l - 2].a, penalty))
    return BackpropEquations(
        x=x,
        y=y,
        layers=tuple(layers),
        forward=tuple(forward),
        loss_gradient=sp.Eq(grad_a_C, loss_gradient, evaluate=False),
        backward=tuple(backward),
    )


def _apply_forward(act: ActivationForms, layer: LayerSymbols) -> sp.MatrixExpr:
    if act.vector_rule is not None:
        return VectorRuleCall(act.vector_rule, "value", layer.z)
    return Elementwise(act.name, act.forward, layer.z, *layer.extra)


def _times_derivative(
    act: ActivationForms, layer: LayerSymbols, upstream: sp.MatrixExpr, output_form: bool
) -> sp.MatrixExpr:
    """upstream ⊙ φ′(zˡ) (BP1/BP2); J_φ(zˡ)ᵀ upstream for a vector activation."""
    if act.vector_rule is not None:
        return VectorRuleCall(act.vector_rule, "vjp", layer.z, upstream)
    if output_form and act.output_derivative is not None:
        derivative = Elementwise(act.name + "'", act.output_derivative, layer.activation_output)
    else:
        derivative = Elementwise(act.name + "'", act.derivative, layer.z, *layer.extra)
    return sp.HadamardProduct(upstream, derivative)
