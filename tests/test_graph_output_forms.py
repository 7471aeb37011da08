"""Printed forms of graph code: ELU/SELU σ' through the output (g + α for z ≤ 0), and element-wise forms prepared once."""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl.graph.layers as graph_layers
from symdl.backprop.equations import Elementwise
from symdl.codegen.kernel import printable
from symdl.codegen.statements import Scope, StatementPrinter
from symdl.graph import Add, Dense, Input, Model
from symdl.graph.output_forms import piecewise_output_derivative
from symdl.rulebook.registry import rule

Z, G = sp.symbols("z g", real=True)


def _forms(r):
    return sp.Lambda(r.inputs, r.numeric_forward_expr()), sp.Lambda(r.inputs, r.numeric_derivative_expr())


@pytest.mark.parametrize(("spec", "constant"), [(("elu",), 1), (("elu", 0.5), sp.Rational(1, 2)), (("selu",), None)])
def test_elu_derivative_is_the_output_plus_a_constant_where_z_is_at_most_zero(spec, constant):
    r = rule(spec[0], **({"alpha": spec[1]} if len(spec) > 1 else {}))
    forward, derivative = _forms(r)
    form = piecewise_output_derivative(forward, derivative)
    assert form is not None
    (z,) = forward.variables
    through_output = form(z, forward.expr)  # g = σ(z) put back: σ'(z) exactly, branch by branch
    for point in (-3, -1, sp.Rational(-1, 7), 0, sp.Rational(1, 3), 2):
        assert sp.simplify(through_output.subs(z, point) - derivative.expr.subs(z, point)) == 0
    branch = next(e for e, c in form.expr.args if G in e.free_symbols)
    if constant is not None:
        assert branch == G + constant
    else:  # SELU: λα
        assert abs(float(branch - G) - 1.0507009873554805 * 1.6732632423543772) < 1e-12


def test_a_wrong_derivative_or_a_non_piecewise_rule_keeps_the_input_form():
    forward, derivative = _forms(rule("elu"))
    wrong = sp.Lambda(derivative.variables, derivative.expr.subs(sp.exp(sp.Min(0, Z)), 2 * sp.exp(sp.Min(0, Z))))
    assert wrong != derivative and piecewise_output_derivative(forward, wrong) is None
    for name in ("relu", "leaky_relu", "tanh", "softplus", "hard_tanh"):
        assert piecewise_output_derivative(*_forms(rule(name))) is None, name


def _model(activation: str) -> Model:
    x = Input(3)
    h = Dense(5, activation=activation)(x)
    return Model(x, Dense(2)(Add()([Dense(5, activation=activation)(h), h])), "mse")


@settings(max_examples=12)
@given(st.sampled_from(["elu", "selu"]), st.sampled_from(["float32", "float64"]), st.integers(0, 2**16),
       st.sampled_from([1.0, 30.0, 300.0]))
def test_graph_gradients_match_the_exp_form(activation, dtype, seed, scale):
    """The same step printed with σ'(z) = α·exp(z) (the form before): equal to rounding, finite up to |z| ≈ 1000."""
    rng = np.random.default_rng(seed)
    X = (scale * rng.standard_normal((7, 3))).astype(dtype)
    Y = rng.standard_normal((7, 2)).astype(dtype)
    compiled = _model(activation).compile(dtype)
    assert not re.search(r"numpy\.exp\b", compiled.source().split("def loss_and_grad")[1])
    params = compiled.init(seed)
    loss, grads = compiled.loss_and_grad(params, X, Y)
    original = graph_layers.piecewise_output_derivative
    graph_layers.piecewise_output_derivative = lambda forward, derivative: None
    try:
        old = _model(activation).compile(dtype)
    finally:
        graph_layers.piecewise_output_derivative = original
    assert re.search(r"numpy\.exp\b", old.source().split("def loss_and_grad")[1])  # numpy.exp(…) or _into(numpy.exp, …)
    loss0, grads0 = old.loss_and_grad(params, X, Y)
    rtol = 1e-12 if dtype == "float64" else 2e-5
    assert np.isfinite(loss) and np.isclose(loss, loss0, rtol=rtol)
    for k in grads:
        assert np.all(np.isfinite(grads[k])), k
        np.testing.assert_allclose(grads[k], grads0[k], rtol=rtol, atol=rtol * float(np.max(np.abs(grads0[k]))), err_msg=k)


@pytest.mark.parametrize("name", ["tanh", "elu", "selu", "gelu", "hard_sigmoid", "leaky_relu", "softplus"])
def test_prepared_forms_print_as_the_form_printed_per_use(name):
    """σ and σ' prepared once in their own variables, then renamed: the text printed from the renamed expression."""
    r = rule(name)
    for role, function in zip(("forward", "derivative"), _forms(r)):
        label = f"{name}'" if role == "derivative" else name
        scope = Scope(names={}, batched=set(), inputs=set())
        for array in ("z7", "h12"):
            symbol = sp.MatrixSymbol(array, 4, 3)
            scope.names[symbol] = array
            printer = StatementPrinter(scope, [], keep=[])
            got = printer._code(Elementwise(label, function, symbol))
            body = printable(function.expr.xreplace({function.variables[0]: sp.Symbol(array, real=True)}), label)
            intermediates, (final,) = sp.cse(body, symbols=sp.numbered_symbols("_e"), optimizations="basic")
            if intermediates:  # temporaries are numbered per scope: compare the final expression only
                continue
            # the printer numbers its walrus temporaries (_e3 := …, _m1 := …) per call: compare up to their numbers
            assert re.sub(r"_[em]\d+", "_w", got) == re.sub(r"_[em]\d+", "_w", scope.printer.doprint(final)), (name, role, array)
            assert printer.lines == []
