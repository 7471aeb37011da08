"""Dropout: expectation proofs with sympy.stats, the non-linearity caveat, masks and kernels checked statistically."""

import doctest
import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from sympy import stats

from symdl import dropout
from symdl.codegen.kernel import compile_kernel
from symdl.layers.dropout import (
    MASK,
    RULES,
    ExpectationCheck,
    P,
    X,
    check_activation,
    dropout_mask,
    inference_expr,
    inverted_dropout,
    layer_exprs,
    masks,
    prove_all,
    prove_expectation,
    training_expr,
    weight_scaling,
)
from symdl.symbolic.functions import NAMED_FUNCTIONS
from symdl.symbolic.proof import Proof

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "dropout.md"
SIGMAS = 5.0  # tolerance in standard deviations of the estimator; the seeds are fixed, so this never flakes
HALF = sp.Rational(1, 2)


def relu(y):
    return sp.Max(0, y)


# --- proofs ----------------------------------------------------------------------------------------------------------


def test_prove_all_rows_hold():
    proofs = prove_all()
    assert len(proofs) >= 10
    assert all(isinstance(p, Proof) for p in proofs.values())
    failed = {name: p.method for name, p in proofs.items() if not p}
    assert not failed


def test_the_expressions_are_the_seeds_rules():
    assert training_expr("inverted") == MASK * X / P
    assert inference_expr("inverted") == X
    assert training_expr("weight_scaling") == MASK * X
    assert inference_expr("weight_scaling") == P * X
    assert stats.E(MASK) == P and stats.variance(MASK).factor() == -P * (P - 1)


@pytest.mark.parametrize("rule", RULES)
def test_both_rules_match_the_training_expectation_for_a_linear_unit(rule):
    check = prove_expectation(training_expr(rule), inference_expr(rule))
    assert isinstance(check, ExpectationCheck)
    assert check.holds, check.method
    assert check.expectation == inference_expr(rule)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("n", [1, 3, 5])
def test_a_linear_layer_keeps_its_expected_input(rule, n):
    training, inference = layer_exprs(n, rule)
    assert len(stats.random_symbols(training)) == n
    assert prove_expectation(training, inference).holds


def test_weight_scaling_without_the_p_is_refused():
    wrong = prove_expectation(training_expr("weight_scaling"), X)  # claim E[mask·x] = x
    assert not wrong.holds
    assert wrong.method.startswith("refuted")
    point = wrong.counterexample
    assert point is not None and point["p"] == HALF
    assert point["expected"] == point["p"] * point["x"]
    assert point["expected"] != point["inference"]


@pytest.mark.parametrize(
    ("training", "inference"),
    [
        (MASK * X / P, P * X),  # inverted dropout scaled again at inference
        (MASK * X, X / P),  # weight scaling, inverse at inference
        (MASK * X / P**2, X),
    ],
)
def test_other_wrong_rules_are_refused(training, inference):
    check = prove_expectation(training, inference)
    assert not check.holds
    assert check.counterexample is not None


def test_a_wrong_layer_claim_is_refused():
    training, _ = layer_exprs(3, "weight_scaling")
    _, without_p = layer_exprs(3, "inverted")
    assert not prove_expectation(training, without_p).holds


def test_affine_activations_are_exact():
    a, b = sp.symbols("a b", real=True)
    for rule in RULES:
        assert check_activation(lambda y: a * y + b, rule).holds
        assert check_activation(lambda y: a * y + b, rule, n=3).holds


@pytest.mark.parametrize("rule", RULES)
def test_relu_is_exact_for_a_single_input(rule):
    # relu(c·y) = c·relu(y) for c > 0 and relu(0) = 0: p·relu(x/p) = relu(x).
    check = check_activation(relu, rule)
    assert check.holds, check.method
    leaky = check_activation(lambda y: sp.Max(0, y) + sp.Rational(1, 100) * sp.Min(0, y), rule)
    assert leaky.holds, leaky.method


def test_relu_after_a_layer_is_not_exact():
    w0, w1 = sp.symbols("w0:2", real=True)
    x0, x1 = sp.symbols("x0:2", real=True)
    check = check_activation(relu, n=2, at={w0: 1, w1: -1, x0: 1, x1: 1, P: HALF})
    assert not check.holds
    # Masks (1,0), (0,1), (1,1), (0,0) each with probability 1/4 give relu(2), relu(−2), relu(0), relu(0).
    assert check.counterexample["expected"] == HALF
    assert check.counterexample["inference"] == 0
    # Found without a hint too.
    assert not check_activation(relu, n=2).holds


def test_tanh_is_not_exact_and_the_gap_is_the_jensen_sign():
    check = check_activation(sp.tanh)
    assert not check.holds
    assert check.expectation == P * sp.tanh(X / P)
    assert check.counterexample["expected"] == sp.tanh(2) / 2
    gap = lambda x, p: float(p * sp.tanh(x / p) - sp.tanh(x))  # noqa: E731
    # tanh is concave on x > 0 and convex on x < 0: the gap has the opposite sign to x.
    for p in (HALF, sp.Rational(4, 5), sp.Rational(1, 10)):
        for x in (sp.Rational(1, 3), 1, 3):
            assert gap(x, p) < 0 < gap(-x, p)


def test_convex_activations_overshoot():
    softplus = NAMED_FUNCTIONS["softplus"]
    check = check_activation(softplus)
    assert not check.holds
    gap = check.expectation - softplus(X)
    for x in (-2, HALF, 1, 3):
        for p in (HALF, sp.Rational(9, 10)):
            assert sp.N(gap.subs({X: x, P: p})) > 0
    # The square: the Jensen gap is exactly the variance of the dropped input.
    square = check_activation(lambda y: y**2)
    assert not square.holds
    assert sp.simplify(square.expectation - X**2 - stats.variance(training_expr())) == 0


def test_every_activation_is_exact_without_dropout_or_at_zero():
    for sigma in (sp.tanh, NAMED_FUNCTIONS["sigmoid"], lambda y: y**2):
        gap = check_activation(sigma).expectation - sigma(X)
        assert sp.simplify(gap.subs(P, 1)) == 0
        assert sp.simplify(gap.subs(X, 0)) == 0


def test_bad_symbolic_input():
    with pytest.raises(ValueError, match="unknown dropout rule 'standard'; accepted: inverted, weight_scaling"):
        training_expr("standard")
    with pytest.raises(ValueError, match="unknown dropout rule"):
        check_activation(sp.tanh, "alpha")
    with pytest.raises(TypeError, match="sigma"):
        check_activation("tanh")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="training must be a SymPy expression"):
        prove_expectation("mask*x/p", X)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inference must not contain random symbols"):
        prove_expectation(training_expr(), MASK * X)
    for n in (0, -1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="n: expected a positive integer"):
            masks(n)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="n: expected a positive integer"):
            check_activation(sp.tanh, n=n)  # type: ignore[arg-type]


# --- numeric -----------------------------------------------------------------------------------------------------


def _compiled(expr, args, name):
    """A kernel of a proven SymPy expression (used for tolerances, so they come from the same proofs)."""
    return compile_kernel(expr.xreplace({MASK: sp.Symbol("mask", real=True)}), args, name)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_masks_keep_at_rate_p(p, dtype):
    mask = dropout_mask((400, 500), p, 2024, dtype)
    assert mask.shape == (400, 500) and mask.dtype == np.dtype(dtype)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    n = mask.size
    variance = float(stats.variance(MASK).subs(P, sp.nsimplify(p)))  # p(1 − p), by sympy.stats
    assert abs(mask.mean() - p) <= SIGMAS * math.sqrt(variance / n) + 1e-12
    if p == 1.0:
        assert mask.all()


def test_masks_are_reproducible_and_generators_advance():
    np.testing.assert_array_equal(dropout_mask(10, 0.5, 3), dropout_mask((10,), 0.5, 3))
    rng = np.random.default_rng(3)
    first, second = dropout_mask(50, 0.5, rng), dropout_mask(50, 0.5, rng)
    np.testing.assert_array_equal(first, dropout_mask(50, 0.5, 3))
    assert not np.array_equal(first, second)
    assert dropout_mask((0, 3), 0.5, 0).shape == (0, 3)
    assert dropout_mask((), 0.5, 0).shape == ()


@pytest.mark.parametrize("p", [0.5, 0.8])
def test_inverted_dropout_is_unbiased(p):
    """Law of large numbers: the mean over K masks of x·mask/p is x, within 5 standard errors from the proven variance."""
    x = np.linspace(-3.0, 3.0, 64)
    k = 4000
    mask = dropout_mask((k, x.size), p, 99)
    mean = inverted_dropout(x, mask, p).mean(axis=0)
    variance = _compiled(stats.variance(training_expr("inverted")), [X, P], "inverted_variance")(x, p)
    np.testing.assert_array_less(np.abs(mean - x), SIGMAS * np.sqrt(variance / k) + 1e-12)


def test_weight_scaling_matches_the_mean_of_plain_dropout():
    p, k = 0.5, 4000
    x = np.linspace(-3.0, 3.0, 64)
    mask = dropout_mask((k, x.size), p, 7)
    mean = (x * mask).mean(axis=0)  # training with the weight scaling rule: mask·x
    variance = _compiled(stats.variance(training_expr("weight_scaling")), [X, P], "plain_variance")(x, p)
    np.testing.assert_array_less(np.abs(mean - weight_scaling(x, p)), SIGMAS * np.sqrt(variance / k) + 1e-12)


def test_kernels_compute_the_expressions_and_keep_dtype():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((5, 7)).astype(dtype)
        mask = dropout_mask((5, 7), 0.8, 1, dtype)
        out = inverted_dropout(x, mask, 0.8)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, x * mask / dtype(0.8), rtol=1e-6 if dtype == np.float32 else 1e-15)
        assert weight_scaling(x, 0.8).dtype == dtype
        np.testing.assert_allclose(weight_scaling(x, 0.8), x * dtype(0.8), rtol=1e-6 if dtype == np.float32 else 1e-15)
    # A mask broadcasts: one mask row for a whole batch; p = 1 is the identity.
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(inverted_dropout(x, np.array([1.0, 0.0, 1.0]), 0.5), [[0, 0, 4], [6, 0, 10]])
    np.testing.assert_array_equal(inverted_dropout(x, np.ones(3), 1), x)
    assert inverted_dropout(x, np.ones(3), np.float64(0.5)).dtype == np.float64
    assert inverted_dropout(x.astype(np.float32), np.ones(3, np.float32), np.float64(0.5)).dtype == np.float32


BAD_P = [0, 0.0, -0.1, 1.5, 1 + 1e-12, float("nan"), float("inf"), True, "0.5", None, np.array([0.5]), 1j]


@pytest.mark.parametrize("p", BAD_P, ids=repr)
def test_bad_keep_probabilities(p):
    message = r"p: the keep probability must be a number in \(0, 1\]"
    with pytest.raises(ValueError, match=message):
        dropout_mask(3, p, 0)
    with pytest.raises(ValueError, match=message):
        inverted_dropout(np.ones(3), np.ones(3), p)
    with pytest.raises(ValueError, match=message):
        weight_scaling(np.ones(3), p)


def test_bad_numeric_input():
    with pytest.raises(ValueError, match="mask: expected only 0 and 1"):
        inverted_dropout(np.ones(3), np.array([1.0, 0.5, 0.0]), 0.5)
    with pytest.raises(ValueError, match="does not broadcast"):
        inverted_dropout(np.ones(3), np.ones(4), 0.5)
    with pytest.raises(ValueError, match="x: expected real numbers"):
        inverted_dropout(np.array(["a"]), np.ones(1), 0.5)
    with pytest.raises(ValueError, match="x: expected real numbers"):
        weight_scaling(np.ones(2, dtype=complex), 0.5)
    for shape in (-1, (2, -1), (2.0,), "3", None, (True,)):
        with pytest.raises(ValueError, match="shape: expected a non-negative integer"):
            dropout_mask(shape, 0.5, 0)  # type: ignore[arg-type]
    for seed in (-1, 0.5, None, "1", False):
        with pytest.raises(ValueError, match="seed_or_rng: expected a non-negative integer seed, a numpy.random.Generator"):
            dropout_mask(3, 0.5, seed)  # type: ignore[arg-type]
    for dtype in ("int8", "float16", "bool", "nonsense"):
        with pytest.raises(ValueError, match="dtype: expected one of float64, float32"):
            dropout_mask(3, 0.5, 0, dtype)


# --- documentation ------------------------------------------------------------------------------------------------


def test_the_dropout_guide_runs_as_written():
    result = doctest.testfile(str(GUIDE), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8
    assert result.failed == 0


def test_module_doctests():
    result = doctest.testmod(dropout, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3
    assert result.failed == 0
