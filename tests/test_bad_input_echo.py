"""A refused value is echoed through symdl.excerpt: one line, at most 60 characters of it.

`{value!r}` of a numpy array spans lines (a 30×30 array: 60 lines, 4 kB); of a long string, all of it.
"""

import numpy as np
import pytest

import symdl
from symdl.excerpt import excerpt
from symdl.graph import Dense, Input, Model

BIG = np.ones((30, 30))
LONG = "3," * 5000


def _fit(**kwargs):
    net = symdl.Network([3, 2], optimizer="adam").compile()
    return net.fit(net.init(0), np.ones((4, 3)), np.zeros((4, 2)), verbose=0, **kwargs)


def _model(**kwargs):
    x = Input(3)
    return Model(x, Dense(2)(x), **kwargs)


@pytest.mark.parametrize(("call", "start"), [
    (lambda: _fit(shuffle=BIG), "shuffle: expected True or False, got "),
    (lambda: _fit(seed=BIG), "seed: expected a non-negative integer, got "),
    (lambda: _fit(metrics=LONG), "metrics: expected a list of metric names or objects, got "),
    (lambda: symdl.optimizer("adam", eps=BIG), "eps: expected a finite real number, got "),
    (lambda: symdl.optimizer("adam", betas=BIG), "betas: expected a pair (beta1, beta2), got "),
    (lambda: symdl.optimizer("sgd", lr=0.1, nesterov=BIG), "nesterov: expected True or False, got "),
    (lambda: symdl.EarlyStopping(patience=BIG), "patience: expected an integer >= 0, got "),
    (lambda: symdl.EarlyStopping(mode=LONG), "mode: expected 'auto', 'min' or 'max', got "),
    (lambda: symdl.Network(LONG), "layers: expected a list of widths [n0, n1, ..., nL], got "),
    (lambda: symdl.Network([3, 2]).compile(validate_targets=BIG), "validate_targets: expected True or False, got "),
    (lambda: symdl.Network([3, 4, 2], batchnorm=BIG), "batchnorm: expected True or False, got "),
    (lambda: symdl.Network([3, 2], loss="huber", loss_params=BIG), "loss_params: expected a dict of parameter name → value, got "),
    (lambda: _model(loss_weights=LONG), "Model: loss_weights must be a list of numbers, one per output (1 here), got "),
    (lambda: _model(reduction=LONG), "reduction: expected 'sum' or 'mean', got "),
    (lambda: symdl.metric("binary_accuracy", threshold=BIG), "threshold: expected a number in [0, 1], got "),
])
def test_a_long_or_multi_line_value_is_echoed_as_an_excerpt(call, start):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and len(message) < len(start) + 70, message
    assert message.startswith(start) and message.endswith("...")


def test_a_short_value_is_still_echoed_whole():
    with pytest.raises(ValueError) as info:
        _fit(shuffle="yes")
    assert str(info.value) == f"shuffle: expected True or False, got {excerpt('yes')}" == "shuffle: expected True or False, got 'yes'"
