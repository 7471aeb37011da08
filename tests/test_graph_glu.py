"""symdl.graph.GLU against torch.nn.functional.glu and autograd; its backprop proven; an odd width refused."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symdl.graph import GLU, Dense, Input, Model, from_config, to_config
from symdl.graph.proofs import prove_graph

torch = pytest.importorskip("torch")


def _model() -> Model:
    x = Input(3)
    return Model(x, Dense(2)(GLU()(Dense(6)(x))), losses="mse", reduction="sum")


def _torch_loss(params: dict, x: np.ndarray, y: np.ndarray):
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    z = torch.tensor(x) @ t["W1"].T + t["b1"]
    h = torch.nn.functional.glu(z, dim=1)
    a = h @ t["W2"].T + t["b2"]
    loss = ((a - torch.tensor(y)) ** 2 / 2).sum() / len(x)
    loss.backward()
    return a.detach().numpy(), loss.item(), {k: v.grad.numpy() for k, v in t.items()}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.sampled_from([1.0, 30.0, 1000.0]))
def test_glu_graph_matches_torch_glu_and_autograd(seed, scale):
    model = _model()
    c = model.compile("float64")
    rng = np.random.default_rng(seed)
    params = c.init(seed)
    x = rng.uniform(-1, 1, size=(5, 3)) * scale / 3  # pre-activations z up to about ±scale
    y = rng.normal(size=(5, 2))
    want_out, want_loss, want_grads = _torch_loss(params, x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = c.forward(params, x)
        loss, grads = c.loss_and_grad(params, [x], [y])
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
    np.testing.assert_allclose(out, want_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-10)
    assert grads.keys() == want_grads.keys()
    for k in grads:
        np.testing.assert_allclose(grads[k], want_grads[k], rtol=1e-10, atol=1e-10 * scale, err_msg=k)


def test_glu_backprop_is_proven():
    proofs = prove_graph(_model())
    assert len(proofs) == 4 and all(proofs.values()), {k: v.method for k, v in proofs.items() if not v}


def test_glu_halves_the_width_and_refuses_an_odd_one():
    assert GLU()(Input(4)).width == 2
    with pytest.raises(ValueError, match=r"^GLU: .*width must be even, got 3$"):
        GLU()(Input(3))


def test_glu_equations_read_alpha_times_sigma_of_beta():
    forward = [eq for label, eq in _model().equations(training=False).latex() if label == "forward"]
    assert r"h^{2} = \alpha^{2} \odot \sigma^{2}" in forward
    assert r"\sigma^{2} = sigmoid\left(\beta^{2}\right)" in forward
    assert r"\alpha^{2} = z^{1}_{1:3}" in forward and r"\beta^{2} = z^{1}_{4:6}" in forward


def test_glu_survives_a_config_round_trip():
    model = _model()
    again = from_config(to_config(model))
    assert [type(layer).__name__ for layer in again.layers] == ["Dense", "GLU", "Dense"]
    assert again.equations(training=False).latex() == model.equations(training=False).latex()
