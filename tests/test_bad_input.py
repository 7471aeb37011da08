"""Bad input to the Python API: one clear ValueError/TypeError, never code execution, never another exception."""

import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symdl
import symdl.graph  # imported here, not inside the timed calls: the timer is for the refusal, not the import
from symdl.cli import main
from symdl.verify import verify_rule, verify_rules

z = sp.Symbol("z", real=True)
SENTINEL = Path("/tmp/symdl-bad-input-sentinel")


def test_reduce_sum_is_never_pasted_into_generated_code():
    SENTINEL.unlink(missing_ok=True)
    payload = f"__import__('pathlib').Path('{SENTINEL}').touch()"
    with pytest.raises(TypeError, match="reduce_sum must be True or False"):
        symdl.compile_kernel(z, [z], "f", reduce_sum=payload)
    assert not SENTINEL.exists()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: symdl.compile_kernel(z, [z], None), TypeError, "name must be a str"),
        (lambda: symdl.compile_kernel("z", [z], "f"), TypeError, "SymPy expression"),
        (lambda: symdl.compile_kernel(sp.Eq(z, 1), [z], "f"), TypeError, "SymPy expression"),
        (lambda: symdl.compile_kernel(z, [z, z], "f"), TypeError, "distinct SymPy symbols"),
        (lambda: symdl.compile_kernel(sp.I * z, [z], "f"), ValueError, "complex or infinite"),
        (lambda: symdl.compile_kernel(sp.zoo * z, [z], "f"), ValueError, "complex or infinite"),
        (lambda: symdl.compile_kernel(sp.Integer(10**400) * z, [z], "f"), ValueError, "does not fit a float64"),
        (lambda: symdl.compile_kernel(sp.Rational(1, 10**400) * z, [z], "f"), ValueError, "does not fit a float64"),
        (lambda: symdl.compile_kernel(sp.Function("g")(z), [z], "f"), ValueError, "cannot print"),
        (lambda: symdl.prove_zero("z - z", z), TypeError, "SymPy expression"),
        (lambda: symdl.prove_zero(sp.Eq(z, 1), z), TypeError, "SymPy expression"),
        (lambda: symdl.prove_zero(z - z, "z"), TypeError, "var must be a SymPy Symbol"),
        (lambda: symdl.formula_rule("1e308*z*10").numeric(), ValueError, "does not fit a float64"),
        (lambda: symdl.formula_rule("k*z", params=["k"]), TypeError, "mapping"),
        (lambda: symdl.formula_rule("a+b+z", symbols="ab"), TypeError, "sequence of names"),
        (lambda: symdl.formula_rule("max(z,a,b,c,d,e)*min(z,a,b,c,d,e)", params=dict.fromkeys("abcde")), ValueError, "at most 8"),
        (lambda: symdl.rule("leaky_relu", alpha=10**400), ValueError, "float64 range"),
        (lambda: symdl.rule("huber", delta=float("nan")), ValueError, "finite real number"),
        (lambda: symdl.rule("relu").numeric()(10**400), TypeError, "does not fit a float64"),
        (lambda: verify_rule(None), TypeError, "takes a rule"),
        (lambda: verify_rule(symdl.rule("relu"), points=0), ValueError, "points must be"),
        (lambda: verify_rules("relu"), TypeError, "list of rule names"),
        # an int past float's range was an OverflowError ("int too large to convert to float") in these
        (lambda: symdl.optimizer("adam", beta1=10**400), ValueError, "beta1: expected a finite real number"),
        (lambda: symdl.graph.max_norm(10**400), ValueError, "max_norm: max_value must be a finite number"),
        (lambda: symdl.graph.min_max_norm(0.0, 1.0, rate=10**400), ValueError, "min_max_norm: rate must be a finite"),
        (lambda: symdl.graph.BatchNorm(momentum=10**400), ValueError, r"BatchNorm: momentum must be a number in \[0, 1\]"),
        (lambda: symdl.graph.PReLU(10**400), ValueError, "PReLU: alpha_init must be a finite number"),
        (lambda: symdl.graph.LayerNorm(epsilon=10**400), ValueError, "LayerNorm: epsilon: expected a finite number > 0"),
        (lambda: symdl.graph.Formula(symdl.formula_layer("y[i] = w[i]*x[i]", inputs={"x": "n"}, params={"w": "n"}, name="sc"),
                                     init={"w": 10**400}), ValueError, "init of 'w' must be a finite number"),
        (lambda: symdl.rulebook.definition.Param("k", 10**400, "a slope"), ValueError, "default must be a finite real number"),
    ],
)
def test_bad_calls_raise_one_clear_error_quickly(call, error, match):
    start = time.perf_counter()
    with pytest.raises(error, match=match) as info:
        call()
    assert "\n" not in str(info.value)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("value", [np.float64(2.0), np.float32(0.5), np.int64(3), Fraction(3, 2), 2])
def test_numpy_scalars_and_fractions_are_parameter_values(value):
    assert symdl.rule("huber", delta=value).params["delta"] == sp.nsimplify(float(value)) or float(
        symdl.rule("huber", delta=value).params["delta"]
    ) == float(value)


def test_sign_formulas_differentiate_without_dirac_deltas():
    r = symdl.formula_rule("sign(z)*abs(z)**0.5")
    assert not r.derivative().has(sp.DiracDelta)
    d = r.numeric_derivative()(np.array([-4.0, 4.0]))
    np.testing.assert_allclose(d, [0.25, 0.25])


def test_cli_error_lines_stay_short(capsys):
    code = main(["derive", "z", "--wrt", "q" * 50_000])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and len(err) < 400


def test_comparing_a_value_not_real_on_part_of_the_line_is_one_clear_cli_line(capsys):
    code = main(["derive", "max(z, sqrt(z))"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "sqrt(z) is not real for z < 0" in err and "sqrt(abs(z))" in err and "Invalid comparison" not in err


def test_a_value_not_real_outside_any_comparison_still_derives():
    # sqrt(z) alone is not compared: it derives (and `symdl check` reports the z < 0 side), as before
    assert symdl.formula_rule("sqrt(z)").derivative() == 1 / (2 * sp.sqrt(z))


def test_restricting_the_root_to_real_values_derives_the_max():
    r = symdl.formula_rule("max(z, sqrt(abs(z)))")
    assert [(k.at, k.left, k.right) for k in r.kinks] == [(1, sp.Rational(1, 2), 1)]
