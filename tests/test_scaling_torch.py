"""The torch network module's ``Module``: a torch.nn.Module whose gradient is the printed BP1-BP4, trained under DDP.

docs/scaling.md's ``scale_torch.py`` trains ``DistributedDataParallel(Module(...))`` in 2 processes (gloo) on
halves of each batch with torch.optim.SGD and asserts the parameters equal the printed ``train_step`` on the
whole batch in one process (rtol 1e-12, float64), for reduction "mean" with a penalty at lr and "sum" at
lr × 2, and that the process group ends in destroy_process_group in each process: ended later by a DDP model it
waits for gloo's threads holding the GIL (a hang), and ended during interpreter shutdown it can abort a process
that trained correctly (SIGABRT on a loaded machine). The other tests check Module in one process: its loss and
.grad are the module's loss_and_grad scaled by the incoming gradient, agree with torch's autograd of the same
network, and what it refuses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


# Loaded by every Python process of a run (PYTHONPATH). On Linux (it reads /proc) it notes the process's threads just
# after destroy_process_group returns and at exit, before the interpreter shuts down, and writes them to
# $THREADS_AT_EXIT/<pid> with the process's name.
THREADS_AT_EXIT = """
import atexit, json, os, sys

def _threads():
    return [open(f"/proc/self/task/{task}/comm").read().strip() for task in os.listdir("/proc/self/task")]

_seen = {}

def _note(frame, event, arg):  # the first event after destroy_process_group's frame is gone (its locals with it)
    if _seen.pop("returning", False):
        _seen["destroy_process_group"] = _threads()
    if event == "return" and frame.f_code.co_name == "destroy_process_group":
        _seen["returning"] = True

def _record():
    name = sys.modules["multiprocessing"].current_process().name if "multiprocessing" in sys.modules else "-"
    with open(os.path.join(os.environ["THREADS_AT_EXIT"], str(os.getpid())), "w") as out:
        json.dump({"process": name, "destroy_process_group": _seen.get("destroy_process_group"), "exit": _threads()}, out)

if os.path.isdir("/proc/self/task"):
    sys.setprofile(_note)
    atexit.register(_record)
"""
PROC = Path("/proc/self/task").is_dir()


def threads_at_exit(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment that loads THREADS_AT_EXIT into every process, and the folder the processes write to."""
    (tmp_path / "observer").mkdir()
    (tmp_path / "observer" / "sitecustomize.py").write_text(THREADS_AT_EXIT)
    (tmp_path / "threads").mkdir()
    return {"PYTHONPATH": str(tmp_path / "observer"), "THREADS_AT_EXIT": str(tmp_path / "threads")}, tmp_path / "threads"


def exits(folder: Path) -> list[dict]:
    """Each process's name and thread names when destroy_process_group returned (None if it was not called) and at exit."""
    return [json.loads(path.read_text()) for path in sorted(folder.iterdir())]


def gloo(threads: list[str]) -> list[str]:
    """The threads of a gloo process group: its transport's event loop and torch's work queue runners."""
    return [thread for thread in threads if "gloo" in thread]


@pytest.mark.slow
def test_the_docs_script_trains_under_ddp_in_2_processes_as_in_one(tmp_path):
    env, folder = threads_at_exit(tmp_path)
    scratch = tmp_path / "scratch"  # the script's temporary folder goes here, and must be gone at the end
    scratch.mkdir()
    out = run_docs_script("scaling.md", "scale_torch.py", tmp_path, env={**env, "TMPDIR": str(scratch)})
    assert "mlp_mean: 2 processes with DDP = one process on the whole batch" in out
    assert "mlp_sum: 2 processes with DDP = one process on the whole batch" in out
    assert [p.name for p in scratch.iterdir() if not p.name.startswith("torchinductor_")] == []  # torch's own cache aside
    if not PROC:
        return
    processes = exits(folder)
    ranks = [process for process in processes if process["process"].startswith("SpawnProcess")]
    assert sorted(process["process"] for process in ranks) == ["SpawnProcess-1", "SpawnProcess-2"]
    for process in ranks:  # the group ended in destroy_process_group, not later from a DDP model or at shutdown
        assert process["destroy_process_group"] is not None and not gloo(process["destroy_process_group"]), process
    for process in processes:
        assert not gloo(process["exit"]), process


@pytest.mark.slow
@pytest.mark.skipif(not PROC, reason="reads threads from Linux's /proc")
def test_the_exit_check_sees_the_threads_of_a_process_group_left_running(tmp_path):
    env, folder = threads_at_exit(tmp_path)
    group = ("import torch.distributed as dist; "
             f"dist.init_process_group('gloo', init_method='file://{tmp_path}/rendezvous', rank=0, world_size=1)")
    subprocess.run([sys.executable, "-c", group], env={**os.environ, **env}, check=True, timeout=120)
    (process,) = exits(folder)
    assert process["destroy_process_group"] is None and gloo(process["exit"]), process


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
    model, unchecked = mod.Module(mod.init_params(0)), mod.Module(mod.init_params(0), checks=False)
    assert repr(unchecked) == "Module(W1: (5, 3), b1: (5,), W2: (2, 5), b2: (2,), checks=False)"
    cases = [
        (ValueError, "batch norm is not supported", lambda: modules["batchnorm"].Module(modules["batchnorm"].init_params(0))),
        (ValueError, "X and Y must not require grad", lambda: model(X.clone().requires_grad_(), Y)),
        (ValueError, "no masks", lambda: model(X, Y, seed=1)),
        (ValueError, r"params\['W1'\]", lambda: mod.Module({**mod.init_params(0), "W1": torch.zeros(2, 2)})),
        (RuntimeError, "no second derivatives",
         lambda: torch.autograd.grad(model(X, Y), model.W1, create_graph=True)[0].sum().backward()),
        (RuntimeError, "no second derivatives", lambda: torch.func.grad(lambda w: torch.func.grad(
            lambda v: torch.func.functional_call(model, {"W1": v}, (X, Y)))(w).sum())(model.W1.detach())),
        (TypeError, r"^Module.forward takes 2 positional arguments \(X, Y\) and seed by keyword only \(forward\(X, Y, seed=\.\.\.\)\), "
                    r"got 3$", lambda: model(X, Y, 1)),
        (TypeError, r"^Module: its parameters are torch.float64, the dtype its code was generated for, and cannot become "
                    r"torch.float32; generate the module for torch.float32 instead", model.float),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=message) as caught:
            call()
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("checks", [True, False])
def test_torch_func_grad_over_functional_call_is_the_printed_gradient(modules, checks):
    """grad(functional_call(model, params, (X, Y))), the torch.func way (MAML, functional optimizers), gives BP1-BP4."""
    mod = modules["plain"]
    X, Y = data(5, 7, SPECS["plain"])
    model = mod.Module(mod.init_params(2), checks=checks)
    params = {k: v.detach() for k, v in model.named_parameters()}
    grads, loss = torch.func.grad_and_value(lambda p: torch.func.functional_call(model, p, (X, Y)))(params)
    printed_loss, printed = mod.loss_and_grad(model.as_params(), X, Y)
    assert torch.equal(loss, printed_loss)
    for key in printed:
        assert torch.equal(grads[key], printed[key]), key
    # a first derivative with create_graph is allowed (as for torch's own functions): only a second is refused
    first = torch.autograd.grad(model(X, Y), list(model.parameters()), create_graph=True)
    for (key, _), value in zip(model.named_parameters(), first):
        assert torch.equal(value, printed[key]), key


# torch 2.13's Dynamo instantiates autograd.Function itself while tracing one, and warns about it
@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")
def test_a_fullgraph_compile_trains_as_eager(modules):
    mod = modules["plain"]
    X, Y = data(6, 8, SPECS["plain"])
    eager, compiled = (mod.Module(mod.init_params(1), checks=False) for _ in range(2))
    step = torch.compile(compiled, fullgraph=True, backend="aot_eager")
    for model, call in ((eager, eager), (compiled, step)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            optimizer.zero_grad()
            call(X, Y).backward()
            optimizer.step()
    for (key, a), (_, b) in zip(eager.named_parameters(), compiled.named_parameters()):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-15, msg=key)
