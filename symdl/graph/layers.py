"""The built-in graph layers: Dense, Activation/Lambda, the merges Add, Multiply, Divide, Concatenate,
StopGradient, GaussianNoise and Dropout — each one use's forward equations and what flows back (VJPs).

Dense: zˢ = W hᵘ + b, aˢ = φ(zˢ); δˢ = gˢ ⊙ φ′(zˢ), the input gets Wᵀδˢ,
∂C/∂W gets δˢ(hᵘ)ᵀ and ∂C/∂b gets δˢ from this use (BP1–BP4 per use). An
element-wise merge hˢ = f(hᵘ¹, …, hᵘᵏ) passes gˢ ⊙ ∂f/∂hᵘⁱ to input i, with
∂f/∂uᵢ derived by SymPy from f (Add: 1, so gˢ itself). Concatenate passes each
input its slice of gˢ; StopGradient passes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import sympy as sp

from ..arguments import drop_probability, non_negative_number, positive_int
from ..backprop.equations import Elementwise, VectorRuleCall
from ..layers.init_schemes import get_scheme
from ..network.rule_forms import resolve_rule
from ..rulebook.rule import Rule
from ..rulebook.vector_rule import VectorRule
from ..saving.describe import describe_rule, rebuild_rule
from .blocks import Concat, Slice
from .constraints import Constraint
from .constraints import constraint as as_constraint
from .nodes import Backward, GraphLayer, GraphParameter, Mask, Use
from .output_forms import piecewise_output_derivative

__all__ = [
    "Activation",
    "Add",
    "Concatenate",
    "Dense",
    "Divide",
    "Dropout",
    "ElementwiseMerge",
    "GaussianNoise",
    "Lambda",
    "Multiply",
    "StopGradient",
]

_W = sp.Symbol("w", real=True)


def _activation_rule(spec: object, role: str) -> Rule | VectorRule:
    r = resolve_rule(spec, role, ("activation",), None)
    if len(r.inputs) != 1:
        raise ValueError(f"{role}: {r.name!r} takes {len(r.inputs)} inputs; learned activation inputs are layers of their own in a graph: PReLU() for PReLU's α (symdl.graph.PReLU)")
    return r


def _apply(use: Use, rule: Rule | VectorRule, z: sp.MatrixSymbol) -> sp.MatrixExpr:
    """φ(z): element-wise, or a vector rule's value (softmax)."""
    act = use.forms.activation(rule)
    if act.vector_rule is not None:
        return VectorRuleCall(act.vector_rule, "value", z)
    return Elementwise(act.name, act.forward, z)


def _penalty_rule(spec: object) -> Rule | None:
    if spec is None:
        return None
    return cast(Rule, resolve_rule(spec, "regularizer", ("penalty",), None))  # penalties are element-wise rules


class Dense(GraphLayer):
    """zˢ = W hᵘ + b, aˢ = φ(zˢ) (φ a library or formula rule; None: the output is zˢ), W drawn from ``init``."""

    def __init__(self, units: int, activation: object = None, init: str = "glorot_uniform", use_bias: bool = True,
                 regularizer: object = None, constraint: object = None, bias_constraint: object = None,
                 name: str | None = None) -> None:
        super().__init__(name)
        try:  # a name (Keras' defaults), {"name": …, settings}, or max_norm(…): symdl.graph.constraints
            self.constraint = None if constraint is None else as_constraint(constraint)
            self.bias_constraint = None if bias_constraint is None else as_constraint(bias_constraint)
        except ValueError as error:
            raise ValueError(f"Dense: {error}") from None
        self.units, self.use_bias = positive_int(units, "Dense: units"), bool(use_bias)
        if self.bias_constraint is not None and not self.use_bias:
            raise ValueError("Dense: bias_constraint needs a bias (use_bias=True)")
        if self.bias_constraint is not None and self.bias_constraint.axis == 1:
            # Keras sums a bias (units,) over its only axis, 0: axis=1 fails there too
            raise ValueError("Dense: bias_constraint: a bias is one vector (units,), its norm runs over axis 0; got axis=1")
        self.activation = None if activation is None else _activation_rule(activation, "activation")
        self.init = get_scheme(init).name
        self.regularizer = _penalty_rule(regularizer)

    def value_latex(self) -> str:
        return "a^{@}" if self.activation is not None else "z^{@}"

    def output_width(self, widths: tuple[int, ...]) -> int:
        return self.units

    def parameters(self) -> tuple[GraphParameter, ...]:
        (n_in,) = self.input_widths
        w = GraphParameter("W", (self.units, n_in), self.init)
        return (w, GraphParameter("b", (self.units,), 0.0)) if self.use_bias else (w,)

    def output_activation(self) -> Rule | VectorRule | None:
        return self.activation

    def penalties(self) -> Mapping[str, Rule]:
        return {} if self.regularizer is None else {"W": self.regularizer}

    def constraints(self) -> Mapping[str, Constraint]:
        pairs = (("W", self.constraint), ("b", self.bias_constraint))
        return {stem: project for stem, project in pairs if project is not None}

    def _z(self, use: Use) -> sp.MatrixSymbol:
        return use.output if self.activation is None else use.own("z", "z^{@}", self.units)

    def forward(self, use: Use) -> list[sp.Eq]:
        (x,) = use.inputs
        W = use.params["W"]
        z = self._z(use)
        eqs = [sp.Eq(z, W * x + use.params["b"] if self.use_bias else W * x, evaluate=False)]
        if self.activation is not None:
            eqs.append(sp.Eq(use.output, _apply(use, self.activation, z), evaluate=False))
        return eqs

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        (x,) = use.inputs
        W = use.params["W"]
        equations: tuple[tuple[str, sp.Eq], ...] = ()
        delta = upstream
        if self.activation is not None:
            delta = use.own("d", r"\delta^{@}", self.units)
            product = _times_derivative(use, self.activation, upstream, self._z(use), use.output)
            equations = ((f"delta (node {use.index})", sp.Eq(delta, product, evaluate=False)),)
        params = {"W": delta * x.T, **({"b": delta} if self.use_bias else {})}
        return Backward(equations, (W.T * delta,), params)

    def config(self) -> dict[str, object]:
        out: dict[str, object] = {"units": self.units}
        if self.activation is not None:
            out["activation"] = self.activation.name
        out["init"] = self.init
        if not self.use_bias:
            out["use_bias"] = False
        if self.regularizer is not None:
            out["regularizer"] = self.regularizer.name
        if self.constraint is not None:
            out["constraint"] = self.constraint.config()
        if self.bias_constraint is not None:
            out["bias_constraint"] = self.bias_constraint.config()
        return out

    def to_config(self) -> dict[str, object]:
        out = self.config()
        for key in ("activation", "regularizer"):
            if getattr(self, key) is not None:
                out[key] = describe_rule(getattr(self, key))
        return out

    @classmethod
    def from_config(cls, config: dict[str, object]) -> Dense:
        config = dict(config)
        for key in ("activation", "regularizer"):
            if config.get(key) is not None:
                config[key] = rebuild_rule(config[key], f"Dense.{key}")
        return cls(**config)  # type: ignore[arg-type]


def _times_derivative(use: Use, rule: Rule | VectorRule, upstream: sp.MatrixExpr, z: sp.MatrixSymbol, out: sp.MatrixSymbol) -> sp.MatrixExpr:
    """upstream ⊙ φ′(z) (φ′ through φ's output where the forms ask for it and the rule proves one, or through z and the
    output where a branch is the output plus a constant: :mod:`symdl.graph.output_forms`), as BP1/BP2;
    J_φ(z)ᵀ upstream for a vector rule."""
    act = use.forms.activation(rule)
    if act.vector_rule is not None:
        return VectorRuleCall(act.vector_rule, "vjp", z, upstream)
    piecewise = None
    if use.forms.output_form and act.output_derivative is None and act.forward is not None and act.derivative is not None:
        piecewise = piecewise_output_derivative(act.forward, act.derivative)  # ELU: g + α for z ≤ 0
    if use.forms.output_form and act.output_derivative is not None:
        derivative = Elementwise(act.name + "'", act.output_derivative, out)
    elif piecewise is not None:
        derivative = Elementwise(act.name + "'", piecewise, z, out)
    else:
        derivative = Elementwise(act.name + "'", act.derivative, z)
    return sp.HadamardProduct(upstream, derivative)


class Activation(GraphLayer):
    """hˢ = φ(hᵘ) (element-wise, or a vector rule such as softmax), φ a library rule (``"tanh"``, ``"exponential"``) or a formula rule; no weights."""

    def __init__(self, rule: object, name: str | None = None) -> None:
        super().__init__(name)
        self.rule = _activation_rule(rule, type(self).__name__)

    def forward(self, use: Use) -> list[sp.Eq]:
        return [sp.Eq(use.output, _apply(use, self.rule, use.inputs[0]), evaluate=False)]

    def output_activation(self) -> Rule | VectorRule | None:
        return self.rule

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        return Backward((), (_times_derivative(use, self.rule, upstream, use.inputs[0], use.output),))

    def config(self) -> dict[str, object]:
        return {"rule": self.rule.name}

    def to_config(self) -> dict[str, object]:
        return {"rule": describe_rule(self.rule)}

    @classmethod
    def from_config(cls, config: dict[str, object]) -> Activation:
        return cls(rebuild_rule(config.get("rule"), f"{cls.__name__}.rule"))


class Lambda(Activation):
    """Keras' weightless ``Lambda``: an element-wise rule by name (``Lambda("exponential")``) or a formula rule."""


class ElementwiseMerge(GraphLayer):
    """hˢ = f(hᵘ¹, …, hᵘᵏ) entry by entry; input i receives gˢ ⊙ ∂f/∂uᵢ, the partial derived by SymPy."""

    arity: int | None = None
    symbol = "f"

    def function(self, u: tuple[sp.Symbol, ...]) -> sp.Expr:
        raise NotImplementedError

    def _lambda(self, k: int) -> tuple[tuple[sp.Symbol, ...], sp.Expr]:
        u = tuple(sp.Symbol(f"u{i}", real=True) for i in range(k))
        return u, self.function(u)

    def matrix_form(self, inputs: tuple[sp.MatrixSymbol, ...]) -> sp.MatrixExpr:
        """hˢ as a matrix expression: f applied entry by entry (Add and Multiply write x + y and x ⊙ y)."""
        u, f = self._lambda(len(inputs))
        return Elementwise(self.symbol, sp.Lambda(u, f), *inputs)

    def forward(self, use: Use) -> list[sp.Eq]:
        return [sp.Eq(use.output, self.matrix_form(use.inputs), evaluate=False)]

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        u, f = self._lambda(len(use.inputs))
        vjps = []
        for i, ui in enumerate(u):
            partial = sp.diff(f, ui)
            if partial == 1:
                vjps.append(upstream)
            else:
                vjps.append(sp.HadamardProduct(upstream, Elementwise(rf"\partial_{{{i + 1}}}{self.symbol}", sp.Lambda(u, partial), *use.inputs)))
        return Backward((), tuple(vjps))


class Add(ElementwiseMerge):
    """hˢ = hᵘ¹ + … + hᵘᵏ (a skip connection: ``Add()([x, Z])``)."""

    symbol = "+"

    def function(self, u: tuple[sp.Symbol, ...]) -> sp.Expr:
        return sp.Add(*u)

    def matrix_form(self, inputs: tuple[sp.MatrixSymbol, ...]) -> sp.MatrixExpr:
        return sp.MatAdd(*inputs, evaluate=False)


class Multiply(ElementwiseMerge):
    """hˢ = hᵘ¹ ⊙ … ⊙ hᵘᵏ."""

    symbol = r"\odot"

    def function(self, u: tuple[sp.Symbol, ...]) -> sp.Expr:
        return sp.Mul(*u)

    def matrix_form(self, inputs: tuple[sp.MatrixSymbol, ...]) -> sp.MatrixExpr:
        return sp.HadamardProduct(*inputs, evaluate=False)


class Divide(ElementwiseMerge):
    """hˢ = hᵘ¹ / hᵘ² entry by entry (the second input must not be 0: ``symdl`` does not hide a division by 0)."""

    arity = 2
    symbol = r"\oslash"

    def function(self, u: tuple[sp.Symbol, ...]) -> sp.Expr:
        return u[0] / u[1]


class Concatenate(GraphLayer):
    """hˢ = [hᵘ¹; …; hᵘᵏ] stacked; input i receives its rows of gˢ."""

    arity = None

    def output_width(self, widths: tuple[int, ...]) -> int:
        return sum(widths)

    def forward(self, use: Use) -> list[sp.Eq]:
        return [sp.Eq(use.output, Concat(*use.inputs), evaluate=False)]

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        vjps, start = [], 0
        for x in use.inputs:
            vjps.append(Slice(upstream, start, start + x.shape[0]))
            start += x.shape[0]
        return Backward((), tuple(vjps))


class StopGradient(GraphLayer):
    """hˢ = hᵘ in the forward pass; no gradient flows back through it (``tf.stop_gradient``)."""

    passes_gradient = False

    def forward(self, use: Use) -> list[sp.Eq]:
        return [sp.Eq(use.output, use.inputs[0], evaluate=False)]

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        return Backward((), (None,))


class GaussianNoise(GraphLayer):
    """Training: hˢ = hᵘ + ε, ε ~ N(0, stddev²) drawn from the seed and held fixed; inference: hˢ = hᵘ."""

    def __init__(self, stddev: float, name: str | None = None) -> None:
        super().__init__(name)
        self.stddev = non_negative_number(stddev, "GaussianNoise: stddev")

    def masks(self) -> tuple[Mask, ...]:
        return (Mask("eps", "gaussian", self.stddev),)

    def forward(self, use: Use) -> list[sp.Eq]:
        x = use.inputs[0]
        if not use.training:
            return [sp.Eq(use.output, x, evaluate=False)]
        return [sp.Eq(use.output, sp.MatAdd(x, use.masks["eps"]), evaluate=False)]

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        return Backward((), (upstream,))

    def config(self) -> dict[str, object]:
        return {"stddev": self.stddev}


class Dropout(GraphLayer):
    """Training: hˢ = hᵘ ⊙ r / (1 − p), r ∈ {0, 1} kept with probability 1 − p (inverted dropout); inference: hˢ = hᵘ."""

    def __init__(self, rate: float, name: str | None = None) -> None:
        super().__init__(name)
        self.rate = drop_probability(rate)

    def masks(self) -> tuple[Mask, ...]:
        return (Mask("r", "bernoulli", self.rate),)

    def _scale(self) -> sp.Expr:
        return 1 / (1 - sp.Rational(repr(self.rate)))

    def forward(self, use: Use) -> list[sp.Eq]:
        x = use.inputs[0]
        if not use.training:
            return [sp.Eq(use.output, x, evaluate=False)]
        u, r = sp.symbols("u r", real=True)
        return [sp.Eq(use.output, Elementwise("dropout", sp.Lambda((u, r), u * r * self._scale()), x, use.masks["r"]), evaluate=False)]

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        if not use.training:
            return Backward((), (upstream,))
        u, r = sp.symbols("u r", real=True)
        scaled = Elementwise("dropout'", sp.Lambda((u, r), r * self._scale()), use.inputs[0], use.masks["r"])
        return Backward((), (sp.HadamardProduct(upstream, scaled),))

    def config(self) -> dict[str, object]:
        return {"rate": self.rate}
