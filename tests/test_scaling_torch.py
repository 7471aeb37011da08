"""The torch network module's ``Module``: a torch.nn.Module whose gradient is the printed BP1-BP4, trained under DDP.

docs/scaling.md's ``scale_torch.py`` trains ``DistributedDataParallel(Module(...))`` in 2 processes (gloo) on
halves of each batch with torch.optim.SGD and asserts the parameters equal the printed ``train_step`` on the
whole batch in one process (rtol 1e-12, float64), for reduction "mean" with a penalty at lr and "sum" at
lr × 2. The other tests check Module in one process: its loss and .grad are the module's loss_and_grad scaled
by the incoming gradient, agree with torch's autograd of the same network, and what it refuses.
"""

from __future__ import annotations

import numpy as np
import pytest
from docs_scripts import run_docs_script
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.export import network_module_source

torch = pytest.importorskip("torch")

SPECS = {
    "plain": {"layers": [3, 5, 2], "activation": "tanh", "loss": "mse", "reduction": "mean", "penalty": "l2"},
    "dropout": {"layers": [3, 6, 3], "activation": "relu", "output_activation": "softmax", "loss": "softmax_cross_entropy",
                "dropout": 0.3},
    "batchnorm": {"layers": [3, 4, 2], "activation": "tanh", "loss": "mse", "batchnorm": True},
}


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("modules")
    return {name: load_module(network_module_source(symdl.Network(**spec), "torch"), folder, f"nn_{name}")
            for name, spec in SPECS.items()}


def data(seed: int, rows: int, spec: dict) -> tuple:
    rng = np.random.default_rng(seed)
    X = torch.from_numpy(rng.standard_normal((rows, spec["layers"][0])))
    Y = torch.from_numpy(rng.uniform(0.1, 1.0, (rows, spec["layers"][-1])))
    return X, Y / Y.sum(dim=1, keepdim=True)


@pytest.mark.slow
def test_the_docs_script_trains_under_ddp_in_2_processes_as_in_one(tmp_path):
    out = run_docs_script("scaling.md", "scale_torch.py", tmp_path)
    assert "mlp_mean: 2 processes with DDP = one process on the whole batch" in out
    assert "mlp_sum: 2 processes with DDP = one process on the whole batch" in out


@settings(max_examples=10, deadline=None)
@given(name=st.sampled_from(["plain", "dropout"]), seed=st.integers(0, 2**16), rows=st.integers(1, 7),
       scale=st.floats(-3, 3, allow_nan=False), checks=st.booleans())
def test_forward_is_the_loss_and_backward_the_printed_gradient_times_the_incoming_one(modules, name, seed, rows, scale, checks):
    mod = modules[name]
    X, Y = data(seed, rows, SPECS[name])
    params = mod.init_params(seed % 7)
    model = mod.Module(params, checks=checks)
    masks = {"seed": seed} if name == "dropout" else {}
    loss = model(X, Y, **masks)
    expected, grads = mod.loss_and_grad(params, X, Y, **masks)
    assert torch.equal(loss.detach(), expected)
    (scale * loss).backward()
    for key, parameter in model.named_parameters():
        assert torch.equal(parameter.grad, scale * grads[key]), key


def test_the_gradient_is_torch_autograds_of_the_same_network(modules):
    mod = modules["plain"]
    X, Y = data(1, 8, SPECS["plain"])
    model = mod.Module(mod.init_params(3))
    model(X, Y).backward()
    leaves = {k: v.detach().clone().requires_grad_() for k, v in model.as_params().items()}
    out = torch.tanh(X @ leaves["W1"].T + leaves["b1"]) @ leaves["W2"].T + leaves["b2"]
    penalty = mod.loss(model.as_params(), X, Y) - torch.nn.functional.mse_loss(model.predict(X), Y)
    lam = penalty / (leaves["W1"].detach().square().sum() + leaves["W2"].detach().square().sum())  # Ω = λ Σ W² of l2
    cost = torch.nn.functional.mse_loss(out, Y) + lam * (leaves["W1"].square().sum() + leaves["W2"].square().sum())
    cost.backward()
    for key, parameter in model.named_parameters():
        torch.testing.assert_close(parameter.grad, leaves[key].grad, rtol=1e-12, atol=1e-15)


def test_eval_gives_the_inference_loss_without_gradient_and_predict_the_output(modules):
    mod = modules["dropout"]
    X, Y = data(2, 6, SPECS["dropout"])
    params = mod.init_params(0)
    model = mod.Module(params)
    torch.manual_seed(4)
    first = model(X, Y)
    torch.manual_seed(4)
    assert torch.equal(model(X, Y), first)  # the masks' seed comes from torch's generator
    assert not torch.equal(model(X, Y), first)  # … and changes from call to call
    model.eval()
    value = model(X, Y)
    assert torch.equal(value, mod.inference_loss(params, X, Y)) and not value.requires_grad
    assert torch.equal(model.predict(X), mod.forward(params, X))
    mod.train_step(model.as_params(), X, Y, 0.5, seed=1)  # as_params shares the parameters' storage
    assert not torch.equal(model.W1.detach(), params["W1"])


def test_what_module_cannot_support_is_refused_in_one_line(modules):
    mod = modules["plain"]
    X, Y = data(3, 4, SPECS["plain"])
    model = mod.Module(mod.init_params(0))
    cases = [
        (ValueError, "batch norm is not supported", lambda: modules["batchnorm"].Module(modules["batchnorm"].init_params(0))),
        (ValueError, "X and Y must not require grad", lambda: model(X.clone().requires_grad_(), Y)),
        (ValueError, "no masks", lambda: model(X, Y, seed=1)),
        (ValueError, r"params\['W1'\]", lambda: mod.Module({**mod.init_params(0), "W1": torch.zeros(2, 2)})),
        (RuntimeError, "no second derivatives", lambda: torch.autograd.grad(model(X, Y), model.W1, create_graph=True)),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=message) as caught:
            call()
        assert "\n" not in str(caught.value)
