"""``fit`` and ``evaluate`` on graphs with several inputs and targets: tuples or dicts keyed by name, batches cut alike.

Checked against hand-rolled loops over the same batches: the graph's own
``train_step`` (bit for bit) and the graph's ``loss_and_grad`` with
``torch.optim.Adam`` (float64, rtol 1e-10).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.graph import (
    Add,
    Concatenate,
    Dense,
    Dropout,
    Input,
    Model,
    load_graph,
    save_graph,
)
from symdl.training import evaluate, fit
from symdl.training.batches import batch_slices, epoch_rng

torch = pytest.importorskip("torch")

_SEED_BOUND = 2**31 - 1


def _model() -> Model:
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dense(6, activation="tanh")(Concatenate()([a, b]))
    h = Add()([h, Dropout(0.2)(Dense(6, activation="tanh")(h))])
    main = Dense(2, name="main")(h)
    aux = Dense(1, activation="sigmoid", name="aux")(h)
    return Model([a, b], [main, aux], losses=["mse", "binary_cross_entropy"], loss_weights=[1.0, 0.5])


@functools.cache
def _compiled(optimizer: str, lr: float | None = None):
    """``_model()`` compiled once per optimizer: the tests only read it (fit updates the params and state it is given)."""
    return _model().compile(optimizer=optimizer if lr is None else symdl.optimizer(optimizer, lr=lr))


def _data(m: int, seed: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(m, 3)), rng.normal(size=(m, 2))
    main = np.tanh(A[:, :2] + B)
    aux = (A.sum(axis=1, keepdims=True) > 0).astype(float)
    return (A, B), (main, aux)


def _same(a: dict, b: dict) -> bool:
    return set(a) == set(b) and all(np.asarray(a[k]).tobytes() == np.asarray(b[k]).tobytes() for k in a)


def _batches(m: int, batch_size: int, epochs: int, seed: int):
    """The batches and dropout seeds ``fit`` uses: the order of (seed, epoch), then one mask seed per batch."""
    for epoch in range(epochs):
        rng = epoch_rng(seed, epoch)
        for rows in batch_slices(m, batch_size, rng):
            yield epoch, rows, int(rng.integers(_SEED_BOUND))


@settings(max_examples=5, deadline=None)
@given(m=st.integers(5, 30), batch_size=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_fit_on_two_inputs_and_two_targets_is_the_graphs_own_train_step_over_the_same_batches(m, batch_size, seed):
    graph = _compiled("nadam", 0.01)
    (A, B), (Ym, Ya) = _data(m, seed)
    params, by_hand = graph.init(seed), graph.init(seed)
    history = graph.fit(params, {"b": B, "a": A}, {"Y2": Ya, "main": Ym}, epochs=2, batch_size=batch_size, seed=seed, verbose=0)
    state, losses = graph.init_state(by_hand), {0: [], 1: []}
    for epoch, rows, mask_seed in _batches(m, batch_size, 2, seed):
        loss = graph.train_step(by_hand, (A[rows], B[rows]), (Ym[rows], Ya[rows]), state, seed=mask_seed)
        losses[epoch].append((loss, len(A[rows])))
    assert _same(params, by_hand) and _same(history.state, state)
    for epoch in (0, 1):
        expected = sum(c * n for c, n in losses[epoch]) / m
        assert history.history["loss"][epoch] == pytest.approx(expected, rel=1e-12)


def test_fit_with_loss_and_grad_and_torch_adam_by_hand():
    graph = _model().compile(optimizer=symdl.optimizer("adam", lr=0.01))
    (A, B), (Ym, Ya) = _data(29, 3)
    params = graph.init(1)
    tensors = {k: torch.tensor(v.copy(), dtype=torch.float64) for k, v in params.items()}
    adam = torch.optim.Adam(list(tensors.values()), lr=0.01)
    graph.fit(params, [A, B], [Ym, Ya], epochs=3, batch_size=8, seed=7, verbose=0)
    for _, rows, mask_seed in _batches(29, 8, 3, 7):
        _, grads = graph.loss_and_grad({k: t.detach().numpy() for k, t in tensors.items()}, [A[rows], B[rows]],
                                       [Ym[rows], Ya[rows]], seed=mask_seed)
        for k, t in tensors.items():
            t.grad = torch.from_numpy(grads[k])
        adam.step()
    for k in params:
        np.testing.assert_allclose(params[k], tensors[k].detach().numpy(), rtol=1e-10, atol=1e-13)


def test_tuples_lists_and_dicts_by_code_or_given_name_train_alike_and_evaluate_in_inference_mode():
    graph = _compiled("adam")
    (A, B), (Ym, Ya) = _data(20, 4)
    (Av, Bv), (Ymv, Yav) = _data(7, 5)
    runs = []
    for X, Y in [((A, B), (Ym, Ya)), ([A, B], [Ym, Ya]), ({"X1": A, "b": B}, {"main": Ym, "aux": Ya}),
                 ({"a": A, "X2": B}, {"Y1": Ym, "Y2": Ya})]:
        params = graph.init(0)
        h = graph.fit(params, X, Y, epochs=2, batch_size=6, verbose=0, validation=({"a": Av, "b": Bv}, (Ymv, Yav)))
        runs.append((params, h.history))
    assert all(_same(p, runs[0][0]) and h == runs[0][1] for p, h in runs)
    params = runs[0][0]
    assert runs[0][1]["val_loss"][-1] == graph.inference_loss(params, (Av, Bv), (Ymv, Yav))
    assert evaluate(graph, params, {"a": Av, "b": Bv}, {"Y1": Ymv, "Y2": Yav}, batch_size=3)["loss"] == pytest.approx(
        graph.inference_loss(params, (Av, Bv), (Ymv, Yav)), rel=1e-13)
    assert (graph.input_names, graph.target_names, graph.output_widths) == (("X1", "X2"), ("Y1", "Y2"), (2, 1))


@pytest.mark.parametrize("X, Y, message", [
    (lambda A, B: {"a": A}, lambda Ym, Ya: (Ym, Ya), "X: no array for 'X2'; this model takes X1 \\(or 'a'\\), X2 \\(or 'b'\\)$"),
    (lambda A, B: {"a": A, "b": B, "c": B}, lambda Ym, Ya: (Ym, Ya), "X: unexpected key 'c'"),
    (lambda A, B: (A, B), lambda Ym, Ya: {"main": Ym, "Y3": Ya}, "^Y: unexpected key 'Y3'; this model takes Y1 \\(or 'main'\\), Y2 \\(or 'aux'\\)$"),
    (lambda A, B: {"a": A, "X1": A, "b": B}, lambda Ym, Ya: (Ym, Ya), "X: two arrays for 'X1'"),
    (lambda A, B: A, lambda Ym, Ya: (Ym, Ya), "X: this model takes 2 array\\(s\\) \\(X1, X2\\), got 1"),
    (lambda A, B: (A, B[:-1]), lambda Ym, Ya: (Ym, Ya), "X, Y: 10 samples in X\\['X1'\\] but 9 in X\\['X2'\\]"),
    (lambda A, B: (A, B), lambda Ym, Ya: (Ym, Ya[:-2]), "10 samples in X\\['X1'\\] but 8 in Y\\['Y2'\\]"),
    (lambda A, B: (A, B[:, 0]), lambda Ym, Ya: (Ym, Ya), "X\\['X2'\\]: expected a 2-d array"),
    (lambda A, B: (A, B), lambda Ym, Ya: (Ym, Ya + 2), "Y2"),  # outside binary cross-entropy's domain
])
def test_mismatched_or_missing_arrays_are_one_line_before_any_step(X, Y, message):
    graph = _compiled("adam")
    (A, B), (Ym, Ya) = _data(10, 6)
    params = graph.init(0)
    before = {k: v.copy() for k, v in params.items()}
    with pytest.raises(ValueError, match=message) as caught:
        fit(graph, params, X(A, B), Y(Ym, Ya), epochs=1, verbose=0)
    assert "\n" not in str(caught.value) and _same(params, before)


def test_metrics_on_two_inputs_one_output_keep_their_plain_keys():
    """One output: the keys as for a network (several outputs: tests/test_graph_metrics.py)."""
    (A, B), (Ym, _) = _data(10, 6)
    a, b = Input(3), Input(2)
    single = Model([a, b], Dense(2)(Concatenate()([a, b]))).compile(optimizer="adam")
    params = single.init(0)
    h = single.fit(params, (A, B), Ym, epochs=1, batch_size=4, verbose=0, metrics=["mae"], shuffle=False)
    metric = symdl.metric("mae")
    again = single.init(0)
    state = single.init_state(again)
    for rows in batch_slices(10, 4, None):
        metric.update_state(Ym[rows], single.forward(again, A[rows], B[rows]))
        single.train_step(again, (A[rows], B[rows]), Ym[rows], state, seed=0)
    assert h.history["mean_absolute_error"] == [metric.result()]


def test_a_two_input_graph_fits_saves_loads_and_continues_bit_for_bit(tmp_path):
    graph = _model().compile(optimizer=symdl.optimizer("sgd", lr=0.05, momentum=0.9))
    X, Y = _data(24, 8)
    whole, params = graph.init(0), graph.init(0)
    straight = graph.fit(whole, X, Y, epochs=4, batch_size=5, verbose=0)
    first = graph.fit(params, X, Y, epochs=2, batch_size=5, verbose=0)
    save_graph(tmp_path / "g", graph, params, first.state)
    again, params2, state2, _ = load_graph(tmp_path / "g")
    second = again.fit(params2, X, Y, epochs=4, batch_size=5, verbose=0, initial_epoch=2, state=state2)
    assert first.history["loss"] + second.history["loss"] == straight.history["loss"]
    assert _same(params2, whole) and _same(second.state, straight.state)


def test_symdl_fit_trains_a_generated_graph_module_with_two_inputs_as_the_compiled_graph(tmp_path):
    from generated_modules import load_module

    from symdl.export.graph_modules import graph_module_source

    model = _model()
    opt = symdl.optimizer("adam", lr=0.01)
    graph = model.compile(optimizer=opt)
    module = load_module(graph_module_source(model, "numpy", "float64", opt), tmp_path, "two_inputs")
    X, Y = _data(17, 9)
    Xv, Yv = _data(5, 10)
    params, mine = graph.init(2), module.init_params(2)
    assert _same(params, mine)
    h = graph.fit(params, X, Y, epochs=2, batch_size=4, verbose=0, validation=(Xv, Yv), seed=3)
    g = fit(module, mine, X, Y, epochs=2, batch_size=4, verbose=0, validation=(Xv, Yv), seed=3)
    per_output = {"main_loss", "aux_loss"}  # each output's loss, logged for a compiled graph and a module alike
    assert per_output | {f"val_{k}" for k in per_output} <= set(h.history)
    assert h.history == g.history
    assert _same(params, mine) and _same(h.state, g.state)
    assert evaluate(module, mine, Xv, Yv) == evaluate(graph, params, Xv, Yv)
    # the module prints metric_outputs: a metric list applies to each output with a data target, as for the graph
    h = graph.fit(params, X, Y, epochs=3, initial_epoch=2, batch_size=4, verbose=0, metrics=["mae"], state=h.state, seed=3)
    g = fit(module, mine, X, Y, epochs=3, initial_epoch=2, batch_size=4, verbose=0, metrics=["mae"], state=g.state, seed=3)
    assert {"main_mean_absolute_error", "aux_mean_absolute_error"} <= set(h.history) and h.history == g.history


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_symdl_fit_trains_two_input_torch_and_jax_graph_modules_as_the_compiled_graph(tmp_path, backend):
    from generated_modules import load_module

    from symdl.export.graph_modules import graph_module_source

    a, b = Input(3), Input(2)
    h = Dense(5, activation="tanh")(Concatenate()([a, b]))
    model = Model([a, b], [Dense(2)(h), Dense(1, activation="sigmoid")(h)], losses=["mse", "binary_cross_entropy"])
    opt = symdl.optimizer("adam", lr=0.01)
    graph = model.compile(optimizer=opt)
    X, Y = _data(20, 11)
    params = graph.init(0)
    expected = graph.fit(params, X, Y, epochs=2, batch_size=5, verbose=0)  # one batch shape: one JAX compilation
    module = load_module(graph_module_source(model, backend, "float64", opt), tmp_path, f"two_inputs_{backend}")
    if backend == "torch":
        mine = {k: torch.tensor(v) for k, v in graph.init(0).items()}
        got = fit(module, mine, tuple(map(torch.tensor, X)), tuple(map(torch.tensor, Y)), epochs=2, batch_size=5, verbose=0)
    else:
        jax = pytest.importorskip("jax")
        with jax.enable_x64(True):
            mine = {k: jax.numpy.asarray(v) for k, v in graph.init(0).items()}
            got = fit(module, mine, tuple(map(jax.numpy.asarray, X)), tuple(map(jax.numpy.asarray, Y)), epochs=2,
                      batch_size=5, verbose=0)
    np.testing.assert_allclose(got.history["loss"], expected.history["loss"], rtol=1e-10)
    for k in params:
        np.testing.assert_allclose(np.asarray(got.weights[k]), params[k], rtol=1e-10, atol=1e-13)


def test_fit_with_another_optimizer_keeps_validate_targets_false():
    graph = _model().compile(validate_targets=False)
    X, (Ym, Ya) = _data(8, 12)
    history = graph.fit(graph.init(0), X, (Ym, Ya + 0.5), epochs=1, verbose=0, optimizer="adam")  # Ya + 0.5 outside [0, 1]
    assert len(history.history["loss"]) == 1
    with pytest.raises(ValueError, match="Y2"):
        _model().compile().fit(graph.init(0), X, (Ym, Ya + 0.5), epochs=1, verbose=0, optimizer="adam")
