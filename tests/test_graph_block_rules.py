"""Stacking, slicing and stop-gradient in a graph's report: printed as a textbook writes them, their VJPs
written out at each node and proven, and the classic mistakes with them refuted."""

from __future__ import annotations

import pytest
import sympy as sp

from symdl.graph import GLU, Add, Concatenate, Dense, Input, Model, StopGradient
from symdl.graph.block_rules import block_rules, prove_block_rules
from symdl.graph.blocks import Concat, Slice
from symdl.graph.equations import MUTATIONS, planted_mutations
from symdl.graph.proofs import prove_graph
from symdl.report.graph_sections import graph_section
from symdl.report.html import render_html
from symdl.report.latex_printer import latex_math
from symdl.report.markdown import render_markdown
from symdl.report.model import Math, Report
from symdl.report.plain_equations import equations_text


def _blocks_model() -> Model:
    """Two tanh layers stacked, the stack gated by GLU (two slices), the second also through stop-gradient."""
    x = Input(3)
    h1 = Dense(2, activation="tanh")(x)
    h2 = Dense(2, activation="tanh")(x)
    stacked = Concatenate()([h1, h2])
    gated = GLU()(stacked)
    return Model(x, Dense(1)(Add()([gated, StopGradient()(h2)])), losses="mse")


@pytest.fixture(scope="module")
def model():
    return _blocks_model()


def _forward_latex(model: Model) -> list[str]:
    return [latex_math(m) for m in graph_section(model, verify=False).definition]


def test_stacking_slicing_and_stop_gradient_print_as_a_textbook_writes_them(model):
    shown = _forward_latex(model)
    assert r"{h}^{3} = \begin{bmatrix}{a}^{1} \\ {a}^{2}\end{bmatrix}" in shown
    assert r"{\alpha }^{4} = {{h}^{3}}_{1:2}" in shown and r"{\beta }^{4} = {{h}^{3}}_{3:4}" in shown
    assert r"{h}^{5} = \operatorname{sg}\left({a}^{2}\right)" in shown
    text = equations_text(model.equations())
    assert "h³ = [a¹; a²]" in text and "α⁴ = h³_(1:2)" in text and "h⁵ = sg(a²)" in text


def test_a_slice_of_a_gradient_is_bracketed_and_names_never_leak(model):
    report = Report("blocks", (graph_section(model, verify=False),))
    markdown, _ = render_markdown(report)
    html = render_html(report)
    assert r"\left(\frac{\partial  C}{\partial  {h}^{3}}\right)_{3:4}" in markdown
    for text in (markdown, html):
        assert not any(word in text for word in ("Concat", "Slice", "Stopped", "unsafe", "1D7D8"))
    assert "<mo>[</mo><mtable>" in html and "<mo>:</mo>" in html and "<mtd><mn>0</mn></mtd>" in html


def test_each_block_rule_is_written_out_at_its_node(model):
    rules = block_rules(model.equations())
    assert [r[0].split(":")[0] for r in rules] == ["stacking", "stacking", "slicing", "slicing", "stop-gradient"]
    written = [latex_math(Math(vjp, value)) for *_, vjp, value in rules]
    assert written[1].endswith(r"= \left(\frac{\partial  C}{\partial  {h}^{3}}\right)_{3:4}")
    assert written[2].endswith(r"= \begin{bmatrix}\frac{\partial  C}{\partial  {\alpha }^{4}} \\ 0\end{bmatrix}")
    assert written[3].endswith(r"= \begin{bmatrix}0 \\ \frac{\partial  C}{\partial  {\beta }^{4}}\end{bmatrix}")
    assert written[4].endswith("= 0")


def test_each_block_rule_is_proven_and_each_wrong_variant_refuted(model):
    eqs = model.equations()
    rules = block_rules(eqs)
    proofs = prove_block_rules(eqs)
    assert len(proofs) == 5 and all(proofs.values()), {k: p.method for k, p in proofs.items() if not p}
    stack, _, low, high, stop = rules
    g = stack[4].array
    wrong = [
        (*rules[1][:4], Slice(g, 0, 2)),                            # the second block read from the top rows
        (*high[:4], Concat(high[4].args[1], high[4].args[0])),     # β's signal placed at α's rows
        (*stop[:4], stop[3].args[1]),                               # stop-gradient passing gˢ back unchanged
        (*low[:4], sp.ZeroMatrix(4, 1)),                           # a slice passing nothing back
    ]
    refuted = prove_block_rules(eqs, wrong)
    assert len(refuted) == 4 and not any(refuted.values())
    assert all(p.method.startswith("refuted: entry ") for p in refuted.values())


def test_the_planted_block_mistakes_are_refuted_by_the_whole_graph_proof(model):
    assert {"unsplit_blocks", "through_stop"} <= set(planted_mutations(model)) <= set(MUTATIONS)
    for mutation in ("unsplit_blocks", "through_stop"):
        proofs = prove_graph(model, mutation=mutation)
        assert not all(proofs.values()) and all("exactly" in p.method for p in proofs.values() if not p)
    assert all(prove_graph(model).values())


def test_a_chain_plants_no_block_mistake_and_has_no_block_step():
    x = Input(2)
    chain = Model(x, Dense(1)(Dense(2, activation="tanh")(x)), losses="mse")
    assert planted_mutations(chain) == ()
    section = graph_section(chain)
    assert not any(s.title.startswith("Stacking") for s in section.steps)


def test_the_report_section_shows_and_checks_the_block_rules(model):
    section = graph_section(model, title="Blocks", key="blocks")
    (step,) = [s for s in section.steps if s.title.startswith("Stacking, slicing and stop-gradient")]
    assert len(step.math) == 5
    checks = {c.what: c for c in section.checks}
    assert sum(w.startswith("proof: stacking") for w in checks) == 2
    assert checks["proof: stop-gradient: nothing flows back, node h5 from a2"].passed
    symbolic = [w for w in checks if w.startswith("proof: at symbolic widths, ")]
    assert [w.split(", ", 1)[1].split(" ")[0] for w in symbolic] == ["stacking", "slicing", "stop-gradient"]
    planted = [c for w, c in checks.items() if w.startswith("planted mistake")]
    assert {c.what for c in planted} == {
        "planted mistake refuted: every block of a stacked node's error signal read from its top rows",
        "planted mistake refuted: the error signal passed back through stop-gradient"}
    assert all(c.passed for c in section.checks)
