"""The proof engine's parameter regimes, counterexamples and helpers (found by mutation testing)."""

from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from symdl.symbolic.branch_at import _signed
from symdl.symbolic.functions import NamedFunction
from symdl.symbolic.proof import (
    Undecidable,
    _generalised,
    breakpoints,
    one_sided_values,
    prove_named_function,
    prove_zero,
    resolve_branches,
)
from symdl.symbolic.witnesses import _confirmed, _nonzero_at, _rationals_inside

x = sp.Symbol("x", real=True)
p = sp.Symbol("p", positive=True)
a = sp.Symbol("a", negative=True)


def test_a_positive_parameter_is_checked_between_0_and_its_first_critical_value():
    """max(x, 0, b) = max(x, b), b = p − 1/2, for x < p + 3 holds for p ≥ 1/2 only: (0, 1/2) must be checked."""
    b = p - sp.Rational(1, 2)
    claim = sp.Piecewise((sp.Max(x, 0, b) - sp.Max(x, b), x < p + 3), (0, True))
    proof = prove_zero(claim, x)
    assert not proof
    point = proof.counterexample
    assert 0 < point[p] < sp.Rational(1, 2) and claim.subs(point) != 0
    assert prove_zero(claim.subs(p, p + sp.Rational(1, 2)), x)  # the same claim for p > 1/2 holds


def test_a_negative_parameter_is_never_sampled_positive():
    """max(x, 1, eˢ) = max(x, 1) for s < 0 (eˢ < 1); false for s > 0, a regime that cannot occur."""
    assert prove_zero(sp.Max(x, 1, sp.exp(a)) - sp.Max(x, 1), x)
    proof = prove_zero(sp.Max(x, 1, sp.exp(p)) - sp.Max(x, 1), x)
    assert not proof and proof.counterexample[p] > 0


def test_a_negative_parameter_is_checked_between_its_last_critical_value_and_0():
    """The mirror image: with b = −a − 1/2, the claim fails for −1/2 < a < 0 only."""
    b = -a - sp.Rational(1, 2)
    claim = sp.Piecewise((sp.Max(x, 0, b) - sp.Max(x, b), x < 3 - a), (0, True))
    proof = prove_zero(claim, x)
    assert not proof and -sp.Rational(1, 2) < proof.counterexample[a] < 0


def test_a_counterexample_is_the_simplest_rational_in_the_failing_interval():
    proof = prove_zero(sp.Abs(x) - x, x)  # fails for x < 0: the simplest rationals in (−4, 0) are tried first
    assert not proof and proof.counterexample == {x: -3}
    proof = prove_zero(sp.Piecewise((x, x > 1), (0, True)), x)  # fails for x > 1
    assert proof.counterexample == {x: 2}


def test_a_counterexample_without_breakpoints_in_the_variable():
    c = sp.Symbol("c", real=True)
    claim = sp.Piecewise((0, c > 0), (x, True))  # nonzero when c < 0, for every x ≠ 0
    proof = prove_zero(claim, x)
    assert not proof and proof.counterexample[c] < 0 and proof.counterexample[x] != 0


def _simplest_inside(lo: Fraction, hi: Fraction, count: int) -> list[Fraction]:
    """Reference: nonzero rationals in (lo, hi) by increasing denominator, then value; the first ``count``."""
    found: list[Fraction] = []
    for d in range(1, 200):
        n = int((lo * d) // 1) + 1
        while Fraction(n, d) < hi:
            if n != 0 and Fraction(n, d) not in found:
                found.append(Fraction(n, d))
            n += 1
        if len(found) >= count:
            return found[:count]
    return found


_ends = st.fractions(min_value=-20, max_value=20, max_denominator=12)


@given(_ends, _ends, st.booleans(), st.booleans())
def test_rationals_inside_are_the_simplest_nonzero_ones_strictly_inside(u, v, open_below, open_above):
    lo, hi = sorted((u, v))
    if hi - lo < Fraction(1, 30):
        hi = lo + 1
    if open_below:
        lo = hi - 4  # an unbounded side is taken 4 beyond the other
    elif open_above:
        hi = lo + 4
    got = _rationals_inside(
        None if open_below else sp.Rational(lo.numerator, lo.denominator),
        None if (open_above and not open_below) else sp.Rational(hi.numerator, hi.denominator),
    )
    assert [Fraction(int(r.p), int(r.q)) for r in got] == _simplest_inside(lo, hi, 4)


def test_rationals_inside_the_whole_line_are_nonzero_of_both_signs():
    got = _rationals_inside(None, None)
    assert len(set(got)) == 4 and all(r.is_Rational and r != 0 for r in got)
    assert any(r > 0 for r in got) and any(r < 0 for r in got)
    assert len(_rationals_inside(sp.Integer(0), sp.Integer(1), count=5)) == 5


@pytest.mark.parametrize("f", [sp.exp, sp.tanh, sp.sinh, sp.cosh, sp.log, sp.erf])
def test_generalised_replaces_each_compound_argument_by_a_real_symbol(f):
    inner = x**2
    expr = f(2 * inner) - 3 * f(inner) + f(x)
    general = _generalised(expr)
    (w,) = general.free_symbols - {x}
    assert w.is_real and not general.has(inner)
    assert general == f(2 * w) - 3 * f(w) + f(x)  # the rational factor stays outside; a bare symbol is kept
    assert _generalised(f(x) + f(3 * x)) is None


def test_nonzero_at():
    assert _nonzero_at(x - 1, {x: 2}) and _nonzero_at(x, {x: sp.Rational(1, 10**15)})
    assert not _nonzero_at(x, {x: sp.Rational(1, 10**25)})  # below 1e-20: taken as a rounding of 0
    assert _nonzero_at(sp.log(x), {x: -1})  # not real at a real point
    assert not _nonzero_at(1 / x, {x: 0}) and not _nonzero_at(sp.log(x), {x: 0})  # zoo, -oo: no evidence
    assert not _nonzero_at(x, {})  # not a number
    assert not _nonzero_at(sp.Symbol("y") / (x - x), {x: 1})  # nan


def test_confirmed_returns_the_first_complete_point_where_expr_is_nonzero():
    y = sp.Symbol("y", real=True)
    expr = x * y
    assert _confirmed(expr, [{x: 1}, {x: 0, y: 1}, {x: 2, y: 3}, {x: 5, y: 5}]) == {x: 2, y: 3}
    assert _confirmed(expr, [{x: 0, y: 1}]) is None


def test_signed():
    assert _signed(x, {x: 0}) == 1  # a zero Abs argument: either branch
    assert _signed(x, {x: 0}, zero=True) == 0  # sign(0) = 0
    assert _signed(x - 3, {x: 1}) == -1 and _signed(x - 3, {x: 4}, zero=True) == 1


def test_one_sided_values_uses_the_given_parameter_value():
    c = sp.Symbol("c", real=True)
    steps = sp.Piecewise((1, x < c), (2, x < 0), (3, True))
    assert one_sided_values(steps, x, c, {c: -2}) == (1, 2)
    assert one_sided_values(steps, x, c, {c: 2}) == (1, 3)


def test_one_sided_values_stay_before_a_near_breakpoint():
    steps = sp.Piecewise((1, x < 0), (2, x < sp.Rational(1, 2)), (3, True))
    assert one_sided_values(steps, x, sp.Integer(0)) == (1, 2)
    assert one_sided_values(steps, x, sp.Rational(1, 2)) == (2, 3)


def test_one_sided_values_never_parse_text():
    with pytest.raises(sp.SympifyError):
        one_sided_values("x**2", x, sp.Integer(0))


class _Square(NamedFunction):
    @classmethod
    def definition(cls, v):
        return v**2

    @classmethod
    def stable(cls, v):
        return v * v

    def fdiff(self, argindex=1):
        return 2 * self.args[0]


class _SquareWithAbs(_Square):
    @classmethod
    def differentiable(cls, v):
        return sp.Piecewise((v**2, v >= 0), (-v * sp.Abs(v), True))


class _WrongSquare(_Square):
    def fdiff(self, argindex=1):
        return 3 * self.args[0]


class _UnstableSquare(_Square):
    @classmethod
    def stable(cls, v):
        return v * sp.Abs(v)


def test_prove_named_function_states_and_checks_each_claim():
    assert {k: bool(v) for k, v in prove_named_function(_Square).items()} == {
        "_Square: fdiff - d/dx definition": True,
        "_Square: stable form - definition": True,
    }
    assert {k: bool(v) for k, v in prove_named_function(_SquareWithAbs).items()} == {
        "_SquareWithAbs: fdiff - d/dx definition": True,
        "_SquareWithAbs: stable form - definition": True,
        "_SquareWithAbs: differentiable form - definition": True,
    }
    assert [bool(v) for v in prove_named_function(_WrongSquare).values()] == [False, True]
    assert [bool(v) for v in prove_named_function(_UnstableSquare).values()] == [True, False]


c = sp.Symbol("c", real=True)


def test_the_method_and_cases_say_how_a_proof_went():
    assert prove_zero(sp.erfc(x) + sp.erf(x) - 1, x) == sp_proof(True, "simplify")
    proof = prove_zero(sp.Abs(x) - sp.Max(x, -x), x)
    assert (proof.holds, proof.method, proof.cases) == (True, "case analysis on the 2 intervals cut by 1 breakpoint", 3)
    proof = prove_zero(sp.Abs(x - c) - sp.Max(x - c, c - x), x)
    # c < 0, c > 0 and c = 0 (where c crosses 0): 2 intervals and 1 point in each
    assert proof.method == "case analysis on the 2 intervals cut by 1 breakpoint in 3 parameter regimes"
    assert proof.cases == 9
    kink = sp.Piecewise((1, x <= 0), (0, True)) - sp.Piecewise((1, x < 0), (0, True))
    proof = prove_zero(kink, x, exclude=[sp.Integer(0)])
    assert proof.holds and proof.method.endswith(", the kink 0 excluded")


def sp_proof(holds, method):
    from symdl.symbolic.proof import Proof

    return Proof(holds, method)


def test_a_failure_names_the_interval_or_the_point_and_a_counterexample():
    proof = prove_zero(sp.Piecewise((1, (x > 1) & (x < 2)), (0, True)), x)  # nonzero only between the breakpoints
    assert not proof and proof.method.startswith("case analysis: nonzero on the interval around x = 1.5")
    assert (proof.cases, proof.counterexample) == (2, {x: sp.Rational(3, 2)})
    at_kink = sp.Piecewise((1, x <= 0), (0, True)) - sp.Piecewise((1, x < 0), (0, True))
    proof = prove_zero(at_kink, x)
    assert (proof.method, proof.cases, proof.counterexample) == ("case analysis: nonzero at x = 0", 3, {x: 0})
    with_c = prove_zero(sp.Piecewise((1, (x > c) & (x < c + 1)), (0, True)), x)
    assert " with {c: " in with_c.method and with_c.counterexample[x] - with_c.counterexample[c] == sp.Rational(1, 2)


def test_an_excluded_kink_does_not_hide_a_later_breakpoint():
    claim = (sp.Piecewise((1, x <= 0), (0, True)) - sp.Piecewise((1, x < 0), (0, True))
             + sp.Piecewise((1, sp.Eq(x, 1)), (0, True)))
    proof = prove_zero(claim, x, exclude=[sp.Integer(0)])
    assert not proof and proof.counterexample == {x: 1}


def test_a_smooth_failure_has_a_counterexample_and_a_tiny_value_is_not_zero():
    proof = prove_zero(sp.log(x**2) - 2 * sp.log(x), x)  # false at x < 0 only (2πi)
    assert proof == sp_proof(False, "simplify") and proof.counterexample[x] < 0
    assert prove_zero(sp.log(p**2) - 2 * sp.log(p), x)  # true for p > 0: p is never sampled negative
    assert not prove_zero(sp.exp(x**2) / 10**25, x)  # below the numeric threshold everywhere, still not 0
    assert not prove_zero(sp.erfc(x) - sp.erf(x) - 1, x)


def test_bad_arguments_are_refused_with_one_line():
    with pytest.raises(TypeError, match=r"^prove_zero: expr must be a SymPy expression \(parse text with"):
        prove_zero("x", x)
    with pytest.raises(TypeError, match="^prove_zero: expr must be a SymPy expression"):
        prove_zero(x < 1, x)
    with pytest.raises(TypeError, match="^prove_zero: var must be a SymPy Symbol, got str$"):
        prove_zero(x, "x")
    with pytest.raises(sp.SympifyError):
        prove_zero(sp.Abs(x - c) - sp.Max(x - c, c - x), x, params={c: "2"})  # params are never parsed


def test_breakpoints_are_numbers_in_increasing_order_then_the_symbolic_ones():
    assert breakpoints(sp.Abs(x - c) + sp.Abs(x - 3) + sp.Abs(x + 1), x) == [-1, 3, c]


def test_a_branch_that_cannot_be_chosen_is_an_error():
    with pytest.raises(ValueError, match=r"^cannot decide the condition (x > c|c < x) at \{x: 1\}$"):
        resolve_branches(sp.Piecewise((1, x > c), (0, True)), {x: 1})
    with pytest.raises(ValueError, match=r"^no branch of Piecewise\(\(1, x > 0\)\) holds at \{x: -1\}$"):
        resolve_branches(sp.Piecewise((1, x > 0)), {x: -1})


def test_breakpoints_of_a_condition_on_a_sum_of_abs_take_every_sign_choice():
    # |x − 1| + |x + 1| = 3 at ±3/2; the sign choice (+, −) has no root (−5 = 0) and is skipped, not refused.
    claim = sp.Piecewise((1, sp.Abs(x - 1) + sp.Abs(x + 1) < 3), (0, True))
    assert breakpoints(claim, x) == [sp.Rational(-3, 2), -1, 1, sp.Rational(3, 2)]


def test_a_periodic_condition_is_undecided_with_the_reason():
    with pytest.raises(Undecidable, match=r"^cannot list where sin\(x\) changes sign in x: SymPy's solveset gave a "
                       r"Union, not finitely many points$"):
        breakpoints(sp.Piecewise((1, sp.sin(x) > 0), (0, True)), x)
    assert prove_zero(sp.Piecewise((1, sp.sin(x) > 0), (0, True)), x).method.startswith("undecided: cannot list")


# Two signless parameters whose regime samples coincide (a = b = −1): the branches that hold there hold only on
# a = b, so that sample is checked with its parameters as numbers, and samples on each side of it are added.
a_, b_ = sp.symbols("a b", real=True)
COINCIDING_IDENTITIES = [
    sp.Max(x, a_) + sp.Min(x, a_) - x - a_ + sp.Max(x, b_) + sp.Min(x, b_) - x - b_ + sp.Max(a_, b_) + sp.Min(a_, b_) - a_ - b_,
    sp.Max(x, a_) + sp.Min(x, a_) - x - a_ + sp.Max(x, b_) + sp.Min(x, b_) - x - b_,
    sp.Abs(x - a_) + sp.Abs(x - b_) - sp.Max(sp.Abs(2 * x - a_ - b_), sp.Abs(a_ - b_)),
]


@pytest.mark.parametrize("identity", COINCIDING_IDENTITIES, ids=range(len(COINCIDING_IDENTITIES)))
def test_coinciding_parameters_do_not_refute_a_true_identity(identity):
    proof = prove_zero(identity, x)
    assert proof.holds and proof.counterexample is None, proof.method


@pytest.mark.parametrize(
    "wrong, where",
    [
        (sp.Piecewise((x, sp.Eq(a_, b_)), (0, True)), "exactly"),  # wrong only where a = b
        (x * sp.Piecewise((sp.Max(a_, b_) - b_, a_ < 0), (0, True)), "b < a < 0"),  # no product sample has b < a < 0
        (sp.Max(x, a_) + sp.Min(x, b_) - x - a_, ""),
    ],
)
def test_wrong_variants_are_refuted_with_a_real_counterexample(wrong, where):
    proof = prove_zero(wrong, x)
    assert not proof and proof.counterexample is not None, proof.method
    point = proof.counterexample
    assert set(point) == {x, a_, b_} and all(v.is_Rational for v in point.values())
    assert wrong.subs(point) != 0
    if where == "exactly":
        assert point[a_] == point[b_]
    elif where:
        assert point[b_] < point[a_] < 0


@pytest.mark.parametrize(
    "wrong, at",
    [
        # Nonzero only at a parameter's critical value: 0 on both sides of it, so no sample between critical values
        # refutes it (all three were proven on main).
        (sp.Piecewise((x, a_ >= 0), (0, True)) - sp.Piecewise((x, a_ > 0), (0, True)), {a_: 0}),
        (sp.Piecewise((1, sp.Eq(a_, 0) & (x > 0)), (0, True)), {a_: 0}),
        (sp.Piecewise((sp.Abs(x), sp.Eq(a_, 2)), (0, True)), {a_: 2}),
        (sp.Piecewise((sp.Abs(x - p), sp.Eq(p, 3)), (0, True)), {p: 3}),  # a positive parameter: 3 is inside its line
        # A float switch is sampled at the binary value it holds: nsimplify's guess √2/2 sat beside it (proven).
        (sp.Piecewise((x, a_ >= sp.Float(0.7071067811865476)), (0, True))
         - sp.Piecewise((x, a_ > sp.Float(0.7071067811865476)), (0, True)), {a_: sp.Rational(0.7071067811865476)}),
        (sp.Piecewise((x, sp.Eq(a_, sp.Float(0.7071067811865476))), (0, True)), {a_: sp.Rational(0.7071067811865476)}),
    ],
)
def test_an_identity_false_only_at_a_critical_parameter_value_is_refuted_there(wrong, at):
    proof = prove_zero(wrong, x)
    assert not proof and proof.counterexample is not None, proof.method
    point = proof.counterexample
    assert all(point[s] == v for s, v in at.items()) and wrong.subs(point) != 0


@pytest.mark.parametrize(
    "wrong, inside",
    [
        # Nonzero only where a − 1/100 < b < a: the product of each parameter's regimes (found with the other at its
        # base value) has no sample in that strip. Each of the three was proven on main.
        (sp.Piecewise((x, (b_ > a_ - sp.Rational(1, 100)) & (b_ < a_)), (0, True)),
         lambda at: at[a_] - sp.Rational(1, 100) < at[b_] < at[a_]),
        # Nonzero only on the half-line a = b > 5: no critical value of one parameter at the other's base is there.
        (sp.Piecewise((sp.Abs(x), sp.Eq(a_, b_) & (a_ > 5)), (0, True)), lambda at: at[a_] == at[b_] > 5),
        # Breakpoints that move with the parameters, a case live only in the strip 0 < a − b < 1/100.
        (sp.Piecewise((sp.Abs(x - a_) - sp.Abs(x - b_), (a_ - b_ > 0) & (a_ - b_ < sp.Rational(1, 100))), (0, True)),
         lambda at: 0 < at[a_] - at[b_] < sp.Rational(1, 100)),
        # Nonzero only where a/2 + 10 < b < a, past a = 20 where the two lines cross: no line passes b's base value
        # there, so no sample of a was beyond 20 (proven after the fix above; the crossing is now a critical value).
        (sp.Piecewise((x, (b_ > a_ / 2 + 10) & (b_ < a_)), (0, True)), lambda at: at[a_] / 2 + 10 < at[b_] < at[a_]),
        (sp.Piecewise((sp.Abs(x - a_) - sp.Abs(x - b_), (b_ > a_ / 2 + 10) & (b_ < a_)), (0, True)),
         lambda at: at[a_] / 2 + 10 < at[b_] < at[a_]),
        # Nonzero only inside a small disk: b's two roots ±√(1/100 − a²) meet at a = ±1/10, never at a's base.
        (sp.Piecewise((x, a_**2 + b_**2 < sp.Rational(1, 100)), (0, True)), lambda at: at[a_]**2 + at[b_]**2 < sp.Rational(1, 100)),
        (sp.Piecewise((sp.Abs(x - a_), (a_ - 3)**2 + (b_ + 2)**2 < sp.Rational(1, 100)), (0, True)),
         lambda at: (at[a_] - 3)**2 + (at[b_] + 2)**2 < sp.Rational(1, 100)),
        # Nonzero only at one point of the parameters, or on a half-line on one parameter's switch: a sample on a's
        # switch a = 1 must have b's own regimes and switches found there (a switch of a switch). Each was proven.
        (sp.Piecewise((x, sp.Eq(a_, 1) & sp.Eq(b_, 2)), (0, True)), lambda at: at[a_] == 1 and at[b_] == 2),
        (sp.Piecewise((x, sp.Eq(a_, 0) & sp.Eq(b_, 0)), (0, True)), lambda at: at[a_] == 0 and at[b_] == 0),
        (sp.Piecewise((x, sp.Eq(a_**2 + b_**2, 0)), (0, True)), lambda at: at[a_] == 0 and at[b_] == 0),
        (sp.Piecewise((sp.Abs(x), sp.Eq(a_, 1) & (b_ > 2)), (0, True)), lambda at: at[a_] == 1 and at[b_] > 2),
    ],
)
def test_an_identity_false_only_where_parameters_meet_jointly_is_refuted(wrong, inside):
    proof = prove_zero(wrong, x)
    assert not proof and proof.counterexample is not None, proof.method
    point = proof.counterexample
    assert inside(point) and wrong.subs(point) != 0


def test_a_degenerate_sample_gets_generic_neighbours_on_both_sides():
    from symdl.symbolic.regimes import generic_samples, is_degenerate

    expr = sp.Max(x, a_) - sp.Max(x, b_)
    points = breakpoints(expr, x)
    assert is_degenerate(expr, x, points, {a_: -1, b_: -1})
    assert not is_degenerate(expr, x, points, {a_: -1, b_: 2})
    near = generic_samples(expr, x, points, {a_: -1, b_: -1})
    assert any(s[a_] < s[b_] for s in near) and any(s[a_] > s[b_] for s in near)
    assert all(not is_degenerate(expr, x, points, s) for s in near)
    p = sp.Symbol("p", positive=True)  # a declared sign is kept: 1/7 − 1/7 is not a sample of a positive p
    assert all(s[p] > 0 for s in generic_samples(x - p, x, [p], {p: sp.Rational(1, 7)}))


class _SquareWithReference(_Square):
    @classmethod
    def reference(cls, v):
        return (v + 1) ** 2 - 2 * v - 1


class _SquareWithWrongReference(_Square):
    @classmethod
    def reference(cls, v):
        return v**2 + sp.Rational(1, 10**6)


def test_a_reference_form_of_its_own_is_a_claim_of_its_own():
    proofs = prove_named_function(_SquareWithReference)
    assert bool(proofs["_SquareWithReference: reference form - definition"])
    wrong = prove_named_function(_SquareWithWrongReference)["_SquareWithWrongReference: reference form - definition"]
    assert not wrong and wrong.counterexample is not None


def test_a_compound_argument_is_proven_as_a_fresh_symbol():
    u = x**3 + 7 * x / 5 - sp.Rational(1, 3)
    assert prove_zero(sp.tanh(u) - sp.sinh(u) / sp.cosh(u), x) == sp_proof(True, "simplify")
    assert prove_zero(sp.tanh(u) - (sp.exp(2 * u) - 1) / (sp.exp(2 * u) + 1), x) == sp_proof(True, "simplify")
    assert not prove_zero(sp.tanh(u) - sp.sinh(u) / (sp.cosh(u) + 1), x)


def test_sums_of_logs_are_proven_by_exponentiating():
    identity = sp.log(x**2 + 1) + sp.log(x**4 + 3) - sp.log((x**2 + 1) * (x**4 + 3))
    assert prove_zero(identity, x)
    assert not prove_zero(identity + sp.log(x**2 + 2) - sp.log(x**2 + 1), x)


def test_too_many_parameter_regimes_are_refused_as_undecided():
    ps = sp.symbols("p0:4", real=True)
    proof = prove_zero(sum(sp.Abs(x - p) - sp.Max(x - p, p - x) for p in ps), x)  # 5 samples each: 625 regimes
    assert not proof and proof.method.startswith("undecided: too many parameter regimes"), proof.method


c_ = sp.Symbol("c", real=True)


@pytest.mark.parametrize(
    "wrong, narrow",
    [
        # Nonzero only between breakpoints equal to 30 digits: they were one breakpoint, the interval between them
        # never probed, and each was proven ≡ 0.
        (sp.Piecewise((1, (x > 10**40) & (x < 10**40 + 1)), (0, True)), (10**40, 10**40 + 1)),
        (sp.Piecewise((1, (x > 1) & (x < 1 + sp.Rational(1, 10**35))), (0, True)), (1, 1 + sp.Rational(1, 10**35))),
        # c and c + 10⁻²⁵ never meet, but every sample of c was degenerate (within 10⁻²⁰), checked only at that c:
        # the branch c(c − 1)(c + 1) is 0 at each sample (−1, 0, 1) and was proven 0 for every c.
        (sp.Piecewise(((c_ - 1) * (c_ + 1) * c_, (x > c_) & (x < c_ + sp.Rational(1, 10**25))), (0, True)), None),
    ],
)
def test_breakpoints_that_differ_beyond_30_digits_are_two_breakpoints(wrong, narrow):
    proof = prove_zero(wrong, x)
    assert not proof, proof.method
    if narrow is not None:
        assert proof.counterexample is not None and narrow[0] < proof.counterexample[x] < narrow[1]
        assert wrong.subs(proof.counterexample) == 1


def test_breakpoints_equal_at_a_sample_are_one_breakpoint_and_a_tolerance_only_for_floats():
    from symdl.symbolic.regimes import vanishes

    assert vanishes(sp.sqrt(2) * sp.sqrt(3) - sp.sqrt(6)) and vanishes(sp.Integer(0))
    assert not vanishes(sp.Rational(1, 10**25)) and not vanishes(sp.Integer(10**40 + 1) - 10**40)
    assert vanishes(sp.Float(1e-25)) and not vanishes(sp.Float(1e-15))  # with a float in it, within 1e-20 as before
    assert prove_zero(sp.Max(x, c_) + sp.Min(x, c_) - x - c_ + sp.Abs(x - 10**40) - sp.Max(x - 10**40, 10**40 - x), x)


def test_breakpoints_agreeing_to_1600_digits_leave_the_proof_undecided():
    narrow = sp.Piecewise((1, (x > 1) & (x < 1 + sp.Rational(1, 10**2000))), (0, True))
    proof = prove_zero(narrow, x)
    assert not proof and proof.method == "undecided: two breakpoints agree to 1600 digits but are not shown equal"


@pytest.mark.parametrize(
    "wrong",
    [
        # Each changes sign through a pole, never passing 0: no breakpoint was found, one probe decided the whole line.
        sp.Piecewise((1, 1 / (x - 1) > 0), (0, True)),  # 1 for x > 1; proven ≡ 0 on main
        sp.sign(1 / (x - 1)) + 1,  # 2 for x > 1; proven ≡ 0 on main
        sp.Max(1 / (x - 3), 0),
        sp.Piecewise((1, (x - 1) / (x - 2) > 0), (0, True)) - sp.Piecewise((1, x < 1), (0, True)),  # its probe sat on 2
        sp.Piecewise((x, 1 / (x - c_) > 0), (0, True)),
        # In a parameter: 1/(c − 7) > 0 for c > 7, where no sample was (the critical values: 0 only).
        sp.Piecewise((x, 1 / (c_ - 7) > 0), (0, True)),
        sp.Abs(x) * (sp.sign(1 / (c_ - 7)) + 1),
    ],
)
def test_a_condition_that_changes_sign_through_a_pole_has_a_breakpoint_there(wrong):
    proof = prove_zero(wrong, x)
    assert not proof and proof.counterexample is not None, proof.method
    assert wrong.subs(proof.counterexample) != 0


def test_a_condition_without_a_value_at_its_pole_is_not_proven_there():
    # 1/z > 0 and z > 0 agree for every z ≠ 0; at 0 the condition has no value (SymPy: zoo > 0), so no proof.
    proof = prove_zero(sp.Piecewise((1, 1 / x > 0), (0, True)) - sp.Piecewise((1, x > 0), (0, True)), x)
    assert not proof and proof.method == "case analysis: a condition has no value at x = 0"
    assert breakpoints(sp.Piecewise((1, sp.exp(1 / (x - 2)) > 3), (0, True)), x) == [2, 2 + 1 / sp.log(3)]
    # A parameter's pole bounds its regimes, but no sample sits on it (the identity has no value there).
    assert prove_zero(sp.Piecewise((x, 1 / (c_ - 7) > 0), (0, True)) - sp.Piecewise((x, c_ > 7), (0, True)), x)


@pytest.mark.parametrize(
    "expr, at",
    [
        # The branch between two breakpoints 10⁻³⁰ (or 1 at 10⁴⁰) apart was skipped: (0, 1) and (1, 1) on main, the
        # second hiding the jump from 0 to 5 that a loss's continuity check looks for.
        (sp.Piecewise((0, x < 1), (5, x < 1 + sp.Rational(1, 10**30)), (1, True)), sp.Integer(1)),
        (sp.Piecewise((0, x < 10**40), (5, x < 10**40 + 1), (1, True)), sp.Integer(10**40)),
    ],
)
def test_one_sided_values_read_the_branch_next_to_the_point(expr, at):
    assert one_sided_values(expr, x, at) == (0, 5)


n_ = sp.Symbol("n", nonnegative=True)
m_ = sp.Symbol("m", nonpositive=True)


def test_a_nonnegative_or_nonpositive_parameter_is_sampled_in_its_own_range():
    # True for n ≥ 0 (m ≤ 0): refuted on main with the counterexample n = −1 (m = 13/11), outside the declared sign;
    # at n = 0 the edge n·z no longer depends on z, a degenerate sample checked exactly.
    for identity in (sp.Max(n_ * x, 0) - n_ * sp.Max(x, 0), sp.Min(m_ * x, 0) - m_ * sp.Max(x, 0)):
        proof = prove_zero(identity, x)
        assert proof.holds, proof.method
    for wrong, at in ((sp.Piecewise((x, n_ > 0), (0, True)) - sp.Piecewise((x, n_ >= 0), (0, True)), {n_: 0}),
                      (sp.Piecewise((x, m_ < 0), (0, True)) - x, {m_: 0})):
        proof = prove_zero(wrong, x)
        assert not proof and proof.counterexample is not None
        assert all(proof.counterexample[s] == v for s, v in at.items()) and wrong.subs(proof.counterexample) != 0


def test_three_parameters_need_a_switch_a_sample_found_on_it_and_a_switch_at_that_sample():
    # Nonzero only where c sits on its switch c = 2, b lies in the regime b > 3c that b's critical values cut there
    # (a sample of b found on c's switch), and a sits on its own switch a = 2b at that b: one lifting worklist reaches
    # it (c's switch, then b's samples there, then a's switches at each). Everywhere else the identity holds.
    pa, pb, pc = sp.symbols("a b c", positive=True)
    wrong = sp.Piecewise((x, sp.Eq(pc, 2) & (pb > 3 * pc) & sp.Eq(pa, 2 * pb)), (0, True))
    proof = prove_zero(wrong, x)
    assert not proof and proof.counterexample is not None, proof.method
    point = proof.counterexample
    assert point[pc] == 2 and point[pb] > 6 and point[pa] == 2 * point[pb] and wrong.subs(point) != 0
