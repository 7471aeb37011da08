"""The Keras 3 activations PyTorch lacks (squareplus, sparse_plus) against ``jax.nn``: values and gradients.

Keras 3 computes both with the same formulas as ``jax.nn`` (its JAX backend calls
them). The grid holds ±1000, the joins at ±1 and a sweep; rtol 8ε, with an
absolute floor of 8ε·max(|z|, tiny) like the torch cross-check.
"""

from __future__ import annotations

import numpy as np
import pytest

import symdl

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

GRID = np.unique(np.concatenate([np.linspace(-12, 12, 97), [0.0, 1.0, -1.0, 0.999, -0.999, 1.001, -1.001, 40.0,
                                                             -40.0, 1000.0, -1000.0, 1e-8, -1e-300]]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("name", "params", "jax_fn"),
    [
        ("squareplus", {}, lambda t: jax.nn.squareplus(t)),
        ("squareplus", {"b": 0.25}, lambda t: jax.nn.squareplus(t, b=0.25)),
        ("sparse_plus", {}, lambda t: jax.nn.sparse_plus(t)),
    ],
)
def test_values_and_gradients_match_jax(name, params, jax_fn, dtype):
    r = symdl.rule(name, **params)
    z = GRID.astype(dtype)
    want = np.asarray(jax_fn(jnp.asarray(z)))
    slope = np.asarray(jax.vmap(jax.grad(jax_fn))(jnp.asarray(z)))
    eps = float(np.finfo(dtype).eps)
    floor = 8 * eps * np.maximum(np.abs(z.astype(np.float64)), np.finfo(dtype).tiny)
    for got, expected in ((r.numeric()(z), want), (r.numeric_derivative()(z), slope)):
        assert got.dtype == dtype
        bad = np.abs(got.astype(np.float64) - expected) > 8 * eps * np.abs(expected) + floor
        assert not bad.any(), (name, z[bad], got[bad], expected[bad])


def test_squareplus_keeps_digits_where_the_typed_form_cancels():
    """At z = −1e9, (z + √(z² + 4))/2 is 0 in float64 (25% off at −1e8); b/(2(√(z² + b) − z)) gives 1e-9."""
    z = np.array([-1e9, -1e8])
    assert ((z + np.sqrt(z**2 + 4)) / 2)[0] == 0.0
    np.testing.assert_allclose(symdl.rule("squareplus").numeric()(z), [1e-9, 1e-8], rtol=1e-15)
