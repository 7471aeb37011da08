"""Rule parameters that the compiled dtype cannot hold are refused at compile time with one line."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.cli import main
from symdl.network.checks import check_params_fit

F32 = float(np.finfo(np.float32).max)


@pytest.mark.parametrize(("rule", "param"), [("leaky_relu", "alpha"), ("elu", "alpha")])
def test_an_activation_parameter_beyond_float32_is_refused_in_float32_only(rule, param):
    network = symdl.Network([2, 3, 1], activation=rule, activation_params={param: 1e39})
    with pytest.raises(ValueError, match=rf"activation {rule}: parameter {param} = 1e\+39 does not fit float32"):
        network.compile("float32")
    compiled = network.compile("float64")  # float64 holds it
    params = compiled.init(seed=0)
    assert np.isfinite(compiled.loss(params, np.ones((4, 2)), np.ones((4, 1))))


def test_a_penalty_parameter_is_checked_too():
    network = symdl.Network([2, 1], penalty="l2", penalty_params={"lam": -1e39})
    with pytest.raises(ValueError, match="penalty l2: parameter lam"):
        network.compile("float32")


@settings(max_examples=30, deadline=None)
@given(st.floats(min_value=-1e300, max_value=1e300, allow_nan=False))
def test_the_bound_is_the_dtypes_largest_finite_value(value):
    fits = abs(value) <= F32
    try:
        check_params_fit({"activation leaky_relu": {"alpha": value}}, np.dtype(np.float32))
        assert fits
    except ValueError:
        assert not fits
    check_params_fit({"activation leaky_relu": {"alpha": value}}, np.dtype(np.float64))


def test_codegen_refuses_it_with_one_line_and_no_file(tmp_path, capsys):
    target = tmp_path / "net.py"
    code = main(["codegen", "--layers", "2,3,1", "--activation", "leaky_relu", "--activation-param", "alpha=1e300",
                 "--dtype", "float32", "-o", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "does not fit float32" in err
    assert not target.exists()


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "celu"])
def test_a_rule_kernel_refuses_a_dtype_its_parameter_overflows(name):
    r = symdl.rule(name, alpha=1e300)
    # celu's derivative, exp(z/alpha) for z < 0, holds only 1/alpha, which float32 rounds harmlessly to 0
    for kernel in (r.numeric(), *([r.numeric_derivative()] if name != "celu" else [])):
        with pytest.raises(ValueError, match=r"the constant 1e\+300 it holds does not fit float32"):
            kernel(np.float32([1.0, -1.0]))
        assert np.all(np.isfinite(kernel(np.float64([1.0, -1e-300]))))  # float64 holds it


def test_an_ordinary_kernel_pays_nothing_and_keeps_float32():
    kernel = symdl.rule("leaky_relu", alpha=0.01).numeric()
    assert kernel.largest < 2 and kernel(np.float32([1.0])).dtype == np.float32
