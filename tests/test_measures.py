"""symdl.verify.measures on its own: the finite-difference error and the kink check, on correct and broken rules."""

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

import symdl
from symdl.rulebook.rule import Rule
from symdl.symbolic.proof import breakpoints
from symdl.verify.measures import FD_TOLERANCE, _points, check_kinks, fd_error


def with_kinks(r: Rule, kinks: dict) -> Rule:
    """``r`` whose declared value at each kink (and so its generated derivative there) is ``kinks``'."""
    return Rule(r.name, r.kind, replace(r.definition, pytorch_kinks=kinks), r.param_symbols, r.params, "pytorch", r.summary)


class DerivativeOf(Rule):
    """A rule that declares one kink value but whose generated derivative is another rule's (a printing mistake)."""

    def __init__(self, declared: Rule, printed: Rule):
        super().__init__(declared.name, declared.kind, declared.definition, declared.param_symbols, declared.params,
                         "pytorch", declared.summary)
        self._printed = printed

    def numeric_derivative(self, wrt=None):
        return self._printed.numeric_derivative(wrt)


@pytest.mark.parametrize("name", ["relu", "hard_tanh", "prelu", "mae", "sigmoid", "mse", "exponential"])
def test_correct_rules_pass_both_measures(name):
    r = symdl.rule(name)
    assert check_kinks(r)
    assert 0 <= fd_error(r) < FD_TOLERANCE


@pytest.mark.parametrize("name, at, value", [("relu", 0, 2), ("mae", "y", 3)])
def test_a_kink_value_outside_the_one_sided_derivatives_fails(name, at, value):
    r = symdl.rule(name)
    assert not check_kinks(with_kinks(r, {sp.sympify(at, locals={s.name: s for s in r.inputs}): sp.Integer(value)}))


@pytest.mark.parametrize("name, declared, printed", [("relu", 0, 1), ("mae", 1, -1), ("prelu", 1, "alpha")])
def test_generated_code_that_returns_another_subgradient_than_declared_fails(name, declared, printed):
    r = symdl.rule(name)
    names = {s.name: s for s in (*r.inputs, *r.param_symbols)}
    at = next(iter(r.definition.pytorch_kinks))
    declared_rule = with_kinks(r, {at: sp.sympify(declared, locals=names)})
    printed_rule = with_kinks(r, {at: sp.sympify(printed, locals=names)})
    assert check_kinks(declared_rule) and check_kinks(printed_rule)
    assert not check_kinks(DerivativeOf(declared_rule, printed_rule))


@pytest.mark.parametrize("text", ["min(abs(z-1), z**2)", "max(abs(z-1), z**2)", "max(z**2, 2)"])
def test_a_kink_no_float_hits_is_checked_by_the_one_sided_values_beside_it(text):
    # (−1 ± √5)/2, ±√2: the float nearest lies on one side, where the code returns that side's derivative
    r = symdl.formula_rule(text)
    assert any(not k.at.is_Rational for k in r.kinks)
    assert check_kinks(r)
    swapped = symdl.formula_rule(text.replace("max", "MIN").replace("min", "max").replace("MIN", "min"))
    assert not check_kinks(DerivativeOf(r, swapped))


def test_a_wrong_derivative_has_a_large_finite_difference_error():
    r = symdl.rule("mae")  # d/da |a − y| = sign(a − y); printed for the wrong input: sign(y − a)
    wrong = DerivativeOf(r, r)
    wrong.numeric_derivative = lambda wrt=None: r.numeric_derivative("y")
    assert fd_error(wrong) > 0.5
    assert fd_error(r) < FD_TOLERANCE


@pytest.mark.parametrize("name", ["relu", "hard_tanh", "mae", "huber"])
def test_sample_points_keep_away_from_every_breakpoint_and_half_crowd_them(name):
    r = symdl.rule(name)
    values = _points(r, r.wrt, 400, np.random.default_rng(1))
    x = values[r.inputs.index(r.wrt)]
    assert x.shape == (400,) and all(v.shape == (400,) for v in values)
    found = breakpoints(r.bind(r.expr), r.wrt) + breakpoints(r.bind(r.derivative(r.wrt)), r.wrt)
    edges = [np.broadcast_to(sp.lambdify(r.inputs, p, "numpy")(*values), x.shape) for p in found]
    distance = np.min([np.abs(x - p) / np.maximum(1.0, np.abs(p)) for p in edges], axis=0)
    assert np.all(distance >= 1e-3 * (1 - 1e-12))
    assert 0.4 < np.mean(distance <= 1.0) < 0.9  # half drawn within max(1, |p|) of one; uniform on ±40 seldom is


def test_the_measures_are_seeded():
    r = symdl.rule("huber")
    assert fd_error(r, seed=3) == fd_error(r, seed=3)
    a, b = _points(r, r.wrt, 50, np.random.default_rng(3)), _points(r, r.wrt, 50, np.random.default_rng(4))
    assert not np.array_equal(a[0], b[0])


def test_overflow_is_measured_not_warned_about():
    # exp(exp(z)) overflows for z > 6.5 on both sides: those points agree (0 error), and no RuntimeWarning is
    # raised (warnings are errors in the suite); the finite points measure a finite error.
    r = symdl.formula_rule("exp(exp(z))")
    assert np.isfinite(fd_error(r)) and fd_error(r) < 0.5


def test_the_finite_difference_is_taken_in_the_variable_measured():
    # The second input's derivative against differences in the second input (verify measures every input).
    from symdl.verify.measures import _fd_error

    r = symdl.rule("huber")
    var = r.inputs[1]
    values = _points(r, var, 200, np.random.default_rng(0))
    forward = r.numeric()
    assert _fd_error(r, var, forward, r.numeric_derivative(var), values) < FD_TOLERANCE
    assert _fd_error(r, var, forward, r.numeric_derivative(r.inputs[0]), values) > 0.5


def test_a_point_too_close_to_a_breakpoint_moves_to_the_margin_on_its_own_side():
    from symdl.verify.measures import _away_from

    p = np.array([0.0, 0.0, 0.0, 50.0, 50.0, -50.0, 2.0])
    x = np.array([0.0, -1e-4, 5e-4, 50.01, 49.99, -50.04, 2.5])
    _away_from([lambda *_: p], [x], 0)
    # margin 1e-3·max(1, |p|): 1e-3 at 0, 0.05 at ±50; a point on p goes up; one far enough stays.
    np.testing.assert_allclose(x, [1e-3, -1e-3, 1e-3, 50.05, 49.95, -50.05, 2.5], rtol=0, atol=1e-12)


def test_sample_points_respect_label_values_and_input_ranges():
    r = symdl.rule("binary_cross_entropy")
    d = r.definition
    values = _points(r, r.wrt, 300, np.random.default_rng(2))
    for s, v in zip(r.inputs, values):
        if s in d.label_values:
            assert set(np.unique(v)) <= set(d.label_values[s])
        if s in d.input_ranges:
            lo, hi = d.input_ranges[s]
            assert np.all((lo <= v) & (v <= hi)), (s, v.min(), v.max())
    assert d.label_values or d.input_ranges


def test_points_crowd_every_breakpoint_on_both_sides():
    r = symdl.rule("hard_tanh")
    x = _points(r, r.wrt, 400, np.random.default_rng(5))[0]
    for p in (-1.0, 1.0):
        assert np.sum((p - 1 < x) & (x < p)) > 30 and np.sum((p < x) & (x < p + 1)) > 30


def test_a_derivative_that_is_not_finite_where_the_differences_are_is_an_infinite_error():
    from symdl.verify.measures import _fd_error

    r = symdl.rule("huber")
    values = _points(r, r.wrt, 50, np.random.default_rng(0))
    infinite = lambda *v: np.where(v[0] > 0, np.inf, r.numeric_derivative()(*v))  # noqa: E731
    assert _fd_error(r, r.wrt, r.numeric(), infinite, values) == np.inf
    assert _fd_error(r, r.wrt, r.numeric(), r.numeric_derivative(), [v[:0] for v in values]) == 0.0
