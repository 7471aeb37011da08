"""Hypothesis strategies for symdl rules: inputs away from kinks, at kinks, and float arrays of a dtype.

Points are drawn *directly* where they are wanted (an interval between
breakpoints, then a point inside it) rather than filtered with ``assume``, so
no example is wasted. Floats are bounded, finite and never NaN.

>>> from hypothesis import given
>>> import symdl
>>> from symdl.testing.strategies import away_from_kinks
>>> relu = symdl.rule("relu")
>>> @given(away_from_kinks(relu))
... def test(values):
...     (z,) = values
...     assert abs(z) >= 1e-3
>>> test()
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ..optional import require

require("hypothesis", "symdl.testing.strategies")  # one line with the install hint instead of a bare ModuleNotFoundError

from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ..arguments import non_negative_number, positive_int
from ..codegen.kernel import compile_kernel
from ..rulebook.rule import Rule
from ..rulebook.vector_rule import VectorRule
from .kink_points import KinkPoints, kink_points

__all__ = [
    "at_kinks",
    "away_from_kinks",
    "batches",
    "finite_floats",
    "float_arrays",
    "floats_at_kinks",
    "floats_away_from_kinks",
    "network_specs",
]


def _float_type(dtype: type | np.dtype) -> np.dtype:
    if isinstance(dtype, (int, float)) and not isinstance(dtype, bool):  # finite_floats(-3, 3): the bounds come after it
        raise TypeError(f"dtype: expected np.float64 or np.float32, got the number {dtype!r}; "
                        "finite_floats takes the dtype first: finite_floats(np.float64, low, high)")
    found = np.dtype(dtype)
    if found not in (np.float64, np.float32):
        raise ValueError(f"dtype: expected float64 or float32, got {dtype!r}")
    return found


def _inside(low: float, high: float, dtype: np.dtype) -> tuple[float, float] | None:
    """[low, high] shrunk to its ends representable in ``dtype`` (what hypothesis' width-32 floats need), or None."""
    biggest = float(np.finfo(dtype).max)  # clipped first: casting 1e39 to float32 warns and gives inf
    lo, hi = dtype.type(max(low, -biggest)), dtype.type(min(high, biggest))
    if float(lo) < low:  # compared as float64: float32 < a Python float would round the float to float32 first
        lo = np.nextafter(lo, dtype.type(np.inf))
    if float(hi) > high:
        hi = np.nextafter(hi, dtype.type(-np.inf))
    return (float(lo), float(hi)) if lo <= hi else None


def finite_floats(
    dtype: type | np.dtype = np.float64, low: float = -1000.0, high: float = 1000.0
) -> st.SearchStrategy[float]:
    """Finite floats in [low, high] that ``dtype`` holds exactly: the ``elements=`` of ``hypothesis.extra.numpy.arrays``."""
    found = _float_type(dtype)
    bounds = _inside(low, high, found)
    if bounds is None:
        raise ValueError(f"finite_floats: no {found.name} lies in [{low!r}, {high!r}]")
    return st.floats(*bounds, allow_nan=False, allow_infinity=False, width=32 if found == np.float32 else 64)


def float_arrays(
    dtype: type | np.dtype = np.float64, shape: int | tuple[int, ...] = 8, low: float = -1000.0, high: float = 1000.0
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``dtype`` with finite elements in [low, high] (:func:`finite_floats`)."""
    return arrays(np.dtype(dtype), shape, elements=finite_floats(dtype, low, high))


def _others(rule: Rule, low: float, high: float) -> st.SearchStrategy[list[float]]:
    """Values for every input but the first, from its label values or range."""
    d = rule.definition
    parts = []
    for s in rule.inputs[1:]:
        if s in d.label_values:
            parts.append(st.sampled_from(list(d.label_values[s])))
        else:
            lo, hi = d.input_ranges.get(s, (low, high))
            parts.append(st.floats(lo, hi, allow_nan=False, allow_infinity=False))
    return st.tuples(*parts).map(list)


def _element_rule(rule: object, what: str) -> Rule:
    """``rule`` as an element-wise :class:`Rule` (a name is looked up), else a TypeError naming what was given."""
    if isinstance(rule, str):
        from ..rulebook.registry import rule as by_name

        rule = by_name(rule)
    if not isinstance(rule, Rule):
        given = f"VectorRule {rule.name!r}" if isinstance(rule, VectorRule) else type(rule).__name__
        raise TypeError(f"{what}: expected an element-wise rule or its name, got {given}")
    return rule


def _check_range(low: object, high: object, margin: object, what: str) -> None:
    """Finite low < high and a finite margin ≥ 0: else a strategy away from kinks could draw one (or leave its range)."""
    finite = all(not isinstance(v, bool) and isinstance(v, numbers.Real) and math.isfinite(v) for v in (low, high))
    if not finite or not low < high:  # type: ignore[operator]
        raise ValueError(f"{what}: expected finite low < high, got low={low!r}, high={high!r}")
    non_negative_number(margin, f"{what}: margin")


def away_from_kinks(
    rule: Rule, low: float = -40.0, high: float = 40.0, margin: float = 1e-3, others: Sequence[float] | None = None
) -> st.SearchStrategy[list[float]]:
    """[x, *others]: x at least ``margin``·max(1, |p|) from every breakpoint p of the rule and its derivative, and
    from every jump of its floor, ceiling and round of x (:mod:`~symdl.testing.kink_points`).

    The other inputs (a loss's target) are drawn too, unless ``others`` fixes them. The jumps of F(u) are listed where
    u is affine in x (⌊2x − y⌋, round(x/3)); otherwise, or with more than
    :data:`~symdl.testing.kink_points.MAX_JUMPS` of them in [low, high], a ValueError says so.
    """
    rule = _element_rule(rule, "away_from_kinks")
    _check_range(low, high, margin, "away_from_kinks")
    fixed = None if others is None else st.just(_fixed_others(rule, others, "away_from_kinks"))
    return _away_from_kinks(rule, kink_points(rule, "away_from_kinks"), low, high, margin, fixed)


@st.composite
def _away_from_kinks(
    draw: st.DrawFn, rule: Rule, kinks: KinkPoints, low: float, high: float, margin: float, fixed: st.SearchStrategy | None
) -> list[float]:
    others = draw(fixed if fixed is not None else _others(rule, low, high))
    # A breakpoint exactly at an end of the range counts too (huber at a = −40, y = −39, δ = 1).
    points = kinks(others, low, high)
    edges = sorted(points | {low, high})

    def gap(p: float) -> float:
        return margin * max(1.0, abs(p)) if p in points else 0.0

    pieces = [(a + gap(a), b - gap(b)) for a, b in zip(edges, edges[1:])]
    room = [piece for piece in pieces if piece[0] < piece[1]]
    if not room:
        raise ValueError(f"away_from_kinks: no point of [{low!r}, {high!r}] is {margin!r}·max(1, |p|) from every breakpoint p")
    lo, hi = draw(st.sampled_from(room))
    return [draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False)), *others]


def at_kinks(rule: Rule, low: float = -40.0, high: float = 40.0) -> st.SearchStrategy[list[float]]:
    """[x, *others] with x exactly at a kink of the rule, or one float step beside it."""
    if not rule.kinks:
        raise ValueError(f"rule {rule.name!r} has no kinks; rules with kinks: see rule.kinks")
    return _at_kinks(rule, low, high)


def _fixed_others(rule: Rule, others: Sequence[float] | None, what: str) -> list[float]:
    """The values of every input but the first, which an element strategy cannot draw (one element is one float)."""
    extra = len(rule.inputs) - 1
    if others is None and extra:
        names = ", ".join(s.name for s in rule.inputs[1:])
        raise ValueError(f"{what}: {rule.name!r} has further inputs ({names}); give their values as others=[...]")
    values = [float(v) for v in (others or ())]
    if len(values) != extra:
        raise ValueError(f"{what}: others: expected {extra} value(s) for {rule.name!r}, got {len(values)}")
    return values


def floats_away_from_kinks(
    rule: Rule, low: float = -40.0, high: float = 40.0, margin: float = 1e-3, others: Sequence[float] | None = None,
    dtype: type | np.dtype = np.float64,
) -> st.SearchStrategy[float]:
    """x in [low, high] at least ``margin``·max(1, |p|) from every breakpoint p and jump, one float of ``dtype``.

    The element form of :func:`away_from_kinks`, composable with
    ``hypothesis.extra.numpy.arrays(dtype, shape, elements=floats_away_from_kinks(rule))``; a rule's further inputs
    (a loss's target) are fixed by ``others``.
    """
    rule = _element_rule(rule, "floats_away_from_kinks")
    _check_range(low, high, margin, "floats_away_from_kinks")
    found = _float_type(dtype)
    fixed = _fixed_others(rule, others, "floats_away_from_kinks")
    points = kink_points(rule, "floats_away_from_kinks")(fixed, low, high)
    edges = sorted(points | {low, high})

    def gap(p: float) -> float:
        return margin * max(1.0, abs(p)) if p in points else 0.0

    pieces = [_inside(a + gap(a), b - gap(b), found) for a, b in zip(edges, edges[1:]) if a + gap(a) < b - gap(b)]
    width: Literal[32, 64] = 32 if found == np.float32 else 64
    parts = [st.floats(*piece, allow_nan=False, allow_infinity=False, width=width) for piece in pieces if piece]
    if not parts:
        raise ValueError(f"floats_away_from_kinks: no {found.name} in [{low!r}, {high!r}] is {margin!r} from a kink")
    return st.one_of(parts)


def floats_at_kinks(
    rule: Rule, others: Sequence[float] | None = None, dtype: type | np.dtype = np.float64
) -> st.SearchStrategy[float]:
    """x exactly at a kink of the rule (rounded to ``dtype``) or one ``dtype`` step beside it: the element form of
    :func:`at_kinks`, for ``hypothesis.extra.numpy.arrays(elements=...)``."""
    if not rule.kinks:
        raise ValueError(f"rule {rule.name!r} has no kinks; rules with kinks: see rule.kinks")
    found = _float_type(dtype)
    fixed = _fixed_others(rule, others, "floats_at_kinks")
    values: list[float] = []
    for kink in rule.kinks:
        at = found.type(compile_kernel(rule.bind(kink.at) + 0 * rule.wrt, rule.inputs, "kink_at")(0.0, *fixed))
        for x in (at, np.nextafter(at, found.type(-np.inf)), np.nextafter(at, found.type(np.inf))):
            if float(x) not in values:
                values.append(float(x))
    return st.sampled_from(values)


@st.composite
def _at_kinks(draw: st.DrawFn, rule: Rule, low: float, high: float) -> list[float]:
    others = draw(_others(rule, low, high))
    kink = draw(st.sampled_from(list(rule.kinks)))
    at = float(compile_kernel(rule.bind(kink.at) + 0 * rule.wrt, rule.inputs, "kink_at")(0.0, *others))
    beside = draw(st.sampled_from([0, -1, 1]))
    x = at if beside == 0 else float(np.nextafter(at, at + beside))
    return [x, *others]


def network_specs(
    max_depth: int = 4,
    max_width: int = 16,
    activations: Sequence[str] | None = None,
    losses: Sequence[str] | None = None,
    penalties: Sequence[str | None] = (None, "l1", "l2"),
) -> st.SearchStrategy[dict]:
    """Keyword arguments for :class:`symdl.Network`: ``layers`` (depth 1–``max_depth``, widths 1–``max_width``),
    ``activation``, ``output_activation``, ``loss`` and ``penalty``, by default every rule a network accepts.

    Networks with an ``exponential`` activation are drawn at most two layers
    deep with another output activation: e^{e^{z}} overflows float64 by mathematics, not by code.
    """
    from ..network.model import accepted_rules

    for name, value in (("max_depth", max_depth), ("max_width", max_width)):
        positive_int(value, f"network_specs: {name}")
    hidden = list(activations) if activations else accepted_rules("activation")
    loss = list(losses) if losses else accepted_rules("loss")
    if isinstance(penalties, str) or not isinstance(penalties, Sequence) or not penalties:
        raise ValueError(f"network_specs: penalties must be a non-empty list of penalty names or None, got {penalties!r}")
    for what, kind, names in (("activations", "activation", hidden), ("losses", "loss", loss),
                              ("penalties", "penalty", [p for p in penalties if p is not None])):
        accepted = accepted_rules(kind)
        unknown = [n for n in names if isinstance(n, str) and n not in accepted]
        if unknown:
            raise ValueError(f"network_specs: {what}: unknown or not accepted {unknown[0]!r}; accepted: {', '.join(accepted)}")

    def tame(spec: dict) -> dict:
        if "exponential" in (spec["activation"], spec["output_activation"]):
            spec["layers"] = spec["layers"][:3]
            if spec["activation"] == spec["output_activation"] == "exponential" and len(spec["layers"]) > 2:
                spec["output_activation"] = "identity"
        return spec

    layers = st.lists(st.integers(1, max_width), min_size=2, max_size=max_depth + 1)
    specs = st.fixed_dictionaries(
        {
            "layers": layers,
            "activation": st.sampled_from(hidden),
            "output_activation": st.sampled_from(hidden),
            "loss": st.sampled_from(loss),
            "penalty": st.sampled_from(list(penalties)),
        }
    )
    return specs.map(tame)


def batches(
    layers: Sequence[int], max_batch: int = 8, dtype: type | np.dtype = np.float64,
    loss: str | Rule | VectorRule | None = None,
) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """(X, Y) with X of shape (batch, layers[0]) and Y of shape (batch, layers[-1]), bounded finite floats.

    With ``loss`` (a loss rule or its name), Y lies in the loss's target domain
    (:func:`symdl.network.rule_forms.target_domain`): binary cross-entropy's y in [0, 1], softmax cross-entropy's
    probability rows (non-negative, summing to 1).
    """
    widths = list(layers) if isinstance(layers, (Sequence, np.ndarray)) and not isinstance(layers, str) else None
    if not widths or len(widths) < 2 or any(isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1 for n in widths):
        raise ValueError(f"batches: layers must be at least two positive integer widths, got {layers!r}")
    positive_int(max_batch, "batches: max_batch")
    _float_type(dtype)
    return _batches([int(n) for n in widths], int(max_batch), dtype, loss)  # numpy's integers as hypothesis' shapes


@st.composite
def _batches(
    draw: st.DrawFn, layers: Sequence[int], max_batch: int, dtype: type | np.dtype, loss: str | Rule | VectorRule | None,
) -> tuple[np.ndarray, np.ndarray]:
    batch = draw(st.integers(1, max_batch))
    X = draw(float_arrays(dtype, (batch, layers[0]), low=-3.0, high=3.0))
    domain = None
    if loss is not None:
        from ..network.rule_forms import target_domain
        from ..rulebook.registry import rule

        domain = target_domain(rule(loss) if isinstance(loss, str) else loss)
    if domain is None:
        return X, draw(float_arrays(dtype, (batch, layers[-1]), low=-3.0, high=3.0))
    low = -3.0 if domain.low is None else domain.low
    high = 3.0 if domain.high is None else domain.high
    Y = draw(float_arrays(dtype, (batch, layers[-1]), low=low, high=1.0 if domain.simplex else high))
    if domain.simplex:
        Y[Y.sum(axis=1) == 0, 0] = 1  # a row of zeros becomes one-hot
        Y = (Y / Y.sum(axis=1, keepdims=True)).astype(dtype)
    return X, Y
