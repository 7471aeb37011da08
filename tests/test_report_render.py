"""The TeX, HTML and Markdown renderers on hand-made reports built from real library expressions.

``sample_report`` (also used by the browser, PDF and CLI tests) holds a rule
with a Piecewise, a named function, a network's BP equations with its custom
matrix nodes (Elementwise, VectorRuleCall, KernelCall, HadamardProduct) and a
section whose names and plain text are hostile.
"""

from __future__ import annotations

import io
import re
from xml.dom import minidom

import numpy as np
import pytest
import sympy as sp

import symdl
from symdl.backprop.equations import Elementwise, KernelCall, VectorRuleCall
from symdl.report import write_report
from symdl.report.html import render_html
from symdl.report.markdown import render_markdown
from symdl.report.model import Check, Math, Plot, Report, Section, Step
from symdl.report.printing import (
    UNSAFE_NAME,
    latex_math,
    mathml_math,
    parse_name,
    tex_text,
)
from symdl.report.tex import render_tex

HOSTILE_TEXT = [
    r"\input{/etc/passwd}",
    "</math><script>alert(1)</script>",
    "$$ x $$",
    r"\immediate\write18{touch pwned}",
    "^^5cinput{/etc/passwd}",
    "| a | b |\n# heading\n<img src=http://example.com/x.png>",
]
HOSTILE_NAMES = [
    r"\input{/etc/passwd}",
    "</mi></math><script>alert(1)</script>",
    r"\immediate\write18{touch pwned}",
    "x^^5cinput",
    "$$",
    r"\def\x{1}",
]
# What no output may contain, by format.
TEX_FORBIDDEN = [r"\input", r"\write18", r"\immediate", "^^5c", r"\def"]


def plot_svg(function, derivative, title: str) -> str:
    """An SVG of a function and its derivative from matplotlib (Agg), deterministic."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "symdl-test"}):
        fig, ax = plt.subplots(figsize=(5, 3))
        x = np.linspace(-3, 3, 101)
        ax.plot(x, function(x), label="f")
        ax.plot(x, derivative(x), label="f'")
        ax.set_title(title)
        ax.legend()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
        plt.close(fig)
    return buffer.getvalue()


def rule_section(name: str) -> Section:
    r = symdl.rule(name)
    z = r.wrt
    derivative = r.derivative()
    forward, backward = r.numeric(), r.numeric_derivative()
    steps = (Step("Differentiate", (Math(sp.Derivative(r.expr, z), derivative),), note="SymPy's derivative."),)
    if r.textbook(in_output=True) != derivative:
        steps += (Step("Textbook form", (Math(sp.Symbol("g_prime"), r.textbook(in_output=True)),)),)
    kinks = tuple(
        Step(f"Kink at {k.at}", (Math(sp.Symbol("left"), k.left), Math(sp.Symbol("value"), k.value, "≈")),
             note="PyTorch's convention.")
        for k in r.kinks
    )
    return Section(
        key=name,
        title=f"{name} — activation σ ≤ 1",
        kind="activation",
        summary=f"The {name} activation; its derivative is proven.",
        definition=(Math(sp.Function("g")(z), r.expr),),
        steps=steps,
        kinks=kinks,
        checks=(Check("derivative − textbook ≡ 0", True, "proven by simplification"),
                Check("finite differences", all(r.prove().values()), "max error 1e-9")),
        plot=Plot(plot_svg(lambda x: forward(x), lambda x: backward(x), name), f"{name} and its derivative"),
    )


def network_section() -> Section:
    net = symdl.Network([2, 3, 2], activation="prelu", loss="mse", penalty="l2", batchnorm=True, dropout=0.8)
    equations = net.equations()
    soft = symdl.Network([2, 3, 2], activation="tanh", output_activation="softmax", loss="softmax_cross_entropy")
    steps = [Step("Forward pass", tuple(Math(eq.lhs, eq.rhs) for eq in equations.forward))]
    steps += [Step(label, (Math(eq.lhs, eq.rhs),)) for label, eq in equations.backward]
    steps += [Step("Softmax output", tuple(Math(eq.lhs, eq.rhs) for eq in soft.equations().all()))]
    return Section(key="bp-network", title="BP1–BP4 of a 2-3-2 network", kind="backprop", steps=tuple(steps),
                   checks=(Check("BP1–BP4 proven for symbolic widths", True),))


def hostile_section() -> Section:
    symbols = [sp.Symbol(name) for name in HOSTILE_NAMES]
    matrix = sp.MatrixSymbol(HOSTILE_NAMES[0], 2, 1)
    nodes = (
        Elementwise(HOSTILE_NAMES[1], sp.Lambda(sp.Symbol("t"), sp.Symbol("t") ** 2), matrix),
        KernelCall("k", HOSTILE_NAMES[2], matrix),
        VectorRuleCall(HOSTILE_NAMES[3], "value", matrix),
    )
    return Section(
        key="hostile",
        title=HOSTILE_TEXT[0],
        kind="formula",
        summary=" ".join(HOSTILE_TEXT),
        definition=(Math(sp.Add(*symbols), sp.Function(HOSTILE_NAMES[0])(symbols[1])),),
        steps=(Step(HOSTILE_TEXT[1], tuple(Math(node) for node in nodes), note=HOSTILE_TEXT[3]),),
        checks=(Check(HOSTILE_TEXT[2], False, HOSTILE_TEXT[5]),),
        plot=Plot(plot_svg(np.sin, np.cos, "sin"), HOSTILE_TEXT[4]),
    )


def sample_report(hostile: bool = True) -> Report:
    sections = [rule_section("relu"), rule_section("sigmoid"), network_section()]
    if hostile:
        sections.append(hostile_section())
    return Report("symdl report — σ, ReLU & backprop", tuple(sections), introduction="Derived with SymPy; 100% proven.")


@pytest.fixture(scope="module")
def report() -> Report:
    return sample_report()


# --- names ---------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_shown_as_unsafe_in_every_printer(name):
    assert parse_name(name) is None
    expr = sp.Symbol(name) + sp.Function(name)(sp.Symbol("z"))
    tex = latex_math(Math(expr, sp.MatrixSymbol(name, 2, 1)))
    mathml = mathml_math(Math(expr))
    assert tex.count(UNSAFE_NAME) == 3 and mathml.count(UNSAFE_NAME) == 2
    assert "script" not in mathml and not any(bad in tex for bad in TEX_FORBIDDEN)


def test_the_library_matrix_names_parse_and_print_without_their_backslashes_leaking():
    equations = symdl.Network([2, 3, 1], activation="prelu", batchnorm=True).equations()
    for eq in equations.all():
        tex, mathml = latex_math(Math(eq.lhs, eq.rhs)), mathml_math(Math(eq.lhs, eq.rhs))
        assert UNSAFE_NAME not in tex and UNSAFE_NAME not in mathml
        assert "\\" not in mathml
        minidom.parseString(_xml(mathml))  # well-formed


def test_custom_nodes_print_with_hadamard_as_odot():
    equations = symdl.Network([2, 3, 1], activation="tanh", dropout=0.5).equations()
    backward = dict(equations.backward)
    delta = backward["BP2 (layer 1)"] if "BP2 (layer 1)" in backward else next(iter(backward.values()))
    tex = latex_math(Math(delta.lhs, delta.rhs))
    mathml = mathml_math(Math(delta.lhs, delta.rhs))
    assert r"\odot" in tex and r"\circ" not in tex
    assert "&#8857;" in mathml or "⊙" in mathml


def test_piecewise_prints_as_cases_and_as_a_mathml_table():
    relu = symdl.rule("relu")
    assert r"\begin{cases}" in latex_math(Math(relu.expr))
    mathml = mathml_math(Math(relu.expr))
    assert mathml.count("<mtr>") == 2 and "otherwise" in mathml


def test_math_must_be_sympy_objects():
    with pytest.raises(TypeError, match="SymPy"):
        latex_math(Math(r"\input{x}"))  # type: ignore[arg-type]


def test_tex_text_escapes_every_special_and_leaves_no_unicode():
    text = tex_text(r"\ { } $ & # ^ _ % ~ < > | σ − ≤ ⊙ ✓ 漢 zˡ")
    assert text.isascii()
    # The only math left is the spelled characters ($\sigma$, $-$); every other special is escaped.
    rest = re.sub(r"\$(?:\\[A-Za-z]+(?:\{[A-Za-z0-9]+\}){0,2}|-|'|[\^_]\{[A-Za-z0-9+-]+\})\$", "", text)
    assert re.search(r"(?<!\\)[$&#%{}]", rest.replace("{}", "")) is None
    assert r"\textbackslash{}" in text and r"\{" in text and r"\_" in text and "$\\sigma$" in text


# --- documents -----------------------------------------------------------------


def test_tex_is_a_complete_amsmath_document_with_no_injected_command(report):
    tex = render_tex(report)
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", tex) == ["amsmath"]
    for bad in TEX_FORBIDDEN:
        assert bad not in tex, bad
    assert tex.isascii()
    assert tex.count(r"\section{") == len(report.sections)
    assert r"\begin{cases}" in tex and r"\odot" in tex and r"\mathrm{BN}" in tex
    assert tex.count(r"\begin{") == tex.count(r"\end{")


def test_html_is_self_contained_and_script_free(report):
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    tags = " ".join(re.findall(r"<[^>]*>", page)).lower()  # the markup; hostile text is escaped, so not in here
    assert "<script" not in tags and "http" not in tags and "src=" not in tags and "<img" not in tags
    assert "javascript:" not in tags and not re.search(r"\son[a-z]+=", tags)
    assert "<script" not in page.lower()
    assert page.count('<math display="block">') >= 20
    assert page.count("<svg") == sum(1 for s in report.sections if s.plot)
    for section in report.sections:
        assert f'id="{section.key}"' in page and f'href="#{section.key}"' in page
    assert "✓" in page and "✗" in page
    assert "&lt;/math&gt;&lt;script&gt;" in page  # the hostile text, shown as text
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "inline SVGs' ids collide"


def test_html_math_is_well_formed_xml(report):
    page = render_html(report)
    for block in re.findall(r"<math .*?</math>", page, flags=re.DOTALL):
        minidom.parseString(_xml(block))


def test_markdown_has_display_math_escaped_text_and_figure_files(report):
    text, figures = render_markdown(report)
    blocks = re.findall(r"^\$\$\n(.*?)\n\$\$$", text, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 20 and all("$" not in b and "\n" not in b for b in blocks)
    assert set(figures) == {f"figures/{s.key}.svg" for s in report.sections if s.plot}
    for path in figures:
        assert f"]({path})" in text
    outside_math = re.sub(r"^\$\$\n.*?\n\$\$$", "", text, flags=re.MULTILINE | re.DOTALL)
    # Raw HTML only in the section anchors; every other <, $ and | of plain text is escaped.
    raw = re.sub(r'<a id="[a-z0-9_-]+"></a>', "", outside_math)
    assert re.search(r"(?<!\\)[<$]", raw) is None
    assert "\\<script\\>" in raw and "\\$\\$" in raw
    assert not any(line.startswith("# heading") for line in text.splitlines())
    for bad in TEX_FORBIDDEN:
        assert bad not in "".join(blocks)


def test_rendering_is_deterministic(report, tmp_path):
    first = write_report(report, tmp_path / "a")
    second = write_report(sample_report(), tmp_path / "b")
    assert sorted(first) == ["html", "md", "tex"]
    for fmt in first:
        assert first[fmt].read_bytes() == second[fmt].read_bytes(), fmt
    for svg in (tmp_path / "a" / "figures").iterdir():
        assert svg.read_bytes() == (tmp_path / "b" / "figures" / svg.name).read_bytes()


def test_bad_section_keys_are_refused():
    bad = Report("t", (Section(key='x" onload="alert(1)', title="t", kind="formula"),))
    for render in (render_tex, render_html, render_markdown):
        with pytest.raises(ValueError, match="section key"):
            render(bad)


def _xml(mathml: str) -> str:
    # SymPy writes a few HTML named entities (&InvisibleTimes;) that plain XML does not know.
    return re.sub(r"&([A-Za-z][A-Za-z0-9]*);", "&#x2062;", mathml)


def test_every_library_rule_and_named_function_prints_without_unsafe_names():
    from symdl.symbolic.functions import NAMED_FUNCTIONS

    z = sp.Symbol("z", real=True)
    named = NAMED_FUNCTIONS.values() if isinstance(NAMED_FUNCTIONS, dict) else NAMED_FUNCTIONS
    exprs = [cls(z) for cls in named]
    for name in symdl.rules():
        r = symdl.rule(name)
        exprs.append(r.expr)
        if hasattr(r, "derivative") and hasattr(r, "bind"):
            exprs.append(r.derivative())
    for expr in exprs:
        tex, mathml = latex_math(Math(expr)), mathml_math(Math(expr))
        assert UNSAFE_NAME not in tex and UNSAFE_NAME not in mathml, expr


def test_generated_code_is_shown_verbatim_and_cannot_close_its_block():
    from symdl.report.html import render_html
    from symdl.report.markdown import render_markdown
    from symdl.report.model import Report, Section, Step
    from symdl.report.tex import render_tex

    code = "def f(z):\n    return z  # \\end{verbatim} ``` </code></pre><script>σ\n"
    report = Report("code", (Section("k", "K", "formula", steps=(Step("Generated", code=code),)),))
    tex = render_tex(report)
    block = tex.split("\\begin{verbatim}\n", 1)[1]
    assert block.index("\\end{verbatim}") > block.index("return z")  # only the real end closes it
    assert block.split("\\end{verbatim}", 1)[0].isascii()
    html_text = render_html(report)
    assert "<script" not in html_text and "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;" in html_text
    markdown = render_markdown(report)[0]
    fenced = markdown.split("```python\n", 1)[1]
    assert fenced.index("\n```\n") > fenced.index("return z")


def test_the_index_forms_generic_functions_print_as_sigma_prime_and_partial_c():
    import sympy as sp

    from symdl.backprop.index_form import cost, cost_prime, sigma, sigma_prime
    from symdl.report.model import Math
    from symdl.report.printing import latex_math, mathml_math

    z, a, y = sp.symbols("z a y", real=True)
    math = Math(sigma_prime(z) * cost_prime(a, y), sigma(z) + cost(a, y))
    tex, mathml = latex_math(math), mathml_math(math)
    assert r"\sigma'\left(z\right)" in tex and r"\frac{\partial C}{\partial a}\left(a, y\right)" in tex
    assert "prime" not in tex and "prime" not in mathml
    assert "&#8242;" in mathml and "&#8706;" in mathml and mathml.count("&#963;") == 2


def test_symdls_index_functions_accents_and_deltas_print_as_mathematics():
    import sympy as sp

    from symdl.codegen.index_kernels import Centered, FirstArgMax, LogSumExp, RowMax
    from symdl.report.model import Math
    from symdl.report.printing import latex_math, mathml_math

    z = sp.IndexedBase("z")
    j, k, n = sp.symbols("j k n", integer=True)
    exprs = [LogSumExp(z[j], j, n), RowMax(z[j], j, n), Centered(z[j], j, n), FirstArgMax(z[j], j, k, n),
             sp.KroneckerDelta(j, k), sp.IndexedBase("xhat")[j], sp.IndexedBase("sigma_B^2")[j]]  # fmt: skip
    for expr in exprs:
        tex, mathml = latex_math(Math(expr)), mathml_math(Math(expr))
        for name in ("LogSumExp", "RowMax", "Centered", "FirstArgMax", "kroneckerdelta", "xhat", "sigm"):
            assert name.lower() not in mathml.lower().replace("argmax", ""), (expr, mathml)
        for name in ("LogSumExp", "RowMax", "Centered", "FirstArgMax", "KroneckerDelta", "xhat"):
            assert name not in tex, (expr, tex)
    assert "\\hat{x}" in latex_math(Math(exprs[5])) and "<mover" in mathml_math(Math(exprs[5]))
    assert "&#963;" in mathml_math(Math(exprs[6]))  # σ, with B and 2 as scripts


def test_write_report_refuses_a_format_string_and_a_non_report(tmp_path):
    from symdl.report import write_report
    from symdl.report.model import Report

    with pytest.raises(TypeError, match="format names"):
        write_report(Report("r"), tmp_path, "tex")
    with pytest.raises(TypeError, match="Report"):
        write_report("r", tmp_path, ["md"])
    assert list(tmp_path.iterdir()) == []
