"""The compiled graph's branch-free where (symdl.graph.select): numpy.where's bits, and train steps bit for bit."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from symdl.graph import Add, Dense, Input, Model
from symdl.graph.forms import LibraryForms
from symdl.graph.printing import print_graph
from symdl.graph.select import into, where, where_into

DTYPES = [np.float16, np.float32, np.float64]
SPECIAL = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0]


def _bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).view(f"i{np.asarray(a).dtype.itemsize}")


@st.composite
def _operands(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=6))
    values = st.one_of(st.floats(width=8 * np.dtype(dtype).itemsize), st.sampled_from(SPECIAL))
    x = draw(hnp.arrays(dtype, shape, elements=values))
    y = draw(st.one_of(hnp.arrays(dtype, shape, elements=values), values.map(dtype)))
    c = draw(hnp.arrays(np.bool_, draw(st.sampled_from([shape, shape[-1:]]))))
    return c, x, y


@given(_operands())
def test_where_copies_the_bits_numpy_where_chooses(operands):
    c, x, y = operands
    expected = np.where(c, x, y)
    got = where(c, x, y)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(_bits(got), _bits(expected))
    into = where_into(c, x.copy(), y)
    assert np.array_equal(_bits(into), _bits(expected))
    swapped = where(c, y, x)  # a scalar chosen where c holds: broadcast to the result
    assert np.array_equal(_bits(swapped), _bits(np.where(c, y, x)))


def test_where_into_writes_only_into_its_own_array():
    z = np.array([[-1.0, 2.0], [0.0, -0.0]], dtype=np.float32)
    made = np.expm1(np.minimum(0, z))
    kept = z.copy()
    assert where_into(np.less_equal(z, 0), made, z) is not z
    assert np.array_equal(_bits(z), _bits(kept))  # y, a named array, is never written
    view = made.T  # not its own data: a new array
    assert where_into(np.less_equal(z, 0), view, z).base is not made
    assert where(np.array([True, False]), np.array([1, 2]), np.array([3, 4])).tolist() == [1, 4]  # ints: numpy.where


def _wide() -> Model:
    x = Input(5)
    z = Dense(16, activation="elu")(x)
    for activation in ("elu", "selu", "leaky_relu"):
        z = Add()([z, Dense(16, activation=activation)(z)])
    return Model(x, Dense(1)(z), losses="mse")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_train_step_is_bit_for_bit_the_numpy_where_form(dtype):
    model = _wide()
    net = model.compile(dtype)
    source = net.source()
    assert "_where_into(numpy.less_equal(z1, 0), _into(numpy.expm1, numpy.minimum(0, z1)), z1)" in source
    assert re.search(r"    (d\d+) = _where_into\(numpy.less_equal\(z\d+, 0\), a\d+ \+ 1, _t\(1\)\)\n    \1 \*= g\d+\n", source)
    assert "numpy.where" not in source
    # the form printed before: numpy.where, and U * (σ') into a new array
    forms = LibraryForms(output_form=True)
    before = print_graph(model.equations(training=True, forms=forms), model.equations(training=False, forms=forms))
    assert "numpy.where" in before and "_where" not in before
    plain = dict(net._namespace)
    exec(compile(before, "<numpy.where form>", "exec"), plain)  # noqa: S102
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(32, 5)) * 3).astype(dtype)
    Y = rng.normal(size=(32, 1)).astype(dtype)
    ours, theirs = net.init(1), net.init(1)
    for _ in range(3):
        assert net.train_step(ours, X, Y, 0.05) == plain["train_step"](theirs, X, Y, 0.05)
    assert all(np.array_equal(_bits(ours[k]), _bits(theirs[k])) for k in ours)
    loss, grads = net.loss_and_grad(ours, X, Y)
    loss2, grads2 = plain["loss_and_grad"](theirs, X, Y)
    assert loss == loss2 and all(np.array_equal(_bits(grads[k]), _bits(grads2[k])) for k in grads)
    assert np.array_equal(_bits(net.forward(ours, X)), _bits(plain["forward"](theirs, X)))


def test_into_applies_the_ufunc_in_its_own_array_only():
    made = np.array([-1.0, 0.5], dtype=np.float32)
    expected = np.expm1(made)
    assert into(np.expm1, made) is made and np.array_equal(_bits(made), _bits(expected))
    base = np.array([-1.0, 0.5])
    assert into(np.expm1, base[::1]) is not base and base.tolist() == [-1.0, 0.5]  # a view: a new array
    assert into(np.expm1, 0.5) == np.expm1(0.5)  # a scalar: f(x)
