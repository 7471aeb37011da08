"""The printed updates against optax (where installed): 200 steps in float64, JAX printing, rtol 1e-10.

optax's forms that are PyTorch's too are compared: SGD with momentum and
Nesterov (optax's ``trace``), Adam, AdamW (decoupled decay, ``p ← p − η(u + λp)``)
and the cosine schedule (optax counts from 0: step t uses ``schedule(t − 1)``);
optax's exponential decay is computed in float32, so it agrees to float32 rounding. optax's RMSprop and Adagrad put ε inside the square root
and its Nadam has no momentum-decay schedule, so those are different optimizers
and not compared.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.optim import adam, adamw, cosine, exponential, sgd

from tests.test_optim import SHAPES, gradients, run_backend

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")


def run_optax(transform, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed + 1000)
    params = {p: jax.numpy.asarray(rng.standard_normal(shape)) for p, shape in SHAPES.items()}
    state = transform.init(params)
    for grads in gradients(seed):
        updates, state = transform.update({p: jax.numpy.asarray(g) for p, g in grads.items()}, state, params)
        params = optax.apply_updates(params, updates)
    return {p: np.asarray(v) for p, v in params.items()}


def assert_same(ours, theirs):
    for p in SHAPES:
        np.testing.assert_allclose(ours[p], theirs[p], rtol=1e-10, atol=1e-13)


def compare(ours, theirs, seed: int) -> None:
    with jax.enable_x64(True):
        assert_same(run_backend(ours, "jax", seed), run_optax(theirs, seed))


few = settings(max_examples=4, deadline=None)
rate = st.floats(1e-4, 0.1)
seeds = st.integers(0, 2**16)


@few
@given(lr=rate, momentum=st.sampled_from([0.0, 0.5, 0.9]), nesterov=st.booleans(), seed=seeds)
def test_sgd_matches_optax(lr, momentum, nesterov, seed):
    if momentum == 0 and nesterov:
        nesterov = False  # Nesterov needs momentum (torch refuses it; optax ignores it)
    compare(sgd(lr, momentum=momentum, nesterov=nesterov), optax.sgd(lr, momentum=momentum or None, nesterov=nesterov), seed)


@few
@given(lr=rate, b1=st.floats(0.0, 0.99), b2=st.floats(0.5, 0.999), eps=st.sampled_from([1e-8, 1e-3]), seed=seeds)
def test_adam_matches_optax(lr, b1, b2, eps, seed):
    compare(adam(lr, betas=(b1, b2), eps=eps), optax.adam(lr, b1=b1, b2=b2, eps=eps), seed)


@few
@given(lr=rate, weight_decay=st.sampled_from([1e-3, 0.01, 0.1]), seed=seeds)
def test_adamw_matches_optax(lr, weight_decay, seed):
    compare(adamw(lr, weight_decay=weight_decay), optax.adamw(lr, weight_decay=weight_decay), seed)


def test_a_cosine_schedule_matches_optax():
    compare(adam(cosine(0.05, 250, eta_min=1e-3)), optax.adam(optax.cosine_decay_schedule(0.05, 250, alpha=1e-3 / 0.05)), 3)


def test_the_exponential_schedule_matches_optax_to_its_float32():
    """optax's exponential_decay computes in float32 even with x64 on (0.0110726049 at count 150, exactly
    0.0110725894): the rates agree to float32 rounding, and Adam on an exact optax schedule agrees to 1e-10."""
    ours = exponential(0.05, 0.99)
    theirs = optax.exponential_decay(0.05, transition_steps=1, decay_rate=0.99)
    with jax.enable_x64(True):
        for t in range(1, 201):
            assert float(ours.at(t)) == pytest.approx(float(theirs(t - 1)), rel=4 * 2.0**-24 * (1 + t / 8))
    compare(adam(ours), optax.adam(lambda count: 0.05 * 0.99 ** jax.numpy.asarray(count, jax.numpy.float64)), 3)
