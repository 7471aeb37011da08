"""Verification rows for backprop: the BP1–BP4 proofs, and compiled networks' gradients and planted mistakes.

The proof rows prove BP1–BP4 in index notation for symbolic widths (depth
1–3, plus the induction step that extends them to any depth) and, expanded to
scalars, at concrete sizes with generic φ and C and with library rules.

Each configuration is compiled from its BP1–BP4 equations and checked with
:func:`symdl.testing.check_network_grad` at seeded random points. Then the
equations are mutated the way hand-written backprop goes wrong (φ′ dropped
from BP2, BP3 doubled, ∇ₐC with the wrong sign) and each mutant is compiled
and must fail the same check.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import numpy as np
import sympy as sp

from ..backprop.equations import BackpropEquations
from ..network.model import CompiledNetwork, Network
from ..network.rule_forms import LogitsLossWarning
from ..testing.network_check import check_network_grad
from .rules import RuleReport

__all__ = [
    "LAYER_PROOFS",
    "NETWORK_CASES",
    "backprop_concrete_row",
    "backprop_symbolic_row",
    "layer_proof_row",
    "verify_backprop_proofs",
    "verify_layer_proofs",
    "verify_network",
    "verify_networks",
]

#: (label, Network keyword arguments): every kind of layer the printer knows.
NETWORK_CASES: tuple[tuple[str, dict], ...] = (
    ("network tanh/mse+l2", {"layers": [4, 8, 8, 3], "activation": "tanh", "loss": "mse", "penalty": "l2"}),
    ("network relu/softmax_ce", {"layers": [5, 8, 4], "activation": "relu", "loss": "softmax_cross_entropy"}),
    ("network prelu/huber+l1", {"layers": [3, 6, 6, 2], "activation": "prelu", "output_activation": "prelu", "loss": "huber", "penalty": "l1"}),
    ("network selu/sigmoid/bce", {"layers": [4, 6, 2], "activation": "selu", "output_activation": "sigmoid", "loss": "binary_cross_entropy"}),
    ("network softmax/mse", {"layers": [3, 5, 4], "activation": "softplus", "output_activation": "softmax", "loss": "log_cosh"}),
    ("network batchnorm+dropout", {"layers": [4, 8, 8, 3], "activation": "tanh", "batchnorm": True, "dropout": 0.2, "loss": "mse"}),
)


def _without_bp2_derivative(eqs: BackpropEquations) -> BackpropEquations:
    def mutate(label: str, eq: sp.Eq) -> sp.Eq:
        if label.startswith("BP2") and isinstance(eq.rhs, sp.HadamardProduct):
            return sp.Eq(eq.lhs, eq.rhs.args[0], evaluate=False)
        return eq

    return dataclasses.replace(eqs, backward=tuple((label, mutate(label, eq)) for label, eq in eqs.backward))


def _doubled_bp3(eqs: BackpropEquations) -> BackpropEquations:
    def mutate(label: str, eq: sp.Eq) -> sp.Eq:
        return sp.Eq(eq.lhs, sp.MatAdd(eq.rhs, eq.rhs, evaluate=False), evaluate=False) if label.startswith("BP3") else eq

    return dataclasses.replace(eqs, backward=tuple((label, mutate(label, eq)) for label, eq in eqs.backward))


def _negated_loss_gradient(eqs: BackpropEquations) -> BackpropEquations:
    lhs, rhs = eqs.loss_gradient.lhs, eqs.loss_gradient.rhs
    return dataclasses.replace(eqs, loss_gradient=sp.Eq(lhs, sp.HadamardProduct(rhs, _minus_ones(rhs)), evaluate=False))


def _minus_ones(like: sp.MatrixExpr) -> sp.MatrixExpr:
    from ..backprop.equations import Elementwise

    (array,) = like.arrays[:1]
    x = sp.Symbol("x", real=True)
    return Elementwise("-1", sp.Lambda(x, -1 + 0 * x), array)


MUTANTS: tuple[tuple[str, Callable[[BackpropEquations], BackpropEquations]], ...] = (
    ("BP2 without phi'", _without_bp2_derivative),
    ("BP3 doubled", _doubled_bp3),
    ("loss gradient negated", _negated_loss_gradient),
)


def draw_batch(net: CompiledNetwork, seed: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """(params, X, Y) for ``net`` from ``seed``: its initial weights, biases N(0, 0.5²), X ~ N(0, 1) and Y ~ U(0, 1), 7 rows.

    Y lies in every loss's target domain: U(0, 1) for binary cross-entropy, each row divided by its sum (class
    probabilities) for softmax cross-entropy.
    """
    rng = np.random.default_rng(seed)
    params = net.init(seed)
    for key in params:
        if key.startswith("b"):
            params[key] = 0.5 * rng.standard_normal(params[key].shape)
    layers = net.network.layers
    X = rng.standard_normal((7, layers[0]))
    Y = rng.uniform(0, 1, (7, layers[-1]))
    if net.target_domain is not None and net.target_domain.simplex:
        Y /= Y.sum(axis=1, keepdims=True)
    return params, X, Y


def verify_network(label: str, spec: dict, points: int = 3) -> RuleReport:
    """The gradient check of one network at ``points`` seeded points, and its mutants (each must be caught)."""
    report = RuleReport(label, kind="network")
    with warnings.catch_warnings():  # a squashed output under a logits loss on purpose: its backprop is checked all the same
        warnings.simplefilter("ignore", LogitsLossWarning)
        network = Network(**spec)
    net = network.compile()
    draws = [draw_batch(net, seed) for seed in range(points)]
    for params, X, Y in draws:
        result = check_network_grad(net, params, X, Y)
        report.fd_error = max(report.fd_error, result.rel_error if result.passed else float("inf"))
    eqs = network._equations(output_form=True)
    for name, mutate in MUTANTS:
        mutant = CompiledNetwork(network, net.dtype, mutate(eqs))
        caught = any(not check_network_grad(mutant, *draw).passed for draw in draws)
        report.mutants_total += 1
        report.mutants_killed += caught
        if not caught:
            report.mutant_survivors.append(name)
    return report


#: (label, layers, activation, loss) of the concrete-size proofs; None is the generic φ or C.
CONCRETE_PROOFS: tuple[tuple[str, tuple[int, ...], str | None, str | None], ...] = (
    ("backprop scalars [2,3,2] generic", (2, 3, 2), None, None),
    ("backprop scalars [2,3,2] tanh/mse", (2, 3, 2), "tanh", "mse"),
    ("backprop scalars [2,2,2] sigmoid/bce", (2, 2, 2), "sigmoid", "binary_cross_entropy"),
)


def backprop_symbolic_row() -> RuleReport:
    """BP1–BP4 proven for symbolic widths (depths :data:`~symdl.backprop.index_proofs.SYMBOLIC_DEPTHS`) and the
    induction step."""
    from ..backprop.index_proofs import (
        SYMBOLIC_DEPTHS,
        prove_induction_step,
        prove_symbolic_widths,
    )

    symbolic = RuleReport("backprop BP1-BP4 symbolic widths", kind="proof")
    for depth in SYMBOLIC_DEPTHS:
        symbolic.proofs.update({label: bool(p) for label, p in prove_symbolic_widths(depth).items()})
    symbolic.proofs["induction step (BP2 extends to any depth)"] = bool(prove_induction_step())
    return symbolic


def backprop_concrete_row(index: int) -> RuleReport:
    """The concrete-size proof ``CONCRETE_PROOFS[index]`` as one row."""
    from ..backprop.index_proofs import prove_concrete_sizes

    label, layers, activation, loss = CONCRETE_PROOFS[index]
    report = RuleReport(label, kind="proof")
    report.proofs = {k: bool(p) for k, p in prove_concrete_sizes(layers, activation=activation, loss=loss).items()}
    return report


def verify_backprop_proofs() -> list[RuleReport]:
    """One row proving BP1–BP4 for symbolic widths (depths 1–3 and the induction step), one per concrete proof."""
    return [backprop_symbolic_row(), *(backprop_concrete_row(i) for i in range(len(CONCRETE_PROOFS)))]


#: The labels of the layer proof rows, each with the module (of :mod:`symdl.layers`) whose ``prove_all`` it runs.
LAYER_PROOFS: tuple[tuple[str, str], ...] = (
    ("batch norm proofs", "batchnorm_symbolic"), ("dropout proofs", "dropout"), ("initialisation proofs", "init_schemes"),
)


def layer_proof_row(index: int) -> RuleReport:
    """The proof row ``LAYER_PROOFS[index]``: its module's ``prove_all``."""
    from ..layers import batchnorm_symbolic, dropout, init_schemes

    modules = {"batchnorm_symbolic": batchnorm_symbolic, "dropout": dropout, "init_schemes": init_schemes}
    label, module = LAYER_PROOFS[index]
    report = RuleReport(label, kind="proof")
    report.proofs = {k: bool(p) for k, p in modules[module].prove_all().items()}
    return report


def verify_layer_proofs() -> list[RuleReport]:
    """One proof row each for batch norm, dropout and the initialisation schemes (their ``prove_all``)."""
    return [layer_proof_row(i) for i in range(len(LAYER_PROOFS))]


def verify_networks(progress: Callable[[str, int, int], None] | None = None) -> list[RuleReport]:
    """The proof rows (backprop, layers, optimizers), the graph row (:mod:`symdl.verify.graphs`), then one row per :data:`NETWORK_CASES` configuration;
    ``progress(label, i, n)`` before each."""
    from .graphs import verify_graphs
    from .optimizers import verify_optimizer_proofs

    total = 4 + len(NETWORK_CASES)
    if progress:
        progress("backprop proofs", 0, total)
    reports = verify_backprop_proofs()
    if progress:
        progress("batch norm, dropout and initialisation proofs", 1, total)
    reports += verify_layer_proofs()
    if progress:
        progress("optimizer proofs", 2, total)
    reports.append(verify_optimizer_proofs())
    if progress:
        progress("graphs: generalised backprop", 3, total)
    reports += verify_graphs()
    for i, (label, spec) in enumerate(NETWORK_CASES, start=4):
        if progress:
            progress(label, i, total)
        reports.append(verify_network(label, spec))
    return reports
