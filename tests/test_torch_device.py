"""Generated PyTorch modules run where the data is, and their ``_unchecked`` entry points never read back to the host.

Every tensor a torch network, graph or optimizer module makes takes its device from an input (checked on the
printed text); the unchecked entry points run with every tensor on PyTorch's ``meta`` device, which has no values
to read back; ``torch.compile(fullgraph=True)`` traces them without a graph break; on the CPU they give the
checked functions' numbers bit for bit; on CUDA (where present) the CPU's numbers.
"""

from __future__ import annotations

import copy
import inspect
import re
import sys

import numpy as np
import pytest
from formula_graphs import formula_graph
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st
from test_graph_modules import normed

import symdl
from symdl.export import graph_module_source, network_module_source
from symdl.graph import Dense, Dropout, GaussianNoise, Input, Model
from symdl.network import accepted_rules

torch = pytest.importorskip("torch")

ENTRIES = ("forward", "trace", "loss", "inference_loss", "loss_and_grad", "train_step")
GRAPH_ENTRIES = ("forward", "loss", "inference_loss", "loss_and_grad", "train_step")
# Element-wise hidden activations; the vector ones (softmax …) are output activations below.
HIDDEN = [a for a in accepted_rules("activation") if a not in ("softmax", "softmin", "log_softmax")]
NETWORKS = {
    **{f"act_{a}": {"layers": [3, 4, 2], "activation": a, "loss": "mse"} for a in HIDDEN},
    "softmax_ce": {"layers": [3, 5, 3], "activation": "relu", "output_activation": "softmax", "loss": "softmax_cross_entropy",
                   "penalty": "l1"},
    "bce": {"layers": [3, 4, 1], "activation": "elu", "output_activation": "sigmoid", "loss": "binary_cross_entropy"},
    "bn_dropout": {"layers": [3, 4, 4, 2], "activation": "tanh", "loss": "huber", "batchnorm": True, "dropout": 0.25,
                   "penalty": "l2"},
    "mae": {"layers": [3, 4, 2], "activation": "leaky_relu", "loss": "mae"},
    **{f"opt_{o}": {"layers": [3, 4, 2], "activation": "tanh", "loss": "log_cosh", "optimizer": o}
       for o in symdl.optim.optimizer_names()},
}


def _shared() -> Model:
    """One dense layer applied twice (shared weights), Gaussian noise and dropout between."""
    x = Input(3)
    shared = Dense(3, activation="tanh")
    h = GaussianNoise(0.3)(shared(shared(x)))
    return Model(x, Dense(2)(Dropout(0.25)(Dense(4, activation="relu")(h))), losses="mse")


def _two_inputs() -> Model:
    """Two inputs and two outputs, a constant derivative (MAE) and a weight constraint."""
    from symdl.graph import Add, Multiply

    x1, x2 = Input(2), Input(2)
    heads = [Dense(1, activation="softplus", constraint="non_neg")(n) for n in (Add()([x1, x2]), Multiply()([x1, x2]))]
    return Model([x1, x2], heads, losses=["mse", "mae"])


GRAPHS = {"shared_noise_dropout": (_shared, None), "two_inputs": (_two_inputs, None), "shared_adam": (_shared, "adam"),
          "two_inputs_rmsprop": (_two_inputs, "rmsprop"), "adam_lr_per_call": (_two_inputs, symdl.optim.adam(lr=None)),
          "formula": (formula_graph, None), "batchnorm": (normed, None)}
# A factory call: torch.ones(…), torch.Generator(…), functools.partial(torch.tensor, …) …
_FACTORY = re.compile(r"(?<![\w.])torch\.(ones|zeros|empty|full|rand|randn|randint|randperm|tensor|scalar_tensor|as_tensor|"
                      r"from_numpy|arange|eye|linspace|logspace|normal|bernoulli|Generator)\b(?!_like)")
# Where the device of a made tensor comes from: an input's (X.device, X1.device), or init_params' device argument;
# or the host for a number read at once (Module's dropout seed, drawn on the CPU and read into an int: no read-back
# from the data's device).
_FROM_INPUT = re.compile(r"device=(device|\w+\.device)\b|^\s*draw = torch\.randint\(2\*\*62, \(\), device=\"cpu\"\)")


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    out = {f"net_{k}": network_module_source(symdl.Network(**spec), "torch") for k, spec in NETWORKS.items()}
    for key, (build, optimizer) in GRAPHS.items():
        out[f"graph_{key}"] = graph_module_source(build(), "torch", optimizer=optimizer)
    return out


@pytest.fixture(scope="module")
def modules(sources, tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("torch_device")
    return {k: load_module(text, folder, k) for k, text in sources.items()}


def _printed_functions(text: str) -> list[tuple[str, str]]:
    """(name, body) of every top-level function of a module but the argument checks (which convert the caller's data)."""
    found = re.findall(r"^def (\w+)\(.*?(?=^\S|\Z)", text, re.MULTILINE | re.DOTALL)
    bodies = re.split(r"^(?=def \w+\()", text, flags=re.MULTILINE)
    return [(name, body) for name, body in zip(found, bodies[1:]) if name not in ("_batch", "_prepare", "_finish")]


def _offending(sources: dict[str, str]) -> list[str]:
    """Every line of the modules that makes a tensor without a device taken from an input."""
    offending = []
    for key, text in sources.items():
        module_level = text.split("\ndef ", 1)[0]
        offending += [f"{key} (module level): {line}" for line in module_level.splitlines() if _FACTORY.search(line)]
        for name, body in _printed_functions(text):
            for line in body.splitlines():
                if _FACTORY.search(line.split("#")[0]) and not _FROM_INPUT.search(line):
                    offending.append(f"{key}.{name}: {line.strip()}")
    return offending


def test_every_tensor_a_module_makes_takes_its_device_from_an_input(sources):
    assert len(sources) == len(NETWORKS) + len(GRAPHS)
    offending = _offending(sources)
    assert not offending, "\n".join(offending[:20])
    # the scan sees what it looks for: the ones vector, the masks and init_params are printed with a device
    joined = "\n".join(sources.values())
    assert "torch.ones(X.shape[0], dtype=_dtype, device=X.device)" in joined
    assert "generator = torch.Generator(device=device)" in joined


def test_a_mixed_precision_batchnorm_module_makes_every_tensor_on_an_inputs_device():
    """bfloat16 (with its Module and _loss_grad_moved) and float16 modules of a graph with batch norm."""
    mixed = {f"batchnorm_{dtype}": graph_module_source(normed(), "torch", dtype, "adam") for dtype in ("bfloat16", "float16")}
    assert "def _loss_grad_moved(" in mixed["batchnorm_bfloat16"] and "def _loss_grad_moved(" not in mixed["batchnorm_float16"]
    offending = _offending(mixed)
    assert not offending, "\n".join(offending[:20])


# A value read back to the host: .item(), .tolist(), .cpu(), .numpy(), bool(t), float(t), int(t)
_READ_BACK = re.compile(r"\.(item|tolist|cpu|numpy)\(|(?<![\w.])(bool|float|int)\(")


def _block(text: str, head: str) -> str:
    """The top-level ``class …`` or ``def …`` of a module source starting with ``head``, up to the next top-level line."""
    start = text.index(f"\n{head}") + 1
    end = re.search(r"\n(?=\S)", text[start:])
    return text[start:start + end.start()] if end else text[start:]


def test_a_float16_modules_backward_reads_nothing_back(tmp_path):
    """A float16 Module with a loss scale computes its gradient in backward, at the incoming gradient (GradScaler's
    S): what backward runs reads no value back to the host (scanned, comments left out) and runs on meta; a linear
    loss's constant seed S/m too (ones times it: a tensor fill value would be read back, a graph's was a scalar)."""
    net = symdl.Network([4, 16, 3], activation="tanh", loss="mse", dropout=0.2, penalty="l2")
    linear = symdl.formula_rule("a - y", wrt="a", symbols=["y"])  # ℓ' = 1: the seed s/m is one value for every output
    x = Input(4)
    sources = {"net_float16": network_module_source(net, "torch", "float16"),
               "graph_float16": graph_module_source(_two_inputs(), "torch", "float16"),
               "net_linear_float16": network_module_source(symdl.Network([4, 8, 3], loss=linear), "torch", "float16"),
               "graph_linear_float16": graph_module_source(Model(x, Dense(3)(Dense(8)(x)), losses=linear), "torch", "float16")}
    offending = _offending(sources)
    assert not offending, "\n".join(offending[:20])
    for key, text in sources.items():
        loss_and_grad = _block(text, "class _LossAndGrad(")
        parts = [loss_and_grad[loss_and_grad.index("def backward("):], _block(text, "class _ScaledGradient("),
                 *(_block(text, f"def {name}(") for name in ("_loss_and_grad_scaled", "_unpack", "_master_grads", "_masters"))]
        for part in parts:
            code = "\n".join(line.split("#")[0] for line in part.splitlines())
            assert not _READ_BACK.search(code), (key, _READ_BACK.search(code), part[:80])
        assert _READ_BACK.search(_block(text, "def _batch("))  # the scan sees a read-back: the checks' finiteness test
        mod = load_module(text, tmp_path, key)
        for checks in (True, False):
            params, data = _meta_arguments(mod, key)
            model = mod.Module(params, checks=checks)
            model(*data, **({"seed": 1} if mod._SEEDED else {})).backward(torch.tensor(2.0**16, device="meta"))
            assert all(p.grad.device.type == "meta" and p.grad.dtype == torch.float32 for p in model.parameters()), key


def _meta_arguments(mod, key: str, rows: int = 5) -> tuple[dict, list]:
    params = mod.init_params(3, device="meta")
    dtype = next(iter(params.values())).dtype
    if key.startswith("net_"):
        widths = [mod._N_IN, mod._N_OUT]
    else:
        widths = [w for _, w in (*mod._INPUTS, *mod._TARGETS)]
    return params, [torch.empty((rows, w), dtype=dtype, device="meta") for w in widths]


def _step_arguments(mod, params, device) -> list:
    if hasattr(mod, "init_state"):
        data = {"X", "Y"} if hasattr(mod, "_N_IN") else {n for n, _ in (*mod._INPUTS, *mod._TARGETS)}
        # the unchecked train_step names its arguments; a graph module's checked one takes (params, *arguments, seed=0)
        extra = [name for name in inspect.signature(mod.train_step_unchecked).parameters if name not in {"params", "state", "seed", *data}]
        return [mod.init_state(params), *(torch.tensor(0.01, dtype=torch.float64, device=device) for _ in extra)]
    return [torch.tensor(0.05, dtype=torch.float64, device=device)]  # lr as a 0-d tensor on the device


def _tensors(value) -> list:
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return [value] if isinstance(value, torch.Tensor) else []


def test_unchecked_entry_points_run_with_every_tensor_on_the_meta_device(modules):
    for key, mod in modules.items():
        params, data = _meta_arguments(mod, key)
        n_inputs = 1 if key.startswith("net_") else len(mod._INPUTS)
        out = mod.forward_unchecked(params, *data[:n_inputs])
        assert all(t.device.type == "meta" and t.shape[0] == 5 for t in _tensors(out)), key
        loss, grads = mod.loss_and_grad_unchecked(params, *data)
        assert loss.device.type == "meta" and loss.dim() == 0, key
        assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in params.items() if k in grads}, key
        assert all(g.device.type == "meta" for g in grads.values()), key
        for name in ("loss", "inference_loss"):
            assert getattr(mod, f"{name}_unchecked")(params, *data).device.type == "meta", (key, name)
        if key.startswith("net_"):
            assert all(t.device.type == "meta" for t in mod.trace_unchecked(params, data[0]).values()), key
        step = mod.train_step_unchecked(params, *data, *_step_arguments(mod, params, "meta"))
        assert all(t.device.type == "meta" for t in [*_tensors(step), *params.values()]), key


def _cpu_arguments(mod, key: str, seed: int, rows: int) -> tuple[dict, list]:
    rng = np.random.default_rng(seed)
    params = mod.init_params(seed)
    widths = [mod._N_IN, mod._N_OUT] if key.startswith("net_") else [w for _, w in (*mod._INPUTS, *mod._TARGETS)]
    data = [torch.from_numpy(rng.uniform(0.1, 0.9, (rows, w))) for w in widths]
    if "softmax_ce" in key:
        data[-1] /= data[-1].sum(dim=1, keepdim=True)
    return params, data


def _same(a, b) -> bool:
    ta, tb = _tensors(a), _tensors(b)
    return len(ta) == len(tb) and all(x.dtype == y.dtype and x.device == y.device and torch.equal(x, y) for x, y in zip(ta, tb))


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**16), rows=st.integers(2, 7))
def test_unchecked_equals_checked_bit_for_bit_on_the_cpu(modules, seed, rows):
    for key, mod in modules.items():
        _compare_checked_and_unchecked(mod, key, seed, rows)


def _compare_checked_and_unchecked(mod, key: str, seed: int, rows: int) -> None:
    params, data = _cpu_arguments(mod, key, seed, rows)
    assert _same(params, mod.init_params(seed, device="cpu"))  # device=None is the CPU: today's numbers
    kw = {"seed": seed} if "seed" in inspect.signature(mod.loss_and_grad).parameters else {}
    entries = ENTRIES if key.startswith("net_") else GRAPH_ENTRIES
    for name in entries[:-1]:
        args = data[:1 if key.startswith("net_") else len(mod._INPUTS)] if name in ("forward", "trace") else data
        extra = kw if name not in ("forward", "inference_loss") else {}
        assert _same(getattr(mod, name)(params, *args, **extra), getattr(mod, f"{name}_unchecked")(params, *args, **extra)), (key, name)
    checked, unchecked = copy.deepcopy(params), copy.deepcopy(params)
    hyper = _step_arguments(mod, checked, "cpu")
    results = []
    for step, p in ((mod.train_step, checked), (mod.train_step_unchecked, unchecked)):
        args = [mod.init_state(p), *(float(h) for h in hyper[1:])] if hasattr(mod, "init_state") else [float(hyper[0])]
        results.append((step(p, *data, *args, **kw), step(p, *data, *args, **kw), args))
    assert _same(results[0], results[1]) and _same(checked, unchecked), key


@pytest.mark.parametrize("seed", [0, 7, 2**40])
def test_cpu_draws_are_the_default_generators_as_before(modules, seed):
    """On the CPU, init_params and the masks draw from torch.Generator().manual_seed(seed), as before devices: same numbers."""
    mod = modules["net_bn_dropout"]
    params = mod.init_params(seed)
    generator = torch.Generator().manual_seed(seed)
    for name in ("W1", "W2", "W3"):
        n_out, n_in = params[name].shape
        limit = np.sqrt(6.0 / (n_in + n_out))
        want = torch.rand((n_out, n_in), generator=generator, dtype=torch.float64) * (2 * limit) - limit
        torch.testing.assert_close(params[name], want, rtol=1e-15, atol=1e-15)
    generator = torch.Generator().manual_seed(seed)
    for mask in mod._masks(seed, 5):  # kept where u < 1 − p, p = 0.25
        want = (torch.rand(mask.shape, generator=generator, dtype=torch.float64) < 0.75).to(mask.dtype)
        assert torch.equal(mask, want)


def test_a_tensor_learning_rate_steps_as_its_float(modules):
    mod = modules["net_act_tanh"]
    params, (X, Y) = _cpu_arguments(mod, "net_act_tanh", 0, 4)
    as_float, as_tensor = copy.deepcopy(params), copy.deepcopy(params)
    mod.train_step_unchecked(as_float, X, Y, 0.125)
    mod.train_step_unchecked(as_tensor, X, Y, torch.tensor(0.125, dtype=torch.float64))
    assert _same(as_float, as_tensor)


def test_the_checked_entry_points_still_check(modules):
    mod = modules["net_act_tanh"]
    params, (X, Y) = _cpu_arguments(mod, "net_act_tanh", 0, 4)
    with pytest.raises(ValueError, match="NaN or infinity"):
        mod.loss_and_grad(params, torch.full_like(X, float("nan")), Y)
    with pytest.raises(ValueError, match="lr"):
        mod.train_step(params, X, Y, -1.0)
    with pytest.raises(ValueError, match="seed"):
        modules["net_bn_dropout"].init_params(-1)
    with pytest.raises(ValueError, match="several devices"):  # params on one device, X on another
        mod.loss_and_grad(mod.init_params(0, device="meta"), X, Y)
    graph = modules["graph_two_inputs"]
    _, data = _cpu_arguments(graph, "graph_two_inputs", 0, 3)
    with pytest.raises(ValueError, match="several devices"):
        graph.loss(graph.init_params(0, device="meta"), *data)


def test_init_params_refuses_a_bad_or_unavailable_device_in_one_value_error_line(modules):
    """A device name torch cannot parse, or one this PyTorch has no generator on: one ValueError line, not torch's
    RuntimeError (whose text for a missing CUDA runs to several sentences)."""
    unavailable = next(d for d in ("cuda", "mps", "xpu") if not getattr(torch, d).is_available())
    for key in ("net_act_tanh", "net_opt_adam", "graph_two_inputs"):
        init = modules[key].init_params
        for device, words in (("nope", "expected None (the CPU), a torch.device or a device name"), (2.5, "got 2.5"),
                              (unavailable, f"device: '{unavailable}' is not available to this PyTorch")):
            with pytest.raises(ValueError, match=re.escape(words)) as caught:
                init(0, device=device)
            assert "\n" not in str(caught.value), key
        assert init(0, device="meta")["W1"].device.type == "meta"


def test_a_cuda_build_without_a_driver_is_one_line_too(modules, monkeypatch):
    """PyTorch's CUDA wheel on a machine without a driver raises three lines from torch.Generator (2.14.1+cu130's
    text, below): the ValueError keeps the first sentence of the first line."""
    said = ("CUDA error: CUDA driver version is insufficient for CUDA runtime version\nSearch for "
            "`cudaErrorInsufficientDriver' in https://docs.nvidia.com/cuda/cuda-runtime-api/group__CUDART__TYPES.html for "
            "more information.\nDevice-side assertions were explicitly omitted for this error check; the error probably "
            "arose while initializing the DSA handlers.")

    def generator(device=None):
        raise RuntimeError(said)

    monkeypatch.setattr(torch, "Generator", generator)
    for key in ("net_act_tanh", "graph_two_inputs"):
        with pytest.raises(ValueError) as caught:
            modules[key].init_params(0, device="cuda")
        assert str(caught.value) == ("device: 'cuda' is not available to this PyTorch (CUDA error: CUDA driver version "
                                     "is insufficient for CUDA runtime version)"), key


def test_the_checked_entry_points_read_nothing_back_from_a_device_unless_in_anomaly_mode(modules):
    """A meta tensor has no values: a checked call that ran on meta read nothing back; in anomaly mode it must try."""
    for key, mod in modules.items():
        params, data = _meta_arguments(mod, key)
        loss, grads = mod.loss_and_grad(params, *data)
        assert loss.device.type == "meta" and all(g.device.type == "meta" for g in grads.values()), key
        with torch.autograd.set_detect_anomaly(True), pytest.raises((RuntimeError, NotImplementedError)):
            mod.loss_and_grad(params, *data)  # the finiteness test reads the meta tensor back: refused by PyTorch


def test_masks_follow_the_device_and_meta_draws_only_shapes(modules):
    mod = modules["net_bn_dropout"]
    (cpu,) = mod._masks(5, 6, torch.device("cpu"))[:1]
    assert torch.equal(cpu, mod._masks(5, 6)[0])  # no device: the CPU, as before
    (meta,) = mod._masks(5, 6, torch.device("meta"))[:1]
    assert meta.device.type == "meta" and meta.shape == cpu.shape
    graph = modules["graph_shared_noise_dropout"]
    assert all(m.device.type == "cpu" for m in graph.masks(1, 3).values())


@pytest.mark.parametrize("key", ["net_act_tanh", "graph_two_inputs_rmsprop", "graph_formula"])
def test_unchecked_step_compiles_without_graph_breaks(modules, key, monkeypatch):
    mod = modules[key]
    monkeypatch.setitem(sys.modules, mod.__name__, mod)  # Dynamo looks the module's globals up by its name
    params, data = _cpu_arguments(mod, key, 1, 6)
    torch._dynamo.reset()
    grad = torch.compile(mod.loss_and_grad_unchecked, fullgraph=True, backend="aot_eager")
    assert _same(grad(params, *data), mod.loss_and_grad_unchecked(params, *data))
    step = torch.compile(mod.train_step_unchecked, fullgraph=True, backend="aot_eager")
    compiled, eager = copy.deepcopy(params), copy.deepcopy(params)
    hyper = [mod.init_state(compiled)] if hasattr(mod, "init_state") else [torch.tensor(0.05, dtype=torch.float64)]
    eager_hyper = [mod.init_state(eager)] if hasattr(mod, "init_state") else hyper
    for _ in range(2):
        got, want = step(compiled, *data, *hyper), mod.train_step_unchecked(eager, *data, *eager_hyper)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    for name in params:
        torch.testing.assert_close(compiled[name], eager[name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("device", [
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")),
    "cpu",  # the same steps with the CPU as the device: what runs on a machine without a GPU, so CI runs it
])
def test_every_module_runs_on_cuda_with_the_cpus_numbers(modules, monkeypatch, device):
    target = torch.device(device)
    for key, mod in modules.items():
        params, data = _cpu_arguments(mod, key, 2, 6)
        if hasattr(mod, "_masks"):  # the CPU's masks on both (a CUDA generator draws other numbers)
            cpu_masks = mod._masks(0, 6)
            monkeypatch.setattr(mod, "_masks", lambda seed, m, device=None, masks=cpu_masks: [t.to(device) for t in masks])
        on_gpu = {k: v.to(target) for k, v in params.items()}
        gpu_data = [d.to(target) for d in data]
        assert all(t.device.type == target.type for t in mod.init_params(0, device=target).values())
        for suffix in ("", "_unchecked"):
            loss, grads = getattr(mod, f"loss_and_grad{suffix}")(on_gpu, *gpu_data)
            want_loss, want = mod.loss_and_grad(params, *data)
            assert loss.device.type == target.type, key
            torch.testing.assert_close(loss.cpu(), want_loss, rtol=1e-9, atol=1e-12)
            for name, g in grads.items():
                torch.testing.assert_close(g.cpu(), want[name], rtol=1e-9, atol=1e-12)
        gpu_params, cpu_params = copy.deepcopy(on_gpu), copy.deepcopy(params)
        args_gpu = _step_arguments(mod, gpu_params, target)
        args_cpu = _step_arguments(mod, cpu_params, "cpu")
        mod.train_step_unchecked(gpu_params, *gpu_data, *args_gpu)
        mod.train_step_unchecked(cpu_params, *data, *args_cpu)
        for name in params:
            torch.testing.assert_close(gpu_params[name].cpu(), cpu_params[name], rtol=1e-9, atol=1e-12)


def _float32_optimizer_module(kind: str, folder):
    if kind.startswith("graph_"):
        return load_module(graph_module_source(_two_inputs(), "torch", "float32", optimizer=kind[len("graph_"):]), folder, f"count_{kind}")
    optimizer = symdl.optim.adam(lr=symdl.optim.cosine(0.01, 10)) if kind == "adam_cosine" else kind  # torch.cos of the count
    net = symdl.Network([3, 4, 2], activation="tanh", loss="log_cosh", optimizer=optimizer)
    return load_module(network_module_source(net, "torch", "float32"), folder, f"count_{kind}")


@pytest.mark.parametrize("kind", [*symdl.optim.optimizer_names(), "adam_cosine", "graph_adam"])
def test_a_device_step_count_advances_in_place_and_compiles_once(tmp_path, kind, monkeypatch):
    """state['t'] (and Nadam's μ-product) given as 0-d tensors: train_step_unchecked advances them in place — the
    writes a captured CUDA graph replays — and compiles to one frame whatever their values; the numbers are the Python
    count's to float32 rounding (the step's scalars are then computed by torch in float32)."""
    import torch._dynamo.testing

    mod = _float32_optimizer_module(kind, tmp_path)
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    params = mod.init_params(0)
    state = mod.init_state(params)
    counters, scalars, _ = mod._STATE
    as_tensors = {k: torch.tensor(v, dtype=torch.int64 if k in counters else torch.float32) if k in (*counters, *scalars)
                  else v.clone() for k, v in state.items()}
    held = {k: as_tensors[k] for k in (*counters, *scalars)}
    rng = np.random.default_rng(1)
    widths = (2, 2, 1, 1) if kind.startswith("graph_") else (3, 2)  # inputs, then targets
    data = [torch.tensor(rng.uniform(-1, 1, (6, n)), dtype=torch.float32) for n in widths]
    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
    torch._dynamo.reset()
    step = torch.compile(mod.train_step_unchecked, fullgraph=True, backend=counter)
    mine = copy.deepcopy(params)
    for _ in range(3):
        want = mod.train_step(params, *data, state)
        torch.testing.assert_close(step(mine, *data, as_tensors), want, rtol=1e-5, atol=1e-6)
    assert counter.frame_count == 1
    assert all(as_tensors[k] is held[k] for k in held) and int(as_tensors["t"]) == state["t"] == 3
    for name in params:
        torch.testing.assert_close(mine[name], params[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("schedule", ["step", "cosine", "exponential"])
def test_a_python_step_count_compiles_once_as_a_dynamic_integer(tmp_path, schedule, monkeypatch):
    """state['t'] a Python int: the compiled unchecked step specialises on it once, then traces it as a dynamic integer
    (two frames in all) and gives the eager step's numbers (the step schedule's remainder included: Dynamo's ``%`` of
    a dynamic number does not compile)."""
    import torch._dynamo.testing

    lr = {"step": symdl.optim.step(0.01, 3, 0.5), "cosine": symdl.optim.cosine(0.01, 10), "exponential": symdl.optim.exponential(0.01, 0.9)}
    net = symdl.Network([3, 4, 2], activation="tanh", loss="log_cosh", optimizer=symdl.optim.adam(lr=lr[schedule]))
    mod = load_module(network_module_source(net, "torch", "float64"), tmp_path, f"python_count_{schedule}")
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    params = mod.init_params(0)
    state = mod.init_state(params)
    rng = np.random.default_rng(3)
    data = [torch.tensor(rng.uniform(-1, 1, (6, n))) for n in (3, 2)]
    eager_params, eager_state = copy.deepcopy(params), copy.deepcopy(state)
    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
    torch._dynamo.reset()
    step = torch.compile(mod.train_step_unchecked, fullgraph=True, backend=counter)
    for _ in range(7):
        torch.testing.assert_close(step(params, *data, state), mod.train_step(eager_params, *data, eager_state))
    assert counter.frame_count == 2 and state["t"] == 7
    torch.testing.assert_close(params, eager_params)


@pytest.mark.parametrize("kind", ["net", "graph"])
def test_a_compiled_float64_step_advances_a_cpu_mu_product_in_place(tmp_path, kind, monkeypatch):
    """A float64 module's Nadam μ-product given as a 0-d CPU tensor: the compiled unchecked step writes its new value
    into that tensor as the eager step does (AOTAutograd drops a plain ``copy_`` into a 0-d float64 CPU input)."""
    optimizer = symdl.optim.nadam(lr=0.01)
    if kind == "graph":
        text = graph_module_source(_two_inputs(), "torch", "float64", optimizer=optimizer)
    else:
        text = network_module_source(symdl.Network([3, 4, 2], activation="tanh", loss="log_cosh", optimizer=optimizer), "torch", "float64")
    mod = load_module(text, tmp_path, f"mu_product_{kind}")
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    params = mod.init_params(0)
    state = mod.init_state(params)
    state["t"], state["mu_product"] = torch.tensor(state["t"]), torch.tensor(state["mu_product"], dtype=torch.float64)
    rng = np.random.default_rng(2)
    widths = (2, 2, 1, 1) if kind == "graph" else (3, 2)
    data = [torch.tensor(rng.uniform(-1, 1, (6, n))) for n in widths]
    eager_params, eager_state = copy.deepcopy(params), copy.deepcopy(state)
    torch._dynamo.reset()
    step = torch.compile(mod.train_step_unchecked, fullgraph=True, backend="aot_eager")
    held = state["mu_product"]
    for _ in range(3):
        torch.testing.assert_close(step(params, *data, state), mod.train_step(eager_params, *data, eager_state))
    assert state["mu_product"] is held and int(state["t"]) == 3
    assert float(held) < 0.1  # μ₁μ₂μ₃ ≈ 0.45³, not the initial 1
    torch.testing.assert_close(state, eager_state)
    torch.testing.assert_close(params, eager_params)


@pytest.mark.parametrize("key", ["net_opt_adam", "graph_shared_adam", "graph_two_inputs_rmsprop"])
def test_a_state_tensor_on_another_device_is_one_line_and_changes_nothing(modules, key):
    """A slot of the optimizer state on meta while params and data are on the CPU: refused before any write (PyTorch's
    cross-device error would come mid-step, with some tensors updated)."""
    mod = modules[key]
    params, data = _cpu_arguments(mod, key, 3, 5)
    state, *extra = _step_arguments(mod, params, "cpu")
    slot = next(k for k, v in state.items() if isinstance(v, torch.Tensor))
    state[slot] = state[slot].to("meta")
    before = copy.deepcopy(params)
    seeded = {"seed": 1} if "seed" in inspect.signature(mod.train_step).parameters else {}
    with pytest.raises(ValueError, match=rf"state\['{slot}'\] is on meta, params and the data on cpu") as error:
        mod.train_step(params, *data, state, *extra, **seeded)
    assert "\n" not in str(error.value)
    assert _same(params, before)
