"""The content of derivation reports: :func:`build_report` assembles one :class:`~symdl.report.model.Section` per item.

Every equation in a section is a SymPy object taken from the library (the
rule's expression, SymPy's derivative of it, the textbook and stable forms,
the index-notation network, a layer's own derivation); nothing is re-typed
here. The sections come from :mod:`symdl.report.rule_sections` (rules and
formulas), :mod:`symdl.report.network_sections` (BP1–BP4), :mod:`symdl.report.graph_sections` (a graph model) and
:mod:`symdl.report.layer_sections` (each layer type's section, asked of the
layer, and weight initialisation); their builders are re-exported here.

:func:`report_item_names` lists what :func:`build_report` accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from ..rulebook.derivation_steps import chain_steps, head
from ..rulebook.registry import rules
from .graph_sections import graph_section
from .layer_sections import (
    batchnorm_section,
    dropout_section,
    expectation_of,
    init_section,
    layer_section,
    layer_section_keys,
)
from .model import Report, Section
from .network_sections import backprop_section
from .rule_sections import formula_section, rule_section

__all__ = [
    "ITEMS",
    "backprop_section",
    "batchnorm_section",
    "build_report",
    "chain_steps",
    "dropout_section",
    "expectation_of",
    "formula_section",
    "graph_section",
    "head",
    "init_section",
    "layer_section",
    "report_item_names",
    "rule_section",
]

#: The items other than rules, in report order: backpropagation, each layer type's section, initialisation
#: (as at import; :func:`report_item_names` also lists layer types defined later).
ITEMS: tuple[str, ...] = ("backprop", *layer_section_keys(), "init")


def report_item_names() -> list[str]:
    """Every name :func:`build_report` accepts: each rule of :func:`symdl.rulebook.rule`, then :data:`ITEMS` (``backprop``, each layer type's section, ``init``)."""
    return [*rules(), "backprop", *layer_section_keys(), "init"]


def build_report(
    names: Sequence[str] | None = None,
    *,
    formulas: Sequence[str] = (),
    graphs: Sequence[object] = (),
    layers: Sequence[int] = (2, 3, 1),
    activation: str = "tanh",
    loss: str = "mse",
    verify: bool = True,
    output_activation: str | None = None,
    penalty: str | None = None,
    batchnorm: bool = False,
    dropout: float | None = None,
    plots: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """The derivation report: a section per named item (default: every rule and item), then one per formula.

    ``layers``, ``activation``, ``loss``, ``output_activation`` (default: the
    activation), ``penalty``, ``batchnorm`` and ``dropout`` choose the network
    of the ``backprop`` section (:func:`backprop_section`). ``progress(key, index, total)`` is called before
    each item. ``graphs``: :class:`symdl.graph.Model` s, one section each after the formulas
    (:func:`symdl.report.graph_sections.graph_section`). An unknown name raises ``ValueError`` listing the accepted ones.
    """
    accepted = report_item_names()
    if isinstance(names, str):
        raise TypeError(f"names must be a sequence of item names, got the string {names!r}")
    if isinstance(formulas, str):
        raise TypeError(f"formulas must be a sequence of formula texts, got the string {formulas!r}")
    chosen = list(accepted) if names is None else list(dict.fromkeys(names))
    for name in chosen:
        if name not in accepted:
            raise ValueError(f"unknown report item {name!r}; accepted: {', '.join(accepted)}")
    builders: list[tuple[str, Callable[[], Section]]] = []
    for name in chosen:
        if name == "backprop":
            builders.append((name, lambda: backprop_section(
                layers, activation, loss, output_activation=output_activation, penalty=penalty, batchnorm=batchnorm,
                dropout=dropout, verify=verify)))
        elif name == "init":
            builders.append((name, lambda: init_section(verify=verify)))
        elif name in layer_section_keys():
            builders.append((name, partial(layer_section, name, verify=verify)))
        else:
            builders.append((name, partial(rule_section, name, verify=verify, plot=plots)))
    for n, text in enumerate(formulas, start=1):
        builders.append((f"formula-{n}", partial(formula_section, text, index=n, verify=verify, plot=plots)))
    for n, model in enumerate(graphs, start=1):
        builders.append((f"graph-{n}", partial(graph_section, model, title=f"Graph {n}: {model!r}", key=f"graph-{n}",
                                               verify=verify)))
    sections = []
    for index, (key, build) in enumerate(builders):
        if progress is not None:
            progress(key, index, len(builders))
        sections.append(build())
    return Report(
        title="symdl derivation report",
        sections=tuple(sections),
        introduction=(
            "Each section states a piece of network mathematics as a SymPy expression, derives it step by step, "
            "states its conventions at kinks, and lists what was proven exactly and measured numerically "
            "about the numpy code generated from it. Notation: σ is the logistic sigmoid ($\\sigma^{2}_{B}$ and rbf's σ "
            "are a variance and a width) and φ a generic element-wise activation (BP1–BP4, dropout); a rule's section "
            "calls its own function g(z) (an activation), L (a loss) or Ω (a penalty); $\\delta^{l}$ is "
            "backpropagation's error signal $\\frac{\\partial C}{\\partial z^{l}}$ and $\\delta_{kp}$ the Kronecker delta."
        ),
    )
