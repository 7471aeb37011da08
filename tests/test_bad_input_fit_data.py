"""fit's data checked whole before the first step: a NaN in a later batch, or a bad validation set, stopped fit midway
(after a whole epoch for the validation set), the caller's params already stepped in place, in a line naming X for X_val."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.graph import Dense, Input, Model

X = np.random.default_rng(0).normal(size=(64, 3))
Y = np.tanh(X[:, :2])


def _network():
    net = symdl.Network([3, 4, 2], optimizer="adam").compile()
    return net, net.init(0)


def _graph():
    x = Input(3, name="x")
    graph = Model(x, Dense(2, name="out")(Dense(4, activation="tanh")(x))).compile(optimizer="adam")
    return graph, graph.init(0)


MODELS = {"network": _network(), "graph": _graph()}


def _refused_untouched(model, params, match, *args, **kwargs):
    before = {k: v.copy() for k, v in params.items()}
    with pytest.raises(ValueError, match=match) as info:
        model.fit(params, *args, epochs=2, batch_size=8, verbose=0, shuffle=False, **kwargs)
    assert "\n" not in str(info.value)
    assert all(np.array_equal(before[k], params[k]) for k in params), "params stepped before the refusal"


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(sorted(MODELS)), side=st.sampled_from(["X", "Y"]), row=st.integers(0, 63),
       value=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_a_non_finite_entry_anywhere_is_named_before_any_step(kind, side, row, value):
    model, params = MODELS[kind]
    data = {"X": X.copy(), "Y": Y.copy()}
    data[side][row, 1] = value
    _refused_untouched(model, params, rf"^{side}\[{row}, 1\] is {value}; expected finite numbers$", data["X"], data["Y"])


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_a_non_finite_validation_set_is_named_as_such_before_any_step(kind):
    model, params = MODELS[kind]
    Xv = X[:10].copy()
    Xv[7, 2] = np.nan
    _refused_untouched(model, params, r"^X_val\[7, 2\] is nan; expected finite numbers$", X, Y, validation=(Xv, Y[:10]))


@pytest.mark.parametrize("kind", sorted(MODELS))
@pytest.mark.parametrize(("Xv", "Yv", "match"), [
    (X[:10, :2], Y[:10], r"^validation, its first row: X has shape \(1, 2\); expected \(batch, 3\)"),
    (X[:10], Y[:10, :1], r"^validation, its first row: Y has shape \(1, 1\); expected \(batch, 2\)"),
    (X[:10].astype(np.complex128), Y[:10], r"^validation, its first row: X has dtype complex128"),
])
def test_a_validation_set_the_model_refuses_is_refused_before_any_step(kind, Xv, Yv, match):
    model, params = MODELS[kind]
    _refused_untouched(model, params, match, X, Y, validation=(Xv, Yv))


def test_an_error_of_the_params_is_not_said_to_be_the_validations():
    model, params = MODELS["network"]
    partial = {k: v.copy() for k, v in params.items() if k != "W1"}
    _refused_untouched(model, partial, r"^params: missing \['W1'\]", X, Y, validation=(X[:10], Y[:10]))


def test_good_data_still_trains_and_validates():
    model, params = MODELS["graph"]
    run = model.fit({k: v.copy() for k, v in params.items()}, X, Y, epochs=2, batch_size=8, verbose=0,
                    validation=(X[:10], Y[:10]))
    assert len(run.history["val_loss"]) == 2 and all(np.isfinite(run.history["val_loss"]))
