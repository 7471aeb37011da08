"""Generated graph modules (numpy, torch, JAX) take their data as CompiledGraph does: one by one, a list, or a dict.

Every form of the data gives the numbers of the arrays one by one bit for bit, and those agree with the compiled
graph's; a wrong key or count is CompiledGraph's one ValueError line, word for word.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from generated_modules import assert_ruff_clean, load_module
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from symdl.backends.runtime_data import data_arrays, forward_arrays, step_arguments
from symdl.export import graph_module_source
from symdl.graph import Concatenate, Dense, Input, Model

_values = st.floats(-3, 3, allow_nan=False, allow_subnormal=False)
BACKENDS = ("numpy", "torch", "jax")


def two_by_two() -> Model:
    """Two named inputs, two named outputs with data targets."""
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dense(4, activation="tanh")(Concatenate()([a, b]))
    return Model([a, b], [Dense(2, name="main")(h), Dense(1, name="aux")(h)], losses=["mse", "mse"])


def one_by_one() -> Model:
    x = Input(3)
    return Model(x, Dense(2, activation="tanh")(Dense(4, activation="tanh")(x)), losses="mse")


def no_targets() -> Model:
    """Two inputs, no data target: the loss reconstructs the first input (the pair (inputs, ()) vs the two arrays)."""
    a, b = Input(3, name="a"), Input(2)
    h = Dense(3, activation="tanh")(Concatenate()([a, b]))
    return Model([a, b], h, losses=[None]).add_loss(h, "mse", target=a)


MODELS = {"two_by_two": two_by_two, "one_by_one": one_by_one, "no_targets": no_targets}
_loaded: dict[tuple[str, str], tuple] = {}


def loaded(backend: str, name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """(module, compiled graph, to-array function) for the model ``name`` exported to ``backend``, made once."""
    library = {"numpy": "numpy", "torch": "torch", "jax": "jax"}[backend]
    pytest.importorskip(library)
    if (backend, name) not in _loaded:
        model = MODELS[name]()
        folder = tmp_path_factory.mktemp(f"{backend}_{name}")
        mod = load_module(graph_module_source(model, backend), folder, f"{backend}_{name}")
        if backend == "torch":
            import torch

            def conv(a):
                return torch.tensor(a)
        elif backend == "jax":
            import jax.numpy as jnp

            def conv(a):
                return jnp.asarray(a)
        else:
            def conv(a):
                return np.array(a)
        _loaded[backend, name] = (mod, model.compile(), conv)
    return _loaded[backend, name]


def host(value):
    return np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)


def forms(arrays: list, names: tuple[str, ...], aliases: tuple) -> list:
    """A side of the data in every form: a list, a tuple, a dict by data key, by alias, by both mixed."""
    out = [list(arrays), tuple(arrays), dict(zip(names, arrays))]
    if any(a is not None for a in aliases):
        out.append({a or n: x for n, a, x in zip(names, aliases, arrays)})
        out.append({(a or n) if k % 2 else n: x for k, (n, a, x) in enumerate(zip(names, aliases, arrays))})
    if len(arrays) == 1:
        out.append(arrays[0])  # one array for a one-array side
    return out


def draw_data(data: st.DataObject, graph, backend: str) -> tuple[list, list]:
    # JAX compiles each entry point once per batch size: its m from a fixed set (one row, two, the most), so that the
    # 8 examples share compiles; the forms are arranged before jax.jit, whatever m (numpy and torch draw every m)
    m = data.draw(st.sampled_from((1, 2, 5)) if backend == "jax" else st.integers(1, 5), label="m")
    xs = [data.draw(arrays(np.float64, (m, int(w)), elements=_values)) for w in graph.input_widths]
    ys = [data.draw(arrays(np.float64, (m, int(w)), elements=_values)) for w in graph.target_widths]
    return xs, ys


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_every_form_gives_the_numbers_of_the_arrays_one_by_one_and_of_the_compiled_graph(backend, name, data,
                                                                                          tmp_path_factory) -> None:
    mod, graph, conv = loaded(backend, name, tmp_path_factory)
    xs, ys = draw_data(data, graph, backend)
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    reference = graph.init(seed)
    params = {k: conv(v) for k, v in reference.items()}
    X, Y = [conv(x) for x in xs], [conv(y) for y in ys]
    rtol = 1e-12 if backend == "numpy" else 1e-9

    def close(got, want):
        np.testing.assert_allclose(host(got), want, rtol=rtol, atol=1e-12)

    outputs = mod.forward(params, *X)
    expected = graph.forward(reference, *xs)
    for got, want in zip(*((outputs, expected) if isinstance(expected, tuple) else ((outputs,), (expected,))), strict=True):
        close(got, want)
    for inputs in forms(X, graph.input_names, graph.input_aliases):
        again = mod.forward(params, inputs)
        for got, want in zip(*((again, outputs) if isinstance(outputs, tuple) else ((again,), (outputs,))), strict=True):
            np.testing.assert_array_equal(host(got), host(want))

    one_by_one = (*X, *Y)
    C, grads = mod.loss_and_grad(params, *one_by_one)
    want_C, want_grads = graph.loss_and_grad(reference, xs, ys)
    close(C, want_C)
    for key, g in want_grads.items():
        close(grads[key], g)
    want_loss, want_eval = mod.loss(params, *one_by_one), mod.inference_loss(params, *one_by_one)
    close(want_loss, graph.loss(reference, xs, ys))
    close(want_eval, graph.inference_loss(reference, xs, ys))
    groups = [(inputs, targets) for inputs in forms(X, graph.input_names, graph.input_aliases)
              for targets in forms(Y, graph.target_names, graph.target_aliases)]
    groups += [(inputs,) for inputs in forms(X, graph.input_names, graph.input_aliases) if not Y]  # targets left out
    for given_data in groups:
        assert host(mod.loss(params, *given_data)) == host(want_loss)
        assert host(mod.inference_loss(params, *given_data)) == host(want_eval)
        again_C, again = mod.loss_and_grad(params, *given_data)
        assert host(again_C) == host(C)
        for key in grads:
            np.testing.assert_array_equal(host(again[key]), host(grads[key]))

    stepped = {k: v.copy() for k, v in reference.items()}
    want_step = graph.train_step(stepped, xs, ys, 0.05)
    for given_data in [one_by_one, *groups[:3]]:
        fresh = {k: conv(v) for k, v in reference.items()}
        close(mod.train_step(fresh, *given_data, 0.05), want_step)
        for key, value in stepped.items():
            close(fresh[key], value)


def _bad_forms(name: str, xs: list, ys: list) -> list[tuple[object, object]]:
    """(inputs, targets) that CompiledGraph refuses: wrong counts, unknown keys, missing and doubled arrays."""
    A, *rest = xs
    bad = [([A, *xs], ys), ({"nope": A}, ys), ({}, ys), (xs, [*ys, A])]
    if ys:
        bad += [(xs, {"nope": ys[0]}), (xs, ())]
    if name == "two_by_two":
        bad += [(A, ys), ({"a": A, "X1": A, "b": rest[0]}, ys), (xs, {"main": ys[0]}), (xs, ys[0])]
    if name == "one_by_one":
        bad += [(A.tolist(), ys)]  # a list of rows is a list of arrays (Keras' rule), here one per row
    return bad


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_wrong_key_or_count_is_the_compiled_graphs_one_line(backend, name, tmp_path_factory) -> None:
    mod, graph, conv = loaded(backend, name, tmp_path_factory)
    xs = [np.ones((4, int(w))) for w in graph.input_widths]
    ys = [np.zeros((4, int(w))) for w in graph.target_widths]
    reference = graph.init(0)
    params = {k: conv(v) for k, v in reference.items()}

    def converted(side):
        if isinstance(side, dict):
            return {k: conv(v) for k, v in side.items()}
        if isinstance(side, (list, tuple)) and all(isinstance(v, np.ndarray) for v in side):
            return type(side)(conv(v) for v in side)
        return conv(side) if isinstance(side, np.ndarray) else side

    cases = _bad_forms(name, xs, ys)
    assert cases
    for inputs, targets in cases:
        with pytest.raises(ValueError) as compiled:
            graph.loss(reference, inputs, targets)
        message = str(compiled.value)
        assert "\n" not in message
        for entry in (mod.loss, mod.inference_loss, mod.loss_and_grad):
            with pytest.raises(ValueError) as got:
                entry(params, converted(inputs), converted(targets))
            assert str(got.value) == message
        with pytest.raises(ValueError) as got:
            mod.train_step(params, converted(inputs), converted(targets), 0.1)
        assert str(got.value) == message
        if targets is ys and not isinstance(inputs, np.ndarray):  # the inputs alone are forward's one argument
            with pytest.raises(ValueError) as compiled:
                graph.forward(reference, inputs)
            with pytest.raises(ValueError) as got:
                mod.forward(params, converted(inputs))
            assert str(got.value) == str(compiled.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_wrong_numbers_of_arrays_one_by_one_are_one_line_each(backend, tmp_path_factory) -> None:
    mod, graph, conv = loaded(backend, "two_by_two", tmp_path_factory)
    reference = graph.init(0)
    params = {k: conv(v) for k, v in reference.items()}
    A, B, Y1, Y2 = (conv(np.ones((4, w))) for w in (3, 2, 2, 1))
    with pytest.raises(ValueError) as compiled:
        graph.forward(reference, np.ones((4, 3)), np.ones((4, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError) as got:
        mod.forward(params, A, B, Y1)
    assert str(got.value) == str(compiled.value) == "forward: this model takes 2 input array(s), got 3"
    message = "expected the data as (inputs, targets) or as the 4 arrays X1, X2, Y1, Y2 one by one, got 3 data arguments"
    with pytest.raises(ValueError, match=r"^" + re.escape(message) + "$"):
        mod.loss(params, A, B, Y1)
    with pytest.raises(ValueError, match=r"^train_step: expected the data, then lr; got 1 argument\(s\)$"):
        mod.train_step(params, 0.1)


def test_the_rule_of_the_two_forms() -> None:
    """Counts decide, never the arrays' values: the n + k arrays one by one unless that is also (inputs, targets)."""
    one, two = (("X", 3),), (("X1", 3), ("X2", 2))
    target, none = (("Y", 1),), ()
    A, B, Y = object(), object(), object()  # never read: only counted and matched to names
    assert data_arrays((A, B), two, none, (None, None), ()) == [A, B]  # two inputs, no target: the arrays
    assert data_arrays(((A, B), ()), two, none, (None, None), ()) == [A, B]  # ... or the pair: a tuple first
    assert data_arrays(({"X1": A, "X2": B}, {}), two, none, (None, None), ()) == [A, B]  # ... a dict first
    with pytest.raises(ValueError, match=r"^inputs: this model takes 2 array\(s\) \(X1, X2\), got 1$"):
        data_arrays((A, []), two, none, (None, None), ())  # an empty target side: the pair, whose inputs are one array
    assert data_arrays(((A, B),), two, none, (None, None), ()) == [A, B]
    assert data_arrays((A, Y), one, target, (None,), (None,)) == [A, Y]
    assert data_arrays(([A], {"Y": Y}), one, target, (None,), (None,)) == [A, Y]
    assert data_arrays((A, B, Y), two, target, (None, None), (None,)) == [A, B, Y]
    assert data_arrays(({"X2": B, "X1": A}, Y), two, target, (None, None), (None,)) == [A, B, Y]
    assert forward_arrays((A,), one, (None,)) == [A]
    assert forward_arrays(({"X2": B, "X1": A},), two, (None, None)) == [A, B]
    assert step_arguments((A, Y, 0.1), ("lr",)) == ((A, Y), (0.1,))
    with pytest.raises(ValueError, match=r"^train_step: expected the data, then state, beta1; got 2 argument\(s\)$"):
        step_arguments((A, Y), ("state", "beta1"))


def test_rows_given_as_lists_are_named_and_text_is_one_array() -> None:
    """X.tolist() for a one-input model is a list of arrays, one per row (Keras' rule): the count alone read as if
    the model had several inputs; and a str was a sequence of its letters ("got 3")."""
    one, target = (("X", 3),), (("Y", 1),)
    rows = [[1.0, 2.0, 3.0]] * 4
    with pytest.raises(ValueError, match=r"^inputs: this model takes 1 array\(s\) \(X\), got 4; a list is read as a list of "
                                         r"arrays: give the rows as one array \(numpy\.asarray\(rows\)\)$"):
        data_arrays((rows, [[0.0]] * 4), one, target, (None,), (None,))
    with pytest.raises(ValueError, match=r"^inputs: this model takes 1 array\(s\) \(X\), got 2$"):  # arrays: no hint
        data_arrays(([np.ones((4, 3))] * 2, np.ones((4, 1))), one, target, (None,), (None,))
    assert data_arrays(("abc", "Y"), one, target, (None,), (None,)) == ["abc", "Y"]  # each one array, for its dtype check
    assert data_arrays(([rows], np.ones((4, 1))), one, target, (None,), (None,))[0] is rows  # [X] with X as rows: as before


def test_the_modules_pass_ruff_and_run_on_their_own(tmp_path) -> None:
    """The copied helpers keep the modules ruff-clean; the numpy module reads a dict without symdl or sympy imported."""
    for backend in BACKENDS:  # printing needs none of the array libraries
        (tmp_path / f"graph_{backend}.py").write_text(graph_module_source(two_by_two(), backend))
    assert_ruff_clean(tmp_path)
    script = (
        "import json, sys, numpy as np; sys.path.insert(0, sys.argv[1]); import graph_numpy as m\n"
        "p = m.init_params(0); A, B = np.ones((2, 3)), np.ones((2, 2))\n"
        "got = m.forward(p, {'a': A, 'b': B}); want = m.forward(p, A, B)\n"
        "same = all(bool((g == w).all()) for g, w in zip(got, want))\n"
        "print(json.dumps([same, [k for k in ('symdl', 'sympy') if k in sys.modules]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [True, []]


def test_a_source_whose_entry_points_are_not_all_found_is_refused() -> None:
    """No entry point is left taking its arrays one by one only because its def line was not recognised."""
    from symdl.export.graph_data import data_forms

    with pytest.raises(ValueError, match=r"^data_forms: found the entry points \['forward'\], expected \["):
        data_forms("def forward(params, X):\n    return X\n", ["X"], ["Y"])
    with pytest.raises(ValueError, match=r"^data_forms: forward does not take its data as X1, X2$"):
        data_forms("def forward(params, X2, X1):\n    return X1\n", ["X1", "X2"], [])
