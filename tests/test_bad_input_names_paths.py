"""Bad input found by a hunt: a misspelt rule name given to to_torch/to_jax, an empty or non-path model path, a
complex f given to check_grad. Each is one line naming what is wrong (the CLI: exit status 2, one line)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import symdl
from symdl.cli import main
from symdl.export import to_jax, to_torch
from symdl.graph import Dense, Input, Model, load_graph, save_graph
from symdl.testing import assert_subgradient, check_grad, one_sided_differences


@pytest.mark.parametrize("export", [to_torch, to_jax])
@pytest.mark.parametrize(("text", "hint"), [("softplu", "did you mean 'softplus'? "), ("nope", "")])
def test_a_bare_name_that_is_no_rule_says_so_with_the_closest_rule(export, text: str, hint: str) -> None:
    pytest.importorskip("torch" if export is to_torch else "jax")
    with pytest.raises(symdl.FormulaError) as info:
        export(text)
    assert str(info.value) == (f"{text!r} is neither a rule ({hint}see symdl.rules()) nor a formula: "
                               f"formula: unknown name {text!r} at column 1; declared names: z")


@pytest.mark.parametrize("export", [to_torch, to_jax])
def test_formula_text_keeps_the_parser_s_words(export) -> None:
    pytest.importorskip("torch" if export is to_torch else "jax")
    with pytest.raises(symdl.FormulaError, match="^formula: unknown function 'sofplus'"):
        export("sofplus(z)")
    with pytest.raises(symdl.FormulaError, match="^formula: unknown name 'q'"):
        export("q*z")  # not a bare name: the parser's line as it was


def test_the_cli_says_it_in_the_same_words(capsys) -> None:
    assert main(["derive", "softplu"]) == 2
    err = capsys.readouterr().err
    assert err == ("symdl: error: 'softplu' is neither a rule (did you mean 'softplus'? see 'symdl list') nor a formula: "
                   "formula: unknown name 'softplu' at column 1; declared names: z\n")


def test_train_with_an_empty_output_path_is_one_usage_line(tmp_path, capsys) -> None:
    data = tmp_path / "data.npz"
    np.savez(data, X=np.ones((4, 2)), Y=np.zeros((4, 1)))
    assert main(["train", "2,1", str(data), "-o", ""]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "symdl: error: -o '': an empty model directory name; give the directory to write, e.g. -o model\n")


def _graph():
    x = Input(2)
    return Model([x], Dense(1)(x), losses=["mse"]).compile()


@pytest.mark.parametrize("path", [5, None, b"model", 2.5])
def test_a_path_that_is_not_a_str_or_pathlike_is_one_type_error(tmp_path, path) -> None:
    net = symdl.Network([2, 1]).compile()
    graph = _graph()
    expected = f"path: expected a str or os.PathLike (a model directory), got {type(path).__name__}"
    for call in (lambda: symdl.load(path), lambda: load_graph(path), lambda: symdl.save(path, net, net.init(0)),
                 lambda: save_graph(path, graph, graph.init(0))):
        with pytest.raises(TypeError) as info:
            call()
        assert str(info.value) == expected
    assert list(tmp_path.iterdir()) == []


def test_an_empty_path_is_one_line_not_the_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    net = symdl.Network([2, 1]).compile()
    graph = _graph()
    for call in (lambda: symdl.load(""), lambda: load_graph(""), lambda: symdl.save("", net, net.init(0)),
                 lambda: save_graph("", graph, graph.init(0))):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == "path '': an empty path; give the model's directory, e.g. 'model'"
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=30, deadline=None)
@given(x=arrays(np.float64, st.integers(1, 4), elements=st.floats(-3, 3)), imag=st.floats(-5, 5), as_array=st.booleans())
def test_check_grad_refuses_a_complex_f_instead_of_dropping_the_imaginary_part(x, imag: float, as_array: bool) -> None:
    """f = Σ x² + i·c·Σ x with the gradient of its real part: the check passed on Re f alone (c = 0 too: still complex)."""
    def f(v):
        terms = v**2 + 1j * imag * v
        return terms if as_array else complex(np.sum(terms))

    with pytest.raises(ValueError) as info:
        check_grad(f, lambda v: 2 * v, x)
    message = str(info.value)
    assert message.startswith("check_grad: f returned a complex value (")
    assert message.endswith("); complex functions are not supported, f must return a real number (or an array of real terms)")
    assert "\n" not in message
    check_grad(lambda v: np.sum(v**2), lambda v: 2 * v, x)  # the real part alone still passes


@pytest.mark.parametrize(("returned", "shown"), [(None, "None"), ("0.5", "'0.5'"), ([1.0, None], "[1.0, None]"), ({"loss": 1.0}, "{'loss': 1.0}")])
def test_check_grad_refuses_an_f_that_returns_no_number(returned, shown) -> None:
    """A loss function without its return gave NaN (np.asarray(None, float)): a FAILED report blaming the gradient."""
    x = np.array([0.3, -1.2, 0.8])
    calls = (("check_grad", lambda: check_grad(lambda v: returned, lambda v: 2 * v, x), "a real number (or an array of real terms)"),
             ("assert_subgradient", lambda: assert_subgradient(lambda v: returned, 0.5, x), "real values, one per element of x"))
    for caller, call, accepted in calls:
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == f"{caller}: f returned {shown}; f must return {accepted}"
    # numbers that are not numpy's still count: SymPy's, mpmath's, an object array of floats
    import mpmath
    import sympy as sp

    for f in (lambda v: sp.Float(float(np.sum(v**2))), lambda v: mpmath.mpf(float(np.sum(v**2))), lambda v: np.array(list(v**2), dtype=object)):
        assert check_grad(f, lambda v: 2 * v, x).passed


@settings(max_examples=30, deadline=None)
@given(x=arrays(np.float64, st.integers(1, 4), elements=st.floats(-3, 3)), imag=st.floats(-5, 5))
def test_the_subgradient_checks_refuse_a_complex_f_too(x, imag: float) -> None:
    """|x| + i·c·x with |x|'s one-sided slopes: assert_subgradient passed on Re f alone (c = 0 too: still complex)."""
    def f(v):
        return np.abs(v) + 1j * imag * v

    for caller, call in (("assert_subgradient", lambda: assert_subgradient(f, np.sign(x), x)),
                         ("one_sided_differences", lambda: one_sided_differences(f, x))):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{caller}: f returned a complex value (an array of complex128)")
        assert message.endswith("complex functions are not supported, f must return real values, one per element of x")
        assert "\n" not in message
    assert_subgradient(np.abs, np.sign(x), x)  # the real part alone still passes
