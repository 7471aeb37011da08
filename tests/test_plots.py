"""symdl.report.plots: values from the generated kernels, kinks marked, deterministic well-formed SVG."""

import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.report.plots import figure_svg, plot_rule, plot_values

SVG = "{http://www.w3.org/2000/svg}"
ELEMENTWISE = [name for name in symdl.rules() if isinstance(symdl.rule(name), symdl.Rule)]
VECTOR = [name for name in symdl.rules() if isinstance(symdl.rule(name), symdl.VectorRule)]


@pytest.mark.parametrize("name", [*ELEMENTWISE, *VECTOR])
def test_every_rule_plots_finite_values(name):
    values = plot_values(symdl.rule(name))
    drawn = ~np.isnan(values.x)
    assert drawn.sum() > 700
    assert np.all(np.isfinite(values.value[drawn])) and np.all(np.isfinite(values.derivative[drawn]))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_values_are_the_generated_kernels(name):
    r = symdl.rule(name)
    values = plot_values(r, points=51)
    x = values.x[~np.isnan(values.x)]
    others = [np.full_like(x, float(v)) for v in _held(values, r)]
    np.testing.assert_allclose(values.derivative[~np.isnan(values.x)], r.numeric_derivative()(x, *others), rtol=1e-12)
    # The forward value equals the rule's SymPy expression (not a re-derivation): compare at a few points.
    for t in x[::10]:
        exact = float(r.bind(r.expr).subs(dict(zip(r.inputs, [t, *_held(values, r)]))).evalf(30))
        got = values.value[np.flatnonzero(values.x == t)[0]]
        assert got == pytest.approx(exact, rel=1e-12, abs=1e-12)


def _held(values, r):
    """The values other inputs were held at, read back from the plot's own description."""
    held = dict(part.split(" = ") for part in values.fixed.split(", ")) if values.fixed else {}
    return [float(held[s.name]) for s in r.inputs[1:]]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_kinks_marked_exactly_for_rules_with_kinks(name):
    r = symdl.rule(name)
    values = plot_values(r)
    assert len(values.kinks) == len(r.kinks)
    for mark, kink in zip(values.kinks, r.kinks):
        assert min(mark.left, mark.right) <= mark.value <= max(mark.left, mark.right)  # a subgradient
        assert mark.value == pytest.approx(float(r.bind(kink.value).subs(dict(zip(r.inputs[1:], _held(values, r))))))
        assert not np.any(values.x == mark.at)  # the curve is broken there, the marker shows the value


def test_losses_hold_labels_in_their_domain():
    values = plot_values(symdl.rule("binary_cross_entropy"))
    assert values.fixed == "y = 1"
    assert plot_values(symdl.rule("mse")).fixed == "y = 0"


def test_range_is_widened_to_show_kinks():
    r = symdl.formula_rule("max(z - 7, 0)")
    values = plot_values(r)
    assert np.nanmax(values.x) >= 8 and values.kinks[0].at == 7


@settings(max_examples=15)
@given(lo=st.floats(-50, 0, allow_nan=False, allow_infinity=False), width=st.floats(0.5, 50, allow_nan=False))
def test_explicit_range_is_respected(lo, width):
    values = plot_values(symdl.rule("softplus"), lo=lo, hi=lo + width, points=11)
    assert np.nanmin(values.x) == pytest.approx(lo) and np.nanmax(values.x) == pytest.approx(lo + width)


def test_formula_outside_its_domain_leaves_gaps_without_warnings():
    values = plot_values(symdl.formula_rule("log(z)"))
    assert np.isnan(values.value[values.x < 0]).all() and np.isfinite(values.value[values.x > 0]).all()


@pytest.mark.parametrize("bad", [{"lo": 1.0, "hi": 0.0}, {"points": 2}, {"lo": float("nan")}])
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        plot_values(symdl.rule("relu"), **bad)


def test_unbound_parameter_is_refused():
    with pytest.raises(ValueError, match="no value"):
        plot_values(symdl.formula_rule("a*z**2", params={"a": None}))


def test_svg_is_deterministic_well_formed_and_inline():
    svg = figure_svg(plot_rule(symdl.rule("relu")))
    assert svg == figure_svg(plot_rule(symdl.rule("relu")))
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert not list(root.iter(f"{SVG}text"))  # text drawn as paths: no fonts needed in the browser
    assert "Date" not in svg and "<dc:date>" not in svg


@pytest.mark.parametrize(("name", "kinks"), [("hard_tanh", 2), ("tanh", 0)])
def test_kinks_are_drawn(name, kinks):
    root = ET.fromstring(figure_svg(plot_rule(symdl.rule(name))))
    ids = {e.get("id") for e in root.iter(f"{SVG}g")}
    for n in range(kinks):
        assert {f"kink-{n}-line", f"kink-{n}-one-sided", f"kink-{n}-value"} <= ids
    assert not any(i and i.startswith(f"kink-{kinks}") for i in ids)
    dotted = [e for e in root.iter(f"{SVG}path") if "stroke-dasharray" in e.get("style", "")]
    assert bool(dotted) == bool(kinks)


def test_figure_is_not_pyplot():
    from matplotlib.figure import Figure

    fig = plot_rule(symdl.rule("sigmoid"))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"].get_fignums()


def test_missing_matplotlib_gives_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"needs matplotlib: pip install 'symdl\[plot\]'") as info:
        plot_rule(symdl.rule("relu"))
    assert "\n" not in str(info.value)


def test_not_a_rule():
    with pytest.raises(TypeError):
        plot_values(sp.Symbol("z"))


# --- notebooks: the figure displays itself; ax= draws into the user's axes ---------------------------------


def test_the_figure_displays_as_a_png_through_ipythons_formatter():
    formatters = pytest.importorskip("IPython.core.formatters")
    fig = symdl.rule("relu").plot(points=51)
    png = fig._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    data, _ = formatters.DisplayFormatter().format(fig)
    assert data["image/png"] == png  # what a fresh kernel shows: an image, not "<Figure size … with 2 Axes>"


def test_show_without_a_notebook_warns_instead_of_raising(monkeypatch):
    fig = symdl.rule("tanh").plot(points=51)
    with pytest.warns(UserWarning, match="savefig"):
        fig.show()
    ipython = pytest.importorskip("IPython")
    monkeypatch.setattr(ipython, "get_ipython", lambda: type("TerminalShell", (), {})())  # IPython without a kernel
    with pytest.warns(UserWarning, match="savefig"):
        fig.show()


def test_show_in_a_notebook_displays_the_figure(monkeypatch):
    pytest.importorskip("IPython")
    import IPython.display

    import symdl.report.rule_figure as rule_figure

    shown = []
    monkeypatch.setattr(rule_figure, "_in_a_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    fig = symdl.rule("tanh").plot(points=51)
    fig.show()
    assert shown == [fig]


def test_plot_draws_into_one_user_axes_and_returns_it():
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    r = symdl.rule("hard_tanh")
    values = plot_values(r, points=51)
    assert r.plot(ax=ax, points=51) is ax
    curves = [line for line in ax.get_lines() if len(line.get_xdata()) == 51]
    assert [line.get_label() for line in curves] == [values.value_label, values.derivative_label]
    np.testing.assert_array_equal(curves[0].get_ydata(), values.value)
    np.testing.assert_array_equal(curves[1].get_ydata(), values.derivative)
    assert ax.get_legend() is not None and ax.get_title().startswith("hard_tanh")
    assert {line.get_gid() for line in ax.get_lines()} >= {"kink-0-line", "kink-1-value"}


def test_plot_draws_into_a_pair_of_user_axes():
    from matplotlib.figure import Figure

    top, bottom = Figure().subplots(2)
    assert symdl.rule("softplus").plot(ax=(top, bottom), points=51) == (top, bottom)
    assert len(top.get_lines()) == len(bottom.get_lines()) == 2  # the curve and the zero line
    assert bottom.get_ylabel() == plot_values(symdl.rule("softplus"), points=51).derivative_label


@pytest.mark.parametrize("bad", ["axes", [], [None, None]])
def test_plot_refuses_what_is_not_axes(bad):
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes or a pair of them"):
        symdl.rule("relu").plot(ax=bad)
