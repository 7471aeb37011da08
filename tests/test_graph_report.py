"""The report section of a graph model (symdl.report.graph_sections): its equations, proofs and refuted mistakes."""

from __future__ import annotations

import pytest
import sympy as sp

from symdl.graph import Dense, Input, Model, max_norm
from symdl.graph.constraints import NORM, WEIGHT
from symdl.layers.init_schemes import N_IN, N_OUT
from symdl.report.graph_sections import graph_section
from symdl.report.html import render_html
from symdl.report.markdown import render_markdown
from symdl.report.model import Report
from symdl.report.sections import build_report
from symdl.report.tex import render_tex
from symdl.verify.graphs import formula_graph


@pytest.fixture(scope="module")
def section():
    return graph_section(formula_graph(), title="The notebook's formula layers", key="formula-graph")


def test_section_holds_the_models_equations_and_proofs(section):
    model = formula_graph()
    eqs = model.equations(training=True)
    assert [(m.lhs, m.rhs) for m in section.definition] == [(eq.lhs, eq.rhs) for eq in eqs.forward]
    losses, backward, start = section.steps
    assert start.title.startswith("Initial weights and constraints: ") and len(start.math) == len(
        [p for layer in model.layers for p in layer.parameters() if isinstance(p.init, str)])
    assert [(m.lhs, m.rhs) for m in backward.math] == [(eq.lhs, eq.rhs) for _, eq in eqs.backward]
    assert len(losses.math) == len(eqs.losses) == 4
    proofs = [c for c in section.checks if c.what.startswith("proof:")]
    assert len(proofs) == len(eqs.params) and all(c.passed for c in proofs)
    planted = [c for c in section.checks if c.what.startswith("planted mistake")]
    assert len(planted) == 3 and all(c.passed and c.detail and c.detail != "not refuted" for c in planted)


def test_section_renders_in_every_format(section):
    report = Report("graphs", (section,))
    markdown, _ = render_markdown(report)
    assert "The notebook's formula layers" in markdown and "planted mistake refuted" in markdown
    assert 'id="formula-graph"' in render_html(report)
    assert r"\section" in render_tex(report)


def test_a_chain_has_no_mistake_to_plant_and_build_report_takes_graphs():
    x = Input(2)
    chain = Model(x, Dense(1)(Dense(2, activation="tanh")(x)), losses="mse")
    report = build_report([], graphs=[chain])
    (only,) = report.sections
    assert only.key == "graph-1" and only.kind == "graph"
    assert all(c.passed for c in only.checks) and not any(c.what.startswith("planted") for c in only.checks)


def test_a_mistake_the_proof_misses_fails_its_check(monkeypatch):
    import symdl.graph.proofs as proofs

    real = proofs.prove_graph
    monkeypatch.setattr(proofs, "prove_graph", lambda model, mutation=None, **kw: real(model, **kw) if mutation else real(model))
    planted = [c for c in graph_section(formula_graph()).checks if c.what.startswith("planted mistake")]
    assert planted and not any(c.passed for c in planted) and {c.detail for c in planted} == {"not refuted"}


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(TypeError, match="expected a symdl.graph.Model"):
        graph_section("model")
    with pytest.raises(ValueError, match="key must match"):
        graph_section(formula_graph(), key="Not An Anchor")


def test_formula_nodes_print_as_their_index_expressions(section):
    markdown, _ = render_markdown(Report("graphs", (section,)))
    html = render_html(Report("graphs", (section,)))
    assert r"\left[\sum_{j=0}^{in - 1} {{W}^{1}}_{i,j} {{x}_{1}}_{j}\right]_{i}" in markdown
    assert "unsafe" not in markdown and "unsafe" not in html and "FormulaKernel" not in markdown


def test_cli_report_graph_writes_its_section_and_refuses_a_missing_directory(tmp_path, capsys):
    """The section through a real `python -m symdl`; the refusal in-process (symdl.cli.main, as the console entry)."""
    import subprocess
    import sys

    from symdl.cli import main
    from symdl.graph import save_graph

    compiled = formula_graph().compile()
    save_graph(tmp_path / "saved", compiled, compiled.init(0))
    run = ["report", "--format", "md", "--no-plots"]
    done = subprocess.run([sys.executable, "-m", "symdl", *run, "--graph", str(tmp_path / "saved"), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "out" / "report.md").read_text()
    assert "## Graph 1: saved" in text and "Generalised backprop" in text and "planted mistake refuted" in text
    assert main([*run, "--graph", str(tmp_path / "none"), "-o", str(tmp_path / "no")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none: not a saved model directory" in err and "Traceback" not in err
    assert not (tmp_path / "no").exists()


def test_initial_weights_and_constraints_are_shown_with_their_formulas():
    """A formula initialiser and a max_norm constraint appear as SymPy expressions in the section and every format."""
    x = Input(3)
    model = Model(x, Dense(2, init="normal: sqrt(2/fan_in)", constraint=max_norm(3))(Dense(4, constraint="non_neg")(x)))
    section = graph_section(model, verify=False)
    start = section.steps[-1]
    assert [(str(m.lhs), m.rhs) for m in start.math] == [
        ("a_{W1}", sp.sqrt(6) / sp.sqrt(N_IN + N_OUT)),
        ("P_{W1}", sp.Max(WEIGHT, 0)),
        ("s_{W2}", sp.sqrt(2) / sp.sqrt(N_IN)),
        ("P_{W2}", WEIGHT * sp.Min(NORM, 3) / (NORM + sp.Float(1e-7))),
    ]
    assert "W2 ∼ N(0, s²) (normal: sqrt(2/fan_in); n_in = 4, n_out = 2)" in start.title and "(max_norm(max_value=3, axis=0))" in start.title
    report = Report("graphs", (section,))
    assert r"normal: sqrt(2/fan\_in)" in render_markdown(report)[0] and r"\section" in render_tex(report)
