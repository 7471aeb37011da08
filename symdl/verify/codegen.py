"""Verification rows for generated code: standalone modules and the JAX/PyTorch exports.

* Every element-wise rule's standalone module (:func:`symdl.export.standalone.rule_module`)
  is imported in a fresh interpreter where ``sympy`` and ``symdl`` cannot be
  imported, and must give bit for bit the numbers of the in-process kernels.
* Where PyTorch and JAX are installed, every element-wise rule's export passes
  ``torch.autograd.gradcheck`` and ``jax.test_util.check_grads`` at seeded
  points away from its kinks, and the networks of :data:`BACKEND_NETWORKS`
  generated as JAX and PyTorch modules
  (:func:`symdl.export.network_module_source`) give the compiled network's
  loss and gradients.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..backends import backend_names, get_backend
from ..rulebook.registry import rule, rules
from ..rulebook.rule import Rule
from .rules import RuleReport

__all__ = ["BACKEND_NETWORKS", "SYMPY_FREE_PRELUDE", "codegen_parts", "verify_codegen", "verify_codegen_part"]

#: The start of a script run where generated code must stand alone: sympy and symdl cannot be imported
#: (checked), and the folder given as the first argument is on the path.
SYMPY_FREE_PRELUDE = """
import sys
sys.modules["sympy"] = None
sys.modules["symdl"] = None
import importlib
for blocked in ("sympy", "symdl"):
    try:
        importlib.import_module(blocked)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{blocked} is importable")
sys.path.insert(0, sys.argv[1])
"""

#: Networks whose JAX/PyTorch modules are checked against ``Network.compile()``: (spec, dtype per backend).
BACKEND_NETWORKS: tuple[dict, ...] = (
    {"layers": [3, 5, 2], "activation": "tanh", "loss": "huber", "penalty": "l2"},
    {"layers": [4, 6, 3], "activation": "relu", "output_activation": "softmax", "loss": "softmax_cross_entropy", "penalty": "l1"},
    {"layers": [3, 4, 4, 2], "activation": "prelu", "output_activation": "sigmoid", "loss": "binary_cross_entropy"},
)

# Loads each module with sympy and symdl made unimportable, evaluates it on the saved inputs, saves the results.
_RUNNER = SYMPY_FREE_PRELUDE + """
import importlib.util, json, pathlib
import numpy
folder = pathlib.Path(sys.argv[1])
for job in json.loads((folder / "jobs.json").read_text()):
    spec = importlib.util.spec_from_file_location(job["module"], folder / (job["module"] + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = [numpy.load(folder / name) for name in job["inputs"]]
    for function in job["functions"]:
        numpy.save(folder / (job["module"] + "." + function + ".out.npy"), getattr(module, function)(*args))
"""


def _elementwise() -> list[Rule]:
    return [r for r in (rule(name) for name in rules()) if r.element_wise]


def _points(r: Rule, rng: np.random.Generator, count: int = 64) -> list[np.ndarray]:
    """Seeded points in [−5, 5] for every input, at least 1e-3 from each kink of the first."""
    values = [rng.uniform(-5, 5, count) for _ in r.inputs]
    for kink in r.kinks:
        at = kink.at.subs(dict(zip(r.inputs[1:], [0.0] * (len(r.inputs) - 1))))
        if at.is_number:
            close = np.abs(values[0] - float(at)) < 1e-3
            values[0][close] += 0.01
    if r.kind == "loss":
        values[1] = np.zeros(count)  # kinks of a loss sit at a = y (± δ): with y = 0 they are the shifted ones
    return values


def _standalone_row(rng: np.random.Generator) -> RuleReport:
    from ..export.standalone import rule_module

    report = RuleReport("codegen: numpy modules without sympy", kind="proof")
    expected: dict[str, np.ndarray] = {}
    jobs = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for r in _elementwise():
            module = f"mod_{r.name}"
            (folder / f"{module}.py").write_text(rule_module(r))
            values = _points(r, rng)
            names = []
            for i, v in enumerate(values):
                names.append(f"{module}.in{i}.npy")
                np.save(folder / names[-1], v)
            functions = {r.kernel_name: r.numeric(), **{f"{r.kernel_name}_d_{s.name}": r.numeric_derivative(s) for s in r.inputs}}
            for function, kernel in functions.items():
                expected[f"{module}.{function}"] = np.asarray(kernel(*values))
            jobs.append({"module": module, "inputs": names, "functions": list(functions)})
        (folder / "jobs.json").write_text(__import__("json").dumps(jobs))
        done = subprocess.run([sys.executable, "-I", "-c", _RUNNER, str(folder)], capture_output=True, text=True, timeout=600)
        for key, value in expected.items():
            path = folder / f"{key}.out.npy"
            ok = done.returncode == 0 and path.exists() and np.array_equal(np.load(path), value, equal_nan=True)
            report.proofs[f"{key} (no sympy) equals the kernel"] = bool(ok)
    return report


def _torch_export_row(rng: np.random.Generator) -> RuleReport:
    import torch

    from ..export.custom_gradient import to_torch

    report = RuleReport("export: torch gradcheck", kind="proof")
    for r in _elementwise():
        points = [torch.tensor(v[:8], dtype=torch.float64, requires_grad=True) for v in _points(r, rng)]
        function = to_torch(r)
        report.proofs[r.name] = bool(torch.autograd.gradcheck(lambda *x, f=function: f.apply(*x), points, raise_exception=False))
    return report


def _jax_export_row(rng: np.random.Generator) -> RuleReport:
    import jax
    from jax.test_util import check_grads

    from ..export.custom_gradient import to_jax

    report = RuleReport("export: jax check_grads", kind="proof")
    # Op by op: XLA compiles each primitive once for every rule, not each rule's functions anew (the tests check the
    # exports under jax.jit).
    with jax.enable_x64(True), jax.disable_jit():
        for r in _elementwise():
            points = [jax.numpy.asarray(v[:8]) for v in _points(r, rng)]
            function = to_jax(r)
            try:
                check_grads(lambda *x, f=function: jax.numpy.sum(f(*x)), points, order=1, modes=["rev"])
                report.proofs[r.name] = True
            except AssertionError:
                report.proofs[r.name] = False
    return report


def _network_row(backend: str, rng: np.random.Generator) -> RuleReport:
    """Each of :data:`BACKEND_NETWORKS` as a ``backend`` module gives the compiled loss and gradients (rtol per dtype)."""
    from ..export.network_modules import network_module_source
    from ..network.model import Network
    from ..network.rule_forms import LogitsLossWarning

    array = get_backend(backend)
    if array.verify_dtype is None:
        raise ValueError(f"codegen: the {backend} backend names no dtype to verify its network modules in")
    dtype, rtol = array.verify_dtype
    report = RuleReport(f"codegen: {backend} network modules", kind="proof")
    with tempfile.TemporaryDirectory() as tmp:
        for k, spec in enumerate(BACKEND_NETWORKS):
            with warnings.catch_warnings():  # a squashed output under a logits loss on purpose: its backprop is checked all the same
                warnings.simplefilter("ignore", LogitsLossWarning)
                network = Network(**spec)
            compiled = network.compile(dtype)
            module = _import(network_module_source(network, backend, dtype), Path(tmp), f"{backend}_net{k}")
            params = compiled.init(k)
            X = rng.normal(size=(5, network.layers[0])).astype(dtype)
            Y = rng.uniform(0.1, 0.9, size=(5, network.layers[-1])).astype(dtype)
            Y /= Y.sum(axis=1, keepdims=True)
            loss, grads = compiled.loss_and_grad(params, X, Y)
            got_loss, got = module.loss_and_grad(array.as_arrays(params), X, Y)
            pairs: list[tuple[Any, Any]] = [(loss, got_loss), *((grads[n], got[n]) for n in grads)]
            ok = all(np.allclose(np.asarray(b), a, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(a))))) for a, b in pairs)
            report.proofs[f"{network!r} in {dtype}: loss and gradients equal the compiled network's"] = bool(ok)
    if array.module in ("jnp", "torch"):  # the graph of formula layers (symdl verify's formula row: its numpy module)
        from .graphs import formula_graph, graph_module_checks

        report.proofs.update(graph_module_checks(formula_graph(), (backend,)))
    return report


def _network_rows(rng: np.random.Generator) -> list[RuleReport]:
    """The network-module row of every backend in :func:`codegen_parts`, drawing from one ``rng``."""
    return [_network_row(part.removeprefix("networks "), rng) for part in codegen_parts() if part.startswith("networks ")]


def _import(source: str, folder: Path, name: str) -> ModuleType:
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # a .py path always has a source loader
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def codegen_parts() -> tuple[str, ...]:
    """The parts of the generated-code rows, each one row: "standalone", then "export torch" and "export jax" and
    "networks <backend>" for each backend (:func:`symdl.backends.backend_names`) with a ``verify_dtype`` whose
    library is installed."""
    parts = ["standalone"]
    parts += [f"export {name}" for name in ("torch", "jax") if importlib.util.find_spec(name) is not None]
    for name in backend_names():
        array = get_backend(name)
        if array.verify_dtype is not None and array.available():  # None: numpy, the compiled network itself
            parts.append(f"networks {name}")
    return tuple(parts)


def verify_codegen_part(part: str, seed: int = 0) -> RuleReport:
    """The row of one of :func:`codegen_parts`, with its own random points (seeded by ``seed`` and the part's name)."""
    rng = np.random.default_rng([seed, int.from_bytes(part.encode(), "little")])
    if part == "standalone":
        return _standalone_row(rng)
    if part == "export torch":
        return _torch_export_row(rng)
    if part == "export jax":
        return _jax_export_row(rng)
    if part.startswith("networks ") and part in codegen_parts():
        return _network_row(part.removeprefix("networks "), rng)
    raise ValueError(f"unknown generated-code part {part!r}; known: {', '.join(codegen_parts())}")


def verify_codegen(seed: int = 0) -> list[RuleReport]:
    """The row of each of :func:`codegen_parts`: the standalone modules, per installed backend (torch, jax) the
    export row, and the network-module rows."""
    return [verify_codegen_part(part, seed) for part in codegen_parts()]
