"""Random graphs (skips, merges, shared layers, several outputs and losses, noise and dropout with fixed masks):
symdl's compiled loss_and_grad against PyTorch autograd of the same graph written out here, in float64."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symdl.graph import (
    Activation,
    Add,
    Concatenate,
    Dense,
    Divide,
    Dropout,
    GaussianNoise,
    Input,
    Model,
    Multiply,
    StopGradient,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

ACTIVATIONS = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "silu": F.silu,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "exponential": torch.exp,
    "identity": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=1),
}
LOSSES = {
    "mse": lambda a, y: (a - y) ** 2 / 2,
    "mae": lambda a, y: (a - y).abs(),
    "huber": lambda a, y: F.huber_loss(a, y, reduction="none", delta=1.0),
    "log_cosh": lambda a, y: torch.log(torch.cosh(a - y)),
    "softmax_cross_entropy": lambda a, y: -(y * torch.log_softmax(a, dim=1)),
}


@st.composite
def graphs(draw):
    """A model built from random steps; each step adds a node reading earlier ones."""
    inputs = [Input(draw(st.sampled_from([2, 3]))) for _ in range(draw(st.integers(1, 2)))]
    pool = list(inputs)
    dense_layers: list[Dense] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["dense", "dense", "shared", "activation", "add", "multiply", "divide", "concat",
                                     "stop", "noise", "dropout"]))
        node = draw(st.sampled_from(pool))
        same = [n for n in pool if n.width == node.width]
        if kind == "shared":
            usable = [d for d in dense_layers if d.input_widths == (node.width,)]
            if not usable:
                continue
            pool.append(draw(st.sampled_from(usable))(node))
        elif kind == "dense":
            width = draw(st.sampled_from([node.width, 2, 3]))
            layer = Dense(width, activation=draw(st.sampled_from(sorted(ACTIVATIONS) + [None])))
            dense_layers.append(layer)
            pool.append(layer(node))
        elif kind == "activation":
            pool.append(Activation(draw(st.sampled_from(["tanh", "sigmoid", "softplus"])))(node))
        elif kind in ("add", "multiply"):
            other = draw(st.sampled_from(same))
            pool.append((Add() if kind == "add" else Multiply())([node, other]))
        elif kind == "divide":
            positive = Activation("exponential")(draw(st.sampled_from(same)))  # a divisor that is never 0
            pool.append(Divide()([node, positive]))
        elif kind == "concat":
            pool.append(Concatenate()([node, draw(st.sampled_from(pool))]))
        elif kind == "stop":
            pool.append(StopGradient()(node))
        elif kind == "noise":
            pool.append(GaussianNoise(0.5)(node))
        else:
            pool.append(Dropout(0.3)(node))
    hidden = [n for n in pool if not n.is_input]
    if not dense_layers:  # at least one parameter
        layer = Dense(2, activation="tanh")
        dense_layers.append(layer)
        hidden.append(layer(draw(st.sampled_from(pool))))
    head = Dense(draw(st.sampled_from([1, 2])))(hidden[-1])
    outputs = [head] + ([draw(st.sampled_from(hidden))] if draw(st.booleans()) else [])
    losses = [draw(st.sampled_from(sorted(LOSSES))) for _ in outputs]
    weights = [draw(st.sampled_from([1.0, 0.5, 0.05])) for _ in outputs]
    model = Model(inputs, outputs, losses=losses, loss_weights=weights, reduction=draw(st.sampled_from(["sum", "mean"])))
    if draw(st.booleans()):
        node = draw(st.sampled_from(hidden))
        targets = [x for x in inputs if x.width == node.width]
        model.add_loss(node, draw(st.sampled_from(sorted(LOSSES))), target=targets[0] if targets else None,
                       weight=draw(st.sampled_from([0.1, 2.0])), reduction=draw(st.sampled_from(["sum", "mean"])))
    return model


def torch_loss(model: Model, params: dict, masks: dict, inputs: list, targets: list):
    """C of ``model`` computed by PyTorch, node by node, from the layers' descriptions."""
    values = {n.uid: x for n, x in zip(model.inputs, inputs)}
    for s, node in enumerate(model.nodes[len(model.inputs):], 1):
        layer, xs = node.layer, [values[n.uid] for n in node.inputs]
        if isinstance(layer, Dense):
            l = model.parameter_index(layer)
            z = xs[0] @ params[f"W{l}"].T + params[f"b{l}"]
            out = z if layer.activation is None else ACTIVATIONS[layer.activation.name](z)
        elif isinstance(layer, Activation):
            out = ACTIVATIONS[layer.rule.name](xs[0])
        elif isinstance(layer, Add):
            out = xs[0] + xs[1]
        elif isinstance(layer, Multiply):
            out = xs[0] * xs[1]
        elif isinstance(layer, Divide):
            out = xs[0] / xs[1]
        elif isinstance(layer, Concatenate):
            out = torch.cat(xs, dim=1)
        elif isinstance(layer, StopGradient):
            out = xs[0].detach()
        elif isinstance(layer, GaussianNoise):
            out = xs[0] + masks[f"eps{s}"]
        else:
            out = xs[0] * masks[f"r{s}"] / (1 - layer.rate)
        values[node.uid] = out
    m = inputs[0].shape[0]
    total = 0.0
    data = iter(targets)
    for term in model.terms:
        h = values[term.node.uid]
        y = next(data) if term.target is None else values[term.target.uid]
        scale = term.weight / (term.node.width if term.reduction == "mean" else 1)
        total = total + scale * LOSSES[term.rule.name](h, y).sum() / m
    return total


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(model=graphs(), seed=st.integers(0, 2**16))
def test_random_graphs_match_torch_autograd(model, seed):
    # Targets are any real numbers (inputs reconstructed with softmax cross-entropy too): the formulas, −Σ y·log s
    # included, are compared with torch's on them, outside the label domain on purpose.
    c = model.compile("float64", validate_targets=False)
    params = c.init(seed)
    rng = np.random.default_rng(seed)
    m = 4
    inputs = [rng.normal(size=(m, x.width)) for x in model.inputs]
    targets = [rng.normal(size=(m, t.node.width)) for t in model.data_targets]
    loss, grads = c.loss_and_grad(params, inputs, targets, seed=seed)
    masks = {k: torch.from_numpy(v) for k, v in c.masks(seed, m).items()}
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    expected = torch_loss(model, tparams, masks, [torch.from_numpy(x) for x in inputs], [torch.from_numpy(y) for y in targets])
    expected.backward()
    np.testing.assert_allclose(loss, expected.item(), rtol=1e-9, atol=1e-12)
    for key, value in tparams.items():
        want = np.zeros_like(params[key]) if value.grad is None else value.grad.numpy()
        np.testing.assert_allclose(grads[key], want, rtol=1e-9, atol=1e-12, err_msg=key)
    # inference: no noise, no dropout, and forward does not change params
    before = {k: v.copy() for k, v in params.items()}
    c.forward(params, *inputs)
    assert all(np.array_equal(before[k], params[k]) for k in params)
