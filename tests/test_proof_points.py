"""Where the proof engine looks: its witness points, its samples on a whole line, its counterexamples at a
degenerate parameter sample and its limits (found by mutation testing of symdl/symbolic/proof.py)."""

import sympy as sp

import symdl.symbolic.proof as proof_module
from symdl.symbolic.proof import (
    Proof,
    Undecidable,
    _is_zero_by,
    one_sided_values,
    prove_zero,
)
from symdl.symbolic.witnesses import _nonzero_at, _rationals_inside

x = sp.Symbol("x", real=True)
c = sp.Symbol("c", real=True)
y = sp.Symbol("y", real=True)
a, b = sp.symbols("a b", real=True)


def test_a_smooth_failure_is_shown_at_the_first_witness_point_where_it_is_nonzero():
    """log(x²c²) − 2 log x − 2 log c is −2πi where c < 0: the first witness point takes c = −7/13, x = 10/13."""
    wrong = sp.log(x**2 * c**2) - 2 * sp.log(x) - 2 * sp.log(c)
    proof = prove_zero(wrong, x)
    assert not proof and proof.counterexample == {c: sp.Rational(-7, 13), x: sp.Rational(10, 13)}
    assert sp.N(wrong.subs(proof.counterexample)).is_real is False
    assert prove_zero(sp.log(x**2) - 2 * sp.log(x), x).counterexample == {x: sp.Rational(-7, 13)}


def test_a_failure_hidden_at_the_first_witness_points_is_shown_at_a_later_one_of_the_other_sign():
    """(13x + 7)(log x² − 2 log x) is 0 at x = −7/13 (the 1st point) and for x > 0 (the 2nd, 4/7): the 3rd is −3/5."""
    proof = prove_zero((13 * x + 7) * (sp.log(x**2) - 2 * sp.log(x)), x)
    assert not proof and proof.counterexample == {x: sp.Rational(-3, 5)}


def test_a_value_that_is_nan_or_cannot_be_evaluated_is_no_evidence():
    assert not _nonzero_at(x * sp.log(x), {x: 0})  # 0 · zoo is nan

    class Unevaluable(sp.Function):
        def _eval_evalf(self, prec):
            raise ValueError("no numeric value")

    assert not _nonzero_at(Unevaluable(x), {x: 1})
    assert _nonzero_at(Unevaluable(x) + 1, {x: 1}) is False


def test_a_kink_at_a_point_with_no_exact_float_is_excluded():
    """1/3 is compared at the same 30 digits as the breakpoint it excludes."""
    third = sp.Rational(1, 3)
    kink = sp.Piecewise((1, x <= third), (0, True)) - sp.Piecewise((1, x < third), (0, True))
    assert prove_zero(kink, x, exclude=[third])
    assert prove_zero(kink, x).counterexample == {x: third}


def test_an_indexed_weight_is_sampled_as_one_number_and_gets_a_counterexample():
    """W[i] is one real unknown: its base W is never sampled, and a failure still names a point."""
    w = sp.IndexedBase("W")
    i = sp.Symbol("i", integer=True)
    wrong = sp.log(w[i] ** 2) - 2 * sp.log(w[i])
    proof = prove_zero(wrong, x)
    assert not proof and proof.counterexample is not None
    point = proof.counterexample
    assert w.label not in point and point[w[i]] < 0
    assert sp.N(wrong.xreplace(point)).is_real is False
    assert prove_zero(sp.tanh(w[i]) - sp.sinh(w[i]) / sp.cosh(w[i]), x)


def test_without_breakpoints_the_whole_line_is_sampled_at_fixed_points_in_order():
    """Nonzero for c < 0 only, for every x but the roots 1/3, −5/7, 8/3: the fourth sample, −13/4, shows it."""
    claim = sp.Piecewise((0, c > 0), ((3 * x - 1) * (7 * x + 5) * (3 * x - 8), True))
    proof = prove_zero(claim, x)
    assert not proof and proof.counterexample[x] == sp.Rational(-13, 4) and proof.counterexample[c] < 0
    assert claim.subs(proof.counterexample) != 0


def test_rationals_are_searched_up_to_denominator_999():
    """A limit: an interval narrower than any 1/d, d ≤ 999, gets no sample (a counterexample is then None)."""
    assert _rationals_inside(sp.Integer(0), sp.Rational(2, 1997)) == [sp.Rational(1, 999)]
    assert _rationals_inside(sp.Integer(0), sp.Rational(2, 1999)) == []


def test_a_step_that_fails_never_counts_as_a_proof():
    def fails(_: sp.Expr) -> sp.Expr:
        raise NotImplementedError("SymPy cannot do this")

    assert _is_zero_by(fails, sp.Integer(0)) is False
    assert _is_zero_by(sp.expand, (x + 1) ** 2 - x**2 - 2 * x - 1) is True


def test_one_sided_values_sample_a_parameter_named_after_the_variable_first():
    """y sorts after x but is the first parameter: sampled at 13/11 (< 3/2), so x = y sits between 1 and 2."""
    steps = sp.Piecewise((1, x < y), (2, x < sp.Rational(3, 2)), (3, True))
    assert one_sided_values(steps, x, y) == (1, 2)


KINK_AT_A = sp.Piecewise((1, x <= a), (0, True)) - sp.Piecewise((1, x < a), (0, True))  # 1 at x = a only
ABS_AT_B = sp.Abs(x - b) - sp.Max(x - b, b - x)  # ≡ 0


def test_a_degenerate_sample_is_checked_at_its_own_breakpoints_and_says_so():
    """At a = b = −1 the kink at a and the breakpoint b coincide: the value there, 1, is found exactly."""
    proof = prove_zero(KINK_AT_A + ABS_AT_B, x)
    assert not proof
    assert proof.method == "case analysis: nonzero at x = -1 with {a: -1, b: -1} exactly"
    assert proof.counterexample == {a: -1, b: -1, x: -1}


def test_an_excluded_kink_is_excluded_at_a_degenerate_sample_too():
    proof = prove_zero(KINK_AT_A + ABS_AT_B, x, exclude=[a])
    assert proof.holds and proof.method.endswith(" parameter regimes, the kink a excluded"), proof.method


def test_an_identity_that_only_simplify_shows_is_proven_and_its_wrong_variant_refuted():
    """Γ(x + 1) = xΓ(x): expand and cancel leave it as is; simplify's gammasimp shows it."""
    assert prove_zero(sp.gamma(x + 1) - x * sp.gamma(x), x) == Proof(True, "simplify")
    wrong = prove_zero(sp.gamma(x + 1) - (x + 1) * sp.gamma(x), x)
    assert not wrong and wrong.counterexample is not None


def test_a_sum_of_logs_that_simplify_leaves_is_proven_by_exponentiating():
    """log(x² + 1) + log(x² + 2) = log(x⁴ + 3x² + 2): simplify alone does not combine them into one log."""
    assert sp.simplify(sp.log(x**2 + 1) + sp.log(x**2 + 2) - sp.log(x**4 + 3 * x**2 + 2)) != 0
    assert prove_zero(sp.log(x**2 + 1) + sp.log(x**2 + 2) - sp.log(x**4 + 3 * x**2 + 2), x)
    wrong = prove_zero(sp.log(x**2 + 1) + sp.log(x**2 + 2) - sp.log(x**4 + 3 * x**2 + 3), x)
    assert not wrong and wrong.counterexample is not None


def test_the_regimes_after_a_degenerate_sample_are_still_checked():
    """The first sample, a = b = −1, is degenerate; its neighbours are added to the regimes, not put in their place:
    a term that is wrong only for a, b > 0 must still be found."""
    identity = sp.Max(x, a) + sp.Min(x, a) - x - a + sp.Max(x, b) + sp.Min(x, b) - x - b
    assert prove_zero(identity, x)
    wrong = identity + x * sp.Piecewise((1, (a > 0) & (b > 0)), (0, True))
    proof = prove_zero(wrong, x)
    assert not proof and proof.counterexample[a] > 0 and proof.counterexample[b] > 0
    assert wrong.subs(proof.counterexample) != 0


def test_an_undecidable_regime_makes_the_proof_undecided_not_true(monkeypatch):
    """Whatever cannot be decided in a later regime stops the proof there, with the cases counted so far."""
    real, calls = proof_module._prove_in_regime, []

    def second_undecidable(*args):
        calls.append(args)
        if len(calls) == 2:
            raise Undecidable("a periodic condition at this sample")
        return real(*args)

    monkeypatch.setattr(proof_module, "_prove_in_regime", second_undecidable)
    proof = prove_zero(sp.Abs(x - c) - sp.Max(x - c, c - x), x)  # ≡ 0; 2 regimes (c < 0, c > 0), 3 cases each
    assert (proof.holds, proof.method, proof.cases) == (False, "undecided: a periodic condition at this sample", 3)


def test_every_excluded_kink_is_named():
    kinks = sum(sp.Piecewise((1, x <= k), (0, True)) - sp.Piecewise((1, x < k), (0, True)) for k in (0, 1))
    proof = prove_zero(kinks, x, exclude=[sp.Integer(0), sp.Integer(1)])
    assert proof.holds and proof.method == "case analysis on the 3 intervals cut by 2 breakpoints, the kinks 0, 1 excluded"


def test_excluded_points_are_named_by_the_label_given_or_not_at_all():
    step = sp.Piecewise((1, x <= 0), (0, True)) - sp.Piecewise((1, x < 0), (0, True))  # ≠ 0 only at x = 0
    assert prove_zero(step, x, exclude=[sp.Integer(0)], exclude_label="pole").method.endswith(", the pole 0 excluded")
    assert prove_zero(step, x, exclude=[sp.Integer(0)], exclude_label=None).method == (
        "case analysis on the 2 intervals cut by 1 breakpoint"
    )
    for label in ("kink", "pole", None):  # the label names points; it never excludes one more
        assert not prove_zero(step, x, exclude=[sp.Integer(1)], exclude_label=label)


def test_a_counterexample_is_never_at_an_excluded_point():
    """Where equality is not claimed (a kink) is no counterexample: the next witness, or another rational inside."""
    first = prove_zero(sp.Integer(1), x).counterexample[x]
    assert first == sp.Rational(-7, 13)  # the first witness point, named for the variable although 1 has no symbol
    moved = prove_zero(sp.Integer(1), x, exclude=[first]).counterexample
    assert moved is not None and set(moved) == {x} and moved[x] != first
    on_interval = sp.Piecewise((1, (x > 0) & (x < 2)), (0, True))
    assert prove_zero(on_interval, x).counterexample == {x: 1}  # the simplest rational inside (0, 2)
    point = prove_zero(on_interval, x, exclude=[sp.Integer(1)]).counterexample[x]
    assert 0 < point < 2 and point != 1
    # an excluded point that moves with a parameter is read at the candidate's value of it
    moving = sp.Piecewise((1, (x > c) & (x < c + 2)), (0, True))
    unexcluded = prove_zero(moving, x).counterexample
    assert unexcluded[x] == unexcluded[c] + sp.Rational(1, 2)  # (c = −1: the simplest rational in (−1, 1) is −1/2)
    shifted = prove_zero(moving, x, exclude=[c + sp.Rational(1, 2)]).counterexample
    assert shifted[c] < shifted[x] < shifted[c] + 2
    assert shifted[x] != shifted[c] + sp.Rational(1, 2)
