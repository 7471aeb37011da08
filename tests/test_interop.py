"""symdl params ↔ torch nn.Sequential state dicts and flax Dense params, and symdl's loss reductions against torch's."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import symdl
import symdl.interop
import symdl.symbolic.from_sympy
from symdl.interop import (
    from_flax_params,
    from_torch_state_dict,
    to_flax_params,
    to_torch_state_dict,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

WIDTHS = [3, 5, 4, 2]
RTOL = 1e-12


@pytest.fixture(scope="module")
def net():
    return symdl.Network(WIDTHS, activation="tanh", loss="mse").compile()


def sequential(widths=WIDTHS, act=torch.nn.Tanh):
    """nn.Sequential(Linear, act, Linear, act, …, Linear) in float64: torch's own init."""
    modules = []
    for l, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        modules += [torch.nn.Linear(n_in, n_out)] + ([act()] if l < len(widths) - 2 else [])
    return torch.nn.Sequential(*modules).double()


def batch(seed, n=7):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, WIDTHS[0])), rng.normal(size=(n, WIDTHS[-1]))


@pytest.mark.parametrize("seed", range(3))
def test_symdl_params_in_nn_sequential_give_symdl_outputs_losses_and_gradients(net, seed):
    params = net.init(seed=seed)
    X, Y = batch(seed)
    model = sequential()
    model.load_state_dict(to_torch_state_dict(params, net), strict=True)
    out = model(torch.from_numpy(X))
    np.testing.assert_allclose(out.detach().numpy(), net.forward(params, X), rtol=RTOL)
    # symdl's mse: per sample Σ over outputs of ½(a − y)², averaged over the batch = n_L/2 · torch's mean
    loss = F.mse_loss(out, torch.from_numpy(Y), reduction="mean") * WIDTHS[-1] / 2
    loss.backward()
    C, grads = net.loss_and_grad(params, X, Y)
    assert loss.item() == pytest.approx(C, rel=RTOL)
    torch_grads = from_torch_state_dict({k: p.grad for k, p in model.named_parameters()}, net)
    assert sorted(torch_grads) == sorted(grads)
    for key, grad in grads.items():
        np.testing.assert_allclose(torch_grads[key], grad, rtol=RTOL, atol=1e-15, err_msg=key)


def test_a_torch_state_dict_loads_into_symdl_and_back(net):
    torch.manual_seed(0)
    model = sequential()
    params = from_torch_state_dict(model.state_dict(), net)
    assert all(a.dtype == np.float64 for a in params.values())
    X, _ = batch(1)
    np.testing.assert_allclose(net.forward(params, X), model(torch.from_numpy(X)).detach().numpy(), rtol=RTOL)
    again = to_torch_state_dict(params, net)
    assert list(again) == list(model.state_dict())
    for key, tensor in model.state_dict().items():
        assert torch.equal(again[key], tensor)


def test_stride_numbers_the_linears_of_a_longer_block():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Dropout(0.0), torch.nn.Linear(4, 2)).double()
    network = symdl.Network([3, 4, 2], activation="relu")
    params = from_torch_state_dict(model.state_dict(), network, stride=3)
    assert list(to_torch_state_dict(params, network, stride=3)) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    np.testing.assert_array_equal(params["W2"], model[3].weight.detach().numpy())


def test_flax_params_hold_the_transposed_kernels_and_compute_the_same_forward(net):
    params = net.init(seed=3)
    X, _ = batch(3)
    variables = to_flax_params(params, net)
    assert list(variables["params"]) == ["Dense_0", "Dense_1", "Dense_2"]
    a = X
    for l, name in enumerate(variables["params"]):  # flax nn.Dense: x @ kernel + bias
        dense = variables["params"][name]
        a = a @ dense["kernel"] + dense["bias"]
        a = np.tanh(a) if l < len(WIDTHS) - 2 else a
    np.testing.assert_allclose(a, net.forward(params, X), rtol=RTOL)
    back = from_flax_params(variables, net)
    for key in params:
        np.testing.assert_array_equal(back[key], params[key])
    assert all(np.array_equal(from_flax_params(variables["params"], net)[k], params[k]) for k in params)


def test_converted_arrays_are_copies(net):
    params = net.init(seed=0)
    state = to_torch_state_dict(params, net)
    state["0.weight"].zero_()
    flax = to_flax_params(params, net)
    flax["params"]["Dense_0"]["bias"] += 1
    assert np.any(params["W1"] != 0) and np.all(params["b1"] == 0)


# -- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda s: s.pop("2.bias"), "state_dict: missing 2.bias; expected exactly 0.weight, 0.bias, 2.weight"),
        (lambda s: s.update({"1.weight": torch.zeros(1)}), "unexpected 1.weight"),
        (lambda s: s.update({"2.weight": torch.zeros(5, 4, dtype=torch.float64)}),
         "state_dict['2.weight']: shape (5, 4), expected (4, 5) for layers [3, 5, 4, 2]"),
        (lambda s: s.update({"0.bias": torch.full((5,), float("nan"), dtype=torch.float64)}), "holds nan or inf"),
    ],
)
def test_a_wrong_state_dict_is_one_clear_line(net, change, expected):
    state = to_torch_state_dict(net.init(seed=0), net)
    change(state)
    with pytest.raises(ValueError) as caught:
        from_torch_state_dict(state, net)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda p: p.pop("W3"), "params: missing W3"),
        (lambda p: p.update({"b1": np.zeros(4)}), "params['b1']: shape (4,), expected (5,)"),
    ],
)
def test_wrong_params_are_refused_before_converting(net, change, expected):
    params = net.init(seed=0)
    change(params)
    for convert in (to_torch_state_dict, to_flax_params):
        with pytest.raises(ValueError) as caught:
            convert(params, net)
        assert expected in str(caught.value)


def test_wrong_flax_params_name_the_layer(net):
    variables = to_flax_params(net.init(seed=0), net)
    variables["params"]["Dense_1"]["kernel"] = variables["params"]["Dense_1"]["kernel"].T
    with pytest.raises(ValueError, match=r"flax params\['Dense_1.kernel \(transposed\)'\]: shape \(5, 4\), expected \(4, 5\)"):
        from_flax_params(variables, net)
    del variables["params"]["Dense_2"]
    with pytest.raises(ValueError, match="flax params: missing Dense_2"):
        from_flax_params(variables, net)
    with pytest.raises(TypeError, match="expected a symdl Network"):
        from_flax_params(variables, "net")


def test_layers_without_one_layout_elsewhere_are_refused():
    with pytest.raises(ValueError, match="only dense layers .* also has BatchNorm"):
        to_flax_params({}, symdl.Network([3, 4, 2], batchnorm=True))
    with pytest.raises(ValueError, match="also has prelu"):
        to_torch_state_dict({}, symdl.Network([3, 4, 2], activation="prelu"))
    with pytest.raises(ValueError, match="stride"):
        to_torch_state_dict({}, symdl.Network([3, 4, 2]), stride=0)


# -- loss reductions: docs/interop.md's table, proven against torch.nn.functional ----------------------

N_OUT = 3
BATCH = 6

# (loss, torch.nn.functional loss, symdl C / torch's reduction="mean", symdl C / torch's reduction="sum")
REDUCTIONS = [
    ("mse", lambda a, y, r: F.mse_loss(a, y, reduction=r), N_OUT / 2, 1 / (2 * BATCH)),
    ("mae", lambda a, y, r: F.l1_loss(a, y, reduction=r), N_OUT, 1 / BATCH),
    ("huber", lambda a, y, r: F.huber_loss(a, y, delta=1.0, reduction=r), N_OUT, 1 / BATCH),
    ("binary_cross_entropy", lambda a, y, r: F.binary_cross_entropy_with_logits(a, y, reduction=r), N_OUT, 1 / BATCH),
    ("softmax_cross_entropy", lambda a, y, r: F.cross_entropy(a, y, reduction=r), 1, 1 / BATCH),
]


@pytest.mark.parametrize("loss, torch_loss, per_mean, per_sum", REDUCTIONS, ids=[c[0] for c in REDUCTIONS])
def test_symdl_loss_is_torch_loss_times_the_documented_factor(loss, torch_loss, per_mean, per_sum):
    network = symdl.Network([2, N_OUT], activation="identity", loss=loss).compile()
    params = network.init(seed=1)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(BATCH, 2))
    Y = rng.uniform(size=(BATCH, N_OUT))
    if loss == "softmax_cross_entropy":
        Y /= Y.sum(axis=1, keepdims=True)  # class probabilities, as torch's cross_entropy takes them
    a, y = torch.from_numpy(network.forward(params, X)), torch.from_numpy(Y)
    C = network.loss(params, X, Y)
    assert C == pytest.approx(float(torch_loss(a, y, "mean")) * per_mean, rel=RTOL)
    assert C == pytest.approx(float(torch_loss(a, y, "sum")) * per_sum, rel=RTOL)


def test_the_interop_page_and_the_module_examples_run_as_written():
    page = Path(__file__).resolve().parent.parent / "docs" / "interop.md"
    result = doctest.testfile(str(page), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 15 and result.failed == 0
    for module in (symdl.interop, symdl.symbolic.from_sympy):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted >= 1 and result.failed == 0
