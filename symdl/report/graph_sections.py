r"""The report section of a graph model: its equations, its generalised backprop, and the proofs of both.

Every equation is a SymPy object of :meth:`symdl.graph.Model.equations`
(nothing re-typed): the forward pass node by node, each loss term's
gradient at its node, then the backward pass — a node's error signal is the
sum over its consumers of their vector-Jacobian products, a shared
parameter's gradient the sum over its uses, an auxiliary loss a term at its
own node. Stacking, slicing and stop-gradient nodes print as a textbook
writes them (hˢ = [hᵘ¹; hᵘ²], hˢ = hᵘ_{a:b}, hˢ = sg(hᵘ)), and the vector-Jacobian
product of each is written out at its node (:func:`symdl.graph.block_rules.block_rules`).
The checks are :func:`symdl.graph.proofs.prove_graph` (every
parameter's gradient equal to ``sp.diff`` of the whole cost, exactly, at the
graph's sizes), each written-out block rule against ``sp.diff`` of its node's
forward map and, with ``verify``, the planted mistakes of
:data:`symdl.graph.equations.MUTATIONS` that change the graph's equations,
each of which must be refuted.
"""

from __future__ import annotations

import re

import sympy as sp

from .checks import proof_check
from .model import Check, Math, Section, Step

__all__ = ["graph_section"]

_MUTANTS = {"drop_skip": "a skip connection's term dropped", "last_use_only": "a shared parameter's gradient from its last use only",
            "no_aux": "the auxiliary loss terms left out",
            "unsplit_blocks": "every block of a stacked node's error signal read from its top rows",
            "through_stop": "the error signal passed back through stop-gradient"}


#: The index-notation claim (:data:`symdl.graph.index_proofs.CLAIMS`) that proves a kind of block rule at symbolic widths.
_CLAIM_OF = {"stacking": "stacking", "slicing": "slicing", "stop-gradient": "stop_gradient"}


def graph_section(model: object, *, title: str = "Graph model", key: str = "graph", verify: bool = True) -> Section:
    """A :class:`~symdl.report.model.Section` for the :class:`symdl.graph.Model` ``model``: forward, loss gradients, backprop, proofs.

    ``key`` must be an anchor (``[a-z0-9_-]+``). ``verify`` also derives each planted mistake and checks that its
    proof is refuted (a mutation that leaves the equations unchanged — no skip, no shared layer — is left out).
    """
    from ..graph.block_rules import block_rules, prove_block_rules
    from ..graph.index_proofs import prove_index_claims
    from ..graph.model import Model
    from ..graph.proofs import prove_graph

    if not isinstance(model, Model):
        raise TypeError(f"graph_section: expected a symdl.graph.Model, got {type(model).__name__}")
    if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9_-]+", key):
        raise ValueError(f"graph_section: key must match [a-z0-9_-]+, got {key!r}")
    eqs = model.equations(training=True)
    steps = [
        Step("Each loss term's gradient at its node: its weight times ∂ℓ/∂h (a per-sample vector)",
             tuple(Math(t.equation.lhs, t.equation.rhs) for t in eqs.losses)),
        Step("Generalised backprop: a node's error signal is the sum over its consumers of their vector-Jacobian "
             "products; a shared parameter's gradient is the sum over its uses",
             tuple(Math(eq.lhs, eq.rhs) for _, eq in eqs.backward)),
    ]
    inference = model.equations(training=False)
    if [(eq.lhs, eq.rhs) for eq in inference.forward] != [(eq.lhs, eq.rhs) for eq in eqs.forward]:
        steps.insert(0, Step("Inference mode: the forward pass without noise or dropout, each layer's inference formula "
                             "(forward, evaluate and the loss of predictions)",
                             tuple(Math(eq.lhs, eq.rhs) for eq in inference.shown_forward)))
    rules = block_rules(eqs)
    if rules:
        steps.append(Step(
            "Stacking, slicing and stop-gradient, written out: a stacked node's error signal splits by blocks, a "
            "slice's is placed into zeros (rows counted from 1, both ends included), and nothing flows back through "
            "sg; a node's error signal sums these terms over its consumers",
            tuple(Math(vjp, value) for _, _, _, vjp, value in rules)))
    start = _start_step(model)
    if start is not None:
        steps.append(start)
    checks = [proof_check(label, proof) for label, proof in prove_graph(model).items()]
    checks += [proof_check(label, proof) for label, proof in prove_block_rules(eqs, rules).items()]
    kinds = list(dict.fromkeys(_CLAIM_OF[label.split(":")[0]] for label, *_ in rules))
    if kinds:  # the same rules at symbolic widths, in index notation
        checks += [proof_check(f"at symbolic widths, {label}", proof) for label, proof in prove_index_claims(only=kinds).items()]
    if verify:
        checks += _mutant_checks(model)
    summary = (f"{len(model.inputs)} input(s), {len(eqs.outputs)} output(s), {len(eqs.forward)} forward equations, "
               f"{len(eqs.losses)} loss term(s), {len(eqs.params)} parameter array(s).")
    return Section(key=key, title=title, kind="graph", summary=summary,
                   definition=tuple(Math(eq.lhs, eq.rhs) for eq in eqs.shown_forward), steps=tuple(steps), checks=tuple(checks))


def _start_step(model: object) -> Step | None:
    """Each weight's initial distribution, its a or s in n_in, n_out (a named scheme or a formula), and each constraint's P."""
    from ..layers.init_schemes import get_scheme

    maths, parts = [], []
    for layer in model.layers:  # type: ignore[attr-defined]
        if not layer.parameters():
            continue
        index = model.parameter_index(layer)  # type: ignore[attr-defined]
        for p in layer.parameters():
            if isinstance(p.init, str):
                scheme = get_scheme(p.init)
                letter, law = ("a", "U(−a, a)") if scheme.family == "uniform" else ("s", "N(0, s²)")
                maths.append(Math(sp.Symbol(f"{letter}_{{{p.stem}{index}}}", positive=True), scheme.parameter))
                parts.append(f"{p.stem}{index} ∼ {law} ({p.init}; n_in = {p.shape[1]}, n_out = {p.shape[0]})")
        for stem, project in layer.constraints().items():
            maths.append(Math(sp.Symbol(f"P_{{{stem}{index}}}"), project.projection()))
            settings = ", ".join(f"{k}={v:g}" for k, v in project.settings)
            parts.append(f"{stem}{index} ← P(w) after each step ({project.name}{f'({settings})' if settings else ''})")
    if not parts:
        return None
    return Step("Initial weights and constraints: " + "; ".join(parts) + ". n_in and n_out are a layer's inputs and units; "
                "P acts on each weight w, ν = √(Σ w²) along Keras' axis (over a whole bias; ε = 1e-7 as Keras)", tuple(maths))


def _mutant_checks(model: object) -> list[Check]:
    from ..graph.equations import planted_mutations
    from ..graph.proofs import prove_graph

    checks = []
    for mutation in planted_mutations(model):  # type: ignore[arg-type]
        proofs = prove_graph(model, mutation=mutation, first_refutation=True)  # type: ignore[arg-type]
        refuted = [p for p in proofs.values() if not p]
        checks.append(Check(f"planted mistake refuted: {_MUTANTS[mutation]}", bool(refuted),
                            refuted[0].method if refuted else "not refuted"))
    return checks
