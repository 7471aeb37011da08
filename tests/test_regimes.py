"""Where the proof engine samples: breakpoints, roots, parameter regimes, degenerate samples (symdl.symbolic.regimes).

Each expected value below is worked out by hand from the rules in the module's docstring (the regime between two
critical values is sampled at their midpoint, the end regimes one beyond or, next to 0 for a parameter of declared
sign, at half the critical value), never copied from a run.
"""

import itertools

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.numpy_nodes import logaddexp

from symdl.symbolic.exp_roots import sign_changes
from symdl.symbolic.functions import sigmoid
from symdl.symbolic.proof import prove_zero
from symdl.symbolic.regimes import (
    Undecidable,
    _crossings,
    _edges,
    _lifted,
    _parameter_regimes,
    _real_roots,
    _sample_values,
    breakpoints,
    elementary,
    generic_samples,
    is_degenerate,
)
from symdl.symbolic.special import x_minus_tanh
from symdl.symbolic.stop_gradient import stop_gradient

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
b, c = sp.symbols("b c", real=True)
p = sp.Symbol("p", positive=True)
a = sp.Symbol("a", negative=True)
R = sp.Rational


def _regimes(expr: sp.Expr) -> list[dict]:
    """The parameter samples prove_zero starts from."""
    return _parameter_regimes(expr, x, breakpoints(expr, x), _sample_values(None, expr, x))


def test_elementary_rewrites_every_primitive_to_exp_log_tanh():
    expr = sigmoid(x) + logaddexp(x, y) + log1p(x) + expm1(y) + x_minus_tanh(x)
    expected = 1 / (1 + sp.exp(-x)) + sp.log(sp.exp(x) + sp.exp(y)) + sp.log(1 + x) + sp.exp(y) - 1 + x - sp.tanh(x)
    assert elementary(expr) == expected
    assert elementary(logaddexp(x, 2 * y)) == sp.log(sp.exp(x) + sp.exp(2 * y))  # each argument in its place
    assert elementary(sigmoid(x) + expm1(x)).atoms(sp.Function) == {sp.exp(-x), sp.exp(x)}


def test_elementary_sees_through_stop_gradient_unless_told_to_differentiate():
    assert elementary(x * stop_gradient(x)) == x**2
    assert elementary(x * stop_gradient(x), to_differentiate=True) == x * stop_gradient(x)
    assert elementary(sigmoid(stop_gradient(x)), to_differentiate=True) == 1 / (1 + sp.exp(-stop_gradient(x)))


def test_sample_values_default_to_distinct_rationals_with_the_declared_sign():
    # Sorted by name: a, c, p take 13/11, 17/11, 21/11; a negative parameter takes the negative of its value.
    assert _sample_values(None, x + a + c + p, x) == {a: R(-13, 11), c: R(17, 11), p: R(21, 11)}
    assert _sample_values({}, x * c, x) == {c: R(13, 11)}
    assert _sample_values(None, sp.Abs(x), x) == {}


def test_sample_values_keep_given_numbers_and_ignore_the_rest():
    q = sp.Symbol("q")
    got = _sample_values({c: -3, p: q, x: 5, y: R(1, 2)}, x + a + c + p, x)
    assert got == {a: R(-13, 11), c: -3, p: R(21, 11)}  # y is not in expr, x is the variable, q is no number
    assert all(isinstance(v, sp.Basic) for v in got.values())
    assert _sample_values({c: 0.25}, x + c, x)[c] == sp.Float(0.25)
    with pytest.raises(sp.SympifyError):
        _sample_values({c: "2"}, x + c, x)  # never parsed
    with pytest.raises(sp.SympifyError):
        _sample_values({c: "q"}, x + c, x)  # text is refused, not read as a symbol and replaced


def test_edges_are_every_condition_side_difference_and_every_abs_sign_heaviside_argument():
    expr = sp.Piecewise((x, x < c), (1, True)) + sp.Abs(x - 1) + sp.sign(x + 2) + sp.Heaviside(x - 3) + sp.Max(x, 5)
    edges = _edges(expr)
    assert set(edges) == {c - x, x - 1, x + 2, x - 3, x - 5} or set(edges) == {x - c, x - 1, x + 2, x - 3, x - 5}
    assert _edges(sigmoid(x)) == []  # no branch
    assert set(_edges(sp.Min(x, y))) in ({x - y}, {y - x})  # Min is a Piecewise too


def test_real_roots_take_each_inner_abs_and_sign_both_ways():
    assert sorted(_real_roots(sp.Abs(x) - 2, x)) == [-2, 2]
    assert sorted(_real_roots(sp.sign(x) + x, x)) == [-1, 1]  # sign(x) = 1 gives −1, sign(x) = −1 gives 1
    assert sorted(_real_roots(sp.Abs(x - 1) + sp.Abs(x + 1) - 3, x)) == [R(-3, 2), R(3, 2)]
    assert _real_roots(x**2 + 1, x) == []  # no real root
    assert _real_roots(x - x, x) == []  # 0 everywhere: no sign change
    assert _real_roots((x - 1) ** 2 * (x + 2), x) in ([1, -2], [-2, 1])  # each root once
    # With a parameter SymPy's solveset cannot drop an Abs itself (it answers with an Intersection): each sign choice
    # is a linear equation, and a choice without x (c − 3 = 0, b − c − 3 = 0) has no root in x.
    assert _real_roots(x + sp.Abs(x - c) - 3, x) == [c / 2 + R(3, 2)]
    assert sorted(_real_roots(sp.Abs(2 * x - c) - x, x), key=sp.default_sort_key) == [c / 3, c]
    assert sorted(_real_roots(sp.Abs(x - c) + sp.Abs(x - b) - 3, x), key=sp.default_sort_key) == [
        b / 2 + c / 2 - R(3, 2), b / 2 + c / 2 + R(3, 2)]
    with pytest.raises(Undecidable, match=r"^cannot list where cos\(x\) changes sign in x: "):
        _real_roots(sp.cos(x), x)


def test_a_sum_of_logs_of_exponentials_without_a_real_root_has_no_sign_change():
    # −log σ(2x) + log cosh x = log((1 + e^(−2x))·cosh x) = 0 ⇔ u⁴ − 2u³ + 2u² + 1 = 0 in u = eˣ, which has no root:
    # u²(u − 1)² + u² + 1 > 0 (solveset answers with a ConditionSet)
    never = sp.log(1 + sp.exp(-2 * x)) + sp.log(sp.cosh(x))
    assert not isinstance(sp.solveset(never, x, sp.S.Reals), sp.FiniteSet)
    assert _real_roots(never, x) == []
    assert breakpoints(sp.Piecewise((1, never <= 0), (0, True)), x) == []
    # −log σ(x) = log cosh x at x = log(1 + √2): found, but the tie there is not decided exactly downstream
    crossing = sp.log(1 + sp.exp(-x)) - sp.log(sp.cosh(x))
    assert sign_changes(crossing, x) == [sp.log(1 + sp.sqrt(2))]
    with pytest.raises(Undecidable, match=r"^cannot list where "):
        _real_roots(crossing, x)
    assert sign_changes(x * sp.exp(x) - 1, x) is None  # x outside an exponential
    assert sign_changes(sp.log(sp.exp(x) - 2), x) is None  # eˣ − 2 may be negative: L may not be real there


def test_breakpoints_merge_repeated_roots_and_sort_numbers_first():
    expr = sp.Abs(x - 1) + sp.Piecewise((x, x > 1), (0, True)) + sp.Abs(x + c) + sp.Abs(2 * x + 5)
    assert breakpoints(expr, x) == [R(-5, 2), 1, -c]
    assert breakpoints(sp.Abs(x - sp.sqrt(2)) + sp.Abs(x - 2) + sp.Abs(x - 1), x) == [1, sp.sqrt(2), 2]  # by value
    # Symbolic points in SymPy's canonical order, the same in every run (edges come from sets, in any order).
    cs = sp.symbols("c0:6", real=True)
    assert breakpoints(sum(sp.Abs(x - ci) for ci in reversed(cs)), x) == list(cs)
    assert breakpoints(sp.Piecewise((x, c > 0), (0, True)) + x**2, x) == []  # a condition on c alone is no breakpoint


def test_a_signless_parameter_is_sampled_on_each_side_of_0_and_of_each_swap():
    # only 0 is critical: one beyond it each way, then 0 itself
    assert _regimes(sp.Abs(x - c)) == [{c: -1}, {c: 1}, {c: 0}]
    assert _regimes(sp.Abs(x - c) + sp.Abs(x - 2)) == [{c: -1}, {c: 1}, {c: 3}, {c: 0}, {c: 2}]  # 0 and 2 (c swaps with 2)
    assert _regimes(sp.Abs(x - c) + sp.Abs(x - 3) + sp.Abs(x + 1)) == [
        {c: -2}, {c: R(-1, 2)}, {c: R(3, 2)}, {c: 4}, {c: -1}, {c: 0}, {c: 3}]


def test_a_parameter_of_declared_sign_is_sampled_inside_its_half_line():
    assert _regimes(sp.Abs(x - p) + sp.Abs(x - 1)) == [{p: R(1, 2)}, {p: 2}, {p: 1}]
    assert _regimes(sp.Abs(x - p) + sp.Abs(x + 1)) == [{p: R(13, 11)}]  # p = −1 cannot occur: one regime, at the base
    assert _regimes(sp.Abs(x - a) + sp.Abs(x + 1)) == [{a: -2}, {a: R(-1, 2)}, {a: -1}]
    assert _regimes(sp.Abs(x - a) + sp.Abs(x - 4) + sp.Abs(x + 4) + sp.Abs(x + 2)) == [
        {a: -5}, {a: -3}, {a: -1}, {a: -4}, {a: -2}]
    # p and a swap with 0 at 0 only, where they cannot be: one regime each, never a sample at 0.
    assert _regimes(sp.Abs(x - p) + sp.Abs(x)) == [{p: R(13, 11)}]
    assert _regimes(sp.Abs(x - a) + sp.Abs(x)) == [{a: R(-13, 11)}]
    assert _regimes(sp.Abs(x)) == [{}]  # no parameter: one empty regime


def test_a_condition_on_a_parameter_alone_splits_its_regimes():
    expr = sp.Piecewise((x, c > 2), (0, True)) + sp.Abs(x)
    assert _regimes(expr) == [{c: -1}, {c: 1}, {c: 3}, {c: 0}, {c: 2}]
    assert _regimes(sp.Piecewise((x, p > 2), (0, True))) == [{p: 1}, {p: 3}, {p: 2}]


def test_two_parameters_are_sampled_in_every_combination_of_their_regimes():
    combos = _regimes(sp.Abs(x - c) + sp.Abs(x - b))
    # b's critical values with c at its base 17/11: 0 and 17/11; c's with b at 13/11: 0 and 13/11.
    expected_b = [-1, R(17, 22), R(28, 11)]
    expected_c = [-1, R(13, 22), R(24, 11)]
    assert combos[:9] == [{b: u, c: v} for u in expected_b for v in expected_c]
    # Each critical value itself, the other parameter at its base.
    on_switch = [{b: 0, c: R(17, 11)}, {b: R(17, 11), c: R(17, 11)}, {b: R(13, 11), c: 0}, {b: R(13, 11), c: R(13, 11)}]
    assert all(sample in combos for sample in on_switch)
    # Lifted: with one parameter at each of its samples, the other in every regime cut by 0 and that value, and at
    # both cuts (b = c = −1, b < c < 0 are no product sample).
    for one, other, values in ((c, b, expected_c), (b, c, expected_b)):
        for v in values:
            seen = {s[other] for s in combos if s[one] == v}
            cuts = sorted({sp.Integer(0), v})
            assert set(cuts) <= seen
            assert all(any(lo < u < hi for u in seen) for lo, hi in zip([-sp.oo, *cuts], [*cuts, sp.oo]))
    assert len({tuple(s.items()) for s in combos}) == len(combos)


def test_where_two_critical_curves_cross_is_a_critical_value_of_the_other_parameter():
    # c = b/2 + 10 and c = b cross at b = 20 (in c: at c = 20); neither passes the other's base value there.
    crossing = _crossings([c - b / 2 - 10, c - b], [b, c])
    assert {sp.solve(edge, symbol)[0] for edge in crossing for symbol in edge.free_symbols} == {20}
    assert _crossings([c - b], [b, c]) == []  # one curve crosses nothing
    assert _crossings([c - 1, c - 2, b - 1], [b, c]) == []  # curves without the other parameter cross nowhere
    assert _crossings([c - b], [c]) == []  # one parameter: nothing to project onto
    samples = _regimes(sp.Piecewise((x, (c > b / 2 + 10) & (c < b)), (0, True)))
    assert any(s[b] / 2 + 10 < s[c] < s[b] for s in samples)


def test_at_most_64_parameter_regimes_are_checked():
    cs = sp.symbols("c0:3", real=True)
    combos = _regimes(sum(sp.Abs(x - ci) for ci in cs))  # each: 0 and the other two's base values, 4 samples
    # 4³ combinations first; then, for each, every parameter at its critical values with the others at that
    # combination's values (0 and the other two: |x − cᵢ| and |x − cⱼ| swap at cᵢ = cⱼ), each sample once.
    product = [dict(zip(cs, combo)) for combo in itertools.product(*(sorted({s[ci] for s in combos[:64]}) for ci in cs))]
    assert len(product) == 64 and sorted(map(str, combos[:64])) == sorted(map(str, product))
    for combo in product:
        for ci in cs:
            assert all({**combo, ci: v} in combos for v in {0, *(combo[cj] for cj in cs if cj != ci)})
    assert len({tuple(s.values()) for s in combos}) == len(combos)
    with pytest.raises(Undecidable, match=r"^too many parameter regimes \(125\) to check$"):
        _regimes(sum(sp.Abs(x - ci) for ci in cs) + sp.Abs(x - 5))


def test_one_worklist_lifts_from_switches_and_samples_alike_as_deep_as_there_are_parameters():
    pa, pb, pc = sp.symbols("a b c", positive=True)
    edges = [pc - 2, pb - 3 * pc, pa - 2 * pb]
    base = {pa: R(13, 11), pb: R(17, 11), pc: R(21, 11)}
    found = _lifted(base, [], edges)
    # c on its switch, b in the regime b > 3c cut there, a on its switch a = 2b at that b: three lifts from the base.
    assert any(q[pc] == 2 and q[pb] > 6 and q[pa] == 2 * q[pb] for q in found)
    # Back to a parameter already lifted through, after another moved: a = b − 1 = 4 at b = 5, b = 2a = 8 at a = 4,
    # then a = b − 1 = 7 at b = 8 (lifting each parameter once only never reaches a = 7, b = 8; the switches' lifting did).
    chain = _lifted({pa: R(1, 3), pb: R(5), pc: R(7)}, [], [pa - (pb - 1), pb - 2 * pa, pc - 100])
    assert {pa: 4, pb: 8, pc: 7} in chain and {pa: 7, pb: 8, pc: 7} in chain
    assert _lifted({}, [], []) == [] and _lifted({}, [{}], []) == [{}]
    assert len({tuple(q.items()) for q in found}) == len(found)


def test_is_degenerate_when_two_breakpoints_meet_or_a_parameter_condition_sits_on_its_switch():
    expr = sp.Max(x, b) - sp.Max(x, c)
    points = breakpoints(expr, x)
    assert is_degenerate(expr, x, points, {b: 1, c: 1})
    # Exact values meet only when equal (b = c + 10⁻²⁵ never does); with a float in them, within 1e-20 (a rounding).
    assert not is_degenerate(expr, x, points, {b: R(1, 10**25), c: 0})
    assert is_degenerate(expr, x, points, {b: sp.Float(1e-25), c: 0})
    assert not is_degenerate(expr, x, points, {b: R(1, 10**15), c: 0})
    # 1 + 10⁻¹⁸ and 1 differ in the 19th digit: told apart at 30 digits, not at the 15 of a float.
    assert not is_degenerate(expr, x, points, {b: 1 + R(1, 10**18), c: 1})
    switch = sp.Piecewise((x, c > 2), (0, True))
    assert is_degenerate(switch, x, [], {c: 2}) and not is_degenerate(switch, x, [], {c: 3})
    assert not is_degenerate(switch, x, [], {c: 2 - R(1, 10**25)})
    assert is_degenerate(switch, x, [], {c: 2 - sp.Float(1e-25)}) and is_degenerate(switch, x, [], {c: sp.Float(2)})
    assert not is_degenerate(switch, x, [], {c: 2 - R(1, 10**15)})
    assert not is_degenerate(sp.Abs(x - 1) + sp.Abs(x - 2), x, [sp.Integer(1), sp.Integer(2)], {})


def test_generic_samples_move_each_parameter_both_ways_by_the_first_shift_that_works():
    expr = sp.Max(x, b) - sp.Max(x, c)
    assert generic_samples(expr, x, breakpoints(expr, x), {b: 0, c: 0}) == [
        {b: R(1, 7), c: 0}, {b: R(-1, 7), c: 0}, {b: 0, c: R(1, 7)}, {b: 0, c: R(-1, 7)}]
    # A third breakpoint at b + 1/7: c = 1/7 and b = −1/7 meet it, so those two moves take the next shift, 1/71.
    expr = sp.Max(x, c) - sp.Max(x, b) + sp.Max(x, b + R(1, 7))
    assert generic_samples(expr, x, breakpoints(expr, x), {b: 0, c: 0}) == [
        {b: R(1, 7), c: 0}, {b: R(-1, 71), c: 0}, {b: 0, c: R(1, 71)}, {b: 0, c: R(-1, 7)}]


def test_generic_samples_keep_a_declared_sign_and_skip_moves_that_stay_degenerate():
    # 1/7 − 1/7 = 0 is no positive p: the next shift down, 1/71, is taken.
    assert generic_samples(x - p, x, [p], {p: R(1, 7)}) == [{p: R(2, 7)}, {p: R(1, 7) - R(1, 71)}]
    # −1/71 + 1/7 and −1/71 + 1/71 are no negative a: up by 1/719, down by 1/7.
    assert generic_samples(x - a, x, [a], {a: R(-1, 71)}) == [{a: R(-1, 71) + R(1, 719)}, {a: R(-1, 71) - R(1, 7)}]


def test_a_true_identity_with_a_swap_is_proven_and_a_wrong_variant_refuted_exactly():
    # x + c + 2 = max + median + min of the three; the breakpoints c and 2 swap at c = 2.
    median = sp.Max(sp.Min(x, c), sp.Min(x, 2), sp.Min(c, 2))
    assert prove_zero(x + c + 2 - sp.Max(x, c, 2) - sp.Min(x, c, 2) - median, x)
    # Without min(c, 2) the "median" is min(x, max(c, 2)): wrong exactly where x is the smallest, by min(c, 2) − x.
    wrong = x + c + 2 - sp.Max(x, c, 2) - sp.Min(x, c, 2) - sp.Max(sp.Min(x, c), sp.Min(x, 2))
    proof = prove_zero(wrong, x)
    assert not proof
    point = proof.counterexample
    assert set(point) == {x, c} and point[x] < min(point[c], 2)
    assert wrong.subs(point) == min(point[c], 2) - point[x]


def test_a_max_sympy_cannot_write_as_branches_is_undecided_not_a_recursion_error():
    # SymPy's Piecewise rewrite of max(|z − a|, |a − b|) re-evaluates itself until the recursion limit
    z, a, b = sp.symbols("z a b", real=True)
    for wrong_by in (0, 1):
        proof = prove_zero(sp.Max(sp.Abs(z - a), sp.Abs(a - b)) - sp.Abs(z - a) - wrong_by, z)
        assert not proof.holds and proof.counterexample is None
        assert proof.method.startswith("undecided: SymPy could not write its max/min as branches")


@settings(max_examples=40, deadline=None)
@given(st.fractions(min_value=-50, max_value=50, max_denominator=97), st.fractions(min_value=-50, max_value=50, max_denominator=97))
def test_a_rational_linear_edges_root_is_solvesets_without_asking_it(slope, offset):
    # c₁·x + c₀ is answered as −c₀/c₁ (the lifting of 3 parameters asked solveset thousands of times): the same root,
    # and a slope of 0 (no root, or 0 everywhere) still goes to solveset.
    edge = R(slope.numerator, slope.denominator) * x + R(offset.numerator, offset.denominator)
    expected = sp.solveset(edge, x, sp.S.Reals)
    expected = [] if expected in (sp.S.Reals, sp.S.EmptySet) else list(expected)
    found = _real_roots(edge, x)
    assert found == expected and all(r.is_Rational for r in found)
    found.append(sp.Integer(99))  # a caller's list: the remembered roots are not changed
    assert _real_roots(edge, x) == expected


def test_the_roots_of_an_edge_are_found_once_per_process(solveset_calls):
    solved = solveset_calls
    edge = x**2 - R(17, 5) * x + R(3, 7)  # not linear: solveset is asked, once
    assert _real_roots(edge, x) == _real_roots(edge, x) and len(_real_roots(edge, x)) == 2
    assert solved == [edge]
    assert _real_roots(R(3, 4) * x - R(5, 6), x) == [R(10, 9)] and solved == [edge]
