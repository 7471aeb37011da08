"""symdl.export.standalone: generated numpy modules import without sympy/symdl, give the compiled numbers, are deterministic and ruff-clean."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from generated_modules import assert_ruff_clean, imported_packages

import symdl
from symdl.export.standalone import network_module, rule_module
from symdl.rulebook.rule import Rule
from symdl.rulebook.vector_rule import VectorRule
from symdl.verify.codegen import SYMPY_FREE_PRELUDE

# Run in a subprocess where sympy and symdl cannot be imported: loads each generated module and
# evaluates it on the arguments saved by the test, writing the results next to them.
_RUNNER = SYMPY_FREE_PRELUDE + textwrap.dedent(
    """
    import importlib, json, numpy as np
    folder = sys.argv[1]
    jobs = json.load(open(folder + "/jobs.json"))
    arrays = dict(np.load(folder + "/inputs.npz"))
    out = {}
    for job in jobs:
        mod = importlib.import_module(job["module"])
        assert "sympy" not in sys.modules or sys.modules["sympy"] is None
        if job["kind"] == "rule":
            args = [arrays[key] for key in job["args"]]
            for function, extra in job["calls"]:
                out[job["module"] + "." + function] = getattr(mod, function)(*args, *[arrays[k] for k in extra])
            continue
        X, Y, seed = arrays[job["X"]], arrays[job["Y"]], job["seed"]
        kw = {"seed": seed} if seed is not None else {}
        prefix = job["module"] + "."
        params = mod.init_params(3)
        out.update({prefix + "init." + k: v.copy() for k, v in params.items()})
        out[prefix + "forward"] = mod.forward(params, X)
        out[prefix + "loss"] = np.asarray(mod.loss(params, X, Y, **kw))
        loss, grads = mod.loss_and_grad(params, X, Y, **kw)
        out[prefix + "loss_and_grad"] = np.asarray(loss)
        out.update({prefix + "grad." + k: v for k, v in grads.items()})
        out.update({prefix + "trace." + k: v for k, v in mod.trace(params, X, **kw).items()})
        out[prefix + "train_step"] = np.asarray(mod.train_step(params, X, Y, 0.05, **kw))
        out.update({prefix + "after." + k: v for k, v in params.items()})
    np.savez(folder + "/outputs.npz", **out)
    """
)

NETWORKS = {
    "net_tanh_huber_l2": (dict(layers=[3, 5, 2], activation="tanh", loss="huber", loss_params={"delta": 0.5}, penalty="l2"), "float64"),
    "net_relu_softmax_l1": (
        dict(layers=[4, 6, 3], activation="relu", output_activation="softmax", loss="softmax_cross_entropy", penalty="l1"),
        "float32",
    ),
    "net_prelu_bn_dropout": (
        dict(layers=[3, 4, 4, 2], activation="prelu", output_activation="softmax", loss="softmax_cross_entropy",
             penalty="l1", batchnorm=True, dropout=0.2),
        "float64",
    ),
    "net_sigmoid_bn": (dict(layers=[3, 4, 2], activation="sigmoid", loss="mse", batchnorm=True), "float32"),
    "net_elu_dropout": (dict(layers=[2, 5, 3, 1], activation="elu", loss="log_cosh", dropout=0.5), "float64"),
}  # fmt: skip


def _rule_args(r: Rule | VectorRule, rng: np.random.Generator) -> tuple[list[np.ndarray], list[tuple[str, list[np.ndarray]]]]:
    """Arguments for the rule's kernels (values in (0.15, 0.85): inside every rule's domain) and the calls to make."""
    if isinstance(r, Rule):
        args = [rng.uniform(0.15, 0.85, size=5) for _ in r.inputs]
        calls = [(r.numeric(), [])] + [(r.numeric_derivative(s), []) for s in r.inputs]
        return args, [(k.name, k, extra) for k, extra in calls]
    d = r.definition
    sizes = dict(d.check_sizes)
    args = [rng.uniform(0.15, 0.85, size=(2, *(sizes[s] for s in inp.sizes))) for inp in d.inputs]
    if d.output:
        cotangent = [rng.uniform(-1, 1, size=(2, *(sizes[s] for s in d.output_sizes)))]
    else:
        cotangent = [rng.uniform(-1, 1, size=2)] if r.kind == "activation" else []
    calls = [(r.numeric(), [])] + [(r.numeric_derivative(b), cotangent) for b in r.inputs]
    return args, [(k.name, k, extra) for k, extra in calls]


def _rules() -> dict[str, Rule | VectorRule]:
    found: dict[str, Rule | VectorRule] = {name: symdl.rule(name) for name in symdl.rules()}
    found["formula_softplus"] = symdl.formula_rule("k*log(1 + exp(z))", params={"k": 2})
    found["formula_loss"] = symdl.formula_rule("(a - y)**2 + max(a - y, 0)", wrt="a", symbols=["y"])
    return found


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every rule (defaults) + two formulas + the networks, generated, run in a sympy-free subprocess; and the references."""
    import json

    folder = tmp_path_factory.mktemp("standalone")
    rng = np.random.default_rng(0)
    inputs: dict[str, np.ndarray] = {}
    jobs, expected, sources = [], {}, {}
    for label, r in _rules().items():
        module = f"rule_{label}"
        sources[module] = rule_module(r)
        args, calls = _rule_args(r, rng)
        keys = []
        for k, arg in enumerate(args):
            inputs[f"{module}.arg{k}"] = arg
            keys.append(f"{module}.arg{k}")
        job_calls = []
        for name, kernel, extra in calls:
            extra_keys = []
            for k, arg in enumerate(extra):
                inputs[f"{module}.{name}.extra{k}"] = arg
                extra_keys.append(f"{module}.{name}.extra{k}")
            job_calls.append((name, extra_keys))
            expected[f"{module}.{name}"] = kernel(*args, *extra)
        jobs.append({"module": module, "kind": "rule", "args": keys, "calls": job_calls})
    for module, (spec, dtype) in NETWORKS.items():
        network = symdl.Network(**spec)
        sources[module] = network_module(network, dtype)
        widths = spec["layers"]
        X = rng.normal(size=(6, widths[0])).astype(dtype)
        Y = rng.uniform(0.1, 1.0, size=(6, widths[-1])).astype(dtype)
        Y /= Y.sum(axis=1, keepdims=True)
        inputs[f"{module}.X"], inputs[f"{module}.Y"] = X, Y
        seed = 7 if spec.get("dropout") else None
        jobs.append({"module": module, "kind": "network", "X": f"{module}.X", "Y": f"{module}.Y", "seed": seed})
        expected.update(_network_reference(network.compile(dtype), module, X, Y, seed))
    for module, text in sources.items():
        (folder / f"{module}.py").write_text(text, encoding="utf-8")
    (folder / "jobs.json").write_text(json.dumps(jobs))
    np.savez(folder / "inputs.npz", **inputs)
    done = subprocess.run([sys.executable, "-I", "-c", _RUNNER, str(folder)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = dict(np.load(folder / "outputs.npz"))
    return {"folder": folder, "sources": sources, "expected": expected, "outputs": outputs}


def _network_reference(net, module: str, X: np.ndarray, Y: np.ndarray, seed: int | None) -> dict[str, np.ndarray]:
    kw = {"seed": seed} if seed is not None else {}
    prefix = module + "."
    params = net.init(3)
    out = {prefix + "init." + k: v.copy() for k, v in params.items()}
    out[prefix + "forward"] = net.forward(params, X)
    out[prefix + "loss"] = np.asarray(net.loss(params, X, Y, **kw))
    loss, grads = net.loss_and_grad(params, X, Y, **kw)
    out[prefix + "loss_and_grad"] = np.asarray(loss)
    out.update({prefix + "grad." + k: v for k, v in grads.items()})
    out.update({prefix + "trace." + k: v for k, v in net.trace(params, X, **kw).items()})
    out[prefix + "train_step"] = np.asarray(net.train_step(params, X, Y, 0.05, **kw))
    out.update({prefix + "after." + k: v for k, v in params.items()})
    return out


def test_generated_modules_import_without_sympy_and_give_the_compiled_numbers(generated):
    expected, outputs = generated["expected"], generated["outputs"]
    assert sorted(outputs) == sorted(expected)
    for key, want in expected.items():
        got = outputs[key]
        want = np.asarray(want)
        assert got.dtype == want.dtype, key
        assert got.shape == want.shape, key
        # The same printed code runs on the same arrays: the numbers are identical.
        np.testing.assert_array_equal(got, want, err_msg=key)


def test_every_rule_and_the_networks_were_covered(generated):
    modules = {key.split(".")[0] for key in generated["outputs"]}
    assert {f"rule_{name}" for name in symdl.rules()} <= modules
    assert set(NETWORKS) <= modules
    # batch norm running statistics changed by train_step, and match (checked above)
    after = generated["outputs"]["net_prelu_bn_dropout.after.running_var1"]
    assert not np.array_equal(after, np.ones_like(after))


def test_generated_modules_import_only_numpy_and_the_standard_library(generated):
    import ast

    for module, text in generated["sources"].items():
        tree = ast.parse(text)
        imported = imported_packages(tree)
        # functools, sys and time: the network module's fit (the loss mean's constants, the status bar)
        assert imported <= {"numpy", "numbers", "collections", "functools", "sys", "time"}, (module, imported)
        assert ast.get_docstring(tree).startswith("numpy code for"), module
        assert "Formulas (LaTeX)" in text or "Equations (LaTeX)" in text


def test_generated_modules_pass_ruff(generated):
    assert_ruff_clean(generated["folder"])


def test_graph_modules_and_modules_with_an_optimizer_pass_ruff(tmp_path):
    """Graph modules (JAX, torch, numpy) with and without an optimizer, network modules with one: no helper that
    reads an undefined name (JAX's _check_state read _STATE without an optimizer), no unused import, no lint."""
    from symdl.export import graph_module_source
    from symdl.export.network_modules import network_module_source
    from symdl.graph import Dense, Input, Model

    x = Input(3)
    model = Model(x, Dense(2)(Dense(4, activation="tanh")(x)), losses="mse")
    for backend in ("numpy", "jax", "torch"):
        for optimizer in (None, "adam"):
            (tmp_path / f"graph_{backend}_{optimizer}.py").write_text(graph_module_source(model, backend, "float64", optimizer))
    net = symdl.Network([3, 4, 2], activation="tanh", loss="mse", optimizer="classic_momentum", dropout=0.2)
    (tmp_path / "net_numpy_momentum.py").write_text(network_module(net, "float32"))
    for backend in ("jax", "torch"):
        (tmp_path / f"net_{backend}_momentum.py").write_text(network_module_source(net, backend, "float32"))
    assert_ruff_clean(tmp_path)


_GENERATE = textwrap.dedent(
    """
    import sys, symdl
    from symdl.export.standalone import network_module, rule_module
    net = symdl.Network([3, 4, 4, 2], activation="prelu", output_activation="softmax", loss="softmax_cross_entropy",
                        penalty="l1", batchnorm=True, dropout=0.2)
    parts = [network_module(net, "float32"), rule_module(symdl.rule("huber")), rule_module(symdl.rule("rbf")),
             rule_module(symdl.formula_rule("(a - y)**2 + max(a - y, 0)", wrt="a", symbols=["y"]))]
    sys.stdout.write("\\n#----\\n".join(parts))
    """
)


def test_output_is_byte_identical_across_hash_seeds():
    texts = []
    for seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _GENERATE], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        texts.append(done.stdout)
    assert texts[0] == texts[1]
    assert "from SymPy expressions" in texts[0]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bad_arguments_give_the_compiled_networks_errors(generated):
    spec, dtype = NETWORKS["net_prelu_bn_dropout"]
    module = _load(generated["folder"] / "net_prelu_bn_dropout.py", "net_prelu_bn_dropout_errors")
    net = symdl.Network(**spec).compile(dtype)
    params = net.init(0)
    X, Y = np.ones((4, 3)), np.full((4, 2), 0.5)
    bad_calls = [
        lambda m: m.forward({**params, "W1": params["W1"].astype(np.float32)}, X),
        lambda m: m.forward({k: v for k, v in params.items() if k != "b3"}, X),
        lambda m: m.forward([], X),
        lambda m: m.forward(params, np.ones((4, 5))),
        lambda m: m.loss(params, X, np.ones((3, 2))),
        lambda m: m.train_step(params, X, Y, -1.0),
        lambda m: m.train_step(params, X[:1], Y[:1], 0.1),
        lambda m: m.loss(params, X, Y, seed=-1),
    ]
    for call in bad_calls:
        with pytest.raises(ValueError) as compiled_error:
            call(net)
        with pytest.raises(ValueError) as standalone_error:
            call(module)
        assert str(standalone_error.value) == str(compiled_error.value)
    with pytest.raises(ValueError) as compiled_error:
        net.init(-1)
    with pytest.raises(ValueError) as standalone_error:
        module.init_params(-1)
    assert str(standalone_error.value) == str(compiled_error.value)


def test_rule_module_by_one_input_and_bad_input():
    text = rule_module(symdl.rule("huber"), wrt="a")
    assert "def huber_d_a(" in text and "def huber_d_y(" not in text
    assert "def softmax_vjp_z(" in rule_module(symdl.rule("softmax"))
    with pytest.raises(ValueError, match="has no input"):
        rule_module(symdl.rule("huber"), wrt="q")
    with pytest.raises(ValueError, match="symbolic parameters"):
        rule_module(symdl.formula_rule("k*z", params={"k": None}))
    with pytest.raises(TypeError):
        rule_module("huber")
    with pytest.raises(TypeError):
        network_module("not a network")
    with pytest.raises(ValueError, match="dtype"):
        network_module(symdl.Network([2, 2]), "float16")


def test_init_params_takes_numpys_seeds_as_the_compiled_network_does(tmp_path):
    """int, Generator (advanced by the draw) and SeedSequence: the same numbers as CompiledNetwork.init."""
    net = symdl.Network([3, 4, 2])
    path = tmp_path / "seeded.py"
    path.write_text(network_module(net, "float64"), encoding="utf-8")
    module = _load(path, "seeded")
    compiled = net.compile("float64")
    pairs = [(7, 7), (np.random.SeedSequence(3), np.random.SeedSequence(3)),
             (np.random.default_rng(5), np.random.default_rng(5))]
    for mine, theirs in pairs:
        got, expected = module.init_params(mine), compiled.init(theirs)
        assert all(np.array_equal(got[k], expected[k]) for k in expected)
    rng = np.random.default_rng(9)
    first, second = module.init_params(rng), module.init_params(rng)
    assert not np.array_equal(first["W1"], second["W1"])  # a Generator is advanced, not reseeded


@pytest.mark.parametrize("value", [10**400, -(10**400), float("nan"), float("inf"), True, "1.0"],
                         ids=["1e400", "-1e400", "nan", "inf", "True", "str"])
def test_a_state_scalar_beyond_float_or_not_finite_is_one_line_in_the_module_as_in_the_library(tmp_path, value):
    """Nadam's mu_product of 10**400: float() raised Python's OverflowError in the check; now one ValueError line, cut to
    60 characters of the value, the module's words the compiled network's."""
    network = symdl.Network([3, 4, 2], optimizer="nadam")
    net = network.compile()
    (tmp_path / "nadam_state.py").write_text(network_module(network))
    module = _load(tmp_path / "nadam_state.py", f"nadam_state_{abs(hash(repr(value)))}")
    X, Y = np.ones((4, 3)), np.full((4, 2), 0.5)
    messages = []
    for target in (net, module):
        params = target.init(0) if target is net else target.init_params(0)
        state = target.init_state(params)
        assert "mu_product" in state
        state["mu_product"] = value
        with pytest.raises(ValueError) as caught:
            target.train_step(params, X, Y, state)
        messages.append(str(caught.value))
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    assert messages[0] == messages[1] == f"state['mu_product']: expected a finite real number, got {shown}"
