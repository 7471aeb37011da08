"""``Network(..., reduction="mean"|"sum")``: the loss and every gradient are torch.nn.functional's with that reduction.

Proven against torch autograd on the same float64 parameters, for the compiled network and the generated torch and
JAX modules; the default ``"symdl"`` prints the same text as before; bad values and losses without a torch counterpart
are one line; the setting survives save/load, and files without it load as ``"symdl"``.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given
from hypothesis import strategies as st

import symdl
from symdl.cli import main
from symdl.export.network_modules import network_module_source
from symdl.network.fitting import with_optimizer
from symdl.rulebook.reductions import BATCH, REDUCTIONS, reduction_factor, torch_ratio
from symdl.saving.schema import SavedModelError

torch = pytest.importorskip("torch")
F = torch.nn.functional

WIDTHS = (3, 4, 3)
RTOL = 1e-12
# loss → (torch.nn.functional loss with the rule's parameters, the output activation its targets need)
TORCH_LOSSES = {
    "mse": lambda a, y, r: F.mse_loss(a, y, reduction=r),
    "mae": lambda a, y, r: F.l1_loss(a, y, reduction=r),
    "huber": lambda a, y, r: F.huber_loss(a, y, delta=0.5, reduction=r),
    "binary_cross_entropy": lambda a, y, r: F.binary_cross_entropy_with_logits(a, y, reduction=r),
    "softmax_cross_entropy": lambda a, y, r: F.cross_entropy(a, y, reduction=r),  # class-probability targets
}
LOSS_PARAMS = {"huber": {"delta": 0.5}}
CASES = [(loss, reduction) for loss in TORCH_LOSSES for reduction in ("mean", "sum")]


def network(loss: str, reduction: str = "symdl") -> symdl.Network:
    return symdl.Network(list(WIDTHS), activation="tanh", loss=loss, loss_params=LOSS_PARAMS.get(loss), reduction=reduction)


@cache
def compiled(loss: str, reduction: str):
    return network(loss, reduction).compile()


@cache
def module(loss: str, reduction: str, backend: str, folder: str):
    from pathlib import Path

    return load_module(network_module_source(network(loss, reduction), backend), Path(folder), f"red_{backend}_{loss}_{reduction}")


def data(loss: str, seed: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(rows, WIDTHS[0])), rng.uniform(size=(rows, WIDTHS[-1]))
    if loss == "softmax_cross_entropy":
        Y /= Y.sum(axis=1, keepdims=True)
    elif loss != "binary_cross_entropy":
        Y = 3 * rng.normal(size=Y.shape)  # both sides of huber's δ and of mae's kink-free region
    return X, Y


def torch_loss_and_grads(loss: str, reduction: str, params: dict, X: np.ndarray, Y: np.ndarray):
    """The same MLP written in torch (zˡ = aˡ⁻¹Wˡᵀ + bˡ, tanh, identity output), its loss and autograd gradients."""
    leaves = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    a = torch.from_numpy(X)
    depth = len(WIDTHS) - 1
    for l in range(1, depth + 1):
        a = a @ leaves[f"W{l}"].T + leaves[f"b{l}"]
        a = torch.tanh(a) if l < depth else a
    value = TORCH_LOSSES[loss](a, torch.from_numpy(Y), reduction)
    value.backward()
    return value.item(), {k: t.grad.numpy() for k, t in leaves.items()}


def assert_same(got_loss, got_grads, want_loss, want_grads) -> None:
    assert float(np.asarray(got_loss)) == pytest.approx(want_loss, rel=RTOL)
    assert sorted(got_grads) == sorted(want_grads)
    for key, want in want_grads.items():
        # rtol on each entry; an entry far below the largest is held to rtol of the largest (rounding in the sums)
        np.testing.assert_allclose(np.asarray(got_grads[key]), want, rtol=RTOL, atol=RTOL * np.abs(want).max(), err_msg=key)


@pytest.mark.parametrize("loss, reduction", CASES)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 7))
def test_compiled_network_is_torch_functional_with_that_reduction(loss, reduction, seed, rows):
    net = compiled(loss, reduction)
    params = net.init(seed=seed)
    X, Y = data(loss, seed, rows)
    got_loss, got_grads = net.loss_and_grad(params, X, Y)
    assert net.loss(params, X, Y) == pytest.approx(got_loss, rel=RTOL)
    assert_same(got_loss, got_grads, *torch_loss_and_grads(loss, reduction, params, X, Y))


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("loss, reduction", CASES)
def test_torch_and_jax_modules_are_torch_functional_with_that_reduction(loss, reduction, backend, tmp_path_factory):
    if backend == "jax":
        pytest.importorskip("jax")
        import jax.numpy as jnp

        convert = jnp.asarray
    else:
        convert = torch.from_numpy
    mod = module(loss, reduction, backend, str(tmp_path_factory.mktemp("reduction")))
    for seed, rows in ((0, 1), (1, 5)) if backend == "torch" else ((1, 5),):  # one shape: JAX compiles per shape
        params = compiled(loss, reduction).init(seed=seed)
        X, Y = data(loss, seed, rows)
        got_loss, got_grads = mod.loss_and_grad({k: convert(v.copy()) for k, v in params.items()}, X, Y)
        assert float(np.asarray(mod.loss({k: convert(v.copy()) for k, v in params.items()}, X, Y))) == pytest.approx(
            float(np.asarray(got_loss)), rel=RTOL)
        assert_same(got_loss, {k: np.asarray(v) for k, v in got_grads.items()}, *torch_loss_and_grads(loss, reduction, params, X, Y))


@pytest.mark.parametrize("loss", [*TORCH_LOSSES, "log_cosh"])
def test_the_default_prints_the_text_it_printed_before(loss):
    default = symdl.Network(list(WIDTHS), loss=loss)
    named = symdl.Network(list(WIDTHS), loss=loss, reduction="symdl")
    assert named.compile().source() == default.compile().source()
    assert "_inv_m = 1.0 / X.shape[0]" in default.compile().source() and "_reduction" not in default.compile().source()
    for backend in ("torch", "jax"):
        assert network_module_source(named, backend) == network_module_source(default, backend)
    assert repr(named) == repr(default) and "reduction" not in repr(default)
    assert named.equations().latex() == default.equations().latex()


def test_the_factor_is_derived_from_the_rule_and_the_widths():
    m = BATCH
    mse, ce = symdl.rule("mse"), symdl.rule("softmax_cross_entropy")
    assert torch_ratio(mse) == 2 and torch_ratio(symdl.rule("huber")) == 1  # mse's ℓ carries a ½, torch's does not
    assert reduction_factor(mse, "symdl", 3) == 1 / m
    assert reduction_factor(mse, "mean", 3) == 2 / (3 * m) and reduction_factor(mse, "sum", 3) == 2
    assert reduction_factor(ce, "mean", 3) == 1 / m  # a per-sample loss: no division by the outputs
    latex = dict(network("mse", "sum").equations().latex())["cost"]
    assert latex.startswith("C = 2 ")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"reduction": "avg"}, "reduction: expected one of 'symdl', 'mean', 'sum', got 'avg'"),
        ({"reduction": None}, "reduction: expected one of 'symdl', 'mean', 'sum', got None"),
        ({"loss": "log_cosh", "reduction": "mean"}, "loss 'log_cosh' has no torch.nn.functional counterpart, so only 'symdl'"),
        ({"loss": symdl.formula_rule("(a - y)**4", wrt="a", symbols=["y"]), "reduction": "sum"}, "no torch.nn.functional counterpart"),
    ],
)
def test_bad_values_are_one_line(options, message):
    with pytest.raises(ValueError, match=message) as info:
        symdl.Network([2, 1], **options)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("argv, message", [
    (["--reduction", "avg"], "invalid choice: 'avg'"),
    (["--loss", "log_cosh", "--reduction", "sum"], "no torch.nn.functional counterpart"),
])
def test_cli_refuses_bad_reductions_with_exit_2(capsys, argv, message):
    code = main(["codegen", "--layers", "2,3,1", *argv, "-o", "-"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


def test_cli_codegen_reduction_prints_the_networks_module(tmp_path, capsys):
    target = tmp_path / "net_mod.py"
    assert main(["codegen", "--layers", ",".join(map(str, WIDTHS)), "--loss", "mae", "--reduction", "mean",
                 "--backend", "torch", "-o", str(target)]) == 0
    assert target.read_text() == network_module_source(symdl.Network(list(WIDTHS), loss="mae", reduction="mean"), "torch")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_save_and_load_keep_the_reduction(tmp_path, reduction):
    net = compiled("mse", reduction)
    params = net.init(seed=3)
    symdl.save(tmp_path / "m", net, params)
    loaded = symdl.load(tmp_path / "m")
    assert loaded.network.network.reduction == reduction
    X, Y = data("mse", 3, 4)
    assert loaded.network.loss(loaded.params, X, Y) == net.loss(params, X, Y)
    saved = json.loads((tmp_path / "m" / "model.json").read_text())["network"]
    assert ("reduction" in saved) == (reduction != "symdl")  # a default network's file is the file it always was


def test_a_bad_saved_reduction_is_one_clear_error(tmp_path):
    symdl.save(tmp_path / "m", compiled("mse", "mean"), compiled("mse", "mean").init(seed=0))
    path = tmp_path / "m" / "model.json"
    config = json.loads(path.read_text())
    config["network"]["reduction"] = "avg"
    path.write_text(json.dumps(config))
    with pytest.raises(SavedModelError, match="network.reduction: expected one of 'symdl', 'mean', 'sum', got 'avg'"):
        symdl.load(tmp_path / "m")


def test_networks_rebuilt_from_a_network_keep_its_reduction():
    net = symdl.Network([3, 4, 3], loss="mse", batchnorm=True, reduction="sum").compile()
    params = net.init(seed=0)
    folded, _ = net.fold(params)
    assert folded.network.reduction == "sum"
    assert with_optimizer(net, "sgd").network.reduction == "sum"  # what fit(..., optimizer=) trains


def test_cli_train_saves_the_reduction(tmp_path, capsys):
    X, Y = data("mae", 0, 12)
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    assert main(["train", ",".join(map(str, WIDTHS)), str(tmp_path / "data.npz"), "-o", str(tmp_path / "model"),
                 "--loss", "mae", "--reduction", "mean", "--optimizer", "sgd", "--optimizer-param", "lr=0.01",
                 "--epochs", "1"]) == 0
    capsys.readouterr()
    assert symdl.load(tmp_path / "model").network.network.reduction == "mean"


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_finite_differences_agree_with_the_scaled_gradient(reduction):
    from symdl.testing import check_network_grad

    net = compiled("huber", reduction)
    X, Y = data("huber", 5, 6)
    assert check_network_grad(net, net.init(seed=5), X, Y).passed
