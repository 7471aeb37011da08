"""Initialisation schemes: variance proofs, the seed notebook's misplaced parenthesis, sampled weights' statistics."""

import doctest
import functools
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from sympy import stats

from symdl import init_schemes
from symdl.layers.init_schemes import (
    KERAS_TRUNCATION_CONSTANT,
    N_IN,
    N_OUT,
    SCHEMES,
    InitCheck,
    check_init_formula,
    get_scheme,
    init_weight,
    prove_all,
    prove_variance,
)
from symdl.symbolic.parse import FormulaError
from symdl.symbolic.proof import Proof

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "initialisation.md"

# The seed notebook (Keras, kernel shape (n_in, n_out)): stddev = tf.sqrt(2. / (shape[0]) + shape[1]).
SEED_FORMULA = "sqrt(2/(n_in) + n_out)"


# --- proofs ----------------------------------------------------------------------------------------------------------


def test_scheme_names():
    assert SCHEMES == ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal")


@pytest.mark.parametrize("name", SCHEMES)
def test_each_variance_proof_holds(name):
    proof = prove_variance(name)
    assert isinstance(proof, Proof)
    assert proof.holds, proof.method
    assert "sympy.stats" in proof.method


def test_targets_are_the_textbook_variances():
    assert get_scheme("glorot_uniform").target == 2 / (N_IN + N_OUT)
    assert get_scheme("he_normal").target == 2 / N_IN
    assert get_scheme("lecun_normal").target == 1 / N_IN


def test_a_scheme_with_a_wrong_target_is_not_proven():
    # A normal's std used as a uniform limit: Var = (2/n_in)/3.
    wrong = init_schemes.InitScheme("he_uniform_mistake", "uniform", sp.sqrt(2 / N_IN), 2 / N_IN, "a mistake")
    assert not prove_variance(wrong)
    with pytest.raises(ValueError, match="unknown family 'laplace'; accepted: uniform, normal"):
        init_schemes.InitScheme("x", "laplace", sp.sqrt(2 / N_IN), 2 / N_IN, "")
    with pytest.raises(ValueError, match="parameter must be a SymPy expression in N_IN and N_OUT"):
        init_schemes.InitScheme("x", "normal", sp.sqrt(2 / sp.Symbol("n_in")), 2 / N_IN, "")


def test_prove_all_rows_hold():
    proofs = prove_all()
    assert len(proofs) == len(SCHEMES) + 2
    failed = {name: p.method for name, p in proofs.items() if not p}
    assert not failed


def test_keras_truncation_constant_is_the_std_of_a_normal_cut_at_two():
    proof = init_schemes.prove_truncation_constant()
    assert proof.holds, proof.method
    assert KERAS_TRUNCATION_CONSTANT == 0.87962566103423978


# --- user formulas -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["glorot_normal", "glorot_uniform"])
def test_the_seed_notebooks_misplaced_parenthesis_is_caught(scheme):
    check = check_init_formula(SEED_FORMULA, scheme=scheme)
    assert isinstance(check, InitCheck)
    assert not check.holds
    assert check.method.startswith("refuted")
    point = check.counterexample
    n_in, n_out = point["n_in"], point["n_out"]
    assert point["target"] == sp.Rational(2, n_in + n_out)
    std_squared = sp.Rational(2, n_in) + n_out
    assert point["variance"] == (std_squared if scheme == "glorot_normal" else std_squared / 3)
    assert point["variance"] != point["target"]


def test_the_corrected_formula_is_accepted():
    check = check_init_formula("sqrt(2/(n_in + n_out))", scheme="glorot_normal")
    assert check.holds, check.method
    assert check.counterexample is None
    assert check.variance == 2 / (N_IN + N_OUT)


@pytest.mark.parametrize(
    ("formula", "scheme"),
    [
        ("sqrt(6/(n_in + n_out))", "glorot_uniform"),
        ("sqrt(6)/sqrt(n_out + n_in)", "glorot_uniform"),
        ("(2/(n_in + n_out))**0.5", "glorot_normal"),
        ("sqrt(6/n_in)", "he_uniform"),
        ("sqrt(2)/sqrt(n_in)", "he_normal"),
        ("1/sqrt(n_in)", "lecun_normal"),
        ("sqrt(3/n_in)", "lecun_uniform"),
    ],
)
def test_equivalent_forms_are_accepted(formula, scheme):
    assert check_init_formula(formula, scheme=scheme).holds


@pytest.mark.parametrize(
    ("formula", "scheme", "why"),
    [
        ("sqrt(2/(n_in + n_out))", "glorot_uniform", "Var(W)"),  # a normal's std used as a uniform limit
        ("sqrt(1/n_in)", "glorot_normal", "Var(W)"),  # right only when n_in = n_out
        ("sqrt(2/n_out)", "he_normal", "Var(W)"),  # fan-out instead of fan-in
        ("-sqrt(2/n_in)", "he_normal", "positive"),  # the right variance, but not a standard deviation
        ("0.05", "he_normal", "Var(W)"),
    ],
)
def test_wrong_formulas_are_refuted_with_a_counterexample(formula, scheme, why):
    check = check_init_formula(formula, scheme=scheme)
    assert not check.holds
    assert why in check.method
    assert check.counterexample is not None
    if why == "Var(W)":
        assert check.counterexample["variance"] != check.counterexample["target"]


def test_right_only_on_the_diagonal_is_refuted_off_it():
    check = check_init_formula("sqrt(1/n_in)", scheme="glorot_normal", points=[(4, 4), (8, 8), (3, 5)])
    assert not check.holds
    assert (check.counterexample["n_in"], check.counterexample["n_out"]) == (3, 5)


def test_a_sympy_expression_and_other_names_are_accepted():
    n_in, n_out = sp.symbols("n_in n_out")
    assert check_init_formula(sp.sqrt(2 / (n_in + n_out)), scheme="glorot_normal").holds
    check = check_init_formula("sqrt(2/(fan_in) + fan_out)", scheme="glorot_normal", names=("fan_in", "fan_out"))
    assert not check.holds
    assert set(check.counterexample) >= {"fan_in", "fan_out"}


@pytest.mark.parametrize(
    "formula",
    ["__import__('os').system('true')", "sqrt(2/(n_in + m))", "n_in.__class__", "sqrt(", "lambda: 1", "1/0"],
)
def test_bad_formula_text_is_refused_by_the_parser(formula):
    with pytest.raises(FormulaError, match="^formula:"):
        check_init_formula(formula)


def test_bad_formula_objects():
    with pytest.raises(TypeError, match="formula"):
        check_init_formula(0.05)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="formula"):
        check_init_formula(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown symbols"):
        check_init_formula(sp.Symbol("k") / N_IN)
    with pytest.raises(ValueError, match="undefined functions"):
        check_init_formula(sp.Function("f")(N_IN))
    with pytest.raises(ValueError, match="positive integers"):
        check_init_formula("sqrt(2/n_in)", "he_normal", points=[(0, 1)])
    with pytest.raises(TypeError, match="names"):
        check_init_formula("sqrt(2/n_in)", "he_normal", names="n_in")  # type: ignore[arg-type]


def test_unknown_scheme_names_the_accepted_ones():
    for bad in ("xavier", "", None, 3):
        with pytest.raises(ValueError, match="accepted: glorot_uniform, glorot_normal, he_uniform"):
            get_scheme(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown initialisation scheme"):
        init_weight("kaiming", (3, 2), 0)
    with pytest.raises(ValueError, match="unknown initialisation scheme"):
        check_init_formula("1", "kaiming")
    with pytest.raises(ValueError, match="unknown initialisation scheme"):
        prove_variance("kaiming")


# --- sampled weights ---------------------------------------------------------------------------------------------

ROWS, COLS = 200, 300  # (n_out, n_in)
SIGMAS = 5.0  # tolerance in standard deviations of the estimator; the seeds are fixed, so this never flakes


@functools.cache
def _kurtosis(family: str) -> sp.Expr:
    """μ₄/σ⁴ of the family, by sympy.stats (9/5 for a uniform, 3 for a normal)."""
    theta = sp.Symbol("theta", positive=True)
    dist = stats.Uniform("W", -theta, theta) if family == "uniform" else stats.Normal("W", 0, theta)
    return sp.simplify(stats.kurtosis(dist))


def _target(name: str, n_out: int, n_in: int) -> float:
    return float(get_scheme(name).target.subs({N_IN: n_in, N_OUT: n_out}))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", SCHEMES)
def test_sampled_weights_have_the_proven_variance(name, dtype):
    w = init_weight(name, (ROWS, COLS), 1234, dtype=dtype)
    assert w.shape == (ROWS, COLS)
    assert w.dtype == np.dtype(dtype)
    n = w.size
    variance = _target(name, ROWS, COLS)
    kurtosis = float(_kurtosis(get_scheme(name).family))
    # Unbiased sample variance s²: Var(s²) = (μ₄ − σ⁴(n − 3)/(n − 1))/n, with μ₄ = kurtosis·σ⁴.
    sd_of_s2 = variance * np.sqrt((kurtosis - (n - 3) / (n - 1)) / n)
    sample = w.astype(np.float64)
    assert abs(sample.var(ddof=1) - variance) <= SIGMAS * sd_of_s2
    assert abs(sample.mean()) <= SIGMAS * np.sqrt(variance / n)


@pytest.mark.parametrize("name", [s for s in SCHEMES if s.endswith("uniform")])
def test_uniform_weights_stay_within_the_limit(name):
    limit = float(get_scheme(name).parameter.subs({N_IN: COLS, N_OUT: ROWS}))
    for dtype in ("float64", "float32"):
        w = init_weight(name, (ROWS, COLS), 7, dtype)
        assert np.abs(w).max() <= w.dtype.type(limit)
        # Both tails are reached: the support is (−a, a), not a smaller one.
        assert w.min() < -0.99 * limit and w.max() > 0.99 * limit


def test_the_limit_is_printed_from_the_sympy_expression():
    for name in SCHEMES:
        init = get_scheme(name)
        kernel = init_schemes.parameter_kernel(init)
        for n_out, n_in in [(1, 1), (200, 300), (10, 784)]:
            exact = float(sp.N(init.parameter.subs({N_IN: n_in, N_OUT: n_out}), 30))
            assert float(kernel(n_in, n_out)) == pytest.approx(exact, rel=4e-16)


def test_fan_in_is_the_number_of_columns():
    # he_normal depends on n_in only: a (1, 10000) matrix has n_in = 10000, so a tiny spread.
    wide = init_weight("he_normal", (1, 10_000), 0)
    tall = init_weight("he_normal", (10_000, 1), 0)
    assert wide.std() == pytest.approx(np.sqrt(2 / 10_000), rel=0.05)
    assert tall.std() == pytest.approx(np.sqrt(2 / 1), rel=0.05)


def test_seeds_reproduce_and_generators_advance():
    a = init_weight("glorot_uniform", (3, 4), 5)
    b = init_weight("glorot_uniform", (3, 4), 5)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(5)
    first = init_weight("glorot_uniform", (3, 4), rng)
    second = init_weight("glorot_uniform", (3, 4), rng)
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, second)
    assert init_weight("he_normal", (3, 4), 5, np.float32).dtype == np.float32
    assert init_weight("he_normal", (np.int64(3), 4), np.int64(5)).shape == (3, 4)


@pytest.mark.parametrize("shape", [(3,), (3, 4, 5), (0, 3), (3, -1), (3.0, 2), (True, 2), "ab", 3, None, (3, "4")])
def test_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"shape: expected \(n_out, n_in\)"):
        init_weight("he_normal", shape, 0)


@pytest.mark.parametrize("seed", [-1, 1.5, None, "0", True, np.random.RandomState(0)])
def test_bad_seeds(seed):
    with pytest.raises(ValueError, match="rng_or_seed: expected a non-negative integer seed, a numpy.random.Generator or a numpy.random.SeedSequence"):
        init_weight("he_normal", (3, 2), seed)


@pytest.mark.parametrize("dtype", ["int32", "float16", "complex128", "nonsense", bool, 3.5])
def test_bad_dtypes(dtype):
    with pytest.raises(ValueError, match="dtype: expected one of float64, float32"):
        init_weight("he_normal", (3, 2), 0, dtype)


# --- documentation ------------------------------------------------------------------------------------------------


def test_the_initialisation_guide_runs_as_written():
    result = doctest.testfile(str(GUIDE), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8
    assert result.failed == 0


def test_module_doctests():
    result = doctest.testmod(init_schemes, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3
    assert result.failed == 0
