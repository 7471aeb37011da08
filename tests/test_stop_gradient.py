"""stop_gradient(u) in formulas: value u, derivative 0 — parsed, proven, printed, FD-checked with sg(u) held, exported.

The real thing is ``jax.lax.stop_gradient`` / ``Tensor.detach``: autodiff of a
hand-written x·sg(x) in JAX and torch gives the derivatives symdl derives.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.backends.printers import JaxPrinter, TorchPrinter
from symdl.cli.main import main
from symdl.codegen.kernel import KernelPrinter, compile_kernel
from symdl.symbolic.parse import FormulaError, parse
from symdl.symbolic.proof import prove_zero
from symdl.symbolic.stop_gradient import hold, release, stop_gradient
from symdl.testing import (
    central_difference,
    check_network_grad,
    held_central_difference,
)

x, y = sp.symbols("x y", real=True)
FINITE = st.floats(-50, 50, allow_nan=False)


def test_parsed_as_a_function_whose_derivative_is_zero():
    expr = parse("x*stop_gradient(x + y)", ["x", "y"])
    assert expr == x * stop_gradient(x + y)
    assert sp.diff(expr, x) == stop_gradient(x + y)
    assert sp.diff(expr, y) == 0
    assert stop_gradient(sp.Integer(3)) == 3 and stop_gradient(stop_gradient(x)) == stop_gradient(x)
    assert release(expr) == x * (x + y)
    with pytest.raises(FormulaError, match="stop_gradient"):
        parse("stop_gradient(x, y)", ["x", "y"])
    with pytest.raises(FormulaError, match="taken by the function stop_gradient"):
        parse("stop_gradient", ["stop_gradient"])


def test_derivative_proven_by_value_and_a_wrong_variant_refuted():
    r = symdl.formula_rule("x*stop_gradient(x)", wrt="x")
    d = r.derivative()
    assert d == stop_gradient(x)
    assert prove_zero(d - x, x).holds  # sg(x) is x in value
    wrong = prove_zero(d - 2 * x, x)  # what differentiating x·x would give
    assert not wrong.holds and wrong.counterexample is not None


def test_printers():
    e = x * stop_gradient(x + y)
    assert KernelPrinter().doprint(e) == "x*(x + y)"
    assert JaxPrinter().doprint(e) == "x*jax.lax.stop_gradient(x + y)"
    assert TorchPrinter().doprint(e) == "x*(x + y).detach()"
    assert sp.latex(e) == r"x \operatorname{sg}\left(x + y\right)"
    from symdl.report.unicode_math import unicode_expr

    assert "sg(x + y)" in unicode_expr(e)
    from symdl.report.latex_printer import ReportLatexPrinter

    assert ReportLatexPrinter().doprint(e) == r"x \operatorname{sg}\left(x + y\right)"
    r = symdl.formula_rule("x*stop_gradient(x)", wrt="x")
    titles = [step.title for step in r.derivation_steps({})]
    assert any(t.startswith("The stop-gradient sg") for t in titles)  # a report defines sg where it appears


@settings(max_examples=30, deadline=None)
@given(FINITE, FINITE)
def test_numpy_kernels_and_held_differences(a, b):
    r = symdl.formula_rule("x*stop_gradient(x*y) + y", wrt="x", symbols=["y"])
    xs, ys = np.array([a]), np.array([b])
    np.testing.assert_allclose(r.numeric()(xs, ys), a * a * b + b, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(r.numeric_derivative(x)(xs, ys), a * b, rtol=1e-14, atol=1e-300)
    held = held_central_difference(r.numeric_forward_expr(), r.inputs, [xs, ys], 0)
    np.testing.assert_allclose(held, a * b, rtol=1e-7, atol=1e-7)


def test_held_differences_are_needed_and_verify_rule_passes():
    r = symdl.formula_rule("x*stop_gradient(x)", wrt="x")
    points = [np.array([0.5, -2.0, 3.0])]
    plain = central_difference(compile_kernel(r.numeric_forward_expr(), r.inputs, "f"), points)
    np.testing.assert_allclose(plain, 2 * points[0], rtol=1e-8)  # the function's own slope: 2x, not the stopped x
    np.testing.assert_allclose(held_central_difference(r.numeric_forward_expr(), r.inputs, points), points[0], rtol=1e-8)
    body, held = hold(sp.exp(stop_gradient(x * stop_gradient(y))) + x)
    assert list(held.values()) == [x * y] and not body.has(stop_gradient)
    report = symdl.verify_rule(r, points=20)
    assert report.passed and report.fd_error < 1e-6


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(argv))
    return code, out.getvalue()


def test_cli_check_and_derive():
    code, text = _cli("check", "x*stop_gradient(x)", "--wrt", "x")
    assert code == 0 and "PASS" in text
    code, text = _cli("check", "x*stop_gradient(x)", "--wrt", "x", "--derivative", "x")
    assert code == 0 and "PROVEN" in text
    code, text = _cli("check", "x*stop_gradient(x)", "--wrt", "x", "--derivative", "2*x")
    assert code == 1 and "REFUTED" in text
    code, text = _cli("derive", "x*stop_gradient(x)", "--wrt", "x")
    assert code == 0 and "stop_gradient(x)" in text


def test_exports_agree_with_jax_and_torch_autodiff():
    jax = pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    jax.config.update("jax_enable_x64", True)
    from symdl.export import to_jax, to_torch

    z = np.array([-1.5, 0.0, 0.25, 3.0])
    want = jax.vmap(jax.grad(lambda t: t * jax.lax.stop_gradient(t)))(z)  # the real thing: x
    np.testing.assert_array_equal(np.asarray(want), z)
    f = to_jax("x*stop_gradient(x)", wrt="x")
    np.testing.assert_allclose(np.asarray(jax.vmap(jax.grad(f))(z)), z)
    np.testing.assert_allclose(np.asarray(jax.vmap(jax.grad(jax.grad(f)))(z)), 0 * z)  # d/dx sg(x) = 0
    cls = to_torch("x*stop_gradient(x)", wrt="x")
    t = torch.tensor(z, requires_grad=True)
    cls.apply(t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), z)
    module: dict[str, object] = {}
    exec(compile(cls.__source__, "<sg>", "exec"), module)  # noqa: S102  (symdl's generated module text)
    u = torch.tensor(z, requires_grad=True)
    module["f_forward"](u).sum().backward()  # autodiff through .detach(): the printed code stops it too
    np.testing.assert_allclose(u.grad.numpy(), z)


def test_graph_formula_layer_and_network_check():
    from symdl.graph import Dense, Formula, Input, Model
    from symdl.graph.proofs import prove_graph

    layer = symdl.formula_layer("y[i] = x[i] * stop_gradient(x[i])", inputs={"x": "n"}, name="sgsq")
    inp = Input(2)
    model = Model(inp, Dense(1)(Formula(layer)(Dense(2, activation="tanh")(inp))), losses="mse")
    assert all(prove_graph(model).values())
    from symdl.export import graph_module_source

    assert "jax.lax.stop_gradient(" in graph_module_source(model, "jax")
    assert ".detach()" in graph_module_source(model, "torch")

    net = symdl.Network([2, 3, 1], activation=symdl.formula_rule("z*stop_gradient(z)"), loss="mse").compile()
    params = net.init(0)
    X, Y = np.random.default_rng(0).normal(size=(4, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match="stops the gradient") as caught:
        check_network_grad(net, params, X, Y)
    assert "\n" not in str(caught.value)
