"""symdl.export.network_modules: JAX and PyTorch network modules give the compiled network's numbers, without sympy or symdl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from generated_modules import assert_ruff_clean, imported_packages, load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.excerpt import excerpt
from symdl.export.network_modules import network_module_source
from symdl.network import accepted_rules
from symdl.verify.codegen import SYMPY_FREE_PRELUDE

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
import jax.numpy as jnp

BACKENDS = ("jax", "torch")

# Loads each generated module where sympy and symdl cannot be imported, runs every entry point on the
# compiled network's initial params and writes the results (as numpy arrays) next to the inputs.
_RUNNER = SYMPY_FREE_PRELUDE + textwrap.dedent(
    """
    import importlib, json, numpy as np
    folder = sys.argv[1]
    arrays = dict(np.load(folder + "/inputs.npz"))
    out = {}
    for job in json.load(open(folder + "/jobs.json")):
        mod = importlib.import_module(job["module"])
        if job["backend"] == "torch":
            import torch
            convert, back = (lambda a: torch.from_numpy(a.copy())), (lambda t: t.numpy())
        else:
            import jax.numpy as jnp
            convert, back = jnp.asarray, np.asarray
        prefix = job["module"] + "."
        masks = [convert(arrays[f"{prefix}mask{k}"]) for k in range(job["masks"])]
        if masks:  # the compiled network's dropout masks (the backend's own generator draws others)
            mod._masks = lambda seed, m, *device, masks=masks: masks
        params = {k[len(prefix) + 7:]: convert(v) for k, v in arrays.items() if k.startswith(prefix + "params.")}
        X, Y = arrays[prefix + "X"], arrays[prefix + "Y"]
        out[prefix + "forward"] = back(mod.forward(params, X))
        out.update({prefix + "trace." + k: back(v) for k, v in mod.trace(params, X).items()})
        out[prefix + "loss"] = back(mod.loss(params, X, Y))
        out[prefix + "inference_loss"] = back(mod.inference_loss(params, X, Y))
        loss, grads = mod.loss_and_grad(params, X, Y)
        out[prefix + "loss_and_grad"] = back(loss)
        out.update({prefix + "grad." + k: back(v) for k, v in grads.items()})
        out[prefix + "train_step"] = back(mod.train_step(params, X, Y, 0.05))
        out.update({prefix + "after." + k: back(v) for k, v in params.items()})
        init = mod.init_params(7)
        out.update({prefix + "init." + k: back(v) for k, v in init.items()})
        out[prefix + "init_again"] = back(mod.init_params(7)["W1"])
    np.savez(folder + "/outputs.npz", **out)
    """
)

NETWORKS = {
    "tanh_huber_l2": (dict(layers=[3, 5, 2], activation="tanh", loss="huber", loss_params={"delta": 0.5}, penalty="l2"), "float64"),
    "relu_softmax_ce_l1": (
        dict(layers=[4, 6, 3], activation="relu", output_activation="softmax", loss="softmax_cross_entropy", penalty="l1"),
        "float32",
    ),
    "prelu_sigmoid_bce": (
        dict(layers=[3, 4, 4, 2], activation="prelu", output_activation="sigmoid", loss="binary_cross_entropy"), "float64",
    ),
    "bn_dropout_softmax": (
        dict(layers=[3, 4, 4, 2], activation="relu", output_activation="softmax", loss="softmax_cross_entropy",
             batchnorm=True, dropout=0.2),
        "float64",
    ),
    "sigmoid_bn": (dict(layers=[3, 4, 2], activation="sigmoid", loss="mse", batchnorm=True), "float32"),
}  # fmt: skip
# Every other activation, loss and penalty: test_any_network_gives_the_compiled_gradient.


def _tolerance(dtype: str) -> dict[str, float]:
    return {"rtol": 1e-10, "atol": 1e-12} if dtype == "float64" else {"rtol": 2e-4, "atol": 2e-5}


def _data(net: symdl.Network, dtype: str, rng: np.random.Generator, batch: int = 6) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(batch, net.layers[0])).astype(dtype)
    Y = rng.uniform(0.05, 0.95, size=(batch, net.layers[-1])).astype(dtype)
    if net.loss.name == "softmax_cross_entropy":
        Y /= Y.sum(axis=1, keepdims=True)
    return X, Y


def _compiled_masks(compiled: symdl.CompiledNetwork, rows: int, seed: int = 0) -> list[np.ndarray]:
    """The dropout masks the compiled network draws for ``seed`` (none without dropout)."""
    masks = compiled._layer_kernels().get("_masks")
    return [] if masks is None else masks(seed, rows)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every network × backend generated and run in a sympy-free subprocess; the compiled network's numbers beside."""
    folder = tmp_path_factory.mktemp("backend_modules")
    rng = np.random.default_rng(5)
    inputs, jobs, expected, sources = {}, [], {}, {}
    for key, (spec, dtype) in NETWORKS.items():
        net = symdl.Network(**spec)
        compiled = net.compile(dtype)
        X, Y = _data(net, dtype, rng)
        for backend in BACKENDS:
            module = f"{backend}_{key}"
            text = network_module_source(net, backend, dtype)
            sources[module] = text
            (folder / f"{module}.py").write_text(text)
            params = compiled.init(1)
            if compiled.buffer_names:  # running statistics away from their initial 0 and 1
                params.update({k: rng.uniform(0.5, 1.5, v.shape).astype(dtype) for k, v in params.items() if k.startswith("running")})
            inputs.update({f"{module}.params.{k}": v.copy() for k, v in params.items()})
            inputs[f"{module}.X"], inputs[f"{module}.Y"] = X, Y
            masks = _compiled_masks(compiled, X.shape[0])
            inputs.update({f"{module}.mask{k}": mask for k, mask in enumerate(masks)})
            jobs.append({"module": module, "backend": backend, "masks": len(masks)})
            reference = {"forward": compiled.forward(params, X), "loss": compiled.loss(params, X, Y),
                         "inference_loss": compiled.inference_loss(params, X, Y)}
            reference.update({f"trace.{k}": v for k, v in compiled.trace(params, X).items()})
            loss, grads = compiled.loss_and_grad(params, X, Y)
            reference.update({"loss_and_grad": loss, **{f"grad.{k}": v for k, v in grads.items()}})
            reference["train_step"] = compiled.train_step(params, X, Y, 0.05)
            reference.update({f"after.{k}": v for k, v in params.items()})
            expected[module] = (reference, dtype, compiled)
    np.savez(folder / "inputs.npz", **inputs)
    (folder / "jobs.json").write_text(json.dumps(jobs))
    done = subprocess.run([sys.executable, "-c", _RUNNER, str(folder)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"folder": folder, "outputs": dict(np.load(folder / "outputs.npz")), "expected": expected, "sources": sources}


def test_backend_modules_run_without_sympy_and_give_the_compiled_numbers(generated):
    outputs = generated["outputs"]
    for module, (reference, dtype, _) in generated["expected"].items():
        for name, value in reference.items():
            got = outputs[f"{module}.{name}"]
            assert got.dtype == np.dtype(dtype), (module, name, got.dtype)
            np.testing.assert_allclose(got, value, **_tolerance(dtype), err_msg=f"{module}.{name}")


def test_init_params_draw_glorot_uniform_in_the_backend_and_repeat_per_seed(generated):
    outputs = generated["outputs"]
    for module, (_, dtype, compiled) in generated["expected"].items():
        for name, shape in compiled.param_shapes.items():
            value = outputs[f"{module}.init.{name}"]
            assert value.shape == shape and value.dtype == np.dtype(dtype)
            if name.startswith("W"):
                limit = np.sqrt(6.0 / (shape[0] + shape[1]))
                assert np.all(np.abs(value) <= limit) and np.ptp(value) > 0
            else:
                np.testing.assert_array_equal(value, compiled.init(0)[name])
        np.testing.assert_array_equal(outputs[f"{module}.init_again"], outputs[f"{module}.init.W1"])


def test_backend_modules_import_only_their_library_and_the_standard_library(generated):
    import ast

    for module, text in generated["sources"].items():
        tree = ast.parse(text)
        imported = imported_packages(tree)
        library = module.split("_")[0]
        # functools where a constant maker is bound (torch binds _t only in the functions that make constants);
        # numpy, sys and time for fit (numpy's Generator shuffles, as in symdl.training.fit; the status bar)
        allowed = {library, "functools", "numbers", "collections", "numpy", "sys", "time"}
        assert {library, "numbers", "collections"} <= imported <= allowed, (module, imported)
        assert "Equations (LaTeX)" in text and "BP2" in text


def test_backend_modules_pass_ruff(generated):
    assert_ruff_clean(generated["folder"])


def test_backend_output_is_byte_identical_across_hash_seeds():
    script = (
        "import sys, symdl\nfrom symdl.export.network_modules import network_module_source\n"
        "net = symdl.Network([3, 4, 2], activation='prelu', output_activation='softmax', loss='softmax_cross_entropy', penalty='l1')\n"
        "sys.stdout.write(network_module_source(net, 'jax', 'float32') + network_module_source(net, 'torch'))\n"
    )
    texts = []
    for seed in ("1", "999"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        texts.append(done.stdout)
    assert texts[0] == texts[1]



def _convert(backend: str, params: dict[str, np.ndarray]) -> dict:
    if backend == "torch":
        return {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    return {k: jnp.asarray(v) for k, v in params.items()}


_HIDDEN = [a for a in accepted_rules("activation") if a != "softmax"]
_LOSSES = [loss for loss in accepted_rules("loss") if loss != "softmax_cross_entropy"]


@settings(max_examples=12, deadline=None)
@given(
    backend=st.sampled_from(BACKENDS),
    activation=st.sampled_from(_HIDDEN),
    output=st.sampled_from(["identity", "sigmoid", "tanh", "softmax"]),
    loss=st.sampled_from(_LOSSES),
    penalty=st.sampled_from([None, "l1", "l2"]),
    widths=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    batchnorm=st.booleans(),
    dropout=st.sampled_from([None, 0.4]),
    seed=st.integers(0, 2**16),
)
def test_any_network_gives_the_compiled_gradient(
    tmp_path_factory, backend, activation, output, loss, penalty, widths, batchnorm, dropout, seed
):
    if loss == "binary_cross_entropy" and output != "sigmoid":
        output = "sigmoid"  # its domain is (0, 1)
    hidden = len(widths) > 2
    net = symdl.Network(widths, activation=activation, output_activation=output, loss=loss, penalty=penalty,
                        batchnorm=batchnorm and hidden, dropout=dropout if hidden else None)  # fmt: skip
    compiled = net.compile("float64")
    module = load_module(network_module_source(net, backend), tmp_path_factory.mktemp("any"), f"any_{backend}")
    rng = np.random.default_rng(seed)
    params = compiled.init(seed)
    X, Y = _data(net, "float64", rng)
    masks = _compiled_masks(compiled, X.shape[0])
    if masks:  # the compiled network's masks for seed 0, in the backend's arrays
        converted = [torch.from_numpy(m) if backend == "torch" else jnp.asarray(m) for m in masks]
        module._masks = lambda seed, m, *device: converted
    loss_value, grads = compiled.loss_and_grad(params, X, Y)
    got_loss, got = module.loss_and_grad(_convert(backend, params), X, Y)
    np.testing.assert_allclose(np.asarray(got_loss), loss_value, rtol=1e-10, atol=1e-12)
    for name, value in grads.items():
        np.testing.assert_allclose(np.asarray(got[name]), value, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_arguments_get_one_line_errors(tmp_path, backend):
    net = symdl.Network([3, 4, 2])
    module = load_module(network_module_source(net, backend), tmp_path, f"bad_{backend}")
    params = _convert(backend, net.compile().init(0))
    X, Y = np.ones((5, 3)), np.zeros((5, 2))
    bad_calls = {
        "missing key": lambda: module.loss(dict(list(params.items())[:-1]), X, Y),
        "a list": lambda: module.loss([1, 2], X, Y),
        "wrong shape": lambda: module.loss({**params, "W1": params["W2"]}, X, Y),
        "wrong dtype": lambda: module.loss(_convert(backend, net.compile("float32").init(0)), X, Y),
        "X float32": lambda: module.forward(params, X.astype(np.float32)),
        "X columns": lambda: module.forward(params, np.ones((5, 4))),
        "X NaN": lambda: module.loss(params, np.full((5, 3), np.nan), Y),
        "Y rows": lambda: module.loss(params, X, np.zeros((4, 2))),
        "Y None": lambda: module.loss_and_grad(params, X, None),
        "lr negative": lambda: module.train_step(params, X, Y, -0.1),
        "lr text": lambda: module.train_step(params, X, Y, "0.1"),
    }
    for what, call in bad_calls.items():
        with pytest.raises(ValueError) as info:
            call()
        assert "\n" not in str(info.value), what
    assert np.isfinite(float(module.loss(params, X.astype(int), Y)))  # integers convert, as in the numpy module
    # A plain list of numbers is taken in the module's dtype (torch alone would make it float32).
    assert float(module.loss(params, X.tolist(), Y.tolist())) == pytest.approx(float(module.loss(params, X, Y)))
    for seed in (-1, 2**64, 1.0):
        with pytest.raises(ValueError, match="seed"):
            module.init_params(seed)
    if backend == "jax":  # the new arrays are stored in params: a read-only mapping is refused before the step
        import types

        with pytest.raises(ValueError, match="expected a dict"):
            module.train_step(types.MappingProxyType(dict(params)), X, Y, 0.1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_backends_and_non_networks_are_refused(backend):
    with pytest.raises(ValueError, match="accepted"):
        network_module_source(symdl.Network([2, 1]), "tensorflow")
    with pytest.raises(TypeError, match="symdl.Network"):
        network_module_source("net", backend)


def test_the_numpy_backend_is_the_standalone_network_module():
    """network_module_source(net, "numpy") raised NotImplementedError though "numpy" is a registered backend (graph_module_source
    and symdl codegen --backend numpy take it): it is the standalone module, byte for byte."""
    from symdl.export.standalone import network_module

    net = symdl.Network([3, 4, 2], activation="relu", dropout=0.25, optimizer="adam")
    for dtype, metrics in (("float64", ()), ("float32", ["mae"])):
        assert network_module_source(net, "numpy", dtype, metrics=metrics) == network_module(net, dtype, metrics)
    with pytest.raises(ValueError, match=r"^dtype 'float16' \(mixed precision\) is supported by the torch and jax network modules, not by backend 'numpy'$"):
        network_module_source(net, "numpy", "float16")


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_masks_come_from_the_seed_and_batch_norm_needs_two_rows(tmp_path, backend):
    net = symdl.Network([3, 6, 6, 2], activation="tanh", batchnorm=True, dropout=0.5)
    module = load_module(network_module_source(net, backend, "float32"), tmp_path, f"seeded_{backend}")
    params = module.init_params(0)
    X = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    Y = np.zeros((8, 2), np.float32)
    same = [float(module.loss(params, X, Y, seed=4)) for _ in range(2)]
    other = float(module.loss(params, X, Y, seed=5))
    assert same[0] == same[1] != other
    for bad in (-1, 1.5, True, "0"):
        with pytest.raises(ValueError, match="seed"):
            module.loss(params, X, Y, seed=bad)
    with pytest.raises(ValueError) as error:  # 401 digits were echoed whole
        module.loss(params, X, Y, seed=10**400)
    assert str(error.value).endswith(f"(it fixes the dropout masks), got {excerpt(10**400)}")
    assert str(error.value).endswith("got 1" + "0" * 56 + "...")
    with pytest.raises(ValueError, match="at least 2 rows"):
        module.train_step(params, X[:1], Y[:1], 0.1)


def test_torch_train_step_updates_the_callers_tensors_and_jax_stores_new_arrays(tmp_path):
    net = symdl.Network([3, 4, 2], activation="tanh", loss="mse")
    compiled = net.compile()
    params = compiled.init(2)
    X, Y = _data(net, "float64", np.random.default_rng(0))
    before = {k: v.copy() for k, v in params.items()}
    compiled.train_step(params, X, Y, 0.1)
    torch_module = load_module(network_module_source(net, "torch"), tmp_path, "step_torch")
    tensors = _convert("torch", before)
    w1 = tensors["W1"]
    torch_module.train_step(tensors, X, Y, 0.1)
    assert tensors["W1"] is w1  # in place, as CompiledNetwork.train_step
    jax_module = load_module(network_module_source(net, "jax"), tmp_path, "step_jax")
    arrays = _convert("jax", before)
    jax_module.train_step(arrays, X, Y, 0.1)
    for name, value in params.items():
        np.testing.assert_allclose(tensors[name].numpy(), value, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(np.asarray(arrays[name]), value, rtol=1e-12, atol=1e-14)
