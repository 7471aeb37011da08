"""The Layer seam reaches the exports: a layer type defined here runs in the numpy, JAX and torch network modules.

The generated modules ask each attached layer for its blocks
(:meth:`symdl.layers.base.Layer.module_blocks`); nothing in symdl.export or
symdl.codegen names a layer type, so these layers need no edit there.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st
from layer_types import Scale

import symdl
from symdl.backends import backend_names
from symdl.codegen.module_text import function_source
from symdl.export.network_modules import network_module_source
from symdl.export.standalone import network_module
from symdl.layers.base import LayerSymbols
from symdl.layers.dense import Dense
from symdl.symbolic.array_nodes import KernelCall


class CalledScale(Scale):
    """aˡ = c·hˡ through named kernels ``_scale_by`` and ``_scale_by_vjp``, which the layer supplies to every module."""

    def forward(self, s: LayerSymbols) -> list[sp.Eq]:
        return [sp.Eq(s.a, KernelCall("scale_by", r"\mathrm{S}", s["h"]), evaluate=False)]

    def backward(self, s, upstream):
        return [], KernelCall("scale_by_vjp", r"\mathrm{S}^{T}", upstream)

    def numeric_kernels(self, layers, dtype):
        c = self.c
        return {"_scale_by": lambda h: h * c, "_scale_by_vjp": lambda g: g * c}

    def module_blocks(self, widths, backend, *, inline):
        return [
            function_source("_scale_by", "h", f"c·h with c = {self.c!r}.", [f"return h * {self.c!r}"]),
            function_source("_scale_by_vjp", "g", f"vᵀ ∂(c·h)/∂h = c·v with c = {self.c!r}.", [f"return g * {self.c!r}"]),
        ]



def _source(net: symdl.Network, backend: str) -> str:
    return network_module(net) if backend == "numpy" else network_module_source(net, backend)


def _arrays(backend: str, params: dict[str, np.ndarray]) -> dict:
    if backend == "numpy":
        return {k: v.copy() for k, v in params.items()}
    if backend == "torch":
        import torch

        return {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    import jax.numpy as jnp

    return {k: jnp.asarray(v) for k, v in params.items()}


_BACKENDS = [
    b if b == "numpy" else pytest.param(b, marks=pytest.mark.skipif(
        importlib.util.find_spec(b) is None, reason=f"{b} is not installed"))
    for b in ("numpy", "jax", "torch") if b in backend_names()
]  # fmt: skip


@pytest.mark.parametrize("backend", _BACKENDS)
@pytest.mark.parametrize("kind", [Scale, CalledScale])
@settings(max_examples=3, deadline=None)
@given(c=st.sampled_from([0.5, 2.0, -3.0]), seed=st.integers(0, 2**16))
def test_a_layer_defined_here_exports_and_matches_the_compiled_network(tmp_path_factory, backend, kind, c, seed):
    net = symdl.Network.from_layers([3, Dense(5), kind(c), Dense(4), kind(c), Dense(2)], activation="tanh")
    compiled = net.compile()
    text = _source(net, backend)
    assert "def _masks(" not in text and "_bn_" not in text
    assert ("def _scale_by(" in text) == (kind is CalledScale)
    module = load_module(text, tmp_path_factory.mktemp("layer"), f"scaled_{backend}_{kind.__name__}")
    rng = np.random.default_rng(seed)
    params = compiled.init(seed)
    X, Y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    expected_loss, expected = compiled.loss_and_grad(params, X, Y)
    loss, grads = module.loss_and_grad(_arrays(backend, params), X, Y)
    np.testing.assert_allclose(np.asarray(loss), expected_loss, rtol=1e-12)
    assert sorted(grads) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(np.asarray(grads[name]), value, rtol=1e-10, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(np.asarray(module.forward(_arrays(backend, params), X)), compiled.forward(params, X), rtol=1e-12)
    # The layer does what it says in the exported module too: a¹ = c·tanh(z¹).
    trace = {k: np.asarray(v) for k, v in module.trace(_arrays(backend, params), X).items()}
    np.testing.assert_allclose(trace["a1"], c * np.tanh(trace["z1"]), rtol=1e-14)


def test_the_network_asks_its_layers_for_blocks_in_order():
    net = symdl.Network([3, 4, 4, 2], batchnorm=True, dropout=0.25)
    layers = list(net.attached_layers())
    assert [type(layer).__name__ for layer in layers] == ["BatchNorm", "Dropout"]
    assert net.attached_layers()[layers[0]] == (1, 2)
    assert net.seeded and not symdl.Network([3, 4, 4, 2], batchnorm=True).seeded
    blocks = net.layer_blocks(symdl.backends.get_backend("numpy"), inline=False)
    names = [block.split("(", 1)[0].removeprefix("def ") for block in blocks]
    assert names[-1] == "_masks" and "_bn_update" in names
    assert names.index("_bn_update") < names.index("_masks")


_KEYWORD_VIEW = {"batchnorm", "dropout", "keep_probability", "bn_eps", "bn_momentum"}
_LAYER_CLASSES = {"BatchNorm", "Dropout"}
_ASKERS = ["symdl/export", "symdl/codegen", "symdl/network/model.py", "symdl/network/compiled.py"]


def _code_names(path: Path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _KEYWORD_VIEW:
            found.add(f".{node.attr}")
        elif isinstance(node, ast.Name) and node.id in _LAYER_CLASSES:
            found.add(node.id)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] in (
            "batchnorm_layer", "dropout_layer", "batchnorm", "dropout", "batchnorm_symbolic", "batchnorm_export"
        ):
            found.add(f"import {node.module}")
    return found


@pytest.mark.parametrize("where", _ASKERS)
def test_the_exports_and_printers_name_no_layer_type(where):
    # The network asks its layers; only symdl.layers and the keyword shortcut (symdl.network.stack) name a type.
    root = Path(__file__).resolve().parent.parent / where
    files = sorted(root.glob("*.py")) if root.is_dir() else [root]
    assert files
    named = {str(path.relative_to(root.parent)): sorted(names) for path in files if (names := _code_names(path))}
    assert named == {}


def test_the_guard_sees_a_layer_type_named(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text(
        "from ..layers.batchnorm_layer import BatchNorm\n"
        "if isinstance(layer, BatchNorm) or network.dropout is not None:\n"
        "    pass\n"
    )
    assert _code_names(path) == {"import layers.batchnorm_layer", "BatchNorm", ".dropout"}
