"""CompiledGraph.forward takes its inputs in every form loss and fit take: one by one, a list, or a dict by name."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from symdl.graph import Concatenate, Dense, Input, Model

_values = st.floats(-10, 10, allow_nan=False, allow_subnormal=False)


def _graph():
    a, b = Input(3, name="a"), Input(2, name="b")
    h = Dense(4, activation="tanh")(Concatenate()([a, b]))
    return Model([a, b], [Dense(2, name="main")(h), Dense(1, name="aux")(h)], losses=["mse", "mse"]).compile()


GRAPH = _graph()


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 6), data=st.data())
def test_a_list_a_tuple_and_a_dict_give_the_outputs_of_the_arrays_one_by_one(m: int, data: st.DataObject) -> None:
    A = data.draw(arrays(np.float64, (m, 3), elements=_values))
    B = data.draw(arrays(np.float64, (m, 2), elements=_values))
    params = GRAPH.init(data.draw(st.integers(0, 2**32 - 1)))
    expected = GRAPH.forward(params, A, B)
    for inputs in ([A, B], (A, B), {"X1": A, "X2": B}, {"a": A, "b": B}, {"a": A, "X2": B}):
        got = GRAPH.forward(params, inputs)
        for out, want in zip(got, expected, strict=True):
            np.testing.assert_array_equal(out, want)
    # the same outputs as the loss reads from the same forms: inference_loss is C of forward's outputs
    main, aux = expected
    Ym, Ya = np.zeros_like(main), np.zeros_like(aux)
    C = np.mean(np.sum((main - Ym) ** 2, axis=1)) / 2 + np.mean(np.sum((aux - Ya) ** 2, axis=1)) / 2
    assert GRAPH.inference_loss(params, {"a": A, "b": B}, (Ym, Ya)) == pytest.approx(C, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(("inputs", "message"), [
    (lambda A, B: [A], r"^inputs: this model takes 2 array\(s\) \(X1, X2\), got 1$"),
    (lambda A, B: {"a": A, "c": B}, r"^inputs: unexpected key 'c'; this model takes X1 \(or 'a'\), X2 \(or 'b'\)$"),
    (lambda A, B: {"a": A}, r"^inputs: no array for 'X2'; this model takes X1 \(or 'a'\), X2 \(or 'b'\)$"),
    (lambda A, B: A, r"^inputs: this model takes 2 array\(s\) \(X1, X2\), got 1$"),
])
def test_a_wrong_form_is_the_one_line_loss_gives(inputs, message) -> None:
    A, B = np.ones((4, 3)), np.ones((4, 2))
    params = GRAPH.init(0)
    with pytest.raises(ValueError, match=message):
        GRAPH.forward(params, inputs(A, B))
    with pytest.raises(ValueError, match=message):
        GRAPH.loss(params, inputs(A, B), (np.zeros((4, 2)), np.zeros((4, 1))))


def test_a_one_input_model_reads_a_list_as_a_list_of_arrays_in_forward_as_in_loss() -> None:
    """Keras' rule for a functional model's inputs: a list holds one array per input, for one input too."""
    x = Input(3)
    graph = Model([x], Dense(2)(x), losses=["mse"]).compile()
    params = graph.init(0)
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    Y = np.zeros((2, 2))
    for inputs in ([X], (X,), {"X": X}):
        np.testing.assert_array_equal(graph.forward(params, inputs), graph.forward(params, X))
        assert graph.loss(params, inputs, Y) == graph.loss(params, X, Y)
    rows = X.tolist()
    message = (r"^inputs: this model takes 1 array\(s\) \(X\), got 2; a list is read as a list of arrays: give the rows as "
               r"one array \(numpy\.asarray\(rows\)\)$")
    with pytest.raises(ValueError, match=message):
        graph.forward(params, rows)
    with pytest.raises(ValueError, match=message):
        graph.loss(params, rows, Y)
