"""BP1–BP4 in matrix form, for a network built from library rules, as SymPy objects.

For one sample, layer l of an L-layer MLP computes

    zˡ = Wˡ aˡ⁻¹ + bˡ,    aˡ = σ(zˡ),    a⁰ = x,    C = Σⱼ ℓ(aᴸⱼ, yⱼ),

and backpropagation is

    BP1  δᴸ = ∇ₐC ⊙ σ'(zᴸ)
    BP2  δˡ = (Wˡ⁺¹)ᵀ δˡ⁺¹ ⊙ σ'(zˡ)
    BP3  ∂C/∂bˡ = δˡ
    BP4  ∂C/∂Wˡ = δˡ (aˡ⁻¹)ᵀ

The widths are symbols (``n_l``), so deriving the equations costs the same
for any width. Element-wise functions are :class:`Elementwise` nodes that
carry the rule's SymPy expression (a ``Lambda``); a vector rule (softmax, the
softmax cross-entropy) enters as a :class:`VectorRuleCall`, and BP1
becomes δᴸ = J_σ(zᴸ)ᵀ ∇ₐC. The proofs that these equations are the
derivative of C are in :mod:`symdl.backprop.index_proofs`: index notation (any
width, :func:`~symdl.backprop.index_proofs.prove_symbolic_widths`) and
:func:`symdl.backprop.index_proofs.prove_concrete_sizes` (scalars, exact).

SymPy's own derivative of matrix expressions is never used: it returns
wrong results without an error (DESIGN.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.core.symbol import Str

# The seeds' index form (δˡⱼ = Σₖ wˡ⁺¹ₖⱼ δˡ⁺¹ₖ σ'(zˡⱼ), …) lives with its proofs' network; it is part of this module's API.
from ..display_hooks import Displayed
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


class _Applied(sp.MatrixExpr):
    """Something applied to whole arrays: two describing arguments, then the arrays (which share the result's shape)."""

    @property
    def arrays(self) -> tuple[sp.MatrixExpr, ...]:
        return self.args[2:]

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return self.arrays[0].shape


class Elementwise(_Applied):
    """f∘(X₁, …, X_k): the scalar function ``f`` (a ``Lambda``) applied entry by entry.

    ``name`` is how LaTeX shows f (``\\sigma'``); all arguments share one shape.
    """

    def __new__(cls, name: str, function: sp.Lambda, *arrays: sp.MatrixExpr) -> Elementwise:
        if not isinstance(function, sp.Lambda) or len(function.variables) != len(arrays):
            raise TypeError(f"{name}: a Lambda of {len(arrays)} variables is needed, got {function}")
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"{name}: arguments of different shapes {sorted(map(str, shapes))}")
        return sp.Basic.__new__(cls, Str(name), function, *arrays)

    @property
    def name(self) -> str:
        return self.args[0].name

    @property
    def function(self) -> sp.Lambda:
        return self.args[1]

    def scalar(self) -> sp.Expr:
        """f at the Lambda's own variables: the scalar expression printed as code."""
        return self.function.expr

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        args = ", ".join(printer._print(a) for a in self.arrays)
        return rf"{self.name}\left({args}\right)"

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        return f"{self.name}({', '.join(printer._print(a) for a in self.arrays)})"


class VectorRuleCall(_Applied):
    """A vector rule (softmax, softmax_cross_entropy) applied to whole vectors: its value or a VJP.

    ``role`` is ``"value"`` (softmax(z)) or ``"vjp"``: J_f(X)ᵀ v by the rule's
    first input, with ``arrays`` = the rule's inputs followed by the cotangent
    v for an activation; a loss's VJP has no cotangent (it is ∇ₐℓ).
    """

    def __new__(cls, rule: str, role: str, *arrays: sp.MatrixExpr) -> VectorRuleCall:
        if role not in ("value", "vjp"):
            raise ValueError(f"role must be 'value' or 'vjp', got {role!r}")
        return sp.Basic.__new__(cls, Str(rule), Str(role), *arrays)

    @property
    def rule(self) -> str:
        return self.args[0].name

    @property
    def role(self) -> str:
        return self.args[1].name

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        inputs = [printer._print(a) for a in self.arrays]
        name = rf"\operatorname{{{self.rule}}}".replace("_", r"\_")
        if self.role == "value":
            return rf"{name}\left({', '.join(inputs)}\right)"
        if len(inputs) == 2 and self.rule != "softmax_cross_entropy":
            return rf"J_{{{name}}}\left({inputs[0]}\right)^{{T}} {inputs[1]}"
        return rf"\nabla_{{{inputs[0]}}} {name}\left({', '.join(inputs)}\right)"


@dataclass(frozen=True)
class LayerSymbols:
    """The matrix symbols of layer l (one sample, column vectors): Wˡ, bˡ, zˡ, aˡ, δˡ and the gradients."""

    index: int
    width: sp.Symbol
    W: sp.MatrixSymbol
    b: sp.MatrixSymbol
    z: sp.MatrixSymbol
    a: sp.MatrixSymbol
    delta: sp.MatrixSymbol
    grad_W: sp.MatrixSymbol
    grad_b: sp.MatrixSymbol
    grad_a: sp.MatrixSymbol
    extra: tuple[sp.MatrixSymbol, ...] = ()
    grad_extra: tuple[sp.MatrixSymbol, ...] = ()
    # Batch norm (uˡ = Wˡaˡ⁻¹, zˡ = BN(uˡ; γˡ, βˡ)) and dropout (hˡ = σ(zˡ), aˡ = hˡ ⊙ rˡ/p).
    u: sp.MatrixSymbol | None = None
    h: sp.MatrixSymbol | None = None
    mask: sp.MatrixSymbol | None = None
    gamma: sp.MatrixSymbol | None = None
    beta: sp.MatrixSymbol | None = None
    grad_u: sp.MatrixSymbol | None = None
    grad_gamma: sp.MatrixSymbol | None = None
    grad_beta: sp.MatrixSymbol | None = None
    batch_mean: sp.MatrixSymbol | None = None
    batch_var: sp.MatrixSymbol | None = None
    running_mean: sp.MatrixSymbol | None = None
    running_var: sp.MatrixSymbol | None = None
    batchnorm: bool = False
    keep: sp.Lambda | None = None  # the dropout expression (h, r) ↦ output, on hidden layers in training


class KernelCall(_Applied):
    """``kernel(*arrays)``: a batch-level numeric function (batch norm's forward and VJP) applied to whole arrays.

    The kernel is generated elsewhere from its own proven SymPy expressions
    (:mod:`symdl.layers.batchnorm`); ``label`` is how LaTeX shows it.
    """

    def __new__(cls, kernel: str, label: str, *arrays: sp.MatrixExpr) -> KernelCall:
        return sp.Basic.__new__(cls, Str(kernel), Str(label), *arrays)

    @property
    def kernel(self) -> str:
        return self.args[0].name

    @property
    def label(self) -> str:
        return self.args[1].name

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"{self.label}\left({', '.join(printer._print(a) for a in self.arrays)}\right)"

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        return f"{self.kernel}({', '.join(printer._print(a) for a in self.arrays)})"


def _width(l: int) -> sp.Symbol:
    return sp.Symbol(f"n_{l}", integer=True, positive=True)


def layer_symbols(depth: int, extra_inputs: Sequence[Sequence[str]] | None = None) -> tuple[sp.MatrixSymbol, list[LayerSymbols]]:
    """x = a⁰ and the symbols of layers 1..depth; ``extra_inputs[l-1]`` names learned activation inputs (PReLU's α)."""
    x = sp.MatrixSymbol("x", _width(0), 1)
    layers = []
    for l in range(1, depth + 1):
        n, n_prev = _width(l), _width(l - 1)
        extra = tuple(extra_inputs[l - 1]) if extra_inputs else ()
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
                u=sp.MatrixSymbol(f"u^{{{l}}}", n, 1),
                h=sp.MatrixSymbol(f"h^{{{l}}}", n, 1),
                mask=sp.MatrixSymbol(f"r^{{{l}}}", n, 1),
                gamma=sp.MatrixSymbol(rf"\gamma^{{{l}}}", n, 1),
                beta=sp.MatrixSymbol(rf"\beta^{{{l}}}", n, 1),
                grad_u=sp.MatrixSymbol(rf"\frac{{\partial C}}{{\partial u^{{{l}}}}}", n, 1),
                grad_gamma=sp.MatrixSymbol(rf"\frac{{\partial C}}{{\partial \gamma^{{{l}}}}}", n, 1),
                grad_beta=sp.MatrixSymbol(rf"\frac{{\partial C}}{{\partial \beta^{{{l}}}}}", n, 1),
                batch_mean=sp.MatrixSymbol(rf"\mu_{{B}}^{{{l}}}", n, 1),
                batch_var=sp.MatrixSymbol(rf"\sigma_{{B}}^{{2\,({l})}}", n, 1),
                running_mean=sp.MatrixSymbol(rf"E[u^{{{l}}}]", n, 1),
                running_var=sp.MatrixSymbol(rf"\operatorname{{Var}}[u^{{{l}}}]", n, 1),
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
    """What the equations need of an element-wise activation: σ, σ' and the learned inputs' partials.

    ``derivative`` is a Lambda of (z, extras…); ``output_derivative``, when the
    rule has one, is σ' as a Lambda of the output g alone (σ' = 1 − g² for
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
    """ℓ(a, y) and ∂ℓ/∂a as Lambdas, or the vector rule that computes both."""

    name: str
    value: sp.Lambda | None
    gradient: sp.Lambda | None
    vector_rule: str | None = None


def bp_equations(
    hidden: Sequence[ActivationForms],
    output: ActivationForms,
    loss: LossForms,
    penalty: sp.Lambda | None = None,
    *,
    output_form: bool = False,
    batchnorm: bool = False,
    dropout: sp.Lambda | None = None,
    training: bool = True,
) -> BackpropEquations:
    """BP1–BP4 for a network whose layers 1..L−1 use ``hidden[l-1]`` and layer L uses ``output``.

    ``penalty`` is Ω'(w) applied to every weight (∂C/∂Wˡ gains Ω'∘Wˡ). With
    ``output_form`` σ'(zˡ) is written through the output, h(aˡ), wherever the
    rule proves such a form (the numeric code's choice); otherwise the
    equations read as in the seeds.

    ``batchnorm`` puts batch norm after each hidden layer's linear map (which
    then has no bias: β takes its place): uˡ = Wˡaˡ⁻¹, zˡ = BN(uˡ; γˡ, βˡ),
    and BP4 uses ∂C/∂uˡ = BNᵀ(uˡ, γˡ, βˡ, δˡ). ``dropout``, a Lambda (h, r) ↦
    the unit's training output (inverted dropout h·r/p from
    :func:`symdl.layers.dropout.training_expr`), follows each hidden activation:
    aˡ = dropout(hˡ, rˡ) with a 0/1 mask rˡ, and BP2 gains its derivative by h. With ``training=False`` batch norm uses the running
    statistics and dropout is the identity (only the forward pass is meaningful).
    """
    acts = [*hidden, output]
    x, layers = layer_symbols(len(acts), [f.extras for f in acts])
    depth = len(layers)
    layers = [dataclasses.replace(layer, **_layer_options(layer.index < depth, batchnorm, dropout, training)) for layer in layers]
    y = sp.MatrixSymbol("y", layers[-1].width, 1)
    forward: list[sp.Eq] = []
    previous = x
    for layer, act in zip(layers, acts):
        forward += _forward_equations(layer, act, previous, training)
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
        if l == depth:
            upstream = grad_a_C
        else:
            above = layers[l]
            upstream = above.W.T * (above.grad_u if above.batchnorm else above.delta)
        if layer.keep is not None:  # ∂aˡ/∂hˡ (= rˡ/p), derived from the dropout expression
            h, r = layer.keep.variables
            derivative = sp.Lambda((h, r), sp.diff(layer.keep.expr, h))
            upstream = sp.HadamardProduct(upstream, Elementwise("dropout'", derivative, layer.h, layer.mask))
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
        if layer.batchnorm:
            vjp = KernelCall("bn_train_vjp", r"\mathrm{BN}^{T}", layer.u, layer.gamma, layer.beta, layer.delta)
            targets = sp.Tuple(layer.grad_u, layer.grad_gamma, layer.grad_beta)
            backward.append((f"BN backward (layer {l})", sp.Eq(targets, vjp, evaluate=False)))
            flowing = layer.grad_u
        else:
            backward.append((f"BP3 (layer {l})", sp.Eq(layer.grad_b, layer.delta, evaluate=False)))
            flowing = layer.delta
        a_prev = x if l == 1 else layers[l - 2].a
        grad_W = flowing * a_prev.T
        if penalty is not None:
            grad_W = sp.MatAdd(grad_W, Elementwise(r"\Omega'", penalty, layer.W), evaluate=False)
        backward.append((f"BP4 (layer {l})", sp.Eq(layer.grad_W, grad_W, evaluate=False)))
    return BackpropEquations(
        x=x,
        y=y,
        layers=tuple(layers),
        forward=tuple(forward),
        loss_gradient=sp.Eq(grad_a_C, loss_gradient, evaluate=False),
        backward=tuple(backward),
    )


def _layer_options(hidden: bool, batchnorm: bool, dropout: sp.Lambda | None, training: bool) -> dict:
    return {"batchnorm": hidden and batchnorm, "keep": dropout if hidden and training else None}


def _forward_equations(layer: LayerSymbols, act: ActivationForms, previous: sp.MatrixExpr, training: bool) -> list[sp.Eq]:
    eqs = []
    if layer.batchnorm:
        eqs.append(sp.Eq(layer.u, layer.W * previous, evaluate=False))
        if training:
            call = KernelCall("bn_train_forward", r"\mathrm{BN}", layer.u, layer.gamma, layer.beta)
            eqs.append(sp.Eq(sp.Tuple(layer.z, layer.batch_mean, layer.batch_var), call, evaluate=False))
        else:
            arrays = (layer.u, layer.gamma, layer.beta, layer.running_mean, layer.running_var)
            eqs.append(sp.Eq(layer.z, KernelCall("bn_inference", r"\mathrm{BN}_{\mathrm{inf}}", *arrays), evaluate=False))
    else:
        eqs.append(sp.Eq(layer.z, layer.W * previous + layer.b, evaluate=False))
    if layer.keep is None:
        eqs.append(sp.Eq(layer.a, _apply_forward(act, layer), evaluate=False))
    else:
        eqs.append(sp.Eq(layer.h, _apply_forward(act, layer), evaluate=False))
        eqs.append(sp.Eq(layer.a, Elementwise("dropout", layer.keep, layer.h, layer.mask), evaluate=False))
    return eqs


def _apply_forward(act: ActivationForms, layer: LayerSymbols) -> sp.MatrixExpr:
    if act.vector_rule is not None:
        return VectorRuleCall(act.vector_rule, "value", layer.z)
    return Elementwise(act.name, act.forward, layer.z, *layer.extra)


def _times_derivative(
    act: ActivationForms, layer: LayerSymbols, upstream: sp.MatrixExpr, output_form: bool
) -> sp.MatrixExpr:
    """upstream ⊙ σ'(zˡ) (BP1/BP2); J_σ(zˡ)ᵀ upstream for a vector activation."""
    if act.vector_rule is not None:
        return VectorRuleCall(act.vector_rule, "vjp", layer.z, upstream)
    if output_form and act.output_derivative is not None:
        output = layer.h if layer.keep is not None else layer.a  # σ(zˡ) itself, before dropout
        derivative = Elementwise(act.name + "'", act.output_derivative, output)
    else:
        derivative = Elementwise(act.name + "'", act.derivative, layer.z, *layer.extra)
    return sp.HadamardProduct(upstream, derivative)
