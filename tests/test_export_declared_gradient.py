"""A gradient of your own on a JAX/PyTorch export (``gradient=``): Keras' ``@tf.custom_gradient``.

References are written by hand in torch and JAX: the notebook's my_softplus against ``F.softplus``'s autograd, the
straight-through estimator against the usual ``z + stop_gradient(sign(z) − z)`` trick. A declared gradient that is
not the derivative is reported as declared, never as proven, and finite differences of the forward disagree with it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export import rule_module_source, to_jax, to_torch
from symdl.export.declared_gradient import declare_gradient
from symdl.testing import central_difference

torch = pytest.importorskip("torch")

finite = st.floats(-30, 30, allow_nan=False).filter(lambda z: abs(z) > 1e-3)


@settings(max_examples=40, deadline=None)
@given(st.lists(finite, min_size=1, max_size=6))
def test_straight_through_sign_matches_the_detach_trick(values):
    """forward sign(z), backward the identity: torch's z + (sign(z) − z).detach() gives the same value and gradient."""
    Ste = to_torch("sign(z)", gradient="1")
    z = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    ours = Ste.apply(z)
    (ours * torch.arange(1.0, len(values) + 1, dtype=torch.float64)).sum().backward()
    mine = z.grad.clone()
    z.grad = None
    theirs = z + (torch.sign(z) - z).detach()
    (theirs * torch.arange(1.0, len(values) + 1, dtype=torch.float64)).sum().backward()
    assert torch.equal(ours, theirs.detach()) and torch.equal(mine, z.grad)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-800, 800, allow_nan=False), min_size=1, max_size=6))
def test_notebook_softplus_gradient_is_proven_and_matches_torch(values):
    """my_softplus with its own gradient 1 − 1/(1 + e^z): proven equal to the derivative; torch's softplus agrees."""
    Softplus = to_torch("log(exp(z) + 1)", gradient="1 - 1/(1 + exp(z))")
    assert Softplus.__declared_gradient__.is_derivative
    z = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    Softplus.apply(z).sum().backward()
    expected = torch.sigmoid(torch.tensor(values, dtype=torch.float64))
    torch.testing.assert_close(z.grad, expected, rtol=1e-14, atol=1e-300)


def test_a_declared_gradient_that_is_not_the_derivative_is_never_called_proven():
    ste = declare_gradient(symdl.formula_rule("sign(z)"), "1")
    clipped = declare_gradient(symdl.formula_rule("tanh(z)"), "where(abs(z) < 1, 1, 0)")
    for declared in (ste, clipped):
        assert not declared.is_derivative and "proven" not in declared.summary().replace("not proven", "")
        assert declared.summary().startswith("declared gradient, not proven equal to the derivative")
    assert "at z = " in clipped.summary()  # the point where the two differ
    # refuted at a point, not only by the constant: sign's slope there (away from the jump at 0) is 0, the claim's 1
    (point,) = [check.proof.counterexample for check in ste.checks]
    z = ste.rule.wrt
    assert set(point) == {z} and point[z].is_Rational and point[z] != 0
    assert f"∂/∂z is 0, declared 1 (they differ by the constant 1; at z = {point[z]}: 0 vs 1)" in ste.summary()
    source = rule_module_source("sign(z)", "torch", gradient="1")
    assert "the gradient is the declared gradient (gradient=)" in source and "declared d/dz" in source
    assert "the symbolic derivative" not in source
    assert "the symbolic derivative" in rule_module_source("sign(z)", "torch")  # without gradient= unchanged


@settings(max_examples=25, deadline=None)
@given(st.lists(finite, min_size=1, max_size=5))
def test_finite_differences_disagree_with_the_straight_through_gradient(values):
    """What an FD check of the export would say: sign's slope is 0 away from 0, the declared backward 1."""
    Ste = to_torch("sign(z)", gradient="1")
    z = np.array(values)
    slope = central_difference(np.sign, [z], h=np.full_like(z, 1e-6))
    zt = torch.tensor(z, requires_grad=True)
    Ste.apply(zt).sum().backward()
    assert np.all(slope == 0) and np.all(zt.grad.numpy() == 1)


def test_jax_export_takes_the_declared_gradient():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    f = to_jax("sign(z)", gradient="1")
    z = jnp.array([-2.5, 0.5, 3.0])
    reference = jax.grad(lambda x: jnp.sum((x + jax.lax.stop_gradient(jnp.sign(x) - x)) * jnp.arange(1.0, 4.0)))(z)
    np.testing.assert_array_equal(jax.grad(lambda x: jnp.sum(f(x) * jnp.arange(1.0, 4.0)))(z), reference)
    assert f.__declared_gradient__ is not None and not f.__declared_gradient__.is_derivative
    assert to_jax("sign(z)").__declared_gradient__ is None


def test_two_inputs_and_bad_gradients_are_one_line():
    Product = to_torch("x*y", wrt="x", symbols=["y"], gradient={"x": "y", "y": "0"})  # y held: a declared partial
    x = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    Product.apply(x, y).backward()
    assert (x.grad.item(), y.grad.item()) == (3.0, 0.0)
    assert not Product.__declared_gradient__.is_derivative
    for gradient, message in [
        ("y", "give one formula per input"),
        ({"x": "y"}, "give formula text for each input"),
        ({"x": "__import__('os')", "y": "0"}, "unknown function '__import__'"),
    ]:
        with pytest.raises(ValueError, match=message) as error:
            to_torch("x*y", wrt="x", symbols=["y"], gradient=gradient)
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="element-wise rules and formulas"):
        to_torch("softmax", gradient="1")


def test_codegen_gradient_option_writes_the_declared_export(tmp_path, capsys):
    """``symdl codegen FORMULA --backend torch --gradient …``: the module of rule_module_source(…, gradient=…)."""
    from generated_modules import load_module

    from symdl.cli import main

    target = tmp_path / "ste.py"
    assert main(["codegen", "sign(z)", "--backend", "torch", "--gradient", "1", "-o", str(target)]) == 0
    assert capsys.readouterr() == ("", "")
    assert target.read_text() == rule_module_source("sign(z)", "torch", gradient="1")
    module = load_module(target.read_text(), tmp_path, "ste_cli")
    z = torch.tensor([-2.0, 0.5], dtype=torch.float64, requires_grad=True)
    module.SignFormula.apply(z).sum().backward()
    assert z.grad.tolist() == [1.0, 1.0]
    argv = ["codegen", "x*y", "--wrt", "x", "--symbol", "y", "--backend", "jax", "--gradient", "x = y", "--gradient", "y=0", "-o", "-"]
    assert main(argv) == 0
    assert capsys.readouterr().out == rule_module_source("x*y", "jax", wrt="x", symbols=["y"], gradient={"x": "y", "y": "0"})


@pytest.mark.parametrize(("argv", "message"), [
    (["sign(z)", "--gradient", "1"], "--gradient applies to --backend jax or torch"),
    (["sign(z)", "--backend", "torch", "--gradient", "__import__('os')"], "unknown function '__import__'"),
    (["x*y", "--wrt", "x", "--symbol", "y", "--backend", "torch", "--gradient", "x=1", "--gradient", "2"], "give each as INPUT=FORMULA"),
    (["x*y", "--wrt", "x", "--symbol", "y", "--backend", "torch", "--gradient", "x=1", "--gradient", "x=2"], "'x' given twice"),
    (["x*y", "--wrt", "x", "--symbol", "y", "--backend", "torch", "--gradient", "x=1"], "give formula text for each input"),
    (["--layers", "3,2", "--backend", "torch", "--gradient", "1"], "--gradient applies to rules and formulas"),
])
def test_codegen_gradient_errors_are_one_line_with_status_2(argv, message, capsys):
    from symdl.cli import main

    assert main(["codegen", *argv, "-o", "-"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err and err.count("\n") == 1


@pytest.mark.parametrize(("rule", "gradient", "notes"), [
    ("relu", "where(z > 0, 1, where(z < 0, 0, 7))", ["at z = 0 the declared value 7 is outside [0, 1]"]),
    ("relu", "7", ["at z = 0 the declared value 7 is outside [0, 1]"]),
    ("abs", "where(z > 0, 1, where(z < 0, -1, 3))", ["at z = 0 the declared value 3 is outside [-1, 1]"]),
    ("hard_tanh", "where(abs(z) < 1, 1, where(abs(z) > 1, 0, 5))",
     ["at z = -1 the declared value 5 is outside [0, 1]", "at z = 1 the declared value 5 is outside [0, 1]"]),
    ("relu", "where(z > 0, 1, where(z < 0, 0, 0.5))", []),  # inside [0, 1]: a subgradient
    ("relu", "where(z >= 0, 1, 0)", []),  # the right-hand derivative
])
def test_a_declared_value_outside_the_one_sided_derivatives_at_a_kink_is_reported(rule, gradient, notes):
    """The comparison excepts kinks, so relu with 7 at 0 is equal to the derivative; the summary says where it is not
    even a subgradient (nothing refused: a straight-through estimator differs from the derivative everywhere)."""
    declared = declare_gradient(symdl.rule(rule), gradient)
    assert [note.removesuffix(", the one-sided derivatives") for note in declared.outside_kinks] == notes
    assert all(f"; {note}, the one-sided derivatives" in declared.summary() for note in notes)
    assert ("outside" in declared.summary()) == bool(notes)
    assert declared.is_derivative == (gradient != "7")


def test_the_generated_module_says_where_the_declared_value_is_outside_at_a_kink():
    source = rule_module_source("relu", "torch", gradient="where(z > 0, 1, where(z < 0, 0, 7))")
    assert "at z = 0 the declared value 7 is outside [0, 1], the one-sided derivatives" in source
    assert "outside" not in rule_module_source("sign(z)", "torch", gradient="1")  # the straight-through estimator


@pytest.mark.parametrize(("gradient", "notes"), [
    ("tanh(relu(338))", []),  # tanh(338) ≤ 1 differs from 1 in the 294th digit: SymPy cannot decide, nor does symdl
    ("sigmoid(565084)", []),
    ("tanh(338) + 1", ["at z = 0 the declared value 1 + tanh(338) is outside [-1, 1], the one-sided derivatives"]),
    ("-tanh(338) - 1", ["at z = 0 the declared value -1 - tanh(338) is outside [-1, 1], the one-sided derivatives"]),
])
def test_a_declared_value_that_sympy_cannot_compare_is_left_undecided(gradient, notes):
    """``codegen 'z*sign(z)' --gradient 'tanh(relu(338))'`` exited 3: ``low <= value`` raised SymPy's TypeError
    ("cannot determine truth value of Relational: tanh(338) <= 1"), found by bench/fuzz_cli.py's formulas."""
    declared = declare_gradient(symdl.formula_rule("z*sign(z)"), gradient)
    assert list(declared.outside_kinks) == notes
    assert main_exit(["codegen", "z*sign(z)", "--backend", "torch", "--gradient", gradient, "-o", "-"]) == 0


def main_exit(argv: list[str]) -> int:
    import contextlib
    import io

    from symdl.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


@pytest.mark.parametrize(("rule", "gradient", "message"), [
    ("relu", "", "gradient for z: the formula is empty"),
    ("relu", "alpha", "gradient for z: unknown name 'alpha' at column 1; declared names: z"),
    ("x*y", {"x": "y", "y": "q"}, "gradient for y: unknown name 'q' at column 1; declared names: x, y"),
])
def test_a_bad_declared_gradient_says_which_text_it_is(rule, gradient, message):
    """It said "formula: unknown name …", as a bad rule formula does: with several inputs, not even which one."""
    with pytest.raises(symdl.FormulaError) as error:
        to_torch(rule, wrt="x" if rule == "x*y" else None, symbols=["y"] if rule == "x*y" else (), gradient=gradient)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


@pytest.mark.parametrize(("gradient", "message"), [
    ({1: "y", "x": "y"}, "gradient: give formula text for each input of 'x*y' (x, y), got keys ['1', 'x']"),
    ({"x": "y", "y": "0", None: "1"}, "gradient: give formula text for each input of 'x*y' (x, y), got keys ['None', 'x', 'y']"),
    ({"x": 1, "y": "0"}, "gradient: the formula for 'x' must be text, got int"),
])
def test_a_gradient_mapping_with_odd_keys_or_values_is_one_line(gradient, message):
    """Keys of mixed types were sorted: Python's "'<' not supported between instances of 'str' and 'int'"; a number
    for a formula was reported as a wrong set of keys."""
    with pytest.raises(ValueError) as error:
        to_torch("x*y", wrt="x", symbols=["y"], gradient=gradient)
    assert str(error.value) == message
