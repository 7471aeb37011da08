"""symdl.backends: the registry, and a backend registered from outside symdl that prints a working network module."""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar

import numpy as np
import pytest
from generated_modules import load_module
from hypothesis import given, settings
from hypothesis import strategies as st

import symdl
from symdl.backends import (
    Backend,
    backend_names,
    get_backend,
    register_backend,
    unregister_backend,
)
from symdl.backends.base import emit_functions
from symdl.backends.printers import ArrayModulePrinter
from symdl.export.network_modules import network_module_source

# --- a throwaway backend: numpy imported as ``xp`` ------------------------------------------------------------------


class XpPrinter(ArrayModulePrinter):
    """numpy's spelling with the module called ``xp``."""

    _module = "xp"


# Runtime helpers of the generated module, copied from their source; _dtype, _SPECS, … are the module's globals.
def _batch(value, name, width):
    arr = xp.asarray(value, dtype=_dtype)  # noqa: F821
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] < 1:
        raise ValueError(f"{name} has shape {arr.shape}; expected (batch, {width})")
    if not xp.isfinite(arr).all():  # noqa: F821
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _check(params, X, Y, writable=False, targets=True):
    if not isinstance(params, Mapping) or set(params) != _KEYS:  # noqa: F821
        raise ValueError("params: expected a dict with exactly " + ", ".join(n for n, _ in _SPECS))  # noqa: F821
    out = []
    for name, shape in _SPECS:  # noqa: F821
        arr = params[name]
        if getattr(arr, "dtype", None) != _dtype or arr.shape != shape:  # noqa: F821
            raise ValueError(f"params[{name!r}]: expected a {_dtype} array of shape {shape}")  # noqa: F821
        out.append(arr)
    X = _batch(X, "X", _N_IN)  # noqa: F821
    if targets:
        Y = _batch(Y, "Y", _N_OUT)  # noqa: F821
    return (*out, X, Y)


class XpBackend(Backend):
    """numpy, spelt ``xp``: in place, ``numpy.random.default_rng`` draws."""

    name = "numpy_xp"
    library = "numpy"
    module = "xp"
    printer_class = XpPrinter
    title = "numpy (as xp)"
    imports = ("import numpy as xp",)
    init_spelling: ClassVar = (
        ["rng = xp.random.default_rng(int(seed))"],
        "_t({width!r}) * rng.random({shape!r}, dtype=_dtype) - _t({limit!r})",
        "xp.full({shape!r}, {value!r}, dtype=_dtype)",
        "xp.random.default_rng(seed)",
    )

    def dtype_line(self, dtype: np.dtype) -> str:
        return f"_dtype = xp.dtype({dtype.name!r})"

    def constant(self) -> str:
        return "xp.asarray"

    def network_runtime(self, dropout: bool) -> list[str]:
        return [emit_functions(_batch, _check)]

    def dropout_masks(self, keep: float, hidden: tuple[int, ...]) -> tuple[str, list[str]]:
        return "seed, m", [
            "rng = xp.random.default_rng(int(seed))",
            f"return [(rng.random((m, n)) < {keep!r}).astype(_dtype) for n in {hidden!r}]",
        ]


@pytest.fixture
def xp_backend():
    backend = register_backend(XpBackend())
    yield backend
    unregister_backend("numpy_xp")



_NETWORKS = (
    {"layers": [3, 5, 2], "activation": "tanh", "loss": "huber", "penalty": "l2"},
    {"layers": [3, 4, 4, 2], "activation": "prelu", "output_activation": "sigmoid", "loss": "binary_cross_entropy"},
    {"layers": [4, 6, 3], "activation": "elu", "loss": "mse", "batchnorm": True},
)


@pytest.mark.parametrize("spec", _NETWORKS, ids=lambda s: "-".join(map(str, s["layers"])))
def test_registered_backend_prints_a_working_network(xp_backend, spec, tmp_path):
    network = symdl.Network(**spec)
    compiled = network.compile("float64")
    source = network_module_source(network, "numpy_xp")
    assert "import numpy as xp" in source and "numpy." not in source.replace("import numpy as xp", "")
    module = load_module(source, tmp_path, "net_xp")
    rng = np.random.default_rng(3)
    params = compiled.init(1)
    X = rng.normal(size=(6, network.layers[0]))
    Y = rng.uniform(0.1, 0.9, size=(6, network.layers[-1]))
    np.testing.assert_allclose(module.forward(dict(params), X), compiled.forward(params, X), rtol=1e-12)
    np.testing.assert_allclose(module.loss(dict(params), X, Y), compiled.loss(params, X, Y), rtol=1e-12)
    loss, grads = module.loss_and_grad(dict(params), X, Y)
    want_loss, want = compiled.loss_and_grad(params, X, Y)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    assert grads.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(grads[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)
    # train_step writes the step into the caller's arrays, as the compiled network's does.
    ours, theirs = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in params.items()}
    module.train_step(ours, X, Y, 0.1)
    compiled.train_step(theirs, X, Y, 0.1)
    for name in theirs:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-10, atol=1e-12, err_msg=name)
    # init_params draws from the same generator with the same spelling: the same numbers.
    for name, value in module.init_params(5).items():
        np.testing.assert_allclose(value, compiled.init(5)[name], rtol=1e-12, err_msg=name)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 7))
def test_registered_backend_gradients_match_compiled(seed, rows, tmp_path_factory):
    register_backend(XpBackend(), replace=True)
    try:
        network = symdl.Network([3, 4, 2], activation="tanh", loss="mse")
        module = load_module(network_module_source(network, "numpy_xp"), tmp_path_factory.mktemp("xp"), f"net_xp_{seed}")
    finally:
        unregister_backend("numpy_xp")
    compiled = network.compile()
    rng = np.random.default_rng(seed)
    params = compiled.init(seed)
    X, Y = rng.normal(size=(rows, 3)), rng.normal(size=(rows, 2))
    loss, grads = module.loss_and_grad(params, X, Y)
    want_loss, want = compiled.loss_and_grad(params, X, Y)
    assert np.isclose(loss, want_loss, rtol=1e-12)
    assert all(np.allclose(grads[n], want[n], rtol=1e-10, atol=1e-12) for n in want)


def test_dropout_masks_come_from_the_backend_hook(xp_backend):
    source = network_module_source(symdl.Network([3, 4, 2], dropout=0.5), "numpy_xp")
    assert "rng = xp.random.default_rng(int(seed))" in source
    assert "jax.random" not in source and "torch." not in source


def test_missing_printer_for_softmax_is_one_clear_error(xp_backend):
    network = symdl.Network([3, 4, 3], output_activation="softmax", loss="softmax_cross_entropy")
    with pytest.raises(NotImplementedError, match="numpy_xp.*index-notation printer"):
        network_module_source(network, "numpy_xp")


# --- the registry -----------------------------------------------------------------------------------------------------


def test_builtin_backends_are_registered():
    assert backend_names()[:3] == ("numpy", "jax", "torch")
    assert get_backend("jax").module == "jnp" and get_backend("jax").functional
    assert get_backend("torch").module == "torch" and not get_backend("torch").functional


def test_registry_round_trip():
    assert "numpy_xp" not in backend_names()
    backend = register_backend(XpBackend())
    try:
        assert get_backend("numpy_xp") is backend
        assert get_backend(backend) is backend
        assert backend_names()[-1] == "numpy_xp"
        with pytest.raises(ValueError, match="already registered"):
            register_backend(XpBackend())
        assert register_backend(XpBackend(), replace=True) is not backend
    finally:
        unregister_backend("numpy_xp")
    assert "numpy_xp" not in backend_names()
    with pytest.raises(ValueError, match="unknown backend"):
        unregister_backend("numpy_xp")


@pytest.mark.parametrize(
    "call",
    [
        lambda: get_backend("tensorflow"),
        lambda: network_module_source(symdl.Network([2, 3, 1]), "tensorflow"),
        lambda: symdl.export.rule_module_source("relu", "tensorflow"),
    ],
)
def test_unknown_backend_lists_the_registered_ones(call):
    with pytest.raises(ValueError, match=r"unknown backend 'tensorflow'; accepted: numpy, jax, torch"):
        call()


def test_backend_missing_a_required_hook_is_refused():
    class NoPrinter(Backend):
        name = "broken"
        module = "broken"

    with pytest.raises(TypeError, match="missing required hooks: printer_class"):
        register_backend(NoPrinter())
    assert "broken" not in backend_names()
    with pytest.raises(TypeError, match="Backend instance"):
        register_backend(XpBackend)  # the class, not an instance


def test_backend_without_network_hooks_says_which(tmp_path):
    class PrinterOnly(Backend):
        name = "printer_only"
        module = "xp"
        printer_class = XpPrinter

    register_backend(PrinterOnly())
    try:
        with pytest.raises(NotImplementedError, match="'printer_only' does not provide dtype_line"):
            network_module_source(symdl.Network([2, 3, 1]), "printer_only")
        # a backend chosen by name is an argument: one ValueError naming those that take it, before any derivation
        with pytest.raises(ValueError, match=r"^backend 'printer_only' provides no custom-gradient functions "
                                             r"\(custom_gradient_wrapper\); accepted: jax, torch; a numpy module"):
            symdl.export.rule_module_source("tanh", "printer_only")
    finally:
        unregister_backend("printer_only")


def test_cli_backend_choices_come_from_the_registry():
    done = subprocess.run([sys.executable, "-m", "symdl", "codegen", "--help"], capture_output=True, text=True, check=True)
    assert "{numpy,jax,torch}" in done.stdout
    done = subprocess.run([sys.executable, "-m", "symdl", "codegen", "relu", "-o", "-", "--backend", "tf"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "invalid choice: 'tf'" in done.stderr


def test_a_registered_backend_is_a_cli_choice(xp_backend, tmp_path):
    from symdl.cli.parser import build_parser

    args = build_parser().parse_args(["codegen", "--layers", "3,4,2", "--backend", "numpy_xp", "-o", str(tmp_path / "n.py")])
    assert args.backend == "numpy_xp"
    unregister_backend("numpy_xp")
    try:
        with pytest.raises(Exception, match="invalid choice: 'numpy_xp'"):
            build_parser().parse_args(["codegen", "--layers", "3,4,2", "--backend", "numpy_xp"])
    finally:
        register_backend(XpBackend())


def test_runtime_modules_import_without_the_libraries():
    code = ("import sys; sys.modules['jax'] = None; sys.modules['torch'] = None; "
            "import symdl.backends.runtime_jax, symdl.backends.runtime_torch, symdl.backends; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
