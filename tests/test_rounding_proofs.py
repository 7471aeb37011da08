"""Identities with floor, ceil and round: refuted only at an exact point, proven only with each one generalised.

Their jumps are infinitely many, so no case analysis covers the line: a false identity must be refuted at a point
where the two sides really differ (ties and integers included), a derivative claim never where the function jumps,
a true one proven or left undecided, never the reverse.
"""

from __future__ import annotations

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.rulebook.claims import check_derivative, parse_derivative
from symdl.symbolic.jumps import breakpoints_between_jumps
from symdl.symbolic.parse import parse
from symdl.symbolic.proof import Undecidable, breakpoints, prove_zero
from symdl.symbolic.rounding import at_jump, jump_atoms

z, y = sp.symbols("z y", real=True)


def _prove(lhs: str, rhs: str, names=("z", "y")):
    return prove_zero(parse(lhs, list(names)) - parse(rhs, list(names)), z)


def _really_nonzero(expr, point) -> bool:
    """The counterexample checked again by exact substitution (floor of a rational is exact)."""
    value = expr.xreplace(point)
    return value.is_number and value != 0


def test_false_identities_are_refuted_at_an_exact_point_where_they_differ():
    for lhs, rhs in [("floor(z) + 1", "ceil(z)"),  # false exactly at the integers
                     ("round(z)", "floor(z + 0.5)"),  # half up vs half to even: false at 1/2, 5/2, …
                     ("round(z)", "ceil(z - 0.5)"),  # half down: false at 3/2
                     ("floor(y) + 1 + z", "ceil(y) + z"),  # the jump is in another input
                     ("floor(z)", "z"),
                     ("where(z > 0, floor(z), 0)", "floor(z)")]:
        proof = _prove(lhs, rhs)
        assert not proof.holds and proof.counterexample is not None, (lhs, rhs, proof)
        difference = parse(lhs, ["z", "y"]) - parse(rhs, ["z", "y"])
        assert _really_nonzero(difference, proof.counterexample), (lhs, rhs, proof)
    assert _prove("floor(z) + 1", "ceil(z)").counterexample[z].is_integer


def test_true_identities_are_proven_or_undecided_never_refuted():
    assert _prove("ceil(z)", "-floor(-z)").holds  # ⌈x⌉ = −⌊−x⌋, SymPy's own rewrite
    assert _prove("(floor(z) + 1)**2", "floor(z)**2 + 2*floor(z) + 1").holds  # each floor an independent number
    assert _prove("max(floor(z), z)", "z").holds
    assert _prove("abs(round(z))**2", "round(z)**2").holds
    for lhs, rhs in [("floor(z/2) + floor((z + 1)/2)", "floor(z)"),  # Hermite's identity: true, not provable here
                     ("round(z)", "where(z - floor(z) == 0.5, 2*floor(z/2 + 0.25), floor(z + 0.5))")]:  # round's floor form
        proof = _prove(lhs, rhs)
        assert not proof.holds and proof.counterexample is None
        assert proof.method.startswith("undecided: cannot prove identities with floor")
        assert "infinitely many jumps" in proof.method and "\n" not in proof.method


@settings(max_examples=40, deadline=None)
@given(st.integers(-3, 3), st.integers(1, 4), st.sampled_from(["floor", "ceil", "round"]))
def test_a_shifted_jump_function_is_refuted_where_the_shift_shows(shift, scale, name):
    """f(k·z) + s ≡ f(k·z): false for every s ≠ 0, true for s = 0 (proven, never refuted)."""
    proof = _prove(f"{name}({scale}*z) + {shift}", f"{name}({scale}*z)")
    assert proof.holds == (shift == 0)
    if shift:
        assert proof.counterexample is not None


def test_a_derivative_claim_is_never_refuted_where_the_function_jumps():
    r = symdl.formula_rule("z*floor(z)")
    assert check_derivative(r, parse_derivative(r, "floor(z)")).proof.holds  # the derivative away from the integers
    # ⌈z⌉ − 1 = ⌊z⌋ off the integers, where z·⌊z⌋ has its derivative: no refutation (it would be at a jump)
    equal_off_jumps = check_derivative(r, parse_derivative(r, "ceil(z) - 1"))
    assert not equal_off_jumps.proof.holds and equal_off_jumps.counterexample is None
    assert "infinitely many jumps" in equal_off_jumps.proof.method
    wrong = check_derivative(r, parse_derivative(r, "ceil(z)"))
    assert not wrong.proof.holds and not any(at_jump(a, wrong.counterexample) for a in jump_atoms(r.expr))
    straight_through = check_derivative(symdl.formula_rule("round(z)"), sp.Integer(1))
    (rounding,) = jump_atoms(parse("round(z)"))
    assert not straight_through.proof.holds and not at_jump(rounding, straight_through.counterexample)


def test_rule_proofs_and_listings_with_jumps():
    r = symdl.formula_rule("z*round(z) + ceil(z)")
    assert all(r.prove().values())
    assert r.kinks == ()  # not listed: the jumps are infinitely many (the check says so in one line)
    try:
        breakpoints(r.expr, z)
    except Undecidable as why:
        assert str(why) == "cannot list where ceiling(z) jumps in z: infinitely many points"
    else:
        raise AssertionError("breakpoints listed the jumps of ceil")
    assert breakpoints_between_jumps(parse("where(z > 1, floor(z), z**2)"), z) == [1]


def test_the_kink_listing_names_the_jumps_in_one_step():
    steps = symdl.formula_rule("z*round(z) + ceil(z) + y", symbols=["y"]).derivation().kink_steps
    assert [s.title for s in steps] == ["Jumps of ceiling(z), round(z)"]
    assert "infinitely many points, not listed as kinks" in steps[0].note
    assert [str(m.rhs) for m in steps[0].math] == ["0", "0"]
    assert symdl.formula_rule("z*floor(y)", symbols=["y"]).derivation().kink_steps == ()  # no jump in z
    assert symdl.formula_rule("relu(z)").derivation().kink_steps[0].title == "At the kink z = 0"


def test_a_kink_between_the_jumps_is_excluded_as_kinks_are():
    """z·⌊z⌋ + relu(z − 1/2): its kinks cannot be listed (⌊z⌋ in the derivative), but the one at 1/2 is still no point
    to refute a claim at, nor is a jump; a claim wrong between them is refuted there."""
    r = symdl.formula_rule("z*floor(z) + relu(z - 0.5)")
    for claim in ("floor(z) + Heaviside(z - 0.5)", "floor(z) + Heaviside(z - 0.5, 0)"):  # differ from f' only at 1/2
        proof = check_derivative(r, parse_derivative(r, claim)).proof
        assert proof.holds and "the kink between the jumps 1/2 excluded" in proof.method
    for claim in ("floor(z) + Heaviside(z - 0.6, 0)", "floor(z)", "ceil(z)"):
        wrong = check_derivative(r, parse_derivative(r, claim))
        point = wrong.counterexample
        assert not wrong.proof.holds and point is not None and point[z] != sp.Rational(1, 2)
        assert not any(at_jump(a, point) for a in jump_atoms(r.expr))
        assert _really_nonzero(wrong.claimed - wrong.derivative, point)
    only_at_a_jump = check_derivative(r, parse_derivative(r, "floor(z) + Heaviside(z - 0.5) + where(z == 3, 1, 0)"))
    assert not only_at_a_jump.proof.holds and only_at_a_jump.counterexample is None


def test_a_kink_that_moves_with_a_jump_function_is_no_point_to_refute_a_claim_at():
    """relu(z − ⌊z⌋ − 1/2) has a kink at every ⌊z⌋ + 1/2 (never listed): a claim that differs from f' only there (the
    convention Heaviside(0) = 1) is not refuted at z = 1/2, nor for |z − ⌊z⌋ − 1/2|, relu(z − round(z)) at z = 0 or
    relu(z − ⌊y⌋) at z = ⌊y⌋; a claim wrong between the kinks is still refuted there."""
    y_names = ["y"]
    for f, claim in [("relu(z - floor(z) - 0.5)", "where(z - floor(z) - 0.5 >= 0, 1, 0)"),
                     ("abs(z - floor(z) - 0.5)", "where(z - floor(z) - 0.5 > 0, 1, -1)"),
                     ("relu(z - round(z))", "where(z - round(z) >= 0, 1, 0)"),
                     ("relu(z - floor(y))", "where(z - floor(y) >= 0, 1, 0)")]:
        r = symdl.formula_rule(f, symbols=y_names)
        check = check_derivative(r, parse_derivative(r, claim), "z")
        assert check.counterexample is None, (f, claim, check.proof)
    for f, claim in [("relu(z - round(z))", "0"), ("relu(z - floor(y))", "where(z - floor(y) >= 0, 1, 1)"),
                     ("abs(z - floor(z) - 0.5)", "1")]:
        r = symdl.formula_rule(f, symbols=y_names)
        wrong = check_derivative(r, parse_derivative(r, claim), "z")
        assert not wrong.proof.holds and wrong.counterexample is not None, (f, claim, wrong.proof)
        assert _really_nonzero(wrong.claimed - wrong.derivative, wrong.counterexample)


def test_round_and_floor_of_a_parameter_are_told_apart_at_a_tie_the_probes_missed():
    # round(a) and ⌊a + 1/2⌋ agree at the probed a = 0, 1, −1/2, 3/2 (half to even: round(−1/2) = 0, round(3/2) = 2)
    # and differ at a = 1/2 (0 against 1): was undecided, refuted there now.
    a = sp.Symbol("a", real=True)
    proof = _prove("round(a)*relu(z)", "floor(a + 1/2)*relu(z)", ("z", "a"))
    assert not proof.holds and proof.counterexample is not None, proof.method
    assert proof.counterexample[a] == sp.Rational(1, 2) and proof.counterexample[z] > 0
    difference = parse("round(a)*relu(z) - floor(a + 1/2)*relu(z)", ["z", "a"])
    assert _really_nonzero(difference, proof.counterexample)


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 3), st.integers(-3, 3), st.sampled_from(["a", "z"]))
def test_a_tie_of_a_linear_argument_is_probed_in_the_symbol_it_is_linear_in(scale, shift, of):
    """round(u) ≢ ⌊u + 1/2⌋ and ⌈u⌉ ≢ ⌊u⌋ + 1 for u = k·s/3 + s₀ (k = 1, 2, 3; s = a or z): refuted at a point where
    they differ, u a half-integer (an integer); the same with each side equal stays proven."""
    u = f"({scale}*{of}/3 + {shift}/5)"
    for lhs, rhs, target in ((f"round({u})*relu(z)", f"floor({u} + 1/2)*relu(z)", "half"),
                             (f"ceil({u})*relu(z)", f"(floor({u}) + 1)*relu(z)", "integer")):
        proof = _prove(lhs, rhs, ("z", "a"))
        assert not proof.holds and proof.counterexample is not None, (lhs, proof.method)
        point = proof.counterexample
        assert _really_nonzero(parse(lhs, ["z", "a"]) - parse(rhs, ["z", "a"]), point)
        value = parse(u, ["z", "a"]).xreplace(point)
        assert (value - sp.S.Half).is_integer if target == "half" else value.is_integer
    right = _prove(f"round({u})*relu(z)", f"round({u})*(z + abs(z))/2", ("z", "a"))
    assert right.holds, right.method
