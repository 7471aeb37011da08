"""Notebook display: rules, derivations, BP1–BP4 and check reports as LaTeX/HTML, escaped, without Jupyter."""

from __future__ import annotations

import html
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symdl
from symdl import display
from symdl.report.display import CheckTable, check_table, derivation, report_row
from symdl.rulebook.definition import Definition
from symdl.rulebook.rule import Rule
from symdl.testing import check_grad
from symdl.verify import RuleReport

z = sp.Symbol("z", real=True)
MATHML = "application/mathml+xml"


def _math_only(latex: str) -> str:
    assert latex.startswith("$$") and latex.endswith("$$")
    return latex[2:-2]


# --- rules --------------------------------------------------------------------------


def test_rule_bundle_has_plain_latex_and_html_and_latex_is_sympys():
    r = symdl.rule("sigmoid")
    bundle = r._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/latex", "text/html", MATHML}
    assert bundle["text/plain"] == repr(r)
    assert bundle["text/latex"] == r._repr_latex_()
    latex = _math_only(bundle["text/latex"])
    for line in r.latex().values():
        assert line in latex
    assert sp.latex(r.derivative()) in latex


def test_bundle_honours_include_and_exclude():
    r = symdl.rule("relu")
    assert set(r._repr_mimebundle_(include=["text/latex"])) == {"text/latex"}
    assert set(r._repr_mimebundle_(exclude=["text/html", MATHML])) == {"text/plain", "text/latex"}


def test_textbook_line_appears_only_when_it_differs_from_the_derivative():
    lines = symdl.rule("identity").latex()
    assert lines["derivative"] == lines["textbook"]
    assert _math_only(symdl.rule("identity")._repr_latex_()).count(lines["derivative"]) == 1
    sigmoid = symdl.rule("sigmoid").latex()
    assert sigmoid["textbook"] in symdl.rule("sigmoid")._repr_latex_()


def test_kinks_are_shown_with_the_value_returned():
    r = symdl.rule("relu", kink_convention="right")
    assert r"\text{returned } 1" in r._repr_latex_()
    page = r._repr_mimebundle_()["text/html"]
    assert 'class="symdl-kinks"' in page and '<td><math display="inline"><mrow><mn>1</mn></mrow></math></td></tr>' in page
    assert "symdl-kinks" not in symdl.rule("sigmoid")._repr_mimebundle_()["text/html"]


def test_vector_rule_shows_its_vjp():
    r = symdl.rule("softmax")
    bundle = r._repr_mimebundle_()
    assert r.latex()["vjp"] in bundle["text/latex"]
    assert "softmax" in bundle["text/html"]


def test_formula_text_is_escaped_in_html_and_never_reaches_latex():
    text = "where(z < 0, 0.01*z, z) if z > -1 else z"
    r = symdl.formula_rule(text)
    bundle = r._repr_mimebundle_()
    assert html.escape(text) in bundle["text/html"]
    assert text not in bundle["text/html"]
    assert "where" not in bundle["text/latex"]


def test_a_hostile_name_is_inert_in_html_and_absent_from_latex():
    # Rule's constructor takes any name; the display must not trust it.
    name = r'<img src=x onerror="alert(1)"> $$\href{javascript:alert(1)}{x}$$'
    r = Rule(name, "formula", Definition(expr=z**2, inputs=(z,), textbook=None), {}, {}, "pytorch", name)
    bundle = r._repr_mimebundle_()
    assert "<img" not in bundle["text/html"]
    assert "&lt;img" in bundle["text/html"]
    # Inside an element MathJax is told to skip, so the $$ … $$ is not typeset either.
    assert f'<span class="tex2jax_ignore mathjax_ignore">{html.escape(name)}</span>' in bundle["text/html"]
    assert "href" not in bundle["text/latex"] and "img" not in bundle["text/latex"]


def test_math_in_html_is_html_escaped():
    r = symdl.formula_rule("where(z < 1, z, 1)")
    page = r._repr_mimebundle_()["text/html"]
    assert r"z &lt; 1" in page and "z < 1" not in page


def test_parameters_are_listed_and_symbolic_ones_named():
    page = symdl.rule("leaky_relu", alpha=0.2)._repr_mimebundle_()["text/html"]
    assert 'alpha = <math display="inline"><mrow><mfrac><mn>1</mn><mn>5</mn></mfrac></mrow></math>' in page
    f = symdl.formula_rule("d*z**2", params={"d": None})
    assert "d = symbolic" in f._repr_mimebundle_()["text/html"]


def test_derivation_shows_each_proof_with_its_verdict():
    d = derivation(symdl.rule("sigmoid"))
    assert d.proven
    bundle = d._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/latex", "text/html", MATHML}
    assert "derivative - textbook: proven" in bundle["text/plain"]
    assert bundle["text/html"].count("\N{CHECK MARK}") == len(d.proofs)
    nothing = derivation(symdl.formula_rule("z**2"))
    assert nothing.proofs == {} and "nothing to prove" in nothing._repr_html_()


def test_an_unproven_identity_shows_a_cross():
    proof = symdl.Proof(False, "simplification")
    d = display.Derivation(symdl.rule("relu"), {"derivative - textbook": proof})
    assert not d.proven
    assert "\N{BALLOT X}" in d._repr_html_() and "NOT PROVEN" in d._repr_mimebundle_()["text/plain"]


# --- BP1–BP4 ------------------------------------------------------------------------


def test_backprop_equations_display_labelled():
    eqs = symdl.Network([2, 3, 1], activation="tanh").equations()
    bundle = eqs._repr_mimebundle_()
    latex = _math_only(eqs._repr_latex_())
    assert latex == _math_only(bundle["text/latex"])
    for label, line in eqs.latex():
        assert line in latex
    plain = bundle["text/plain"].splitlines()
    assert len(plain) == len(eqs.latex()) and str(eqs) == bundle["text/plain"]
    assert [line.split()[0] for line in plain] == [label.split()[0] for label, _ in eqs.latex()]
    assert r"\text{BP1 (layer 2)}" in latex and r"\text{BP4 (layer 1)}" in latex
    assert bundle["text/html"].count("<tr>") == len(eqs.latex()) + 1


def test_tex_labels_escape_tex_specials():
    assert display._tex_label("dC/d_alpha {x} 100%") == r"\text{dC/d\_alpha \{x\} 100\%}"


# --- check reports ------------------------------------------------------------------


def _report(name: str, **changes: object) -> RuleReport:
    values: dict[str, object] = {
        "proofs": {"derivative - textbook": True}, "fd_error": 2.7e-11, "accuracy64": 1.6e-16, "accuracy32": 8.4e-8,
        "mutants_killed": 4, "mutants_total": 4,
    }
    values.update(changes)
    return RuleReport(name, **values)


def test_report_row_formats_like_the_cli_table():
    assert report_row(_report("huber")) == [
        "huber", "1/1", "ok", "2.7e-11", "1.6e-16 / 8.4e-08", "yes", "4/4", "PASS",
    ]
    failed = _report("bad", proofs={"a": True, "b": False}, unstable=["bad_d_z (float32): z=1000"], mutants_killed=3)
    assert report_row(failed) == ["bad", "1/2 FAIL", "ok", "2.7e-11", "1.6e-16 / 8.4e-08", "NO", "3/4", "FAIL"]
    network = _report("net", kind="network", mutants_total=0, mutants_killed=0)
    assert report_row(network)[2:] == ["-", "2.7e-11", "-", "-", "-", "PASS"]


def test_check_table_is_one_html_table_with_a_row_per_report():
    reports = [_report("relu"), _report("huber<b>", fd_error=1.0)]
    table = check_table(reports)
    assert isinstance(table, list) and table == reports and not table.passed
    page = table._repr_html_()
    assert page.count("<table") == 1 and page.count("<tr>") == 1 + len(reports)
    assert page.count("\N{CHECK MARK}") == 1 and page.count("\N{BALLOT X}") == 1
    assert "huber&lt;b&gt;" in page and "huber<b>" not in page
    assert "<td><span class=\"tex2jax_ignore mathjax_ignore\">1.0e+00</span></td>" in page
    assert "2 rows: 1 passed, 1 failed" in page
    assert "tolerances: FD &lt;= 1e-06" in page


def test_check_table_plain_text_is_the_verify_table():
    text = check_table([_report("relu")])._repr_mimebundle_()["text/plain"]
    lines = text.splitlines()
    assert lines[0].split("  ")[0] == "rule" and "verdict" in lines[0]
    assert lines[2].split() == ["relu", "1/1", "ok", "2.7e-11", "1.6e-16", "/", "8.4e-08", "yes", "4/4", "PASS"]
    assert lines[-1] == "1 rows: 1 passed, 0 failed"


def test_failing_rows_list_what_failed():
    bad = _report("leaky", mutant_survivors=["drop the kink"], mutants_killed=3)
    page = CheckTable([bad])._repr_html_()
    assert "leaky: a planted mistake went unnoticed: drop the kink" in page


def test_a_rule_report_displays_as_a_one_row_table():
    report = symdl.verify_rule(symdl.rule("relu"), points=20)
    bundle = report._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert report._repr_html_() == bundle["text/html"]
    assert bundle["text/html"].count("<tr>") == 2 and "\N{CHECK MARK}" in bundle["text/html"]


def test_gradcheck_report_displays_its_verdict():
    def f(w: np.ndarray) -> float:
        return float(np.sum(np.tanh(w) ** 2))

    def g(w: np.ndarray) -> np.ndarray:
        return 2 * np.tanh(w) * (1 - np.tanh(w) ** 2)

    x = np.array([0.3, -1.2, 0.8])
    good, bad = check_grad(f, g, x), check_grad(f, lambda w: 2 * g(w), x)
    assert "\N{CHECK MARK}" in good._repr_html_() and "\N{BALLOT X}" in bad._repr_html_()
    assert good._repr_mimebundle_()["text/plain"] == str(good)
    assert f"{bad.analytic:.17g}" in bad._repr_html_()


# --- plots --------------------------------------------------------------------------


def test_plot_delegates_to_symdl_plots(monkeypatch):
    import symdl.display_hooks as hooks
    import symdl.report.plots
    from symdl.rulebook.rule import Rule
    from symdl.rulebook.vector_rule import VectorRule

    assert hooks._PLOTTERS[Rule] is hooks._PLOTTERS[VectorRule] is symdl.report.plots.plot_rule
    seen = {}

    def plot_rule(rule, **kwargs):
        seen.update(rule=rule, kwargs=kwargs)
        return "figure"

    monkeypatch.setitem(hooks._PLOTTERS, Rule, plot_rule)
    monkeypatch.setitem(hooks._PLOTTERS, VectorRule, plot_rule)
    r = symdl.rule("tanh")
    assert r.plot(lo=-2, hi=2) == "figure" and seen == {"rule": r, "kwargs": {"lo": -2, "hi": 2}}
    softmax = symdl.rule("softmax")
    assert softmax.plot() == "figure" and seen["rule"] is softmax


def test_a_value_without_a_renderer_says_so():
    from symdl.display_hooks import Displayed

    class Unregistered(Displayed):
        pass

    with pytest.raises(TypeError, match="no renderer is registered for Unregistered"):
        Unregistered()._repr_mimebundle_()


def test_plot_returns_a_matplotlib_figure():
    pytest.importorskip("matplotlib")
    pytest.importorskip("symdl.report.plots")
    from matplotlib.figure import Figure

    figure = symdl.rule("relu").plot(points=51)
    assert isinstance(figure, Figure)


def test_importing_symdl_imports_neither_matplotlib_nor_ipython():
    code = "import sys, symdl; symdl.rule('relu')._repr_mimebundle_(); print(sorted(m for m in ('matplotlib', 'IPython') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_module_doctest_and_check_table_stays_a_plain_list_for_callers():
    import doctest

    assert doctest.testmod(display).failed == 0
    reports = [_report("relu")]
    table = check_table(reports)
    assert table == reports and table + [] == reports and table[:1] == reports and isinstance(table, list)


@pytest.mark.parametrize(
    "network",
    [
        dict(layers=[3, 4, 4, 2], activation="tanh", penalty="l2"),
        dict(layers=[3, 4, 2], activation="prelu", output_activation="softmax", loss="softmax_cross_entropy",
             batchnorm=True, dropout=0.2),
        dict(layers=[2, 3, 1], activation="elu", loss="huber"),
    ],
)
def test_printed_equations_read_as_unicode_mathematics(network):
    """print(net.equations()) is text a terminal shows: no LaTeX, the textbook's BP1–BP4 in Unicode."""
    layers = network.pop("layers")
    text = str(symdl.Network(layers, **network).equations())
    for latex_only in ("\\", "^{", "_{", "\\frac", "Eq(", "HadamardProduct", "Transpose(", "**"):
        assert latex_only not in text, latex_only
    assert ("z¹ = W¹x + b¹" in text or "u¹ = W¹x" in text) and "∂C/∂W¹ = " in text and "δ¹ = " in text


def test_printed_bp_equations_are_the_textbooks():
    text = str(symdl.Network([3, 4, 4, 2], activation="sigmoid").equations())
    lines = {line.split("  ", 1)[0].strip(): line.split("  ", 1)[1].strip() for line in text.splitlines()}
    assert lines["BP1 (layer 3)"] == "δ³ = ∇ₐC ⊙ φ_L′(z³)"
    assert lines["BP2 (layer 1)"] == "δ¹ = W²ᵀδ² ⊙ φ′(z¹)"
    assert lines["BP3 (layer 2)"] == "∂C/∂b² = δ²"
    assert lines["BP4 (layer 2)"] == "∂C/∂W² = δ²a¹ᵀ"
    assert "φ′(z) = (1 − σ(z))·σ(z)" in text  # the generic activation φ is here the logistic sigmoid σ


@pytest.mark.parametrize(
    ("name", "text"),
    [("W^{1}", "W¹"), ("\\delta^{l+1}", "δˡ⁺¹"), ("w^{l}_{pq}", "w_(pq)ˡ"), ("alpha", "α"), ("sigma_B", "σ_B"), ("x_1", "x₁"),
     ("\\frac{\\partial C}{\\partial W^{2}}", "∂C/∂W²"), ("\\sigma_{L}'", "σ_L′"), ("\\input{x}", "unsafe")],
)
def test_unicode_names(name, text):
    from symdl.report.unicode_math import unicode_name

    assert unicode_name(name) == text


def test_unicode_expressions_group_and_spell_operators():
    import sympy as sp

    from symdl.report.unicode_math import unicode_expr

    z, a = sp.symbols("z a", real=True)
    assert unicode_expr(sp.sqrt(2) * z**2 - sp.Abs(a)) == "√2·z² − |a|" or unicode_expr(sp.sqrt(2) * z**2 - sp.Abs(a)) == "−|a| + √2·z²"
    assert unicode_expr(sp.Piecewise((z, z > 0), (0, True))) == "{z if z > 0; 0}"
    assert unicode_expr(sp.exp(-z) / (1 + sp.exp(-z))) in ("exp(−z)/(1 + exp(−z))", "exp(−z)/(exp(−z) + 1)")


def test_a_printed_derivation_is_unicode_text():
    text = str(symdl.rule("huber", delta=1.5).derivation())
    assert text.splitlines()[0] == "huber  (by a)"
    assert "δ = 3/2" in text and "textbook: ∂L/∂a = max(−δ, min(δ, a − y))" in text
    sigmoid = str(symdl.rule("sigmoid").derivation())
    assert "∂g/∂z = (1 − σ(z))·σ(z)" in sigmoid and "textbook: ∂g/∂z = g·(1 − g), g = g(z)" in sigmoid
    kinked = str(symdl.rule("relu").derivation())
    assert "kink at z = 0: one-sided 0, 1; returned 0" in kinked
    softmax = str(symdl.rule("softmax").derivation())
    assert "gᵢ = exp(zᵢ)/(Σⱼ exp(zⱼ))" in softmax
    for shown in (text, sigmoid, kinked, softmax):
        assert "\\" not in shown and "Indexed" not in shown and "**" not in shown
    assert symdl.rule("huber").derivation()._repr_latex_().startswith("$$")
