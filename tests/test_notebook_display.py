"""Notebook display renders offline: every displayed type offers MathML next to LaTeX; check tables print as tables."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import symdl
import symdl.display_hooks as hooks
from symdl.formula_layers import FormulaDerivation, formula_layer
from symdl.graph import Dense, Input, Model
from symdl.report.display import MATHML_MIME, CheckTable, check_table, derivation
from symdl.verify import RuleReport

MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"


def _graph_equations():
    x = Input(2)
    return Model(x, Dense(1)(Dense(3, activation="tanh")(x)), losses="mse").equations()


#: One value of every class with a renderer that shows mathematics, built as a user gets it.
MATH_SAMPLES = {
    "rule": lambda: symdl.rule("sigmoid"),
    "rule with kinks": lambda: symdl.rule("relu"),
    "rule with parameters": lambda: symdl.rule("huber"),
    "formula with a symbolic parameter": lambda: symdl.formula_rule("d*z**2", params={"d": None}),
    "vector rule": lambda: symdl.rule("softmax"),
    "vector loss": lambda: symdl.rule("softmax_cross_entropy"),
    "rule derivation": lambda: symdl.rule("softplus").derivation(),
    "derivation with proofs": lambda: derivation(symdl.rule("tanh")),
    "BP1-BP4": lambda: symdl.Network([2, 3, 1], activation="prelu").equations(),
    "graph equations": _graph_equations,
    "formula layer derivation": lambda: formula_layer(
        "y[i] = sum(W[i, j] * x[j], j) + b[i]", inputs={"x": "in"}, params={"W": ("out", "in"), "b": "out"}
    ).derivation(),
}
#: Displayed values without mathematics: tables of measurements (HTML and text only).
TABLE_SAMPLES = {
    "rule report": lambda: RuleReport("relu", proofs={"derivative - textbook": True}),
    "check table": lambda: check_table([RuleReport("relu"), RuleReport("tanh", unstable=["overflow"])]),
    "gradient check": lambda: symdl.testing.check_grad(lambda w: float(np.sum(np.sin(w))), np.cos, np.array([0.3, -0.2])),
}


def test_every_registered_display_has_a_sample_here():
    """A class that gains a renderer must be added above, so the MathML test covers it."""
    samples = {type(make()) for make in (*MATH_SAMPLES.values(), *TABLE_SAMPLES.values())}
    hooks.mimebundle(symdl.rule("relu"))  # loads the renderers
    shown = set(hooks._RENDERERS)
    assert all(any(issubclass(c, registered) for c in samples) for registered in shown)


def _mathml_rows(document: str) -> list[ET.Element]:
    root = ET.fromstring(document)  # well-formed XML: no HTML-only named entities
    assert root.tag == f"{MATHML_NS}math" and root.get("display") == "block"
    table = root.find(f"{MATHML_NS}mtable")
    return table.findall(f"{MATHML_NS}mtr")


@pytest.mark.parametrize("name", MATH_SAMPLES)
def test_every_math_display_offers_mathml_next_to_latex(name):
    value = MATH_SAMPLES[name]()
    bundle = value._repr_mimebundle_()
    assert {"text/plain", "text/latex", "text/html", MATHML_MIME} <= set(bundle)
    assert bundle["text/latex"].startswith("$$") and value._repr_latex_() is not None
    assert _mathml_rows(bundle[MATHML_MIME])
    assert "unsafe" not in bundle[MATHML_MIME]  # every name in the printers' safe grammar
    page = bundle["text/html"]
    # Offline: the HTML carries MathML, not MathJax source that stays raw without MathJax.
    assert "<math" in page and "$" not in page
    assert str(value) == bundle["text/plain"] and "<" not in str(value).replace("<=", "")


@pytest.mark.parametrize("name", TABLE_SAMPLES)
def test_tables_show_html_and_plain_text_only(name):
    value = TABLE_SAMPLES[name]()
    bundle = value._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"} and bundle["text/html"].startswith("<table")


def test_equations_mathml_has_a_row_per_equation_in_the_latex():
    for eqs in (symdl.Network([2, 3, 1], activation="tanh", penalty="l2").equations(), _graph_equations()):
        bundle = eqs._repr_mimebundle_()
        assert len(_mathml_rows(bundle[MATHML_MIME])) == len(eqs.latex())
        assert bundle["text/html"].count("<math") == len(eqs.latex())


def test_a_rules_mathml_is_printed_from_its_expressions():
    bundle = symdl.formula_rule("z**3")._repr_mimebundle_()
    rows = _mathml_rows(bundle[MATHML_MIME])
    text = [ET.tostring(row, encoding="unicode") for row in rows]
    assert len(rows) == 2  # definition and derivative (no textbook form given, no kinks)
    power = re.compile(r"<ns0:msup><ns0:mi>z</ns0:mi><ns0:mn>(\d)</ns0:mn></ns0:msup>")
    assert power.findall(text[0]) == ["3"]
    assert power.findall(text[1]) == ["2"] and "<ns0:mn>3</ns0:mn>" in text[1]


def test_kinks_add_their_limits_and_value_to_the_mathml():
    for name in ("softplus", "hard_tanh", "relu"):
        r = symdl.rule(name)
        bundle = r._repr_mimebundle_()
        latex_lines = bundle["text/latex"].count(r" \\ ") + 1  # one line per kink in LaTeX
        rows = _mathml_rows(bundle[MATHML_MIME])
        assert len(rows) == latex_lines + 2 * len(r.kinks)  # MathML: left limit, right limit, value returned


def test_a_hostile_rule_name_never_reaches_the_mathml():
    from symdl.rulebook.definition import Definition
    from symdl.rulebook.rule import Rule

    z = symdl.formula_rule("z").wrt
    name = '<img src=x onerror="alert(1)">'
    r = Rule(name, "formula", Definition(expr=z**2, inputs=(z,), textbook=None), {}, {}, "pytorch", name)
    bundle = r._repr_mimebundle_()
    assert "img" not in bundle[MATHML_MIME] and "<img" not in bundle["text/html"]


# --- plain text in a terminal ------------------------------------------------------------------


def test_a_check_table_prints_as_the_verify_table():
    reports = [RuleReport("relu", proofs={"derivative - textbook": True}), RuleReport("tanh", unstable=["overflow"])]
    table = check_table(reports)
    lines = repr(table).splitlines()
    assert str(table) == repr(table) and "RuleReport(" not in repr(table)
    assert lines[0].split()[:3] == ["rule", "proof", "kinks"] and set(lines[1]) <= {"-", " "}
    assert lines[2].split()[0] == "relu" and lines[2].split()[-1] == "PASS"
    assert lines[3].split()[0] == "tanh" and lines[3].split()[-1] == "FAIL"
    assert "tanh: unstable: overflow" in lines and lines[-1] == "2 rows: 1 passed, 1 failed"
    assert not table.passed and check_table(reports[:1]).passed


def test_verify_rules_returns_a_check_table():
    table = symdl.verify_rules(["relu"], points=20)
    assert isinstance(table, CheckTable) and isinstance(table, list)
    assert all(isinstance(r, RuleReport) for r in table) and "RuleReport(" not in repr(table)
    assert [line.split()[0] for line in repr(table).splitlines()[2:2 + len(table)]] == [r.name for r in table]


def test_printing_a_list_of_equations_reads_as_mathematics():
    eqs = symdl.Network([2, 2, 1]).equations()
    assert "BP1" in str(eqs) and "Eq(" not in str(eqs)
    layer = formula_layer("y[i] = x[i]**2", inputs={"x": "n"})
    text = str(layer.derivation())
    assert isinstance(layer.derivation(), FormulaDerivation) and text.splitlines()[0] == layer.name
    assert "Math(" not in text and "=" in text
