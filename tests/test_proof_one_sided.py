"""An interval's branch proven with the variable measured from the interval's end, z = lo + t or hi − t, t > 0
(SymPy sees log(z²) = 2 log(−z) only for z < 0): a claim for every parameter value, never a side of 0 read at a
regime's sample, so a breakpoint that crosses 0 inside a parameter regime (c − 1, c² − 1/4) lets no false identity
through."""

import pytest
import sympy as sp

import symdl
from symdl.rulebook.claims import check_derivative
from symdl.symbolic.proof import prove_zero

z = sp.Symbol("z", real=True)
c = sp.Symbol("c", real=True)
p = sp.Symbol("p", positive=True)
QUARTER = sp.Rational(1, 4)
#: 0 for z > 0, −2πi for z < 0: SymPy shows the first only with z positive.
ONE_SIDED = sp.log(z**2) - 2 * sp.log(z)


def _on(condition: sp.Basic, branch: sp.Expr = ONE_SIDED) -> sp.Expr:
    return sp.Piecewise((branch, condition), (0, True))


@pytest.mark.parametrize(
    ("expr", "false_at"),
    [
        # c² − 1/4 > 0 at every regime sample (c = ±1), < 0 for |c| < 1/2: the interval (c² − 1/4, ∞) holds z < 0.
        (_on(z > c**2 - QUARTER), {c: 0, z: -QUARTER / 2}),
        (_on(z > p - 1), {p: QUARTER, z: -QUARTER}),  # p − 1 > 0 at the sample p = 13/11, not for p < 1
        (_on(z > c - 1), {c: 0, z: -QUARTER}),
        (_on(z < -p + 1, sp.log(z**2) - 2 * sp.log(-z)), {p: QUARTER, z: QUARTER}),  # the mirror image
    ],
)
def test_a_breakpoint_that_crosses_0_inside_a_regime_does_not_prove_a_false_identity(expr, false_at):
    assert sp.N(expr.subs(false_at), 30).is_real is False  # −2πi: the identity is false there
    assert not prove_zero(expr, z)


def test_a_false_derivative_claim_with_such_a_breakpoint_is_refuted():
    r = symdl.formula_rule("max(z, c**2 - 1/4)**2/2", params={"c": None})
    w, s = r.wrt, r.param_symbols["c"]
    claimed = sp.Piecewise((w + sp.log(w**2) - 2 * sp.log(w), w >= s**2 - QUARTER), (0, True))
    assert sp.N((claimed - r.derivative()).subs({s: 0, w: -QUARTER / 2}), 30).is_real is False
    assert not check_derivative(r, claimed)


@pytest.mark.parametrize(
    "expr",
    [
        _on(z > 0),
        _on(z > p),
        _on(z > c**2),  # c² ≥ 0 for every real c
        _on(z < -p, sp.log(z**4) - 4 * sp.log(-z)),
        _on(z < 0, 3 * sp.log(-z) - sp.log(-(z**3))),
        _on(z > 1, sp.log((z - 1) ** 2) - 2 * sp.log(z - 1)),  # measured from the interval's end
        _on(z < 1, sp.log(3 * (z - 1) ** 2) - 2 * sp.log(1 - z) - sp.log(3)),
        _on(z > c - 1, sp.log((z - c + 1) ** 2) - 2 * sp.log(z - c + 1)),  # an end that crosses 0: still sound
    ],
)
def test_an_interval_on_one_side_of_0_for_every_parameter_value_is_proven(expr):
    assert prove_zero(expr, z)


def test_the_one_sided_retry_alone_is_not_enough_for_a_wrong_branch():
    assert not prove_zero(_on(z > 0, sp.log(z**2) - 3 * sp.log(z)), z)
    assert not prove_zero(_on(z < 0, sp.log(z**2) - 2 * sp.log(z)), z)  # complex for every z < 0
