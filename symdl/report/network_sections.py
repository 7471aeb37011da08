"""The report section of backpropagation: BP1–BP4 derived in index form, proven, and checked on a compiled network.

Definitions and the four equations come from :class:`symdl.Network`'s matrix
equations and :func:`symdl.backprop.equations.index_equations`; the steps
differentiate the cost by w^l_pq with SymPy and contract the Kronecker deltas
with :func:`symdl.symbolic.index_sums.contract_deltas`, the contraction the
proofs use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..backprop.notation import ACTIVATION, OUTPUT_ACTIVATION
from ..numbers import format_number
from .checks import proof_check
from .model import Check, Math, Section, Step
from .named_constants import name_constants
from .names import _UNICODE_GREEK

# A scripted name in a proof's or equation's label (w^{1}_jk, delta^{2}_p, \alpha^{1}) and a claim dC/dX == Y …
_TOKEN = r"\\?[A-Za-z]+\^\{[^{}]+\}(?:_[A-Za-z0-9]+)?"
_CLAIM = re.compile(rf"dC/d({_TOKEN})(?: == ({_TOKEN}(?: {_TOKEN})*))?")
_PARTS = re.compile(r"\\?([A-Za-z]+)\^\{([^{}]+)\}(?:_([A-Za-z0-9]+))?")
_GREEK = frozenset(_UNICODE_GREEK.values())
# … and the induction proof's method, as report prose (its own text is plain ASCII for terminals and JSON).
INDUCTION_DETAIL = (
    "index notation, symbolic layer $l$ and widths: $\\frac{\\partial}{\\partial z^{l}_{j}}$ of "
    "$\\Sigma_{k} D_{k} z^{l+1}_{k}$ and $\\frac{\\partial}{\\partial b^{l}}$, $\\frac{\\partial}{\\partial w^{l}}$ of "
    "$\\Sigma_{m} \\Delta_{m} z^{l}_{m}$ derived, deltas contracted, canonical forms identical to BP2, BP3, BP4; "
    "the multivariable chain rule is taken as known"
)


def _scripted(match: re.Match[str]) -> str:
    base, sup, sub = match.groups()
    base = f"\\{base}" if base in _GREEK else base
    return f"{base}^{{{sup}}}" + (f"_{{{sub}}}" if sub else "")


def label_prose(label: str) -> str:
    """A label such as ``dC/dw^{1}_jk == a^{0}_k delta^{1}_j`` or ``dC/d\\alpha^{1}`` with its mathematics as ``$…$`` prose."""
    def claim(match: re.Match[str]) -> str:
        derivative = f"\\frac{{\\partial C}}{{\\partial {_PARTS.sub(_scripted, match.group(1))}}}"
        value = match.group(2)
        return f"${derivative}$" if value is None else f"${derivative} = {_PARTS.sub(_scripted, value)}$"

    return _CLAIM.sub(claim, label)

if TYPE_CHECKING:
    from ..backprop.index_form import IndexNetwork

__all__ = ["backprop_section"]


def _undummy(expr: sp.Basic) -> sp.Basic:
    """``expr`` with each Dummy (a bound index renamed apart) replaced by a plain symbol: equal on every run."""
    dummies = sorted(expr.atoms(sp.Dummy), key=lambda d: (d.name, d.dummy_index))
    taken = {s.name for s in expr.free_symbols if not isinstance(s, sp.Dummy)}
    names = {}
    for d in dummies:
        name = d.name + "'"
        while name in taken:
            name += "'"
        taken.add(name)
        names[d] = sp.Symbol(name, **d.assumptions0)
    return expr.xreplace(names)


def _fold_network(expr: sp.Expr, net: IndexNetwork, indices: Sequence[sp.Symbol]) -> sp.Expr:
    """The unrolled sums written back as z^l_i and a^l_i = σ(z^l_i) (top layer first, so whole subtrees match)."""
    from ..backprop.index_form import activation_bases, sigma, unit_index

    for layer in range(net.depth, 0, -1):
        z_base, _ = activation_bases(layer)
        for t in indices:
            if t != unit_index(layer - 1):
                expr = expr.xreplace({net.z(layer, t): z_base[t]})
    for layer in range(1, net.depth + 1):
        z_base, a_base = activation_bases(layer)
        expr = expr.replace(
            lambda e, z_base=z_base: isinstance(e, sigma) and isinstance(e.args[0], sp.Indexed) and e.args[0].base == z_base,
            lambda e, a_base=a_base: a_base[e.args[0].indices],
        )
    return expr


def _index_steps(depth: int) -> list[Step]:
    """C as nested sums, ∂C/∂w^l_pq by SymPy (Kronecker deltas), contracted, and = a^{l−1}_q δ^l_p through BP1/BP2."""
    from ..backprop.index_form import (
        COST,
        IndexNetwork,
        bias,
        index_equations,
        j,
        k,
        unit_index,
        weight,
    )
    from ..backprop.index_proofs import (
        instantiate,
        p,
        q,
        sort_equations,
        unit_ranges,
        unroll_deltas,
    )
    from ..symbolic.index_sums import contract_deltas

    net = IndexNetwork(depth)
    names = [p, q, j, k, *(unit_index(t) for t in range(depth + 1))]
    total = net.total_cost()
    steps = [
        Step(
            "The cost as nested sums (index notation, widths $n_{0}$ … $n_{L}$ symbolic)",
            (Math(COST, total), Math(COST, _fold_network(total, net, names))),
            r"$z^{l}_{j} = \Sigma_{k} w^{l}_{jk} a^{l-1}_{k} + b^{l}_{j}$ and $a^{l}_{j} = \varphi(z^{l}_{j})$ unrolled "
            r"down to $x$; $\varphi$ and the per-unit cost $\ell(a, y)$ are generic functions, so what follows holds for "
            "every element-wise activation and every loss summed over output units (softmax and softmax cross-entropy "
            r"couple the units: their BP1 is the matrix form's $J_{\varphi}^{T} \nabla_{a} C$)",
        )
    ]
    claims = sort_equations(index_equations(depth), depth)
    for layer in sorted({depth, 1}, reverse=True):
        target = weight(layer)[p, q]
        dC = sp.Derivative(COST, target)
        raw = sp.diff(total, target)
        contracted = contract_deltas(raw, unit_ranges(layer))
        steps.append(
            Step(
                f"Differentiate $C$ by $w^{{{layer}}}_{{pq}}$: the chain rule through the sums",
                (Math(dC, _fold_network(raw, net, names)),),
                rf"SymPy's derivative of the nested sums: $\frac{{\partial w^{{{layer}}}_{{kj}}}}{{\partial w^{{{layer}}}_{{pq}}}} "
                rf"= \delta_{{kp}} \delta_{{jq}}$, so Kronecker deltas appear inside the sums",
            )
        )
        steps.append(
            Step(
                "Contract the Kronecker deltas",
                (Math(dC, _fold_network(contracted, net, names)),),
                rf"$\Sigma_{{k}} \delta_{{kp}} f_{{k}} = f_{{p}}$ for each $p$ from 0 to $n_{{{layer}}} - 1$ (SymPy's deltasummation); "
                "each sum over a delta collapses to one term",
            )
        )
        indices, rhs = claims.weights[layer]
        claimed = instantiate(indices, rhs, (p, q))
        unrolled = unroll_deltas(claimed, claims, depth)
        steps.append(
            Step(
                rf"The same in terms of $\delta^{{{layer}}}$ (BP4, with $\delta$ unrolled through BP1/BP2)",
                (Math(dC, claimed), Math(dC, _undummy(unrolled))),
                "the contracted derivative and this right side have the same canonical form (see the checks)",
            )
        )
    bias_claim = claims.biases[depth]
    steps.append(
        Step(
            r"Biases: $\frac{\partial z^{l}_{m}}{\partial b^{l}_{p}} = \delta_{mp}$, so "
            r"$\frac{\partial C}{\partial b^{l}_{p}} = \delta^{l}_{p}$ (BP3)",
            (Math(sp.Derivative(COST, bias(depth)[p]), instantiate(bias_claim[0], bias_claim[1], (p,))),),
        )
    )
    return steps


def _network_check(network: object, what: str) -> Check:
    """The compiled ``network``'s gradient against finite differences, at the points symdl verify draws."""
    from ..testing.network_check import check_network_grad
    from ..verify.network import draw_batch

    net = network.compile()  # type: ignore[attr-defined]
    params, X, Y = draw_batch(net, 0)
    if network.loss.name == "softmax_cross_entropy":  # type: ignore[attr-defined]
        Y = np.eye(network.layers[-1])[np.argmax(Y, axis=1)]  # type: ignore[attr-defined]
    try:
        report = check_network_grad(net, params, X, Y)
    except ValueError as why:  # the drawn point sits on a kink: there is no derivative to check
        return Check(f"compiled network {what}: gradient check", False, str(why))
    return Check(
        f"compiled network {what}: gradient of the generated code against finite differences",
        report.passed,
        f"worst error {format_number(report.abs_error, '.3g')} (relative {format_number(report.rel_error, '.3g')}) "
        + (f"of the directional derivative ⟨∇C, u⟩ over {report.checked} seeded random unit directions u"
           if report.mode == "directions" else f"over {report.checked} coordinates")
        + f", central differences with step {format_number(report.step, '.3g')}, tolerance atol "
        f"{format_number(report.tolerance.atol, 'g')} / rtol {format_number(report.tolerance.rtol, 'g')}",
    )


def _describe(layers: Sequence[int], activation: str, output: str, loss: str, penalty: str | None,
              batchnorm: bool, dropout: float | None) -> str:
    """The network in words: layers, activations, loss and its options."""
    where = "on every layer" if output == activation else f"on the hidden layers, {output} on the output layer"
    text = f"layers {list(layers)}, activation {activation} {where}, loss {loss}"
    if penalty is not None:
        text += f", penalty {penalty} on every weight matrix"
    if batchnorm:
        text += ", batch norm on every hidden layer"
    if dropout is not None:
        text += f", dropout (drop probability {format_number(dropout, 'g')}) on every hidden layer"
    return text


def backprop_section(
    layers: Sequence[int] = (2, 3, 1),
    activation: str = "tanh",
    loss: str = "mse",
    *,
    output_activation: str | None = None,
    penalty: str | None = None,
    batchnorm: bool = False,
    dropout: float | None = None,
    verify: bool = True,
) -> Section:
    """BP1–BP4 for an MLP ``layers`` with ``activation`` (on every layer, or ``output_activation`` on the last) and ``loss``.

    ``penalty`` (Ω on every weight matrix), ``batchnorm`` and ``dropout``
    (the drop probability) are :class:`symdl.Network`'s options; the
    index-notation derivation and its proofs are of the plain network (σ on
    every layer, none of these options), stated so in the summary otherwise,
    while the matrix form and the finite-difference check are of this network.

    Definitions and the four equations come from :class:`symdl.Network`'s
    matrix equations and :func:`symdl.backprop.equations.index_equations`; the steps
    differentiate C by w^l_pq with SymPy and contract the Kronecker deltas;
    the checks are :mod:`symdl.backprop.index_proofs`'s proofs (symbolic widths,
    induction step, concrete sizes when the rules are smooth) and, with
    ``verify``, a finite-difference check of the compiled network.
    """
    from ..backprop.index_form import index_equations
    from ..backprop.index_proofs import (
        SYMBOLIC_DEPTHS,
        induction_step,
        prove_concrete_sizes,
        prove_induction_step,
        prove_symbolic_widths,
    )
    from ..network.model import Network

    output = activation if output_activation is None else output_activation
    network = Network(list(layers), activation=activation, output_activation=output, loss=loss, penalty=penalty,
                      batchnorm=batchnorm, dropout=dropout)
    plain = output == activation and penalty is None and not batchnorm and dropout is None
    depth = network.depth
    equations = network.equations()
    definition = [Math(eq.lhs, eq.rhs) for eq in equations.forward]
    act, out, los, pen = network.activation, network.output_activation, network.loss, network.penalty
    if act.element_wise:
        definition.append(Math(sp.Function(ACTIVATION)(act.wrt), act.bind(act.expr)))
    if output != activation and out.element_wise:
        definition.append(Math(sp.Function(OUTPUT_ACTIVATION)(out.wrt), out.bind(out.expr)))
    if los.element_wise:
        definition.append(Math(sp.Function(r"\ell")(*los.inputs), los.bind(los.expr)))
    if pen is not None:
        definition.append(Math(sp.Function(r"\Omega")(pen.wrt), pen.bind(pen.expr)))
    index_depth = min(depth, max(SYMBOLIC_DEPTHS))
    steps = _index_steps(index_depth)
    steps.append(Step("General depth: induction on $l$ from $L$ down to 1", (), induction_step()))
    steps.append(Step("BP1–BP4 in index notation", tuple(Math(eq.lhs, eq.rhs) for eq in index_equations(depth))))
    matrix = [Math(equations.loss_gradient.lhs, equations.loss_gradient.rhs)]
    matrix += [Math(eq.lhs, eq.rhs) for _, eq in equations.backward]
    steps.append(Step("BP1–BP4 in matrix form (what the numpy code is printed from)", tuple(matrix),
                      "; ".join(label_prose(label) for label, _ in equations.backward)))
    described = _describe(layers, activation, output, loss, penalty, batchnorm, dropout)
    summary = f"backpropagation for {described}"
    if not plain:
        summary += (f". The index-notation derivation and its proofs are of the plain network ({activation} on every "
                    "layer, no penalty, batch norm or dropout); the matrix form and the finite-difference check are "
                    "of this one")
    if output != activation and out.element_wise:
        summary += f"; ${OUTPUT_ACTIVATION}$ is the output activation {output}"
    if pen is not None:
        summary += f"; $\\Omega$, the penalty {penalty}, is summed over every entry of each weight matrix"
    checks: list[Check] = []
    if verify:
        checks += [proof_check(label_prose(label), proof) for label, proof in prove_symbolic_widths(index_depth).items()]
        induction = prove_induction_step()
        checks.append(Check("proof: induction step (BP2, BP3, BP4 for a symbolic layer $l$)", bool(induction),
                            INDUCTION_DETAIL if induction else induction.method))
        try:
            concrete = prove_concrete_sizes(tuple(layers), activation, loss) if plain else {}
        except ValueError as why:
            summary += f"; no proof at concrete sizes ({why})"
        else:
            checks += [proof_check(f"{label_prose(label)} (widths {tuple(layers)}, {activation}, {loss})", proof)
                       for label, proof in concrete.items()]
        what = f"{list(layers)} ({activation}, {loss})" if plain else f"{list(layers)} (the network above)"
        checks.append(_network_check(network, what))
    return name_constants(Section(
        key="backprop",
        title="Backpropagation: BP1–BP4",
        kind="backprop",
        summary=summary,
        definition=tuple(definition),
        steps=tuple(steps),
        checks=tuple(checks),
    ))
