"""Element-wise rules (activations, losses, penalties): registry, proofs, kinks, numerics.

The rules under test are read from the registry (every rule of kind
activation/loss/penalty that is a :class:`symdl.rulebook.rule.Rule`), each with its
defaults and, when it has parameters, one non-default setting. Expected values
come from formulas written out in this file, from mpmath at high precision,
from finite differences of the generated forward code, or from SymPy limits —
never from the rule's own expressions alone.
"""

from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl import testing
from symdl.rulebook.definition import KINK_CONVENTIONS, Definition
from symdl.rulebook.registry import rule, rule_params, rules
from symdl.rulebook.rule import Rule, formula_rule
from symdl.symbolic.functions import sigmoid as sigmoid_fn
from symdl.symbolic.proof import breakpoints, prove_zero

ELEMENTWISE_KINDS = ("activation", "loss", "penalty")
CONVENTIONS = ("pytorch", "left", "right", "average")
RTOL = {np.float64: 1e-13, np.float32: 1e-5}  # accuracy against mpmath on [-40, 40]
FD_RTOL = 1e-6
# mpmath references cost a few ms each: fewer (but larger) examples keep the suite fast.
ACCURACY_EXAMPLES = max(8, settings.default.max_examples // 3)

SELU_LAMBDA = "1.0507009873554804934193349852946"
SELU_ALPHA = "1.6732632423543772848170429916717"

EXPECTED_KINDS = {
    **dict.fromkeys(
        ["identity", "relu", "abs", "leaky_relu", "prelu", "sigmoid", "tanh", "softplus", "hard_tanh", "elu",
         "selu", "exponential"],
        "activation",
    ),
    **dict.fromkeys(["mse", "mae", "huber", "log_cosh", "binary_cross_entropy"], "loss"),
    **dict.fromkeys(["l1", "l2"], "penalty"),
}


def _elementwise_names() -> list[str]:
    return [
        name
        for name, kind in rules().items()
        if kind in ELEMENTWISE_KINDS and isinstance(rule(name), Rule)
    ]


ELEMENTWISE = _elementwise_names()


def _variants() -> list[tuple[str, tuple[tuple[str, float], ...]]]:
    """Each rule with its defaults, and rules with parameters once more with non-default values."""
    out = []
    for name in ELEMENTWISE:
        out.append((name, ()))
        params = rule_params(name)
        if params:
            out.append((name, tuple((p.name, p.default * 2 + 0.5) for p in params)))
    return out


VARIANTS = _variants()


def _variant_id(variant) -> str:
    name, params = variant
    return name + "".join(f"[{k}={v}]" for k, v in params)


VARIANT_IDS = [_variant_id(v) for v in VARIANTS]


@functools.lru_cache(maxsize=None)
def get_rule(name: str, params: tuple = (), convention: str = "pytorch") -> Rule:
    return rule(name, kink_convention=convention, **dict(params))


@functools.lru_cache(maxsize=None)
def forward(name: str, params: tuple = ()):
    return get_rule(name, params).numeric()


@functools.lru_cache(maxsize=None)
def derivative(name: str, params: tuple = (), var: str | None = None, convention: str = "pytorch"):
    r = get_rule(name, params, convention)
    return r.numeric_derivative(var if var is not None else r.wrt.name)


def _symbol(r: Rule, var: str) -> sp.Symbol:
    return next(s for s in r.inputs if s.name == var)


@functools.lru_cache(maxsize=None)
def math_breakpoints(name: str, params: tuple, var: str) -> tuple[sp.Expr, ...]:
    """Where the value or the derivative of the mathematical function may switch branch, in ``var``."""
    r = get_rule(name, params)
    v = _symbol(r, var)
    found: set[sp.Expr] = set()
    for e in (r.bind(r.expr), r.bind(r.derivative(v))):
        found.update(breakpoints(e, v))
    if v == r.wrt:
        found.update(r.bind(k.at) for k in r.kinks)
    return tuple(found)


def _dps(*arrays) -> int:
    """mpmath digits for a faithful reference: more when inputs (or a − y) are tiny (e^x − 1, cosh x − 1 cancel)."""
    columns = [np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays]
    if len(columns) == 2:
        columns.append(columns[0] - columns[1])
    values = np.abs(np.concatenate(columns))
    values = values[values > 0]
    smallest = float(values.min()) if values.size else 1.0
    return 60 + (2 * int(math.ceil(-math.log10(smallest))) if smallest < 1 else 0)


def _others_default(r: Rule) -> dict[sp.Symbol, float]:
    """Fixed values for the inputs other than the first: a target, or prelu's α."""
    values = {}
    for s in r.inputs[1:]:
        labels = r.definition.label_values.get(s)
        values[s] = labels[-1] if labels else (0.3 if s.name == "alpha" else 0.37)
    return values


# --- independent references ----------------------------------------------------------


def _sig(t: float) -> float:
    return 1 / (1 + math.exp(-t)) if t >= 0 else math.exp(t) / (1 + math.exp(t))


def _sign(t: float) -> float:
    return float((t > 0) - (t < 0))


_L, _A = float(SELU_LAMBDA), float(SELU_ALPHA)

# name → (value, derivative by the first input), in plain Python math, with PyTorch's values at kinks.
REFERENCE = {
    "identity": (lambda z: z, lambda z: 1.0),
    "relu": (lambda z: max(0.0, z), lambda z: 1.0 if z > 0 else 0.0),
    "abs": (lambda z: abs(z), _sign),
    "leaky_relu": (lambda z, alpha=0.01: z if z > 0 else alpha * z, lambda z, alpha=0.01: 1.0 if z > 0 else alpha),
    "prelu": (lambda z, alpha: z if z > 0 else alpha * z, lambda z, alpha: 1.0 if z > 0 else alpha),
    "sigmoid": (_sig, lambda z: _sig(z) * _sig(-z)),
    "tanh": (math.tanh, lambda z: 1 / math.cosh(z) ** 2),
    "softplus": (lambda z: math.log1p(math.exp(z)), _sig),
    "hard_tanh": (lambda z: max(-1.0, min(1.0, z)), lambda z: 1.0 if abs(z) < 1 else 0.0),
    "elu": (
        lambda z, alpha=1.0: z if z > 0 else alpha * math.expm1(z),
        lambda z, alpha=1.0: 1.0 if z > 0 else alpha * math.exp(z),
    ),
    "selu": (
        lambda z: _L * (z if z > 0 else _A * math.expm1(z)),
        lambda z: _L * (1.0 if z > 0 else _A * math.exp(z)),
    ),
    "exponential": (math.exp, math.exp),
    "mse": (lambda a, y: 0.5 * (a - y) ** 2, lambda a, y: a - y),
    "mae": (lambda a, y: abs(a - y), lambda a, y: _sign(a - y)),
    "huber": (
        lambda a, y, delta=1.0: 0.5 * (a - y) ** 2 if abs(a - y) <= delta else delta * (abs(a - y) - delta / 2),
        lambda a, y, delta=1.0: max(-delta, min(delta, a - y)),
    ),
    "log_cosh": (lambda a, y: math.log(math.cosh(a - y)), lambda a, y: math.tanh(a - y)),
    "binary_cross_entropy": (
        lambda a, y: -y * math.log(_sig(a)) - (1 - y) * math.log(1 - _sig(a)),
        lambda a, y: _sig(a) - y,
    ),
    "l1": (lambda w, lam=0.01: lam * abs(w), lambda w, lam=0.01: lam * _sign(w)),
    "l2": (lambda w, lam=0.01: lam * w * w, lambda w, lam=0.01: 2 * lam * w),
}
OTHER_VALUES = {"y": [-1.3, 0.0, 0.7, 2.0], "alpha": [0.25, -0.5, 1.5]}
LABEL_VALUES = {"binary_cross_entropy": [0.0, 0.3, 1.0]}

# Kinks of the derivative by the first input, with PyTorch's value there; others fixed by _others_default.
EXPECTED_KINKS = {
    "relu": {0.0: 0.0},
    "abs": {0.0: 0.0},
    "leaky_relu": {0.0: "alpha"},
    "prelu": {0.0: 0.3},
    "hard_tanh": {-1.0: 0.0, 1.0: 0.0},
    "relu6": {0.0: 0.0, 6.0: 0.0},
    "hard_sigmoid": {-3.0: 0.0, 3.0: 0.0},
    "hard_swish": {-3.0: 0.0, 3.0: 1.0},
    "hardshrink": {-0.5: 0.0, 0.5: 0.0},
    "elu": {0.0: "alpha"},
    "selu": {0.0: _L * _A},
    "mae": {0.37: 0.0},
    "l1": {0.0: 0.0},
    "softshrink": {-0.5: 0.0, 0.5: 0.0},
    "threshold": {0.0: 0.0},
    "rrelu": {0.0: lambda p: (p.get("lower", 0.125) + p.get("upper", 0.3333333333333333)) / 2},  # PyTorch's inference slope
}
SMOOTH = ["identity", "sigmoid", "tanh", "softplus", "exponential", "mse", "huber", "log_cosh",
          "binary_cross_entropy", "l2", "gelu", "silu", "swish", "softsign", "log_sigmoid", "mish", "celu",
          "gelu_tanh", "tanhshrink", "squareplus", "sparse_plus"]


# --- the registry ----------------------------------------------------------------------


def test_registry_has_every_expected_rule_with_its_kind():
    registry = rules()
    for name, kind in EXPECTED_KINDS.items():
        assert name in registry, f"missing rule {name}"
        assert registry[name] == kind, f"{name}: kind {registry[name]}, expected {kind}"
    assert set(EXPECTED_KINDS) <= set(ELEMENTWISE)
    assert set(REFERENCE) == set(EXPECTED_KINDS)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_rule_object_reports_its_name_and_kind(name):
    r = get_rule(name)
    assert r.name == name
    assert r.kind == rules()[name]
    assert r.kink_convention == "pytorch"
    assert len(r.inputs) >= 1 and r.wrt == r.inputs[0]


@pytest.mark.parametrize("bad", ["softmaxx", "ReLU", "", "relu ", None, 3])
def test_unknown_rule_name_lists_known_names(bad):
    with pytest.raises(ValueError) as info:
        rule(bad)
    message = str(info.value)
    assert repr(bad) in message or str(bad) in message
    for known in ("relu", "sigmoid", "huber", "l2"):
        assert known in message


def test_unknown_parameter_names_the_accepted_ones():
    with pytest.raises(ValueError, match=r"'beta'.*alpha"):
        rule("leaky_relu", beta=0.1)
    with pytest.raises(ValueError, match=r"'alpha'.*none"):
        rule("relu", alpha=0.1)
    with pytest.raises(ValueError, match=r"'lambda'.*lam"):
        rule("l2", **{"lambda": 0.1})


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if rule_params(n)])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), "0.1", True, False, None, 1j, [0.1]])
def test_bad_parameter_values_are_refused(name, bad):
    param = rule_params(name)[0].name
    with pytest.raises(ValueError, match=param):
        rule(name, **{param: bad})


@pytest.mark.parametrize("delta", [0, 0.0, -0.0, -1.0, -1e-300])
def test_huber_delta_must_be_positive(delta):
    with pytest.raises(ValueError, match="delta"):
        rule("huber", delta=delta)


def test_integer_parameter_values_are_exact():
    assert float(forward("elu", (("alpha", 2),))(-1.0)) == pytest.approx(2 * math.expm1(-1), rel=1e-15)
    assert get_rule("leaky_relu", (("alpha", 0.1),)).params["alpha"] == sp.Rational(1, 10)


@pytest.mark.parametrize("bad", ["pytroch", "mean", "", None])
def test_unknown_kink_convention_is_refused(bad):
    with pytest.raises(ValueError, match="pytorch"):
        rule("relu", kink_convention=bad)


def test_kink_conventions_offered():
    assert set(CONVENTIONS) <= set(KINK_CONVENTIONS)


# --- proofs ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_identity_is_proven(name):
    r = get_rule(name)
    proofs = r.prove()
    assert "derivative - textbook" in proofs
    failed = {label: p.method for label, p in proofs.items() if not p}
    assert not failed


def test_a_wrong_textbook_derivative_is_not_proven():
    z = sp.Symbol("z", real=True)
    g = sp.Symbol("g", real=True)
    wrong = Rule("bad", "activation", Definition(sigmoid_fn(z), (z,), textbook=g, output=g), {}, {}, "pytorch", "x")
    assert not wrong.prove()["derivative - textbook"]


# --- agreement with independent formulas ------------------------------------------------


def _reference_points(name: str, r: Rule):
    first = np.linspace(-5, 5, 41)  # includes 0 and ±1 (kinks)
    if len(r.inputs) == 1:
        return [(float(v),) for v in first]
    others = LABEL_VALUES.get(name) or OTHER_VALUES[r.inputs[1].name]
    return [(float(v), o) for v in first for o in others]


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v[0] in REFERENCE], ids=_variant_id)
def test_matches_hand_written_formula(variant):
    name, params = variant
    value_of, derivative_of = REFERENCE[name]
    r = get_rule(name, params)
    kwargs = dict(params)
    points = _reference_points(name, r)
    columns = [np.array(c) for c in zip(*points)]
    got = forward(name, params)(*columns) if not r.definition.reduce_sum else None
    got_d = derivative(name, params)(*columns)
    for i, p in enumerate(points):
        expected = value_of(*p, **kwargs)
        if got is not None:
            assert got[i] == pytest.approx(expected, rel=1e-12, abs=1e-300), (name, p)
        else:
            assert forward(name, params)(*p) == pytest.approx(expected, rel=1e-12, abs=1e-300), (name, p)
        assert got_d[i] == pytest.approx(derivative_of(*p, **kwargs), rel=1e-12, abs=1e-300), (name, p)


def test_prelu_derivative_by_alpha_is_min_zero_z():
    z = np.linspace(-5, 5, 41)
    for alpha in (0.25, -0.5):
        got = derivative("prelu", (), "alpha")(z, alpha)
        np.testing.assert_array_equal(got, np.minimum(0.0, z))


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if rules()[n] == "penalty" and n in REFERENCE])
def test_penalty_is_the_sum_over_all_weights(name):
    value_of, derivative_of = REFERENCE[name]
    w = np.array([[-1.5, 0.0, 0.25], [3.0, -0.125, 2.0]])
    for params in ((), (("lam", 0.7),)):
        total = forward(name, params)(w)
        assert np.ndim(total) == 0
        assert float(total) == pytest.approx(sum(value_of(float(v), **dict(params)) for v in w.ravel()), rel=1e-14)
        grad = derivative(name, params)(w)
        assert grad.shape == w.shape
        np.testing.assert_allclose(grad, [[derivative_of(float(v), **dict(params)) for v in row] for row in w])


# --- kinks -------------------------------------------------------------------------------


def _kink_locations(r: Rule) -> dict[float, object]:
    others = _others_default(r)
    return {float(r.bind(k.at).subs(others)): k for k in r.kinks}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_kinks_are_where_the_derivative_jumps(name):
    r = get_rule(name)
    found = sorted(_kink_locations(r))
    if name == "elu" and r.params["alpha"] == 1:
        assert found == []  # α·e^0 = 1 from the left: elu with α = 1 is smooth at 0
        assert sorted(_kink_locations(rule("elu", alpha=0.5))) == [0.0]
    elif name in EXPECTED_KINKS:
        assert found == sorted(EXPECTED_KINKS[name])
    elif name in SMOOTH:
        assert found == []
    else:
        pytest.fail(f"rule {name!r} is in neither EXPECTED_KINKS nor SMOOTH")


def _pytorch_value(name: str, params: tuple, expected):
    if callable(expected):
        return expected(dict(params))
    return dict(params).get("alpha", 1.0 if name == "elu" else 0.01) if expected == "alpha" else expected


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v[0] in EXPECTED_KINKS], ids=_variant_id)
def test_pytorch_values_at_kinks(variant):
    name, params = variant
    r = get_rule(name, params)
    others = _others_default(r)
    other_args = [np.float64(others[s]) for s in r.inputs[1:]]
    for at, expected in EXPECTED_KINKS[name].items():
        value = _pytorch_value(name, params, expected)
        got = derivative(name, params)(np.float64(at), *other_args)
        assert got == pytest.approx(value, rel=1e-15, abs=0), (name, at)
        symbolic = r.bind(r.derivative()).subs({r.wrt: sp.Float(at), **others})
        assert float(symbolic) == pytest.approx(value, rel=1e-15, abs=0)


def _one_sided_fd(name: str, params: tuple, at: float, other_args: list) -> tuple[float, float]:
    f = forward(name, params)
    h = 1e-7 * max(1.0, abs(at))
    # Both points on one side: a value that jumps at the kink (threshold with v ≠ θ) does not enter the difference.
    left = (float(f(np.float64(at - h), *other_args)) - float(f(np.float64(at - 2 * h), *other_args))) / h
    right = (float(f(np.float64(at + 2 * h), *other_args)) - float(f(np.float64(at + h), *other_args))) / h
    return left, right


KINKED_VARIANTS = [v for v in VARIANTS if get_rule(*v).kinks]


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("variant", KINKED_VARIANTS, ids=_variant_id)
def test_kink_convention_value_is_returned_by_the_generated_derivative(variant, convention):
    name, params = variant
    r = get_rule(name, params, convention)
    others = _others_default(r)
    other_args = [np.float64(others[s]) for s in r.inputs[1:]]
    for at, kink in _kink_locations(r).items():
        left, right = _one_sided_fd(name, params, at, other_args)
        # The rule's own one-sided derivatives agree with one-sided finite differences.
        subs = {**r.param_subs, **others}
        assert float(sp.sympify(kink.left).subs(subs)) == pytest.approx(left, rel=1e-5, abs=1e-6)
        assert float(sp.sympify(kink.right).subs(subs)) == pytest.approx(right, rel=1e-5, abs=1e-6)
        if convention == "left":
            expected = left
        elif convention == "right":
            expected = right
        elif convention == "average":
            expected = (left + right) / 2
        elif name in EXPECTED_KINKS and at in EXPECTED_KINKS[name]:
            expected = _pytorch_value(name, params, EXPECTED_KINKS[name][at])
        else:
            expected = float(sp.sympify(kink.value).subs(subs))
        got = float(derivative(name, params, None, convention)(np.float64(at), *other_args))
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-6), (name, convention, at)
        symbolic = float(r.bind(r.derivative()).subs({r.wrt: sp.Float(at), **others}))
        assert symbolic == pytest.approx(expected, rel=1e-5, abs=1e-6)
        # Every convention gives a subgradient: between the one-sided derivatives.
        tol = 1e-6 * max(1.0, abs(left), abs(right))
        assert min(left, right) - tol <= got <= max(left, right) + tol
        assert kink.is_subgradient(subs)


@pytest.mark.parametrize(("name", "params"), [("leaky_relu", {}), ("leaky_relu", {"alpha": 0.2}), ("elu", {"alpha": 0.5}), ("rrelu", {})])
def test_a_kink_value_the_derivative_already_returns_gets_no_branch_of_its_own(name, params):
    """leaky_relu'(0) = α is the z ≤ 0 branch's own value: the derivative stays symbolic in α, no Eq(z, 0) branch
    holding α's bound number; a convention that differs there (right: 1) still gets its branch."""
    r = rule(name, **params)
    assert r.kinks
    assert not r.derivative().atoms(sp.Eq), r.derivative()
    assert not r.bind(r.derivative()).atoms(sp.Eq)
    assert rule(name, **params, kink_convention="right").derivative().atoms(sp.Eq)


@pytest.mark.parametrize("variant", KINKED_VARIANTS, ids=_variant_id)
def test_conventions_agree_away_from_kinks(variant):
    name, params = variant
    r = get_rule(name, params)
    others = _others_default(r)
    other_args = [np.float64(others[s]) for s in r.inputs[1:]]
    kinks = list(_kink_locations(r))
    z = np.array([v for v in np.linspace(-3.1, 3.1, 63) if all(abs(v - k) > 1e-9 for k in kinks)])
    base = derivative(name, params)(z, *other_args)
    for convention in CONVENTIONS[1:]:
        np.testing.assert_array_equal(derivative(name, params, None, convention)(z, *other_args), base)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_convention_values_for_relu_family(convention):
    """The table of docs/rules.md, by hand: (left, right) slopes at the kink of each rule."""
    table = {"relu": (0.0, 1.0, 0.0), "abs": (-1.0, 1.0, 0.0), "leaky_relu": (0.01, 1.0, 0.01)}
    for name, (left, right, torch_value) in table.items():
        expected = {"left": left, "right": right, "average": (left + right) / 2, "pytorch": torch_value}[convention]
        got = derivative(name, (), None, convention)(np.array([0.0, -0.0]))
        np.testing.assert_allclose(got, expected, rtol=1e-15)
    hard = derivative("hard_tanh", (), None, convention)(np.array([-1.0, 1.0]))
    expected = {"left": [0.0, 1.0], "right": [1.0, 0.0], "average": [0.5, 0.5], "pytorch": [0.0, 0.0]}[convention]
    np.testing.assert_array_equal(hard, expected)


# --- finite differences (hypothesis) ---------------------------------------------------------

DERIVATIVE_CASES = [
    (name, params, s.name) for name, params in VARIANTS for s in get_rule(name, params).inputs
]
BATCH = 2  # points per hypothesis example (the kernels are element-wise; each drawn float costs ~0.5 ms)


def _column(data, r: Rule, s: sp.Symbol, low: float, high: float, width: int = 64, labels: bool = False,
            size: int = BATCH):
    """``size`` values for input ``s``: its label values, its declared range, or [low, high]."""
    if labels and s in r.definition.label_values:
        element = st.sampled_from(list(r.definition.label_values[s]))
    else:
        lo, hi = r.definition.input_ranges.get(s, (low, high))
        element = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=width)
    return data.draw(st.lists(element, min_size=size, max_size=size), label=s.name)


def _intervals_between(points: list[float], lo: float, hi: float) -> list[tuple[float, float]]:
    """Sub-intervals of [lo, hi] at least 1e-3·max(1, |p|) away from every breakpoint p."""
    intervals = []
    start = lo
    for p in sorted(points):
        if not lo <= p <= hi:
            continue
        margin = 1e-3 * max(1.0, abs(p))
        if p - margin > start:
            intervals.append((start, p - margin))
        start = max(start, p + margin)
    if hi > start:
        intervals.append((start, hi))
    return intervals


# Draw a point away from the breakpoints directly: an interval index, then a position inside it.
_POSITION = st.tuples(st.integers(0, 10**6), st.floats(0, 1, allow_nan=False, allow_infinity=False))


def _place(position: tuple[int, float], intervals: list[tuple[float, float]]) -> float:
    index, fraction = position
    a, b = intervals[index % len(intervals)]
    return min(b, max(a, a + fraction * (b - a)))


@functools.lru_cache(maxsize=None)
def _breakpoint_functions(name: str, params: tuple, var: str):
    r = get_rule(name, params)
    others = [s for s in r.inputs if s.name != var]
    return [sp.lambdify(others, p, modules="math") for p in math_breakpoints(name, params, var)]


@pytest.mark.parametrize(("name", "params", "var"), DERIVATIVE_CASES,
                         ids=[f"{_variant_id((n, p))}-d{v}" for n, p, v in DERIVATIVE_CASES])
@given(data=st.data())
def test_derivative_matches_central_difference(name, params, var, data):
    r = get_rule(name, params)
    v = _symbol(r, var)
    others = [s for s in r.inputs if s != v]
    columns = {s: _column(data, r, s, -40.0, 40.0) for s in others}
    positions = data.draw(st.lists(_POSITION, min_size=BATCH, max_size=BATCH), label=var)
    lo, hi = r.definition.input_ranges.get(v, (-40.0, 40.0))
    points = []
    for i in range(BATCH):
        at = [float(f(*[columns[s][i] for s in others])) for f in _breakpoint_functions(name, params, var)]
        points.append(_place(positions[i], _intervals_between(at, lo, hi)))
    columns[v] = points
    args = [np.array(columns[s], dtype=np.float64) for s in r.inputs]
    index = r.inputs.index(v)
    if r.definition.reduce_sum:  # the forward pass is a sum: difference it one element at a time
        fd = np.array([testing.central_difference(forward(name, params), [a[i] for a in args], index)
                       for i in range(BATCH)])
    else:
        fd = testing.central_difference(forward(name, params), args, index)
    exact = derivative(name, params, var)(*args)
    err = np.abs(fd - exact) / np.maximum(1.0, np.abs(exact))
    assert np.all(err <= FD_RTOL), (args, fd, exact)


def test_placed_points_keep_their_distance_from_breakpoints():
    intervals = _intervals_between([-1.0, 0.0, 1.0, 50.0], -40.0, 40.0)
    assert len(intervals) == 4

    @given(position=_POSITION)
    def check(position):
        x = _place(position, intervals)
        assert -40 <= x <= 40
        assert min(abs(x - p) for p in (-1.0, 0.0, 1.0)) >= 1e-3 * 0.999

    check()


# --- accuracy against mpmath (hypothesis) --------------------------------------------------------


# Rules judged as symdl verify judges them, forgiving what 8 ulps of input rounding explain: gelu_tanh's
# z·σ(2u) at z = −20 is e^{2u} with |2u| ≈ 630, whose few ulps of rounding (absolute 1e-13) no float code
# avoids; there |z·g'/g| ≈ 1900.
ILL_CONDITIONED = {"gelu_tanh"}


def _check_accuracy(r: Rule, name: str, params: tuple, args: list[np.ndarray]) -> None:
    """Forward and derivatives (by the first input and any input with a textbook derivative) vs mpmath.

    ``args`` hold float64 and float32 points side by side (float32 values are exact in float64): one
    50+-digit reference serves both, each dtype is judged against its own tolerance.
    """
    dps = _dps(*args)
    checks = [(forward(name, params), r.reference_exprs()[0], True)]
    for s in (r.wrt, *r.definition.other_textbooks):
        checks.append((derivative(name, params, s.name), r.reference_exprs(s)[1], False))
    for kernel, expr, is_forward in checks:
        reference = testing.mpmath_reference(expr, r.inputs, args, dps=dps)
        for dtype in (np.float64, np.float32):
            cast = [a.astype(dtype) for a in args]
            keep = np.all([c.astype(np.float64) == a for c, a in zip(cast, args)], axis=0)
            if not keep.any():
                continue
            cast = [c[keep] for c in cast]
            expected = reference[keep]
            if is_forward and r.definition.reduce_sum:
                got = np.array([kernel(*[c[i] for c in cast]) for i in range(len(expected))])
            else:
                got = kernel(*cast)
            assert got.dtype == dtype
            sensitivity = testing.input_sensitivity(kernel, cast) if name in ILL_CONDITIONED else None
            err = testing.relative_error(got, expected, sensitivity)
            worst = int(np.argmax(err))
            assert float(err[worst]) <= RTOL[dtype], (
                kernel.name, np.dtype(dtype).name, [float(c[worst]) for c in cast], float(got[worst]),
                float(expected[worst]),
            )


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
@settings(max_examples=ACCURACY_EXAMPLES)
@given(data=st.data())
def test_accurate_against_mpmath(variant, data):
    """f64 within 1e-13 and f32 within 1e-5 of the exact value, on [-40, 40] (targets: label values)."""
    name, params = variant
    r = get_rule(name, params)
    f64 = [_column(data, r, s, -40.0, 40.0, width=64, labels=True, size=4) for s in r.inputs]
    f32 = [_column(data, r, s, -40.0, 40.0, width=32, labels=True, size=4) for s in r.inputs]
    args = [np.array(a + b, dtype=np.float64) for a, b in zip(f64, f32)]
    _check_accuracy(r, name, params, args)


HARD = [0.0, 5e-324, 1e-300, 1e-30, 1e-10, 1e-3, 0.5, 1.0, 19.99, 20.01, 37.0, 40.0]


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
def test_accurate_at_hard_points(variant):
    """Tiny, kink, branch-switch and large inputs, both signs, against mpmath (f64, and f32 where exact)."""
    name, params = variant
    r = get_rule(name, params)
    first = np.array(sorted({s * v for v in HARD for s in (1, -1)} | {float(np.float32(0.1))}))
    if len(r.inputs) == 1:
        args = [first]
    else:
        other = r.inputs[1]
        choices = r.definition.label_values.get(other) or ([0.0, 0.375, -2.5] if other.name != "alpha" else [0.25, -1.5])
        args = [g.ravel() for g in np.meshgrid(first, np.array(choices), indexing="ij")]
    _check_accuracy(r, name, params, args)


# --- stability ---------------------------------------------------------------------------------


def _upper_limit(r: Rule, dtype) -> float:
    """1000, or the largest float of ``dtype`` below log(max float) for rules growing like e^z."""
    if not r.definition.exp_growth:
        return 1000.0
    limit = math.log(float(np.finfo(dtype).max)) / r.definition.exp_growth
    top = dtype(limit)
    while float(top) > limit:
        top = np.nextafter(top, dtype(0))
    return float(top)


def test_exponential_declares_its_growth():
    assert get_rule("exponential").definition.exp_growth == 1.0
    assert 88.7 < _upper_limit(get_rule("exponential"), np.float32) < 88.73
    assert 709.7 < _upper_limit(get_rule("exponential"), np.float64) < 709.79


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
@given(data=st.data())
def test_finite_and_warning_free_up_to_1000(variant, data):
    name, params = variant
    r = get_rule(name, params)
    kernels = [forward(name, params)] + [derivative(name, params, s.name) for s in r.inputs]
    for dtype, width in ((np.float64, 64), (np.float32, 32)):
        high = _upper_limit(r, dtype)
        columns = [_column(data, r, s, -1000.0, high if s == r.wrt else 1000.0, width=width) for s in r.inputs]
        args = [np.array(c, dtype=dtype) for c in columns]
        for k in kernels:
            out = k(*args)  # conftest: overflow/invalid/divide raise FloatingPointError
            assert np.all(np.isfinite(out)), (k.name, args, out)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
def test_stable_on_the_stability_grid(variant, dtype):
    name, params = variant
    r = get_rule(name, params)
    grids = []
    for s in r.inputs:
        lo, hi = r.definition.input_ranges.get(s, (-1000.0, _upper_limit(r, dtype) if s == r.wrt else 1000.0))
        grids.append(testing.stability_grid(np.dtype(dtype), lo, hi))
    for k in [forward(name, params)] + [derivative(name, params, s.name) for s in r.inputs]:
        count, first = testing.unstable_points(k, grids)
        assert count == 0, f"{k.name}: {first}"


NAIVE = {
    # the seeds' / textbook forms, straight into numpy
    "softplus": (lambda z: np.log(np.exp(z) + 1), lambda z: np.exp(z) / (np.exp(z) + 1)),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (
        lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)),
        lambda z: 4 / (np.exp(z) + np.exp(-z)) ** 2,
    ),
}
LIMITS = {  # (value, derivative) at -1000 and at +1000
    "softplus": ((0.0, 0.0), (1000.0, 1.0)),
    "sigmoid": ((0.0, 0.0), (1.0, 0.0)),
    "tanh": ((-1.0, 0.0), (1.0, 0.0)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(NAIVE))
def test_stable_where_the_naive_formula_overflows(name, dtype):
    z = np.array([-1000.0, 1000.0], dtype=dtype)
    naive_value, naive_derivative = NAIVE[name]
    for naive in (naive_value, naive_derivative):
        with pytest.raises(FloatingPointError, match="overflow"):
            naive(z)  # conftest turns numpy's overflow warning into this error
    value = forward(name)(z)
    slope = derivative(name)(z)
    for i in range(2):
        assert value[i] == pytest.approx(LIMITS[name][i][0], abs=1e-30)
        assert slope[i] == pytest.approx(LIMITS[name][i][1], abs=1e-30)


# --- particular rules ------------------------------------------------------------------------


def test_prelu_is_differentiated_by_alpha_too():
    r = get_rule("prelu")
    assert [s.name for s in r.inputs] == ["z", "alpha"]
    assert r.definition.other_textbooks, "prelu should state dg/dalpha"
    assert ("prelu", (), "alpha") in DERIVATIVE_CASES


def _scaled_huber(expr, a, y, delta, u):
    """expr at a = y + δu, conditions divided by δ > 0 (so they are in u alone and SymPy can take limits)."""
    e = expr.subs(a, y + delta * u)
    return e.replace(
        lambda n: isinstance(n, sp.core.relational.Relational),
        lambda rel: rel.func(sp.cancel(rel.lhs / delta), sp.cancel(rel.rhs / delta)),
    )


def test_huber_value_and_slope_are_continuous_at_plus_minus_delta():
    r = get_rule("huber")
    a, y = r.inputs
    delta = r.param_symbols["delta"]
    assert delta.is_positive
    u = sp.Symbol("u", real=True)
    value = _scaled_huber(r.expr, a, y, delta, u)
    slope = _scaled_huber(sp.diff(r.expr, a), a, y, delta, u)
    assert not value.has(a) and not slope.has(a)
    for side, expected_value, expected_slope in ((1, delta**2 / 2, delta), (-1, delta**2 / 2, -delta)):
        for expr, expected in ((value, expected_value), (slope, expected_slope)):
            below = sp.limit(expr, u, side, dir="-")
            above = sp.limit(expr, u, side, dir="+")
            assert sp.simplify(below - above) == 0, (expr, side)
            assert sp.simplify(below - expected) == 0, (expr, side, below)


def test_selu_constants_to_full_precision():
    r = get_rule("selu")
    z = r.wrt
    with mpmath.workdps(40):
        lam, alpha = mpmath.mpf(SELU_LAMBDA), mpmath.mpf(SELU_ALPHA)
        at_one = mpmath.mpf(str(sp.N(r.bind(r.expr).subs(z, 1), 35)))
        assert abs(at_one - lam) <= mpmath.mpf("1e-29") * lam
        far_left = mpmath.mpf(str(sp.N(r.bind(r.expr).subs(z, -200), 35)))  # −λα(1 − e^{−200})
        assert abs(far_left + lam * alpha * (1 - mpmath.exp(-200))) <= mpmath.mpf("1e-29") * lam * alpha
        slope_at_zero = mpmath.mpf(str(sp.N(r.bind(r.derivative()).subs(z, 0), 35)))
        assert abs(slope_at_zero - lam * alpha) <= mpmath.mpf("1e-15") * lam * alpha
    assert float(forward("selu")(1.0)) == float(SELU_LAMBDA)
    assert float(forward("selu")(-40.0)) == pytest.approx(-float(mpmath.mpf(SELU_LAMBDA) * mpmath.mpf(SELU_ALPHA)),
                                                          rel=2e-16)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_binary_cross_entropy_with_hard_labels(dtype):
    a = np.array([-30.0, -29.5, -1e-3, 15.0, 30.0, 30.25], dtype=dtype)
    for label in (0.0, 1.0):
        y = np.full_like(a, label)
        value = forward("binary_cross_entropy")(a, y)
        slope = derivative("binary_cross_entropy")(a, y)
        for i, ai in enumerate(a):
            with mpmath.workdps(50):
                s = 1 / (1 + mpmath.exp(-mpmath.mpf(float(ai))))
                expected = -label * mpmath.log(s) - (1 - label) * mpmath.log(1 - s)
                expected_slope = s - label
                assert abs(float(value[i]) - expected) <= RTOL[dtype] * abs(expected), (ai, label)
                assert abs(float(slope[i]) - expected_slope) <= RTOL[dtype] * abs(expected_slope), (ai, label)


# --- formula rules -------------------------------------------------------------------------------


def test_keras_softplus_formula_differentiates_to_sigmoid():
    r = formula_rule("log(exp(z) + 1)")
    z = r.wrt
    assert z.name == "z"
    assert prove_zero(r.derivative() - sigmoid_fn(z), z)
    assert not prove_zero(r.derivative() - sigmoid_fn(-z), z)
    values = np.linspace(-20, 20, 81)
    np.testing.assert_allclose(r.numeric()(values), np.logaddexp(0, values), rtol=1e-13)
    np.testing.assert_allclose(r.numeric_derivative()(values), forward("sigmoid")(values), rtol=1e-13)


KERAS_HUBER = "where(abs(e) < d, e**2/2, d*abs(e) - d**2/2)"


@functools.lru_cache(maxsize=None)
def keras_huber() -> Rule:
    return formula_rule(KERAS_HUBER, wrt="e", params={"d": 1.5})


def test_huber_formula_parses_with_wrt_e_and_is_the_library_huber():
    r = keras_huber()
    e = r.wrt
    assert e.name == "e" and r.inputs == (e,)
    delta = sp.Symbol("delta", positive=True)
    huber = get_rule("huber")
    a, y = huber.inputs
    library = huber.expr.subs({a: e, y: 0}).subs(huber.param_symbols["delta"], delta)
    assert prove_zero(r.expr.subs(r.param_symbols["d"], delta) - library, e)
    values = np.array([-3.0, -1.5, -0.7, 0.0, 0.7, 1.5, 3.0])
    np.testing.assert_allclose(r.numeric()(values), forward("huber", (("delta", 1.5),))(values, 0.0), rtol=1e-15)


def test_huber_formula_derivative_is_clip():
    r = keras_huber()
    e = r.wrt
    delta = sp.Symbol("delta", positive=True)
    # d/de is clip(e, −δ, δ) for every δ > 0, and it has no kink (the first derivative is continuous).
    assert prove_zero(r.derivative().subs(r.param_symbols["d"], delta) - sp.Max(-delta, sp.Min(delta, e)), e)
    assert r.kinks == ()


def test_huber_formula_numeric_derivative():
    values = np.array([-3.0, -1.5, -0.7, 0.0, 0.7, 1.5, 3.0])
    got = keras_huber().numeric_derivative()(values)
    np.testing.assert_allclose(got, np.clip(values, -1.5, 1.5), rtol=1e-15)


# --- review findings ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "scalar"), [("huber", 0.0), ("mse", 1), ("prelu", 0.25)])
def test_python_scalars_do_not_upcast_float32(name, scalar):
    r = rule(name)
    a = np.linspace(-2, 2, 5, dtype=np.float32)
    for kernel in (r.numeric(), r.numeric_derivative()):
        assert kernel(a, scalar).dtype == np.float32


def test_verify_rule_accepts_a_formula_rule_and_flags_the_naive_softplus_as_typed():
    from symdl.verify import verify_rule
    from symdl.verify.rules import typed_form_instability

    typed = symdl.formula_rule("log(exp(z) + 1)")
    naive = verify_rule(typed, points=20)
    assert naive.fd_error < 1e-6 and naive.accuracy64 < 1e-13
    assert naive.passed and not naive.unstable  # the code prints the rewrite pass's softplus(z)
    assert any("overflow" in p for p in typed_form_instability(typed))  # e^z overflows at z = 1000 as typed
    assert typed_form_instability(symdl.formula_rule("z**2")) == []
    assert verify_rule(symdl.formula_rule("softplus(z)"), points=20).passed


def test_vector_rules_refuse_other_kink_conventions():
    with pytest.raises(ValueError, match="first arg-max"):
        rule("maxout", kink_convention="left")


def test_formula_max_takes_a_one_sided_value_at_its_kink():
    d = symdl.formula_rule("relu(z)").numeric_derivative()(np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(d, [0.0, 0.0, 1.0])
    assert [k.value for k in symdl.formula_rule("min(1, max(-1, z))").kinks] == [0, 0]


def _one_sided_slopes(f, at: sp.Expr) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(f(p) − f(p − h))/h and (f(p + h) − f(p))/h at h = 10⁻³⁰, 60 digits: the one-sided derivatives of the value."""
    with mpmath.workdps(60):
        p, h = mpmath.mpf(sp.N(at, 70)), mpmath.mpf(10) ** -30
        return (f(p) - f(p - h)) / h, (f(p + h) - f(p)) / h


def test_the_kinks_of_a_min_of_abs_and_a_square_are_the_exact_one_sided_derivatives():
    # |z − 1| = z² at z = (−1 ± √5)/2, and |z − 1| kinks at 1; the value's one-sided slopes computed by hand
    r = symdl.formula_rule("min(abs(z-1), z**2)")
    kinks = {k.at: k for k in r.kinks}
    golden = (sp.sqrt(5) - 1) / 2
    assert set(kinks) == {1, golden, -golden - 1}
    for kink in kinks.values():
        left, right = _one_sided_slopes(lambda z: min(abs(z - 1), z**2), kink.at)
        assert abs(left - sp.N(kink.left, 40)) < 1e-25 and abs(right - sp.N(kink.right, 40)) < 1e-25, kink
        assert kink.value in (kink.left, kink.right) or kink.value == 0
    # at 1, PyTorch's value: torch.abs' slope at 0 is 0 (as for abs(z − 1) alone), not the right side's 1
    assert kinks[1].value == 0 == symdl.formula_rule("abs(z-1)").kinks[0].value
    assert r.numeric_derivative()(np.array([1.0]))[0] == 0.0
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(torch.minimum(torch.abs(t - 1), t**2).sum(), t)
    assert grad.item() == 0.0
    assert symdl.formula_rule("min(abs(z-1), 5)").kinks[1].value == 0  # the same |z − 1| beside a constant


def test_periodic_formula_still_differentiates():
    r = symdl.formula_rule("abs(sin(z))")
    z = r.wrt
    assert sp.simplify(r.derivative() - sp.cos(z) * sp.sign(sp.sin(z))) == 0
    assert r.kinks == ()
