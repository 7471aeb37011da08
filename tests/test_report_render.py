"""The TeX, HTML and Markdown renderers on hand-made reports built from real library expressions.

``sample_report`` (also used by the browser, PDF and CLI tests) holds a rule
with a Piecewise, a named function, a network's BP equations with its custom
matrix nodes (Elementwise, VectorRuleCall, KernelCall, HadamardProduct) and a
section whose names and plain text are hostile.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata
from xml.dom import minidom

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.backprop.equations import Elementwise, KernelCall, VectorRuleCall
from symdl.report import write_report
from symdl.report.html import render_html
from symdl.report.markdown import render_markdown
from symdl.report.model import Check, Math, Plot, Report, Section, Step
from symdl.report.network_sections import label_prose
from symdl.report.printing import (
    UNSAFE_NAME,
    latex_math,
    mathml_math,
    parse_name,
    tex_text,
)
from symdl.report.tex import render_tex, tex_figures
from symdl.report.text import CONTINUATION_INDENT, MARK_WIDTH, tex_code_lines, wrap_code

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
# What a reader must never see in a rendered report (PDF text, the browser's text): TeX source, internal helper names,
# σ and ℓ spelled in roman letters, a circumflex TeX mangled (zˆl); any \command is checked by unreadable().
READER_FORBIDDEN = re.compile(r"[\^\u02c6]\{|_\{|_as_float|_finish|\bsigma\(|\bell\(|[A-Za-z]\u02c6[A-Za-z0-9]")
_COMMAND = re.compile(r"\\[A-Za-z]+")


def unreadable(text: str) -> list[str]:
    """What ``text`` (as a reader sees it) must not hold: READER_FORBIDDEN, and any backslash command other than the
    ones the hostile sample section's own text spells out on purpose (shown escaped, as written)."""
    hostile = {command for source in HOSTILE_TEXT + HOSTILE_NAMES for command in _COMMAND.findall(source)}
    return [m.group(0) for m in READER_FORBIDDEN.finditer(text)] + sorted(set(_COMMAND.findall(text)) - hostile)


def sample_plot(function, derivative, title: str, caption: str) -> Plot:
    """A Plot of a function and its derivative drawn by matplotlib (Agg): SVG and PDF of the same figure, deterministic."""
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
        svg, pdf = io.StringIO(), io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None})
        fig.savefig(pdf, format="pdf", metadata={"CreationDate": None})
        plt.close(fig)
    return Plot(svg.getvalue(), caption, pdf=pdf.getvalue())


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
        plot=sample_plot(lambda x: forward(x), lambda x: backward(x), name, f"{name} and its derivative"),
    )


def network_section() -> Section:
    net = symdl.Network([2, 3, 2], activation="prelu", loss="mse", penalty="l2", batchnorm=True, dropout=0.2)
    equations = net.equations()
    soft = symdl.Network([2, 3, 2], activation="tanh", output_activation="softmax", loss="softmax_cross_entropy")
    steps = [Step("Forward pass", tuple(Math(eq.lhs, eq.rhs) for eq in equations.forward))]
    steps += [Step(label_prose(label), (Math(eq.lhs, eq.rhs),)) for label, eq in equations.backward]
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
        plot=sample_plot(np.sin, np.cos, "sin", HOSTILE_TEXT[4]),
    )


def sample_report(hostile: bool = True) -> Report:
    sections = [rule_section("relu"), rule_section("sigmoid"), network_section()]
    if hostile:
        sections.append(hostile_section())
    return Report("symdl report — σ, ReLU & backprop", tuple(sections), introduction="Derived with SymPy; 100% proven.")


@functools.cache
def library_sections() -> tuple[Section, ...]:
    """Sections the library itself builds, checks and plots run: SELU (a kink, long generated code lines) and BP1–BP4."""
    from symdl.report.sections import backprop_section
    from symdl.report.sections import rule_section as library_rule_section

    return (library_rule_section("selu"), backprop_section((2, 3, 1), "tanh", "mse"))


def reader_report() -> Report:
    """:func:`sample_report` with :func:`library_sections` before the hostile section: what the rendered-text tests read."""
    sample = sample_report()
    return Report(sample.title, (*library_sections(), *sample.sections), sample.introduction)


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
    # Each package is in texlive-latex-base, what .ci/run installs.
    assert re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", tex) == ["amsmath", "graphicx", "alltt"]
    figures = tex_figures(report)
    assert re.findall(r"\\includegraphics\[[^]]*\]\{([^}]*)\}", tex) == list(figures) != []
    assert all(pdf.startswith(b"%PDF-") for pdf in figures.values())
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
    # Prose mathematics ($…$, from symdl's own labels) is inline math; nothing else of the text is.
    inline = re.compile(r"(?<!\\)\$(?=\S)([^$\n]+?)(?<=[^\s\\])\$")
    assert all(not any(bad in segment for bad in TEX_FORBIDDEN) for segment in inline.findall(raw))
    raw = inline.sub("", raw)
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


def test_generated_code_is_shown_as_written_and_cannot_close_its_block():
    from symdl.report.html import render_html
    from symdl.report.markdown import render_markdown
    from symdl.report.model import Report, Section, Step
    from symdl.report.tex import render_tex

    code = "def f(z):\n    return z  # \\end{alltt} ``` </code></pre><script>σ {x}\n"
    report = Report("code", (Section("k", "K", "formula", steps=(Step("Generated", code=code),)),))
    tex = render_tex(report)
    block = tex.split("\\begin{alltt}\n", 1)[1].split("\n\\end{alltt}\n", 1)[0]
    # In alltt only \, { and } are special: each is written as its character code, so no command is left.
    assert block.isascii() and block.count("\\") == block.count("\\char") == 5
    assert "\\char92{}end\\char123{}alltt\\char125{}" in block and "\\char123{}x\\char125{}" in block
    html_text = render_html(report)
    assert "<script" not in html_text and "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;" in html_text
    markdown = render_markdown(report)[0]
    fenced = markdown.split("```python\n", 1)[1]
    assert fenced.index("\n```\n") > fenced.index("return z")


@settings(max_examples=200)
@given(code=st.text(st.sampled_from("ab1e.+-*/=, ()[]_"), max_size=400).map(lambda t: t.replace("\n", "")),
       indent=st.integers(0, 60), width=st.integers(20, 120))
def test_wrapped_code_fits_the_width_and_loses_nothing_but_the_spaces_at_the_cuts(code, indent, width):
    line = " " * indent + code
    pieces = wrap_code(line, width)
    assert all(len(text) <= width - (0 if at is None else at + MARK_WIDTH) for at, text in pieces)
    assert all(at is None for at, _ in pieces[:1]) and all(at is not None and at >= CONTINUATION_INDENT for at, _ in pieces[1:])
    assert "".join(text for _, text in pieces).replace(" ", "") == line.replace(" ", "")


def test_a_cut_falls_at_a_break_between_tokens_and_keeps_an_exponent_whole():
    line = "    return " + " + ".join(f"1.5e-{k}*numpy.exp(_c{k})" for k in range(12))
    pieces = [text for _, text in wrap_code(line, 60)]
    assert len(pieces) > 2 and all(not p.endswith("e") for p in pieces)
    assert all(p.endswith((")", "+", "(")) or p is pieces[-1] for p in pieces)
    lines = tex_code_lines(line, 60)
    assert [line.count(r"\hookrightarrow") for line in lines] == [0] + [1] * (len(lines) - 1)


def test_the_index_forms_generic_functions_print_as_phi_prime_and_partial_c():
    import sympy as sp

    from symdl.backprop.index_form import cost, cost_prime, sigma, sigma_prime
    from symdl.report.model import Math
    from symdl.report.printing import latex_math, mathml_math

    z, a, y = sp.symbols("z a y", real=True)
    math = Math(sigma_prime(z) * cost_prime(a, y), sigma(z) + cost(a, y))
    tex, mathml = latex_math(math), mathml_math(math)
    assert r"\varphi'\left(z\right)" in tex and r"\frac{\partial \ell}{\partial a}\left(a, y\right)" in tex
    assert r"\sigma" not in tex  # σ is the logistic sigmoid; the generic activation is φ
    assert "prime" not in tex and "prime" not in mathml
    assert "&#8242;" in mathml and "&#8706;" in mathml and mathml.count("&#966;") == 2 and "&#963;" not in mathml
    assert mathml.count("&#8467;") == 2 and "<mi>C</mi>" not in mathml  # ℓ(a, y) and ∂ℓ/∂a: C is the total cost


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


@pytest.mark.parametrize(
    ("constant", "tex"),
    [(sp.pi, r"\pi"), (sp.oo, r"\infty"), (-sp.oo, r"-\infty"), (sp.I, "i"), (sp.EulerGamma, r"\gamma")],
)
def test_sympys_constants_print_as_their_symbols_not_as_text(constant, tex):
    printed = latex_math(Math(sp.sqrt(constant) if constant is sp.pi else constant))
    assert r"\text" not in printed and tex in printed, printed


def test_a_bound_index_never_reuses_a_free_one_in_the_printed_vector_rules():
    from symdl.codegen.index_kernels import Centered

    z = sp.IndexedBase("z")
    i, m, n = sp.symbols("i m n", integer=True)
    assert latex_math(Math(Centered(z[i], i, n))) == r"\left({z}_{i} - \max_{m} {z}_{m}\right)"
    assert r"\max_{i}" not in latex_math(Math(Centered(z[i, m], i, n))) and "_{m}" not in latex_math(
        Math(Centered(z[i, m], i, n))).split(r"\max")[1].split("{z}")[0]  # the max's index is neither i nor m
    for name in symdl.rules():
        r = symdl.rule(name)
        if r.element_wise:
            continue
        exprs = [r.definition.forward, *r.definition.vjps.values()]
        for expr in exprs:
            free = {s for s in expr.free_symbols if s.is_integer}
            for node in expr.atoms(sp.Sum):
                assert not {lim[0] for lim in node.limits} & free, (name, node)


def test_a_derivative_by_an_array_element_is_partial_in_latex_and_mathml():
    w, x = sp.IndexedBase("w"), sp.IndexedBase("x")
    p, q = sp.symbols("p q", integer=True)
    cost, z = sp.Symbol("C"), sp.Symbol("z")
    for by in ((w[p, q],), (x[p], x[q])):  # C depends on every element, so SymPy's d would be wrong
        expr = sp.Derivative(cost, *by)
        assert r"\frac{d" not in latex_math(Math(expr)) and r"\partial" in latex_math(Math(expr))
        assert "&dd;" not in mathml_math(Math(expr)) and "&#x2202;" in mathml_math(Math(expr))
    one = sp.Derivative(sp.Function("g")(z), z)  # a function of one variable keeps its d
    assert latex_math(Math(one)).startswith(r"\frac{d}{d z}") and "&dd;" in mathml_math(Math(one))


def _derivative_marks(section: Section) -> dict[str, set[str]]:
    """The derivative symbols each format writes in ``section``: {'d'}, {'∂'} or both."""
    report = Report("marks", (section,))
    tex, md, page = render_tex(report), render_markdown(report)[0], render_html(report)
    def marks(text: str, d: str, partial: str) -> set[str]:
        return {m for m, pattern in (("d", d), ("∂", partial)) if re.search(pattern, text)}
    return {"tex": marks(tex, r"\\frac\{d(\^\{\d+\})?\}", r"\\frac\{\\partial"),
            "md": marks(md, r"\\frac\{d(\^\{\d+\})?\}", r"\\frac\{\\partial"),
            "html": marks(page, r"<mo>&dd;</mo>", r"<mo>&#x2202;</mo>")}


def test_a_section_writes_every_derivative_with_one_symbol_d_for_one_variable_and_partial_for_parameters():
    w, lam, z = sp.Symbol("w"), sp.Symbol("lambda"), sp.Symbol("z")
    omega, g = sp.Function("Omega")(w), sp.Function("g")(z)
    # l1's first step: SymPy alone prints d/dw Ω(w) = ∂/∂w λ|w| (λ held fixed makes the right side partial).
    mixed = Section("l1", "l1", "penalty", steps=(Step("diff", (Math(sp.Derivative(omega, w), sp.Derivative(lam * sp.Abs(w), w)),)),))
    assert "d" in latex_math(mixed.steps[0].math[0]) and r"\partial" in latex_math(mixed.steps[0].math[0])
    assert _derivative_marks(mixed) == {"tex": {"∂"}, "md": {"∂"}, "html": {"∂"}}
    single = Section("g", "g", "activation", steps=(Step("diff", (Math(sp.Derivative(g, z), sp.Derivative(sp.exp(z) * z, z, 2)),)),))
    assert _derivative_marks(single) == {"tex": {"d"}, "md": {"d"}, "html": {"d"}}


@pytest.mark.parametrize("name, mark", [("l1", "∂"), ("leaky_relu", "∂"), ("log_cosh", "∂"), ("hardshrink", "∂"),
                                        ("relu", "d"), ("sigmoid", "d")])
def test_a_rule_section_writes_d_or_partial_throughout(name, mark):
    from symdl.report.rule_sections import rule_section

    section = rule_section(name, verify=False, plot=False)
    assert _derivative_marks(section) == {"tex": {mark}, "md": {mark}, "html": {mark}}


def test_selus_constants_are_shown_by_name_defined_to_ten_digits_with_their_source_and_the_mathematics_unchanged():
    from symdl.report.named_constants import CONSTANTS
    from symdl.report.rule_sections import rule_section
    from symdl.rulebook.activations import SELU_ALPHA, SELU_LAMBDA

    section = rule_section("selu", verify=False, plot=False)
    md = render_markdown(Report("selu", (section,)))[0]
    equations = "\n".join(re.findall(r"\$\$\n(.*?)\n\$\$", md, flags=re.DOTALL))
    assert not re.search(r"\d\.\d{11}", equations), equations  # no 30-digit number in an equation
    assert r"\lambda \approx 1.050700987" in equations and r"\alpha \approx 1.673263242" in equations
    assert "Klambauer et al. 2017" in section.summary
    assert r"\alpha \lambda + g" in equations  # λα, the slope at 0⁻, named too
    assert "1.05070098735548049341933498529" in md  # the generated code keeps the exact value
    assert _derivative_marks(section) == {"tex": {"d"}, "md": {"d"}, "html": {"d"}}  # constants, not parameters
    # Each equation is the derivation's own once the names are replaced by their exact values.
    exact = {c.symbol: c.value for c in CONSTANTS}
    derivation = symdl.rule("selu").derivation()
    raw = [*derivation.definition, *(m for s in derivation.steps(proven=False) for m in s.math),
           *(m for s in derivation.kink_steps for m in s.math)]
    shown = [*section.definition[:-2], *(m for s in (*section.steps, *section.kinks) for m in s.math)]
    assert len(raw) == len(shown) and [m.relation for m in section.definition[-2:]] == ["≈", "≈"]
    for before, after in zip(raw, shown):
        for a, b in ((before.lhs, after.lhs), (before.rhs, after.rhs)):
            assert (a is None and b is None) or b.xreplace(exact) == a, (a, b)
    assert {SELU_LAMBDA, SELU_ALPHA} == {c.value for c in CONSTANTS}


def test_a_parameter_that_shares_a_constants_name_stays_a_parameter():
    from symdl.report.rule_sections import rule_section

    section = rule_section("elu", verify=False, plot=False)  # elu's α is a parameter, ∂ throughout
    assert "Klambauer" not in section.summary and not any(m.relation == "≈" for m in section.definition)
    assert _derivative_marks(section) == {"tex": {"∂"}, "md": {"∂"}, "html": {"∂"}}


def test_sigma_is_only_the_logistic_sigmoid_and_the_generic_activation_is_phi():
    from symdl.report.sections import backprop_section, build_report, dropout_section

    backprop = backprop_section((2, 3, 1), "tanh", "mse", output_activation="sigmoid", verify=False)
    report = Report("bp", (backprop, dropout_section(verify=False)))
    md, page = render_markdown(report)[0], render_html(report)
    equations = re.findall(r"\$\$\n(.*?)\n\$\$", md, flags=re.DOTALL)
    # σ appears once: the output activation φ_L *is* the logistic sigmoid.
    assert [e for e in equations if r"\sigma" in e] == [r"{\varphi }_{L}{\left(z \right)} = \sigma \left(z\right)"]
    assert r"\varphi {\left(z \right)} = \tanh{\left(z \right)}" in equations
    assert any(r"\varphi'\left(" in e for e in equations) and any(r"\varphi\left(" in e for e in equations)
    prose = re.sub(r"\$\$\n.*?\n\$\$", "", md, flags=re.DOTALL)
    assert "σ" not in prose and r"\sigma" not in prose and "φ" in prose and r"\varphi" in prose
    assert page.count("&#963;") + page.count("σ") == 1, page.count("&#963;")
    intro = build_report([], verify=False).introduction
    assert "σ is the logistic sigmoid" in intro and "and φ a generic element-wise activation (BP1–BP4, dropout)" in intro


def test_every_character_of_the_rules_and_layer_prose_is_spelled_in_tex_not_replaced_by_a_question_mark():
    from symdl.report.layer_sections import dropout_section, init_section
    from symdl.report.text import _tex_plain

    prose = [symdl.rule(name).summary + " " + (symdl.rule(name).notes or "") for name in symdl.rules()]
    for section in (dropout_section(verify=False), init_section(verify=False)):
        prose += [section.summary, *(s.title for s in section.steps), *(s.note or "" for s in section.steps)]
    for text in prose:
        for char in {c for c in text if not c.isascii() and not unicodedata.combining(c)}:
            assert "?" not in _tex_plain(char), (char, text)  # ⟨v, s⟩ printed as ?v, s? in the PDF


def test_a_sum_followed_by_another_term_is_closed_by_brackets():
    x, dy = sp.IndexedBase("x"), sp.IndexedBase("dy")
    i, m = sp.symbols("i m", integer=True)
    gamma, cost = sp.Symbol("gamma"), sp.Symbol("L")
    # batch norm's ∂L/∂μ: without the brackets the second term reads as inside the sum over i
    mu = sp.Sum(-dy[i] * gamma, (i, 0, m - 1)) + sp.Derivative(cost, x[0]) * sp.Sum(x[i], (i, 0, m - 1)) / m
    assert latex_math(Math(mu)).startswith(r"\left(\sum_{i=0}^{m - 1} - \gamma {dy}_{i}\right) + "), latex_math(Math(mu))
    last = m * dy[0] - sp.Sum(dy[i], (i, 0, m - 1))  # a sum printed last needs none
    assert r"\left(\sum" not in latex_math(Math(last)), latex_math(Math(last))


def test_a_sum_followed_by_another_term_is_closed_by_brackets_in_mathml_too():
    x, dy = sp.IndexedBase("x"), sp.IndexedBase("dy")
    i, m = sp.symbols("i m", integer=True)
    gamma, cost = sp.Symbol("gamma"), sp.Symbol("L")
    mu = sp.Sum(-dy[i] * gamma, (i, 0, m - 1)) + sp.Derivative(cost, x[0]) * sp.Sum(x[i], (i, 0, m - 1)) / m
    text = mathml_math(Math(mu))
    # The equation's row, then the sum's: its first term is the bracketed sum, closed before the +.
    assert text.startswith('<math display="block"><mrow><mrow><mrow><mo>(</mo><mrow><munderover><mo>&#x2211;</mo>'), text
    assert "</munderover><mrow><mo>(</mo><mrow><mo>-</mo><mi>&#947;</mi><mo>&InvisibleTimes;</mo><msub><mi>dy</mi>" \
           "<mi>i</mi></msub></mrow><mo>)</mo></mrow></mrow><mo>)</mo></mrow><mo>+</mo>" in text, text
    last = m * dy[0] - sp.Sum(dy[i], (i, 0, m - 1))  # a sum printed last needs none
    assert "<mo>(</mo><mrow><munderover>" not in mathml_math(Math(last)), mathml_math(Math(last))


def test_a_plot_makes_its_pdf_only_when_read_or_pickled(tmp_path):
    """A Markdown or HTML report never reads Plot.pdf (no PDF drawn); the LaTeX one does; a pickled plot carries bytes."""
    import pickle

    made = []

    def make() -> bytes:
        made.append(1)
        return b"%PDF-1.4 figure"

    def lazy() -> Report:
        section = Section(key="f", title="f", kind="formula", plot=Plot("<svg/>", "f and f'", pdf=make))
        return Report(title="t", sections=(section,))

    write_report(lazy(), tmp_path / "report", formats=("md", "html"))
    assert made == []
    report = lazy()
    write_report(report, tmp_path / "report", formats=("tex",))
    assert made == [1] and (tmp_path / "report" / "figures" / "f.pdf").read_bytes() == b"%PDF-1.4 figure"
    plot = report.sections[0].plot
    assert plot is not None and plot.pdf == b"%PDF-1.4 figure" and made == [1]  # made once
    again = pickle.loads(pickle.dumps(lazy().sections[0].plot))
    assert made == [1, 1] and again._pdf == b"%PDF-1.4 figure" and again == plot and hash(again) == hash(plot)
    assert Plot("<svg/>", "f and f'", pdf=b"other") != plot
