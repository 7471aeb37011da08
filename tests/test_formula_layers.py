"""Custom layers written as formulas: parsing, VJPs against PyTorch autograd and finite differences, proofs, config."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl import FormulaError
from symdl.formula_layers import FormulaLayer, formula_layer
from symdl.testing import assert_grad_close
from symdl.testing.formula_strategies import formula_texts

DENSE = "y[i] = sum(W[i, j] * x[j], j) + b[i]"
MULTI = "A[i] = X1[i] + X2[i]\nP[i] = X1[i] * X2[i]\nQ[i] = X1[i] / X2[i]"
# The notebook's MyDense with its own activation, typed the overflowing way: code prints softplus.
MY_DENSE = "h[i] = log(1 + exp(sum(W[i, j] * x[j], j) + b[i]))"


@pytest.fixture(scope="module")
def dense() -> FormulaLayer:
    return formula_layer(DENSE, inputs={"x": "in"}, params={"W": ("out", "in"), "b": "out"}, name="dense")


@pytest.fixture(scope="module")
def multi() -> FormulaLayer:
    return formula_layer(MULTI, inputs={"X1": "n", "X2": "n"}, name="my_multi")


@pytest.fixture(scope="module")
def my_dense() -> FormulaLayer:
    return formula_layer(MY_DENSE, inputs={"x": "in"}, params={"W": ("out", "in"), "b": "out"}, name="my_dense")


def _torch_vjps(forward, inputs: dict, params: dict, cotangents: dict) -> tuple[dict, dict]:
    """PyTorch autograd of ``forward`` (written by hand in the test): outputs and every VJP, float64."""
    leaves = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in {**inputs, **params}.items()}
    outputs = forward(**leaves)
    total = sum((outputs[k] * torch.tensor(v, dtype=torch.float64)).sum() for k, v in cotangents.items())
    grads = torch.autograd.grad(total, list(leaves.values()), allow_unused=True)
    return (
        {k: o.detach().numpy() for k, o in outputs.items()},
        {k: np.zeros_like(v) if g is None else g.numpy() for (k, v), g in zip({**inputs, **params}.items(), grads)},
    )


def _close(ours: dict, theirs: dict) -> None:
    assert set(ours) == set(theirs)
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-9, atol=1e-12, err_msg=key)


sizes = st.integers(1, 4)


@given(sizes, sizes, st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_dense_matches_torch(dense, n_out, n_in, batch, seed):
    rng = np.random.default_rng(seed)
    inputs = {"x": rng.standard_normal((batch, n_in))}
    params = {"W": rng.standard_normal((n_out, n_in)), "b": rng.standard_normal(n_out)}
    cot = {"y": rng.standard_normal((batch, n_out))}
    outs, grads = _torch_vjps(lambda x, W, b: {"y": x @ W.T + b}, inputs, params, cot)
    _close(dense.apply(inputs, params), outs)
    _close(dense.backward(inputs, params, cot), grads)


@given(sizes, st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_my_multi_layer_matches_torch(multi, n, batch, seed):
    rng = np.random.default_rng(seed)
    inputs = {"X1": rng.standard_normal((batch, n)), "X2": rng.uniform(0.5, 2.0, (batch, n)) * rng.choice([-1, 1], (batch, n))}
    cot = {k: rng.standard_normal((batch, n)) for k in ("A", "P", "Q")}
    outs, grads = _torch_vjps(lambda X1, X2: {"A": X1 + X2, "P": X1 * X2, "Q": X1 / X2}, inputs, {}, cot)
    _close(multi.apply(inputs), outs)
    _close(multi.backward(inputs, {}, cot), grads)


@given(sizes, sizes, st.integers(1, 5), st.integers(0, 2**32 - 1), st.sampled_from([1.0, 300.0]))
def test_my_dense_matches_torch_and_stays_finite(my_dense, n_out, n_in, batch, seed, scale):
    rng = np.random.default_rng(seed)
    inputs = {"x": scale * rng.standard_normal((batch, n_in))}
    params = {"W": rng.standard_normal((n_out, n_in)), "b": rng.standard_normal(n_out)}
    cot = {"h": rng.standard_normal((batch, n_out))}
    # torch.nn.functional.softplus returns u itself above u = 20 (an error of e^-20 ≈ 2e-9): logaddexp is exact.
    forward = lambda x, W, b: {"h": torch.logaddexp(x @ W.T + b, torch.zeros(()))}  # noqa: E731
    outs, grads = _torch_vjps(forward, inputs, params, cot)
    _close(my_dense.apply(inputs, params), outs)  # at scale 300, log(1 + e^u) as typed would overflow
    _close(my_dense.backward(inputs, params, cot), grads)


def test_scalar_output_and_scalar_param_match_torch():
    layer = formula_layer("s = c * sum(x[i] ** 2, i)", inputs={"x": "n"}, params={"c": ()})
    rng = np.random.default_rng(1)
    inputs, params, cot = {"x": rng.standard_normal((3, 4))}, {"c": np.array(0.7)}, {"s": rng.standard_normal(3)}
    outs, grads = _torch_vjps(lambda x, c: {"s": c * (x**2).sum(-1)}, inputs, params, cot)
    _close(layer.apply(inputs, params), outs)
    _close(layer.backward(inputs, params, cot), grads)


@pytest.mark.parametrize("wrt", ["W", "b", "x"])
def test_vjps_pass_finite_differences(my_dense, wrt):
    rng = np.random.default_rng(7)
    values = {"x": rng.standard_normal((4, 3)), "W": rng.standard_normal((2, 3)), "b": rng.standard_normal(2)}
    v = rng.standard_normal((4, 2))

    def split(point):
        return {"x": point} if wrt == "x" else {"x": values["x"]}, {k: point if k == wrt else values[k] for k in ("W", "b")}

    def f(point):
        inputs, params = split(point)
        return float(np.sum(v * my_dense.apply(inputs, params)["h"]))

    def grad(point):
        inputs, params = split(point)
        return my_dense.backward(inputs, params, {"h": v})[wrt]

    assert_grad_close(f, grad, values[wrt])


def test_vjps_in_index_notation(dense, multi):
    i, j = (sp.Symbol(f"{s}'", integer=True, nonnegative=True) for s in "ij")
    W, x, v = (sp.IndexedBase(s, real=True) for s in ("W", "x", "v_y"))
    assert dense.vjp("W") == v[i] * x[j]
    assert dense.vjp("b") == v[i]
    assert dense.vjp_indices("W") == (i, j)
    latex = dense.derivation().latex()
    assert latex["vjp W"] == r"{\bar{W}}_{i',j'} = {v_{y}}_{i'} {x}_{j'}"
    assert r"\sum_{j=0}^{in - 1}" in latex["forward {y}_{i}"]
    X1, X2 = (sp.IndexedBase(s, real=True) for s in ("X1", "X2"))
    vA, vP, vQ = (sp.IndexedBase(f"v_{s}", real=True) for s in "APQ")
    assert sp.expand(multi.vjp("X1") - (vA[i] + vP[i] * X2[i] + vQ[i] / X2[i])) == 0


@pytest.mark.parametrize("name", ["dense", "multi", "my_dense"])
def test_every_vjp_is_proven(request, name):
    layer = request.getfixturevalue(name)
    proofs = layer.prove()
    assert set(proofs) == {p for p in proofs if p.startswith("vjp by ")} and len(proofs) == len(layer.arrays)
    assert all(proofs.values()), proofs


def test_derivation_shows_the_stable_form_it_differentiates(my_dense, dense):
    titles = [step.title for step in my_dense.derivation().steps]
    assert titles[1].startswith("Stable form") and len(titles) == 5
    assert "softplus" in sp.latex(my_dense.derivation().steps[1].math[0].rhs).replace("operatorname", "")
    assert not any(t.startswith("Stable form") for t in (step.title for step in dense.derivation().steps))
    assert dense.derivation()._repr_latex_().startswith("$$\\begin{aligned}")
    with pytest.raises(TypeError, match="SymPy expression"):
        dense.prove(claims={"W": "x[j] * v_y[i]"})
    with pytest.raises(ValueError, match="no input or param 'V'"):
        dense.prove(claims={"V": sp.S.Zero})


def test_wrong_vjps_are_refuted_with_exact_counterexamples(dense, multi):
    i, j = dense.vjp_indices("W")
    transposed = dense.vjp("W").xreplace({i: j, j: i})
    proofs = dense.prove(claims={"W": transposed})
    (label,) = [k for k in proofs if k.startswith("vjp by W")]
    assert not proofs[label] and "refuted at W[" in proofs[label].method
    assert all(v for k, v in proofs.items() if k != label)
    (k,) = multi.vjp_indices("X1")
    missing_term = multi.vjp("X1") - sp.IndexedBase("v_A", real=True)[k]  # forgets A = X1 + X2
    proof = next(v for key, v in multi.prove(claims={"X1": missing_term}).items() if key.startswith("vjp by X1"))
    assert not proof and "claim minus derivative is -" in proof.method and "v_A[0] = " in proof.method


def test_division_by_an_input_is_reported_and_never_nan(multi, dense):
    found = [str(s) for s in multi.singularities()]
    assert found[0] == "output Q: division by a value that can be 0: X2[i]"
    assert any(s.startswith("VJP by X2") for s in found)
    assert dense.singularities() == ()
    assert formula_layer("y[i] = x[i] / (1 + x[i] ** 2)", inputs={"x": "n"}).singularities() == ()
    with pytest.raises(ValueError, match=r"output Q hit a singularity .*division by a value that can be 0: X2\[i\]"):
        multi.apply({"X1": np.ones((2, 3)), "X2": np.array([[1.0, 0.0, 2.0], [1.0, 1.0, 1.0]])})


def test_source_is_a_module_of_its_own(dense):
    namespace: dict = {}
    exec(compile(dense.source(), "<formula layer>", "exec"), namespace)  # noqa: S102 - symdl's generated code
    rng = np.random.default_rng(3)
    x, W, b, v = rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal((5, 2))
    np.testing.assert_allclose(namespace["dense_y"](x, W, b), x @ W.T + b, rtol=1e-12)
    np.testing.assert_allclose(namespace["dense_vjp_W"](x, W, b, v), v.T @ x, rtol=1e-12)


def test_config_round_trips_through_json(multi, dense):
    for layer in (multi, dense):
        again = FormulaLayer.from_config(json.loads(json.dumps(layer.to_config())))
        assert again.to_config() == layer.to_config()
        assert [e.rhs for e in again.equations] == [e.rhs for e in layer.equations]


@pytest.mark.parametrize(
    "config",
    [
        {"kind": "formula_layer", "formula": "y[i] = __import__('os').system('echo hi')", "inputs": {"x": ["n"]}},
        {"kind": "formula_layer", "formula": "y[i] = x[i].__class__", "inputs": {"x": ["n"]}},
        {"kind": "formula_layer", "formula": "y[i] = x[i]", "inputs": {"x": ["n"]}, "code": "print(1)"},
        {"kind": "formula_layer", "formula": 42, "inputs": {"x": ["n"]}},
        {"kind": "lambda", "formula": "y[i] = x[i]", "inputs": {"x": ["n"]}},
        {"kind": "formula_layer", "formula": "y[i] = x[i]", "inputs": "x"},
        {"kind": "formula_layer", "formula": "y[i] = x[i]", "inputs": {"x": [1]}},
        {"kind": "formula_layer", "formula": "y[i] = x[i]", "inputs": {"x": ["n"]}, "name": ["a"]},
        {"kind": "formula_layer", "formula": "y[i] = x[i]", "inputs": {"x": ["n n"]}},
        "y[i] = x[i]",
    ],
)
def test_hostile_configs_are_refused_in_one_line(config):
    with pytest.raises(ValueError) as caught:
        FormulaLayer.from_config(config)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("y[i] = x[0]", "not an index letter"),
        ("y[i] = x[i + 1]", "not an index letter"),
        ("y[i] = x[i:]", "not an index letter"),
        ("y[i] = x[i].real", "attribute access"),
        ("y[i] = __import__('os')", "unknown function '__import__'"),
        ("y[i] = eval('1') + x[i]", "unknown function 'eval'"),
        ("y[i] = x[j]", "output index 'i'"),
        ("y = x", "array 'x'"),
        ("y[i] = W[i, k] * x[k]", "free on the right"),
        ("y[i] = sum(x[i], i)", "sums over 'i' and also uses it free"),
        ("y[i] = sum(x[i], j) + x[i]", "does not use"),
        ("y[i] = sum(sum(W[i, j] * x[j], j), j)", "inside a sum"),
        ("y[i] = W[i, i]", "repeats an index letter"),
        ("y[i] = W[i, j] * x[i]", "free on the right"),
        ("y[i] = x[i]\ny[i] = x[i]", "already a declared name or output"),
        ("import os", "not an equation"),
        ("y[i] += x[i]", "not an equation"),
        ("y[i] = [x[i] for i in x]", "comprehension"),
        ("y[i] = lambda: 0", "lambda"),
        ("y[i] = x[i] @ W[i, i]", "operator '@'"),
        ("y[i] = x[i] ** 1000", "exponent"),
        ("y[i] = x[i] +", "invalid syntax"),
        ("y[i] = x[i] + " + "1 + " * 600 + "1", "characters"),
        ("y[i] = " + "(" * 60 + "x[i]" + ")" * 60, "nested deeper"),
        ("y[i] = x[i]" + "\nz{n}[i] = x[i]" * 20, "equations"),
        ("y[i] = x\u0131[i]", "non-ASCII"),
    ],
)
def test_bad_texts_raise_one_line_formula_errors(text, fragment):
    text = text.replace("{n}", "")
    with pytest.raises(FormulaError) as caught:
        formula_layer(text, inputs={"x": "in"}, params={"W": ("in", "in")})
    message = str(caught.value)
    assert "\n" not in message and message.startswith("formula:") and fragment in message, message


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"inputs": {}}, "at least one input"),
        ({"inputs": {"x": "n"}, "params": {"x": "n"}}, "both as an input and as a param"),
        ({"inputs": {"x": "n", "z": "n"}}, "'z' is declared but no equation uses it"),
        ({"inputs": {"numpy": "n"}}, "reserved"),
        ({"inputs": {"x": "n", "v_y": "n"}}, "cotangent"),
        ({"inputs": {"x": "n"}, "name": "bad name"}, "layer name"),
        ({"inputs": {"x": "i"}}, "'i' at column 3 is also a dimension name"),
    ],
)
def test_bad_declarations_are_refused(kwargs, fragment):
    text = "y[i] = x[i] + v_y[i]" if "v_y" in kwargs["inputs"] else "y[i] = x[i]"
    text = text.replace("x[i]", "numpy[i]") if "numpy" in kwargs["inputs"] else text
    with pytest.raises(ValueError, match=fragment):
        formula_layer(text, **kwargs)


def test_custom_layers_page_runs():
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "custom_layers.md"
    result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 30


def test_symdl_check_proves_a_layer_and_reports_its_singularities(capsys):
    from symdl.cli.main import main

    assert main(["check", "A[i] = X1[i] + X2[i]; P[i] = X1[i] * X2[i]; Q[i] = X1[i] / X2[i]"]) == 0
    text = capsys.readouterr().out
    assert "singular: output Q: division by a value that can be 0: X2[i]" in text
    assert text.count("proven: vjp by") == 2 and text.rstrip().endswith("PASS")
    assert main(["check", "y[i] = sum(W[i, j] * x[j], j) + b[i]", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["singularities"] == [] and report["arrays"]["W"] == ["n_i", "n_j"] and report["passed"]
    assert report["vjps"]["W"] == "v_y[i']*x[j']"


@pytest.mark.parametrize("text", ["y[i] = __import__('os')", "y[i] = x[j]", "y[i] = x[i].real", "y[i] = x[i] ="])
def test_symdl_check_refuses_bad_layer_text_in_one_line(capsys, text):
    from symdl.cli.main import main

    assert main(["check", text]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("symdl: error: formula:")


# text, inputs, params, the same layer in PyTorch written by hand (float64)
LAYERS = [
    ("h[i] = relu(sum(W[i, j] * x[j], j) + b[i])", {"x": "n"}, {"W": ("m", "n"), "b": "m"},
     lambda x, W, b: {"h": torch.relu(x @ W.T + b)}),
    ("Z[i, k] = sum(A[i, j] * B[j, k], j)", {"A": ("m", "n")}, {"B": ("n", "p")}, lambda A, B: {"Z": A @ B}),
    ("y[i] = where(x[i] > 0, x[i], a * (exp(x[i]) - 1))", {"x": "n"}, {"a": ()},
     lambda x, a: {"y": torch.where(x > 0, x, a * torch.expm1(x))}),
    ("s = log(sum(exp(x[i]), i))", {"x": "n"}, {}, lambda x: {"s": torch.logsumexp(x, -1)}),
    ("y[i] = x[i] / sqrt(sum(x[j] ** 2, j) + 0.001)", {"x": "n"}, {},
     lambda x: {"y": x / torch.sqrt((x**2).sum(-1, keepdim=True) + 0.001)}),
    ("y[i] = tanh(sum(sum(T[i, j, k] * x[j] * x[k], j), k))", {"x": "n"}, {"T": ("m", "n", "n")},
     lambda x, T: {"y": torch.tanh(torch.einsum("ijk,bj,bk->bi", T, x, x))}),
    ("Y[i, k] = X[i, k] * g[k] + c", {"X": ("a", "b")}, {"g": "b", "c": ()}, lambda X, g, c: {"Y": X * g + c}),
    ("y[i] = (x[i] + b[i] + c) ** 7", {"x": "n"}, {"b": "n", "c": ()}, lambda x, b, c: {"y": (x + b + c) ** 7}),
]


@pytest.fixture(scope="module")
def compiled_layers() -> list[FormulaLayer]:
    return [formula_layer(text, inputs=inputs, params=params) for text, inputs, params, _ in LAYERS]


@given(st.integers(0, len(LAYERS) - 1), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_more_layers_match_torch(compiled_layers, which, size, batch, seed):
    layer, forward = compiled_layers[which], LAYERS[which][3]
    rng = np.random.default_rng(seed)
    sizes = {dim: size + n % 2 for n, dim in enumerate(layer.dims)}
    inputs = {n: rng.standard_normal((batch, *(sizes[a] for a in axes))) for n, axes in layer.inputs.items()}
    params = {n: rng.standard_normal(shape) for n, shape in layer.param_shapes(sizes).items()}
    cot = {n: rng.standard_normal((batch, *(sizes[a] for a in axes))) for n, axes in layer.outputs.items()}
    outs, grads = _torch_vjps(forward, inputs, params, cot)
    _close(layer.apply(inputs, params), outs)
    _close(layer.backward(inputs, params, cot), grads)


def test_more_layers_are_proven_quickly(compiled_layers):
    for layer in compiled_layers:
        proofs = layer.prove()
        assert all(proofs.values()), (layer.text, proofs)


def test_expm1_against_exp_minus_1_in_each_branch_is_shown_exactly_and_a_wrong_branch_refuted():
    """The ELU layer's VJP by ``a`` reads expm1(x) where ∂T/∂a has eˣ − 1: each branch shown exactly, not by simplify."""
    layer = formula_layer("y[i] = where(x[i] > 0, x[i], a * (exp(x[i]) - 1))", inputs={"x": "n"}, params={"a": ()})
    proof = next(p for label, p in layer.prove({"n": 1}).items() if label.startswith("vjp by a "))
    assert proof.holds and proof.method.endswith("each branch an exact rational-function identity"), proof
    x, v = sp.IndexedBase("x", real=True), sp.IndexedBase("v_y", real=True)
    wrong = sp.Piecewise((0, x[0] > 0), (sp.exp(x[0]) * v[0], True))
    assert not next(p for label, p in layer.prove({"n": 1}, claims={"a": wrong}).items() if label.startswith("vjp by a ")).holds


def test_a_power_of_a_sum_is_derived_and_proven_without_expanding():
    layer = formula_layer("y[i] = (x[i] + b[i] + c + d + e) ** 100", inputs={"x": "n"}, params={"b": "n", "c": (), "d": (), "e": ()})
    base = sp.Add(*(sp.Symbol(s, real=True) for s in "cde"), sp.IndexedBase("b", real=True)[layer.vjp_indices("x")],
                  sp.IndexedBase("x", real=True)[layer.vjp_indices("x")])
    assert layer.vjp("x") == 100 * base**99 * sp.IndexedBase("v_y", real=True)[layer.vjp_indices("x")]
    assert all(layer.prove().values())


@pytest.mark.parametrize("which", range(len(LAYERS)))
def test_more_layers_pass_finite_differences(compiled_layers, which):
    layer = compiled_layers[which]
    rng = np.random.default_rng(which)
    sizes = {dim: 2 + n % 2 for n, dim in enumerate(layer.dims)}
    values = {n: rng.standard_normal((3, *(sizes[a] for a in axes))) for n, axes in layer.inputs.items()}
    values.update({n: rng.standard_normal(shape) for n, shape in layer.param_shapes(sizes).items()})
    cot = {n: rng.standard_normal((3, *(sizes[a] for a in axes))) for n, axes in layer.outputs.items()}
    for wrt in layer.arrays:

        def split(point, wrt=wrt):
            moved = {**values, wrt: point}
            return {n: moved[n] for n in layer.inputs}, {n: moved[n] for n in layer.params}

        def f(point):
            outputs = layer.apply(*split(point))
            return float(sum(np.sum(cot[n] * outputs[n]) for n in outputs))

        def grad(point, wrt=wrt):
            return layer.backward(*split(point), cot)[wrt]

        assert_grad_close(f, grad, np.asarray(values[wrt], dtype=np.float64))


def test_an_output_that_reads_no_input_still_has_the_batch_axis():
    layer = formula_layer("u[i] = x[i]; y[i] = b[i]; z = c * 2", inputs={"x": "n"}, params={"b": "n", "c": ()})
    out = layer.apply({"x": np.ones((4, 3))}, {"b": np.arange(3.0), "c": np.array(1.5)})
    assert out["y"].shape == (4, 3) and out["z"].shape == (4,) and np.all(out["z"] == 3.0)
    rng = np.random.default_rng(0)
    cot = {"u": rng.standard_normal((4, 3)), "y": rng.standard_normal((4, 3)), "z": rng.standard_normal(4)}
    grads = layer.backward({"x": np.ones((4, 3))}, {"b": np.arange(3.0), "c": np.array(1.5)}, cot)
    np.testing.assert_allclose(grads["b"], cot["y"].sum(0), rtol=1e-12)
    np.testing.assert_allclose(grads["c"], 2 * cot["z"].sum(), rtol=1e-12)
    np.testing.assert_allclose(grads["x"], cot["u"], rtol=1e-12)


_PLACEHOLDERS = {"XX": "x[i]", "BB": "b[i]", "SS": "sum(W[i, j] * x[j], j)"}


@settings(max_examples=25, deadline=None)
@given(formula_texts(symbols=tuple(_PLACEHOLDERS), max_leaves=4))
def test_grammar_fuzz_never_crashes_and_never_derives_a_wrong_vjp(body):
    for placeholder, text in _PLACEHOLDERS.items():
        body = re.sub(rf"\b{placeholder}\b", text, body)
    text = "y[i] = " + body
    declared = {k: v for k, v in {"x": "n", "W": ("n", "n"), "b": "n"}.items() if k + "[" in text}
    first = "x" if "x" in declared else "b"
    try:
        layer = formula_layer(text, inputs={first: declared.pop(first, "n")}, params=declared)
        proofs = layer.prove()
        layer.source()
    except ValueError as error:  # FormulaError, a non-real derivative, a constant no float64 holds
        assert "\n" not in str(error)
        return
    assert not any("refuted" in p.method for p in proofs.values()), (text, proofs)


@pytest.mark.parametrize("text", ["y[i] = 0 ** x[i]", "y[i] = (-2) ** x[i]"])
def test_a_derivative_that_is_not_finite_and_real_is_refused_when_built(text):
    with pytest.raises(ValueError, match="is not a finite real expression") as caught:
        formula_layer(text, inputs={"x": "n"})
    assert "\n" not in str(caught.value)


# --- a dimension read as a value: the n of a mean ---------------------------------------------------------------------

CENTRED = "y[i] = x[i] - sum(x[j], j)/n"
_CENTRED_LAYER = formula_layer(CENTRED, inputs={"x": "n"}, name="centred")  # built once: its kernels are kept on it


@settings(max_examples=15, deadline=None)
@given(width=st.integers(1, 6), batch=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_a_dimension_name_is_its_size_in_the_printed_code(width, batch, seed):
    layer = _CENTRED_LAYER
    rng = np.random.default_rng(seed)
    x, v = rng.normal(size=(batch, width)), rng.normal(size=(batch, width))
    np.testing.assert_allclose(layer.apply({"x": x})["y"], x - x.mean(axis=1, keepdims=True), rtol=1e-12, atol=1e-14)
    tx = torch.tensor(x, requires_grad=True)
    ((tx - tx.mean(dim=1, keepdim=True)) * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(layer.backward({"x": x}, None, {"y": v})["x"], tx.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_a_dimension_name_reads_the_size_and_a_declared_scalar_of_that_name_wins():
    layer = formula_layer(CENTRED, inputs={"x": "n"})
    assert layer.forward_expr().has(sp.Symbol("n", integer=True, positive=True))
    assert "_size_n = x.shape[-1]" in layer.source()
    assert all(layer.prove({"n": 3}).values())
    scaled = formula_layer(CENTRED, inputs={"x": "n"}, params={"n": ()})  # a parameter named n is that parameter
    np.testing.assert_allclose(scaled.apply({"x": np.ones((1, 2))}, {"n": 4.0})["y"], [[0.5, 0.5]])


def test_a_claim_with_roots_is_proven_and_a_wrong_one_refuted_at_an_irrational_value():
    layer = formula_layer("y[i] = x[i]/sqrt(sum(x[j]**2, j) + 1)", inputs={"x": "n"})
    assert all(layer.prove({"n": 2}).values())
    x, v = sp.IndexedBase("x", real=True), sp.IndexedBase("v_y", real=True)
    (p,) = layer.vjp_indices("x")
    j = sp.Symbol("j", integer=True, nonnegative=True)
    wrong = v[p] / sp.sqrt(sp.Sum(x[j] ** 2, (j, 0, sp.Symbol("n", integer=True, positive=True) - 1)) + 1)
    proof = next(p for label, p in layer.prove({"n": 2}, claims={"x": wrong}).items() if label.startswith("vjp by x "))
    assert not proof.holds and "60-digit evaluation" in proof.method
