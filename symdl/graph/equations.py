r"""Generalised backprop for a graph of layers, derived as SymPy matrix equations (one sample, column vectors).

For a node s with value hˢ, the error signal gˢ = ∂C/∂hˢ is

    gˢ = Σ_{consumers c of s} Jᶜₛᵀ gᶜ  +  Σ_{loss terms t on s} cₜ ∇ₕℓₜ(hˢ, yᵗ)

(a skip connection adds its consumer's term, an auxiliary loss its own), and
a parameter θ used at the nodes u₁, …, u_k gets ∂C/∂θ = Σᵢ (∂C/∂θ from use uᵢ)
+ Ω'(θ). Each layer gives its per-use parts (:class:`symdl.graph.nodes.GraphLayer`);
for a chain of Dense layers these are exactly BP1–BP4
(:func:`symdl.backprop.equations.bp_equations`, tested). ``mutation`` plants
the classic mistakes, for the proofs to refute: ``"drop_skip"`` (one consumer's
term left out of a node's sum), ``"last_use_only"`` (a shared parameter's
gradient from its last use alone), ``"no_aux"`` (the auxiliary losses' terms
left out), ``"unsplit_blocks"`` (a stacked node's error signal read from its
top for every block, (∂C/∂h)₁:ₙ instead of its own rows a:b) and
``"through_stop"`` (stop-gradient passing its error signal back as the identity
would). :func:`planted_mutations` lists those that change a model's equations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

from ..backprop.equations import Elementwise, LossForms, VectorRuleCall
from ..display_hooks import Displayed
from ..layers.dense import PENALTY_GRADIENT
from .blocks import Slice, Stopped
from .forms import Forms, LibraryForms, PenaltyForms
from .nodes import Backward, Mask, Node, Use

if TYPE_CHECKING:
    from .constraints import Constraint
    from .model import LossTerm, Model

__all__ = ["MUTATIONS", "GraphEquations", "LossEquation", "derive", "planted_mutations"]

MUTATIONS = ("drop_skip", "last_use_only", "no_aux", "unsplit_blocks", "through_stop")


@dataclass(frozen=True)
class LossEquation:
    """One loss term's symbols: cₜ, ℓ's forms, the node's value, the target, and ∇ = cₜ ∂ℓ/∂h."""

    term: LossTerm
    forms: LossForms
    coefficient: sp.Expr
    value: sp.MatrixSymbol
    target: sp.MatrixSymbol
    gradient: sp.MatrixSymbol
    equation: sp.Eq


@dataclass(frozen=True)
class GraphEquations(Displayed):
    """A graph's equations in evaluation order and the names the printed code gives their symbols."""

    inputs: tuple[sp.MatrixSymbol, ...]
    targets: tuple[sp.MatrixSymbol, ...]
    outputs: tuple[sp.MatrixSymbol, ...]
    params: Mapping[str, sp.MatrixSymbol]
    param_grads: Mapping[str, sp.MatrixSymbol]
    masks: Mapping[str, tuple[sp.MatrixSymbol, Mask]]
    forward: tuple[sp.Eq, ...]
    losses: tuple[LossEquation, ...]
    backward: tuple[tuple[str, sp.Eq], ...]
    penalties: tuple[tuple[str, PenaltyForms], ...]
    #: (key, P, whether the array is a vector: its norm runs over all of it)
    constraints: tuple[tuple[str, Constraint, bool], ...]
    stopped: tuple[sp.MatrixSymbol, ...]
    names: dict[sp.MatrixSymbol, str] = field(default_factory=dict)
    batched: frozenset[sp.MatrixSymbol] = frozenset()
    #: Arrays of params that are not trained (batch norm's moving statistics), by key, and in training each one's
    #: new value after a step (``Eq(buffer, expression)``).
    buffers: Mapping[str, sp.MatrixSymbol] = field(default_factory=dict)
    updates: tuple[sp.Eq, ...] = ()
    #: Mixed precision (:attr:`symdl.graph.nodes.GraphLayer.computes_in_float32`): the keys of params kept in float32
    #: (never cast to the compute dtype), and the arrays that leave such a layer, cast back to the compute dtype.
    float32_keys: tuple[str, ...] = ()
    narrowed: frozenset[sp.MatrixSymbol] = frozenset()

    @property
    def shown_forward(self) -> tuple[sp.Eq, ...]:
        """The forward equations as a reader sees them: a stop-gradient node's hˢ = sg(hᵘ) (its code keeps hˢ = hᵘ)."""
        return tuple(sp.Eq(eq.lhs, Stopped(eq.rhs), evaluate=False) if eq.lhs in self.stopped else eq for eq in self.forward)

    def latex(self) -> list[tuple[str, str]]:
        """(label, LaTeX) for every equation: forward, the loss terms' gradients, then backward."""
        out = [("forward", _latex_eq(eq)) for eq in self.shown_forward]
        out += [(f"loss term {k + 1}", _latex_eq(t.equation)) for k, t in enumerate(self.losses)]
        return out + [(label, _latex_eq(eq)) for label, eq in self.backward]


def _latex_eq(eq: sp.Eq) -> str:
    return f"{sp.latex(eq.lhs)} = {sp.latex(eq.rhs)}".replace(r"\circ", r"\odot")


def _stem(latex: str) -> str:
    return latex.split("^")[0].lstrip("\\")


class _Namer:
    def __init__(self) -> None:
        self.names: dict[sp.MatrixSymbol, str] = {}
        self.batched: set[sp.MatrixSymbol] = set()

    def __call__(self, latex: str, shape: tuple[int, int], code: str, batched: bool = True) -> sp.MatrixSymbol:
        symbol = sp.MatrixSymbol(latex, *shape)
        self.names[symbol] = code
        if batched:
            self.batched.add(symbol)
        return symbol


def derive(model: Model, training: bool = True, forms: Forms | None = None, mutation: str | None = None) -> GraphEquations:
    """The forward equations, the loss terms' gradients and the generalised backprop of ``model``."""
    if mutation is not None and mutation not in MUTATIONS:
        raise ValueError(f"mutation: expected one of {', '.join(MUTATIONS)}, got {mutation!r}")
    forms = forms or LibraryForms()
    name = _Namer()
    nodes = model.nodes
    single = len(model.inputs) == 1
    value: dict[int, sp.MatrixSymbol] = {}
    for i, node in enumerate(model.inputs, 1):
        value[node.uid] = name("x" if single else f"x_{{{i}}}", (node.width, 1), "X" if single else f"X{i}")
    params: dict[str, sp.MatrixSymbol] = {}
    grads: dict[str, sp.MatrixSymbol] = {}
    for layer in model.layers:
        l = model.parameter_index(layer) if layer.parameters() else 0
        for p in layer.parameters():
            shape = (p.shape[0], p.shape[1] if len(p.shape) == 2 else 1)
            stem = sp.latex(sp.Symbol(p.stem))  # a Greek name as its letter: alpha → \alpha
            params[f"{p.stem}{l}"] = name(f"{stem}^{{{l}}}", shape, f"{p.stem}{l}", batched=False)
            grads[f"{p.stem}{l}"] = name(rf"\frac{{\partial C}}{{\partial {stem}^{{{l}}}}}", shape, f"g{p.stem}{l}", batched=False)
    buffers = {f"{p.stem}{model.parameter_index(layer)}": name(rf"\operatorname{{{p.stem}}}^{{{model.parameter_index(layer)}}}".replace("_", r"\_"),
                                                             (p.shape[0], 1), f"{p.stem}{model.parameter_index(layer)}", batched=False)
               for layer in model.layers for p in layer.buffers()}
    updates: list[sp.Eq] = []
    narrowed: set[sp.MatrixSymbol] = set()
    uses: dict[int, Use] = {}
    masks: dict[str, tuple[sp.MatrixSymbol, Mask]] = {}
    forward: list[sp.Eq] = []
    stopped: list[sp.MatrixSymbol] = []
    index = {n.uid: s for s, n in enumerate(nodes[len(model.inputs):], 1)}
    for node in nodes[len(model.inputs):]:
        s, layer = index[node.uid], node.computed_by
        latex = layer.value_latex().replace("@", str(s))
        value[node.uid] = name(latex, (node.width, 1), f"{_stem(latex)}{s}")
        own_masks = {}
        if training:
            for m in layer.masks():
                latex = m.stem if len(m.stem) == 1 else r"\varepsilon" if m.stem == "eps" else rf"\mathrm{{{m.stem}}}"
                symbol = name(rf"{latex}^{{{s}}}", (node.width, 1), f"{m.stem}{s}")
                own_masks[m.stem] = symbol
                masks[f"{m.stem}{s}"] = (symbol, m)
        l = model.parameter_index(layer) if layer.parameters() else 0
        use = Use(s, tuple(value[n.uid] for n in node.inputs), value[node.uid],
                  {p.stem: params[f"{p.stem}{l}"] for p in layer.parameters()}, own_masks, training, forms,
                  state={p.stem: buffers[f"{p.stem}{l}"] for p in layer.buffers()})
        uses[node.uid] = use
        forward += layer.forward(use)
        if layer.computes_in_float32:
            narrowed.add(value[node.uid])
        if training:
            updates += layer.updates(use)
        _name_own(name, use, s)
        if not layer.passes_gradient:
            stopped.append(value[node.uid])
    targets: list[sp.MatrixSymbol] = []
    losses: list[LossEquation] = []
    data_terms = model.data_targets
    for k, term in enumerate(model.terms, 1):
        if term.target is None:
            t = data_terms.index(term) + 1
            y = name("y" if len(data_terms) == 1 else f"y_{{{t}}}", (term.node.width, 1), "Y" if len(data_terms) == 1 else f"Y{t}")
            targets.append(y)
        else:
            y = value[term.target.uid]
        lf = forms.loss(term.rule)
        c = term.coefficient
        h = value[term.node.uid]
        head = r"\nabla_{a} C" if len(model.terms) == 1 else rf"\nabla_{{{sp.latex(h)}}} C_{{{k}}}"
        grad = name(head, (term.node.width, 1), f"gl{k}")
        if lf.vector_rule is not None:  # ∇ₕℓ of a vector loss (softmax cross-entropy), times cₜ
            call = VectorRuleCall(lf.vector_rule, "vjp", h, y)
            eq = sp.Eq(grad, call if c == 1 else sp.MatMul(c, call), evaluate=False)
        else:
            gradient = lf.gradient_lambda()
            a_, y_ = gradient.variables
            function = sp.Lambda((a_, y_), c * gradient.expr)
            eq = sp.Eq(grad, Elementwise(r"\ell'", function, h, y), evaluate=False)
        losses.append(LossEquation(term, lf, c, h, y, grad, eq))
    backward, param_grads = _backward(model, nodes, index, uses, losses, params, grads, forms, name, mutation, narrowed)
    penalties = tuple((key, forms.penalty(rule)) for layer in model.layers for stem, rule in layer.penalties().items()
                      for key in [f"{stem}{model.parameter_index(layer)}"])
    constraints = tuple((f"{stem}{model.parameter_index(layer)}", project, len(shapes[stem]) == 1)
                        for layer in model.layers for shapes in [{p.stem: p.shape for p in layer.parameters()}]
                        for stem, project in layer.constraints().items())
    _check_names(name.names)
    return GraphEquations(
        inputs=tuple(value[n.uid] for n in model.inputs), targets=tuple(targets),
        outputs=tuple(value[n.uid] for n in model.outputs), params=params, param_grads=param_grads, masks=masks,
        forward=tuple(forward), losses=tuple(losses), backward=tuple(backward), penalties=penalties,
        constraints=constraints, stopped=tuple(stopped), names=name.names, batched=frozenset(name.batched),
        buffers=buffers, updates=tuple(updates),
        float32_keys=tuple(f"{p.stem}{model.parameter_index(layer)}" for layer in model.layers if layer.computes_in_float32
                           for p in (*layer.parameters(), *layer.buffers())),
        narrowed=frozenset(narrowed),
    )


def _name_own(name: _Namer, use: Use, s: int) -> None:
    """A use's own symbols named ``<stem><node>`` in the code; one row per sample unless the use made it per batch."""
    for stem, symbol in use.symbols.items():
        name.names.setdefault(symbol, f"{stem}{s}")
        if symbol not in use.per_batch:
            name.batched.add(symbol)


def _check_names(names: Mapping[sp.MatrixSymbol, str]) -> None:
    """Every array of the printed code has a name of its own (a formula layer's parameter may be named like another array)."""
    seen: dict[str, sp.MatrixSymbol] = {}
    for symbol, code in names.items():
        if code in seen:
            raise ValueError(f"graph: two arrays would both be called {code!r} in the generated code ({seen[code]} and {symbol}); "
                             "rename the formula layer's parameter (its key is its name and the layer's number: W3)")
        seen[code] = symbol


def _needs_gradient(model: Model, nodes: tuple[Node, ...], losses: list[LossEquation], leak: bool = False) -> set[int]:
    """Nodes with a parameter upstream (through layers that pass gradients) and a path to a loss term.

    ``leak``: stop-gradient passes gradients too (the ``"through_stop"`` mistake)."""
    above: set[int] = set()
    for node in nodes:
        if node.is_input:
            continue
        passes = node.computed_by.passes_gradient or leak
        if node.computed_by.parameters() or (passes and any(n.uid in above for n in node.inputs)):
            above.add(node.uid)
    reaches = {t.term.node.uid for t in losses}
    for node in reversed(nodes):
        if node.uid in reaches and not node.is_input and (node.computed_by.passes_gradient or leak):
            reaches.update(n.uid for n in node.inputs)
    return above & reaches


def _backward(model: Model, nodes: tuple[Node, ...], index: dict[int, int], uses: dict[int, Use],
              losses: list[LossEquation], params: dict[str, sp.MatrixSymbol], grads: dict[str, sp.MatrixSymbol],
              forms: Forms, name: _Namer, mutation: str | None,
              narrowed: set[sp.MatrixSymbol]) -> tuple[list[tuple[str, sp.Eq]], dict[str, sp.MatrixSymbol]]:
    """The backward equations in reverse topological order and the parameters' gradient symbols.

    gˢ sums what the consumers of s passed back and the loss terms on s; a
    parameter's gradient is written once its last use (in reverse order: its
    first) has contributed. The error signals a float32 layer passes back are added to ``narrowed``.
    """
    needed = _needs_gradient(model, nodes, losses, leak=mutation == "through_stop")
    incoming: dict[int, list[tuple[int, sp.MatrixExpr]]] = {uid: [] for uid in needed}
    for t in losses:
        if t.term.node.uid in needed and not (mutation == "no_aux" and t.term.auxiliary):
            incoming[t.term.node.uid].append((0, t.gradient))
    remaining = {id(l): sum(1 for n in nodes if n.layer is l) for l in model.layers}
    contributions: dict[str, list[tuple[int, sp.MatrixExpr]]] = {key: [] for key in params}
    penalty = {f"{stem}{model.parameter_index(l)}": r for l in model.layers for stem, r in l.penalties().items()}
    backward: list[tuple[str, sp.Eq]] = []
    param_grads: dict[str, sp.MatrixSymbol] = {}
    dropped = False
    for node in reversed(nodes):
        if node.is_input:
            continue
        layer, s, use = node.computed_by, index[node.uid], uses[node.uid]
        if node.uid in needed and incoming[node.uid]:
            terms = incoming[node.uid]
            skip = next((k for k, (c, e) in enumerate(terms) if c and isinstance(e, sp.MatrixSymbol)), None)
            if mutation == "drop_skip" and not dropped and skip is not None and sum(1 for c, _ in terms if c) >= 2:
                # the skip connection's term: gᶜ passed through unchanged by a merge
                terms = terms[:skip] + terms[skip + 1:]
                dropped = True
            exprs = [e for _, e in terms]
            if len(exprs) == 1 and isinstance(exprs[0], sp.MatrixSymbol):
                g = exprs[0]
            else:
                latex = sp.latex(use.output)
                g = name(rf"\frac{{\partial C}}{{\partial {latex}}}", (node.width, 1), f"g{s}")
                total = exprs[0] if len(exprs) == 1 else sp.MatAdd(*exprs, evaluate=False)
                backward.append((f"dC/dh (node {s})" + (f": sum over {len(exprs)} terms" if len(exprs) > 1 else ""), sp.Eq(g, total, evaluate=False)))
            part = layer.backward(use, g)
            if mutation == "through_stop" and not layer.passes_gradient:  # as if hˢ = hᵘ passed gˢ back unchanged
                part = Backward(part.equations, (g,) * len(node.inputs), part.params)
            if mutation == "unsplit_blocks":  # every block's rows read from the top of the stacked signal
                part = Backward(part.equations, tuple(
                    Slice(v.array, 0, v.bounds[1] - v.bounds[0]) if isinstance(v, Slice) else v for v in part.vjps), part.params)
            backward += part.equations
            if layer.computes_in_float32:
                narrowed.update(v for v in part.vjps if isinstance(v, sp.MatrixSymbol))
            _name_own(name, use, s)
            for child, vjp in zip(node.inputs, part.vjps):
                if vjp is not None and child.uid in needed:
                    incoming[child.uid].append((s, vjp))
            l = model.parameter_index(layer) if layer.parameters() else 0
            for stem, expr in part.params.items():
                contributions[f"{stem}{l}"].append((s, expr))
        remaining[id(layer)] -= 1
        if remaining[id(layer)] == 0 and layer.parameters():
            l = model.parameter_index(layer)
            for p in layer.parameters():
                key = f"{p.stem}{l}"
                exprs = [e for _, e in contributions[key]]
                if mutation == "last_use_only" and len(exprs) > 1:
                    exprs = [max(contributions[key], key=lambda c: c[0])[1]]
                if key in penalty:
                    pf = forms.penalty(penalty[key])
                    exprs.append(Elementwise(PENALTY_GRADIENT, pf.derivative, params[key]))
                if not exprs:
                    continue
                total = exprs[0] if len(exprs) == 1 else sp.MatAdd(*exprs, evaluate=False)
                uses_count = len(contributions[key])
                label = f"dC/d{key}" + (f": sum over {uses_count} uses" if uses_count > 1 else "")
                backward.append((label, sp.Eq(grads[key], total, evaluate=False)))
                param_grads[key] = grads[key]
    # a layer's own equation nothing reads (batch norm's input gradient where its input is the model's): dropped
    read = set(param_grads.values())
    kept = []
    for label, eq in reversed(backward):
        if eq.lhs in read:
            kept.append((label, eq))
            read |= eq.rhs.atoms(sp.MatrixSymbol)
    return kept[::-1], param_grads



def planted_mutations(model: Model) -> tuple[str, ...]:
    """The :data:`MUTATIONS` that change ``model``'s backward equations (no skip connection: no ``"drop_skip"``)."""
    right = [eq for _, eq in model.equations(training=True).backward]
    return tuple(m for m in MUTATIONS if [eq for _, eq in model.equations(training=True, mutation=m).backward] != right)
