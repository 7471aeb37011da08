"""Verification rows for graphs of layers: generalised backprop proven at concrete sizes, compiled gradients
checked by finite differences, and the planted mistakes (a dropped skip term, a shared weight's last use only,
a missing auxiliary loss) each refuted by an exact counterexample.

Two rows: the residual graph of built-in layers, and the notebook's custom layers written as formulas
(:func:`formula_graph`), whose generated numpy module must also give the compiled graph's loss and gradients
(its JAX and PyTorch modules are checked in the generated-code rows, which import those libraries anyway)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backends import get_backend
from ..formula_layers import formula_layer
from ..graph import Add, Dense, Formula, Input, Model
from ..graph.equations import planted_mutations
from ..graph.proofs import prove_graph
from ..testing.gradcheck import check_grad
from ..testing.network_check import flatten_params, unflatten_params
from .rules import RuleReport

__all__ = ["formula_graph", "graph_module_checks", "verify_graphs", "residual_graph"]


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


def formula_graph(width: int = 1) -> Model:
    """The notebook's custom layers as formulas: ``MyDense`` (tanh) shared twice with a skip, ``MyMultiLayer``'s
    X1 + X2, X1 · X2 and X1 / X2 as three formula heads (X2 kept away from 0 by the data), an auxiliary loss.

    >>> formula_graph()
    Model(2 input(s), 3 output(s), 6 nodes, 4 loss term(s))
    """
    my_dense = formula_layer("y[i] = tanh(sum(W[i, j] * x[j], j) + b[i])", inputs={"x": "in"},
                             params={"W": ("out", "in"), "b": "out"}, name="mydense")
    merges = [formula_layer(f"y[i] = x1[i] {op} x2[i]", inputs={"x1": "n", "x2": "n"}, name=f"my{name}")
              for op, name in (("+", "add"), ("*", "multiply"), ("/", "divide"))]
    x1, x2 = Input(width), Input(width)
    block = Formula(my_dense, sizes={"out": width})
    h = block(Add()([x1, block(x1)]))
    model = Model([x1, x2], [Formula(m)([h, x2]) for m in merges], losses="mse")
    return model.add_loss(h, "mse", target=x1, weight=0.1, reduction="mean")


def _data(compiled: object, rng: np.random.Generator, rows: int = 7) -> tuple[list, list]:
    """Inputs and targets of ``compiled``; the second input ±[1, 2] (a divisor away from 0)."""
    inputs = [rng.standard_normal((rows, w)) for _, w in compiled._inputs]  # type: ignore[attr-defined]
    if len(inputs) > 1:
        inputs[1] = rng.uniform(1, 2, inputs[1].shape) * rng.choice([-1.0, 1.0], inputs[1].shape)
    return inputs, [rng.uniform(0, 1, (rows, w)) for _, w in compiled._targets]  # type: ignore[attr-defined]


def graph_module_checks(model: Model, backends: tuple[str, ...] = ("numpy",)) -> dict[str, bool]:
    """Each of ``backends``' graph module (:func:`symdl.export.graph_module_source`) gives the compiled loss and
    gradients (numpy in float64 at rtol 1e-10; the others in their ``verify_dtype``)."""
    from ..export.graph_modules import graph_module_source

    checks = {}
    for name in backends:
        backend = get_backend(name)
        dtype, rtol = backend.verify_dtype or ("float64", 1e-10)
        compiled = model.compile(dtype)
        params = compiled.init(0)
        inputs, targets = _data(compiled, np.random.default_rng(1))
        inputs, targets = [a.astype(dtype) for a in inputs], [a.astype(dtype) for a in targets]
        loss, grads = compiled.loss_and_grad(params, inputs, targets)
        namespace: dict[str, object] = {}
        # Generated code only: printed from the graph's SymPy equations.
        exec(compile(graph_module_source(model, name, dtype), f"<symdl graph module {name}>", "exec"), namespace)  # noqa: S102
        arrays = backend.as_arrays(params) if backend.verify_dtype is not None else params
        got_loss, got = namespace["loss_and_grad"](arrays, *inputs, *targets)  # type: ignore[operator]
        pairs: list[tuple[Any, Any]] = [(loss, got_loss), *((grads[k], got[k]) for k in grads)]
        ok = all(np.allclose(np.asarray(b), a, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(a))))) for a, b in pairs)
        checks[f"{backend.title} module of {model!r} in {dtype}: loss and gradients equal the compiled graph's"] = bool(ok)
    return checks


def _graph_row(label: str, model: Model, modules: bool) -> RuleReport:
    report = RuleReport(label, kind="network")
    report.proofs = {label: bool(p) for label, p in prove_graph(model).items()}
    if modules:
        report.proofs.update(graph_module_checks(model))
    compiled = model.compile("float64")
    for seed in range(3):
        params = compiled.init(seed)
        X, Y = _data(compiled, np.random.default_rng(seed))
        result = check_grad(lambda t: compiled.loss(unflatten_params(t, params), X, Y),
                            lambda t: flatten_params(compiled.loss_and_grad(unflatten_params(t, params), X, Y)[1]),
                            flatten_params(params))
        report.fd_error = max(report.fd_error, result.rel_error if result.passed else float("inf"))
    for mutation in planted_mutations(model):
        refuted = any(not p for p in prove_graph(model, mutation=mutation, first_refutation=True).values())
        report.mutants_total += 1
        report.mutants_killed += refuted
        if not refuted:
            report.mutant_survivors.append(mutation)
    return report


def verify_graphs(which: str = "residual") -> list[RuleReport]:
    """One row: ``"residual"`` (:func:`residual_graph`) or ``"formula"`` (:func:`formula_graph`, its generated
    modules checked too): the proof, the compiled gradient at three seeded points, the planted mistakes refuted."""
    if which == "residual":
        return [_graph_row("graph residual+shared+aux", residual_graph(), modules=False)]
    if which == "formula":
        return [_graph_row("graph formula layers (notebook)", formula_graph(), modules=True)]
    raise ValueError(f"verify_graphs: expected 'residual' or 'formula', got {which!r}")
