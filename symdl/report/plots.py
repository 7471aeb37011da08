"""Plots of a rule: g(z) and g'(z) from the rule's own numeric kernels, kinks marked; deterministic SVG.

Everything drawn is computed by the code symdl generates (``rule.numeric()``,
``rule.numeric_derivative()``) or read from the rule's declared kinks; nothing
is derived here. Figures are :class:`~symdl.report.rule_figure.RuleFigure` s (matplotlib
Figures that display in a notebook) made without pyplot (no global state, no window), saved by :func:`figure_svg`
(HTML, Markdown) and :func:`figure_pdf` (LaTeX) byte for byte the same on every run.

What is plotted:

* element-wise activations and penalties: the value and the derivative
  against their one input (a learned extra input such as PReLU's α is held at
  0.25, the value :meth:`symdl.CompiledNetwork.init` gives it);
* losses L(a, y): against the prediction a with the target y held fixed — at
  the largest declared label value when the rule declares labels (the
  positive class of binary cross-entropy), else at 0 moved into the declared
  input range;
* vector rules: a one-dimensional slice at their check size — the first
  output (or the scalar output) against the first element of the first
  input, every other element 0 (a one-hot label, a width σ of 1 moved into
  its range), and its derivative from the generated vector-Jacobian product
  with the cotangent e₀.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import sympy as sp

from ..numbers import format_number
from ..optional import require

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..rulebook.rule import Rule
    from ..rulebook.vector_rule import VectorRule
    from .rule_figure import RuleFigure

__all__ = ["EXTRA_INPUT_VALUE", "KinkMark", "PlotValues", "draw", "figure_pdf", "figure_svg", "plot_rule", "plot_values"]

#: The value a learned extra input of an activation (PReLU's α) is held at: CompiledNetwork.init's.
EXTRA_INPUT_VALUE = 0.25
#: Half-width of the default range around the centre (0, or the fixed target of a loss).
HALF_WIDTH = 5.0


def _matplotlib() -> None:
    require("matplotlib", "plotting")  # ModuleNotFoundError: plotting needs matplotlib: pip install 'symdl[plot]'


@dataclass(frozen=True)
class KinkMark:
    """A kink as drawn: where, the one-sided derivatives, and the value the generated derivative returns there."""

    at: float
    left: float
    right: float
    value: float
    forward: float


@dataclass(frozen=True)
class PlotValues:
    """The numbers a rule's plot is drawn from (all from the generated kernels or the declared kinks)."""

    x: np.ndarray
    value: np.ndarray
    derivative: np.ndarray
    kinks: tuple[KinkMark, ...]
    xlabel: str
    value_label: str
    derivative_label: str
    fixed: str  # what the other inputs are held at, plain text ("" when none)


# --- element-wise rules -------------------------------------------------------------------


def _fixed_inputs(r: Rule) -> dict[sp.Symbol, float]:
    """The value each input other than the first is held at (see the module docstring)."""
    d = r.definition
    fixed = {}
    for s in r.inputs[1:]:
        if s in d.label_values:
            value = max(d.label_values[s])
        elif r.kind == "activation":
            value = EXTRA_INPUT_VALUE
        else:
            value = 0.0
        if s in d.input_ranges:
            lo, hi = d.input_ranges[s]
            value = min(max(value, lo), hi)
        fixed[s] = float(value)
    return fixed


def _number(expr: sp.Expr, r: Rule, fixed: dict[sp.Symbol, float]) -> float:
    value = sp.N(r.bind(sp.sympify(expr, strict=True)).subs(fixed), 30)  # SymPy objects from the rule, never text
    if not value.is_real or not value.is_finite:
        raise ValueError(f"rule {r.name!r}: cannot evaluate {expr} at {fixed} as a real number")
    return float(value)


def _unbound(r: Rule) -> list[str]:
    return sorted(s.name for s in r.param_symbols.values() if s.name not in r.params)


def _range(lo: float | None, hi: float | None, centre: float, marks: Sequence[float]) -> tuple[float, float]:
    """[lo, hi]: given, or centre ± 5 widened to show every mark with a margin of 1."""
    low = min([centre - HALF_WIDTH, *(p - 1.0 for p in marks)]) if lo is None else float(lo)
    high = max([centre + HALF_WIDTH, *(p + 1.0 for p in marks)]) if hi is None else float(hi)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"plot range must be finite with lo < hi, got lo={lo!r}, hi={hi!r}")
    return low, high


def _evaluate(kernel: Callable[..., np.ndarray], x: np.ndarray, others: Sequence[float]) -> np.ndarray:
    """``kernel(x, *others)`` as float64, non-finite values (outside a formula's domain) as NaN gaps."""
    with np.errstate(all="ignore"):
        out = np.asarray(kernel(x, *(np.full_like(x, v) for v in others)), dtype=np.float64)
        out = np.broadcast_to(out, x.shape).copy()
    out[~np.isfinite(out)] = np.nan
    return out


def _split_at(x: np.ndarray, points: Sequence[float]) -> np.ndarray:
    """``x`` without the points themselves, NaN inserted at each point: the derivative is drawn in pieces."""
    pieces = []
    edges = [-np.inf, *sorted(points), np.inf]
    for low, high in itertools.pairwise(edges):
        part = x[(x > low) & (x < high)]
        if part.size:
            pieces.append(part)
    joined = []
    for k, part in enumerate(pieces):
        if k:
            joined.append(np.array([np.nan]))
        joined.append(part)
    return np.concatenate(joined)


def _element_values(r: Rule, lo: float | None, hi: float | None, points: int) -> PlotValues:
    from ..codegen.kernel import compile_kernel

    missing = _unbound(r)
    if missing:
        raise ValueError(f"rule {r.name!r}: parameter(s) {', '.join(missing)} have no value; give them values to plot")
    fixed = _fixed_inputs(r)
    others = list(fixed.values())
    kinks = []
    derivative = r.numeric_derivative()
    for kink in r.kinks:
        at = _number(kink.at, r, fixed)
        returned = float(np.asarray(derivative(np.float64(at), *map(np.float64, others))))
        kinks.append(KinkMark(at, _number(kink.left, r, fixed), _number(kink.right, r, fixed), returned, math.nan))
    centre = others[0] if r.kind == "loss" and others else 0.0
    low, high = _range(lo, hi, centre, [k.at for k in kinks])
    x = np.linspace(low, high, _check_points(points))
    # Element by element even for a penalty, whose numeric() sums: the same printed expression, unreduced.
    forward = compile_kernel(r.numeric_forward_expr(), r.inputs, r.kernel_name)
    kinks = [
        KinkMark(k.at, k.left, k.right, k.value, float(_evaluate(forward, np.array([k.at]), others)[0])) for k in kinks
    ]
    xs = _split_at(x, [k.at for k in kinks])
    name = {"activation": "g", "loss": "L", "penalty": "Ω", "formula": "f"}[r.kind]
    var = r.wrt.name
    args = ", ".join(s.name for s in r.inputs)
    fixed_text = ", ".join(f"{s.name} = {format_number(v, 'g')}" for s, v in fixed.items())
    return PlotValues(
        x=xs,
        value=_evaluate(forward, xs, others),
        derivative=_evaluate(derivative, xs, others),
        kinks=tuple(kinks),
        xlabel=var,
        value_label=f"{name}({args})",
        derivative_label=f"∂{name}/∂{var}",
        fixed=fixed_text,
    )


# --- vector rules: a one-dimensional slice ---------------------------------------------------------


def _first_entry(axes: int) -> tuple[Any, ...]:
    """``[..., 0, …, 0]``: the first entry along each of the last ``axes`` axes (every leading axis kept)."""
    return (Ellipsis, *([0] * axes))


def _vector_values(r: VectorRule, lo: float | None, hi: float | None, points: int) -> PlotValues:
    d = r.definition
    low, high = _range(lo, hi, 0.0, [])
    x = np.linspace(low, high, _check_points(points))
    rows = x.size
    arrays = []
    for position, inp in enumerate(d.inputs):
        shape: tuple[int, ...] = tuple(d.check_sizes[s] for s in inp.sizes)
        full = shape if inp.shared else (rows, *shape)
        if inp.base in d.label_inputs:
            arr = np.zeros(full)
            arr[_first_entry(len(shape))] = 1.0
        else:
            lo_in, hi_in = d.input_ranges.get(inp.base, (-np.inf, np.inf))
            arr = np.full(full, 0.0 if lo_in <= 0.0 <= hi_in else min(max(1.0, lo_in), hi_in))
        if position == 0:
            arr[_first_entry(len(shape))] = x
        arrays.append(arr)
    out_shape = tuple(d.check_sizes[s] for s in d.output_sizes)
    cotangent: list[np.ndarray] = []
    if r.kind == "activation":
        v = np.zeros((rows, *out_shape))
        v[_first_entry(len(out_shape))] = 1.0
        cotangent = [v]
    with np.errstate(all="ignore"):
        value = np.asarray(r.numeric()(*arrays), dtype=np.float64)
        slope = np.asarray(r.numeric_derivative(r.wrt)(*arrays, *cotangent), dtype=np.float64)
    value = value.reshape(rows, -1)[:, 0]
    slope = slope.reshape(rows, -1)[:, 0]
    first = d.inputs[0]
    element = f"{first.base.label}_0"
    out = "g_0" if d.output and r.kind == "activation" else ("g" if r.kind == "activation" else "L")
    sizes = ", ".join(f"{s} = {d.check_sizes[s]}" for s in dict.fromkeys(s for inp in d.inputs for s in inp.sizes))
    return PlotValues(
        x=x,
        value=value,
        derivative=slope,
        kinks=(),
        xlabel=element,
        value_label=f"{r.name}: {out}",
        derivative_label=f"∂{out}/∂{element}",
        fixed=f"{sizes}; every other element 0" + (", one-hot label e_0" if d.label_inputs else ""),
    )


# --- drawing ---------------------------------------------------------------------------------------------


def _check_points(points: object) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or not 3 <= points <= 100_000:
        raise ValueError(f"points must be an integer from 3 to 100000, got {points!r}")
    return points


def plot_values(rule: Rule | VectorRule, *, lo: float | None = None, hi: float | None = None, points: int = 801) -> PlotValues:
    """The numbers :func:`plot_rule` draws: x, value, derivative (NaN at kinks and gaps) and the kink marks."""
    from ..rulebook.derivation import Derives

    if not isinstance(rule, Derives):
        raise TypeError(f"plot_rule takes a rule (symdl.rule or symdl.formula_rule), got {type(rule).__name__}")
    return _element_values(rule, lo, hi, points) if rule.element_wise else _vector_values(rule, lo, hi, points)


def plot_rule(rule: Rule | VectorRule, *, lo: float | None = None, hi: float | None = None, points: int = 801,
              ax: Axes | Sequence[Axes] | None = None) -> RuleFigure | Axes | Sequence[Axes]:
    """Two axes: the rule's value and its derivative on [lo, hi] (default: centre ± 5, widened to show every kink).

    At each kink: a dotted vertical line, open circles at the one-sided
    derivatives and a filled circle at the value the generated derivative
    returns there (the kink convention). See the module docstring for the
    inputs held fixed. Without ``ax``: a new :class:`~symdl.report.rule_figure.RuleFigure`
    (a matplotlib Figure that a notebook displays as a PNG image). With ``ax``
    (the user's ``Axes``, or a pair of them): value and derivative are drawn
    into it (one ``Axes``: both curves, with a legend; a pair: value in the
    first, derivative in the second) and ``ax`` is returned. Raises
    ``ImportError`` without matplotlib.
    """
    _matplotlib()
    return draw(rule, plot_values(rule, lo=lo, hi=hi, points=points), ax=ax)


def _user_axes(ax: object) -> tuple[Axes, Axes]:
    """(value axes, derivative axes) from one ``Axes`` or a pair; TypeError otherwise."""
    from matplotlib.axes import Axes

    if isinstance(ax, Axes):
        return ax, ax
    pair = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else []
    if len(pair) == 2 and all(isinstance(a, Axes) for a in pair):
        return pair[0], pair[1]
    raise TypeError(f"ax must be a matplotlib Axes or a pair of them, got {type(ax).__name__}")


@overload
def draw(rule: Rule | VectorRule, values: PlotValues, ax: None = None) -> RuleFigure: ...
@overload
def draw(rule: Rule | VectorRule, values: PlotValues, ax: Axes | Sequence[Axes]) -> Axes | Sequence[Axes]: ...
def draw(rule: Rule | VectorRule, values: PlotValues,
         ax: Axes | Sequence[Axes] | None = None) -> RuleFigure | Axes | Sequence[Axes]:
    """The figure of :func:`plot_rule` from values already computed by :func:`plot_values` (into ``ax`` when given)."""
    _matplotlib()
    from .rule_figure import RuleFigure

    if ax is None:
        fig = RuleFigure(figsize=(6.0, 4.8), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True)
    else:
        top, bottom = _user_axes(ax)
    one = top is bottom
    both = (top,) if one else (top, bottom)
    top.plot(values.x, values.value, color="#1f77b4", linewidth=1.6, label=values.value_label)
    bottom.plot(values.x, values.derivative, color="#d62728", linewidth=1.6, label=values.derivative_label)
    for n, mark in enumerate(values.kinks):
        for axes in both:
            axes.axvline(mark.at, color="0.45", linestyle=":", linewidth=1.0).set_gid(f"kink-{n}-line")
        if math.isfinite(mark.forward):
            top.plot([mark.at], [mark.forward], "o", color="#1f77b4", markersize=5)[0].set_gid(f"kink-{n}-point")
        (limits,) = bottom.plot([mark.at, mark.at], [mark.left, mark.right], "o", markerfacecolor="white",
                                markeredgecolor="#d62728", markersize=6, linestyle="none")
        limits.set_gid(f"kink-{n}-one-sided")
        bottom.plot([mark.at], [mark.value], "o", color="#d62728", markersize=5)[0].set_gid(f"kink-{n}-value")
    title = (rule.name if rule.kind != "formula" else "formula") + (f"  ({values.fixed})" if values.fixed else "")
    if one:
        top.legend(loc="best", fontsize=8)
    else:
        top.set_ylabel(values.value_label)
        bottom.set_ylabel(values.derivative_label)
    bottom.set_xlabel(values.xlabel)
    for axes in both:
        axes.grid(True, color="0.9", linewidth=0.6)
        axes.axhline(0.0, color="0.6", linewidth=0.6)
    if ax is not None:
        top.set_title(title, fontsize=10)
        return ax
    fig.suptitle(title, fontsize=10)
    return fig


_PROLOGUE = re.compile(r"\A\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?")


def figure_svg(fig: Figure) -> str:
    """The figure as SVG text to inline in HTML: no XML declaration or DOCTYPE, text as paths, no date, fixed ids.

    The same figure gives the same bytes on every run (``svg.hashsalt`` fixed,
    ``metadata={"Date": None}``).
    """
    _matplotlib()
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "symdl", "svg.fonttype": "path", "svg.image_inline": True}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "symdl"})
    return _PROLOGUE.sub("", buffer.getvalue(), count=1)


def figure_pdf(fig: Figure) -> bytes:
    """The figure as a one-page vector PDF for the LaTeX document (``\\includegraphics``): no dates, the same bytes every run."""
    _matplotlib()
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"pdf.compression": 6}):
        fig.savefig(buffer, format="pdf", metadata={"CreationDate": None, "ModDate": None, "Creator": "symdl", "Producer": "symdl"})
    return buffer.getvalue()
