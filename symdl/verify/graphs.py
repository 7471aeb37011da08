"""Verification rows for graphs of layers: generalised backprop proven at concrete sizes, compiled gradients
checked by finite differences, and the planted mistakes (a dropped skip term, a shared weight's last use only,
a missing auxiliary loss) each refuted by an exact counterexample."""

from __future__ import annotations

import numpy as np

from ..graph import Add, Dense, Input, Model
from ..graph.equations import MUTATIONS
from ..graph.proofs import prove_graph
from ..testing.gradcheck import check_grad
from ..testing.network_check import flatten_params, unflatten_params
from .rules import RuleReport

__all__ = ["verify_graphs", "residual_graph"]


def residual_graph(width: int = 1) -> Model:
    """x → dense(tanh) → a block shared twice with a skip (x + block(x)) → dense output, and an auxiliary
    reconstruction loss on the last hidden node (0.1 · mean ½(r − x)²)."""
    x = Input(width)
    h = Dense(width, activation="tanh")(x)
    block = Dense(width, activation="sigmoid")
    h = block(Add()([h, block(h)]))
    model = Model(x, Dense(1)(h), losses="mse")
    model.add_loss(Dense(width, activation="sigmoid")(h), "mse", target=x, weight=0.1, reduction="mean")
    return model


def verify_graphs() -> list[RuleReport]:
    """One row: the residual graph's proof, its compiled gradient at three seeded points, its mutants."""
    report = RuleReport("graph residual+shared+aux", kind="network")
    model = residual_graph()
    report.proofs = {label: bool(p) for label, p in prove_graph(model).items()}
    compiled = model.compile("float64")
    for seed in range(3):
        rng = np.random.default_rng(seed)
        params = compiled.init(seed)
        X, Y = rng.standard_normal((7, 1)), rng.uniform(0, 1, (7, 1))
        result = check_grad(lambda t: compiled.loss(unflatten_params(t, params), X, Y),
                            lambda t: flatten_params(compiled.loss_and_grad(unflatten_params(t, params), X, Y)[1]),
                            flatten_params(params))
        report.fd_error = max(report.fd_error, result.rel_error if result.passed else float("inf"))
    for mutation in MUTATIONS:
        refuted = any(not p for p in prove_graph(model, mutation=mutation, first_refutation=True).values())
        report.mutants_total += 1
        report.mutants_killed += refuted
        if not refuted:
            report.mutant_survivors.append(mutation)
    return [report]
