"""A network as a JAX or PyTorch module: BP1–BP4 printed in ``jax.numpy`` or ``torch``, no autodiff.

:func:`network_module_source` prints the same equations as
:class:`symdl.CompiledNetwork` (:func:`symdl.codegen.network.print_network`)
with the backend's printer, so the gradient is the derived one, not the
library's autodiff. The module imports only its library and the standard
library, and exposes the numpy module's functions with its conventions:

* **JAX** — every entry point is ``jax.jit``-compiled once per shape; the
  arguments are checked outside the jit. Arrays are immutable, so
  ``train_step(params, X, Y, lr)`` stores the new arrays in the dict
  ``params`` and returns the loss before the step. A float64 module turns on
  ``jax_enable_x64`` when imported (JAX computes in float32 otherwise).
* **PyTorch** — eager, under ``torch.no_grad()``, with the numpy code's
  in-place statements (``torch.tanh(z, out=z)``); ``train_step`` updates the
  tensors of ``params`` in place.

Everything a :class:`symdl.Network` holds is supported: element-wise
activations, losses and penalties, the softmax vector rules, batch norm
(each proven stage of :data:`symdl.layers.batchnorm_symbolic.STAGES` printed inline
as an array expression; JAX returns the new running statistics, torch writes
them in place) and dropout (masks from ``jax.random.PRNGKey(seed)`` /
``torch.Generator().manual_seed(seed)``: the same Bernoulli(p) law as the
numpy module's, other draws).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from ..codegen.network import print_network
from ..export.standalone import (
    _docstring,
    _function,
    _module,
    batchnorm_blocks,
    init_block,
)
from ..layers.batchnorm_symbolic import j as _feature_index
from ..version import __version__

_FEATURE_INDICES = (_feature_index,)

__all__ = ["NETWORK_BACKENDS", "network_module_source"]

NETWORK_BACKENDS: tuple[str, ...] = ("jax", "torch")

_JAX_CHECKS = '''
def _batch(value, name, width):
    """``value`` as a (batch, width) array of _dtype (integers converted), else a ValueError; finiteness is checked in the jitted call."""
    if isinstance(value, jax.Array) and value.dtype == _dtype and value.ndim == 2 and value.shape[1] == width > 0 < value.shape[0]:
        return value  # the common case, without a dispatch
    if value is None:
        raise ValueError(f"{name}: expected a (batch, {width}) array, got None")
    given = str(getattr(value, "dtype", ""))
    if given.startswith(("float", "bfloat", "complex")) and given != _dtype.name:
        raise ValueError(f"{name} has dtype {given}; this module computes in {_dtype.name} (convert it first)")
    try:  # a list of numbers is taken in the module's dtype, as an array of integers would be
        arr = jnp.asarray(value) if hasattr(value, "dtype") else jnp.asarray(value, dtype=_dtype)
    except (TypeError, ValueError) as why:
        raise ValueError(f"{name}: expected a 2-D array of numbers (batch, {width}): {why}") from None
    if jnp.issubdtype(arr.dtype, jnp.integer) or arr.dtype == jnp.bool_:
        arr = arr.astype(_dtype)
    if arr.dtype != _dtype:
        raise ValueError(f"{name} has dtype {arr.dtype}; this module computes in {_dtype.name} (convert it first)")
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] < 1:
        raise ValueError(f"{name} has shape {tuple(arr.shape)}; expected (batch, {width}) with batch >= 1")
    return arr


def _finite(X, Y=None):
    """0 when X and Y hold only finite numbers, else 1 (X) or 2 (Y): computed inside the jitted call, read once."""
    bad_x = ~jnp.isfinite(X).all()
    return jnp.where(bad_x, 1, 0) if Y is None else jnp.where(bad_x, 1, jnp.where(jnp.isfinite(Y).all(), 0, 2))


def _raise_unless_finite(code):
    code = int(code)
    if code:
        raise ValueError(f"{'XY'[code - 1]} contains NaN or infinity; expected finite numbers")


def _check(params, X, Y, writable=False, targets=True):
    """(params as a dict of jax arrays, X, Y) checked against _SPECS and the widths, else a ValueError."""
    if writable and not isinstance(params, MutableMapping):
        raise ValueError(f"params: train_step stores the new arrays in params; expected a dict, got {type(params).__name__}")
    if not isinstance(params, Mapping) or params.keys() != _KEYS:
        expected = ", ".join(f"{n} {s}" for n, s in _SPECS)
        raise ValueError(f"params: expected a dict with exactly {expected}")
    arrays = {}
    for name, shape in _SPECS:
        arr = params[name]
        if getattr(arr, "dtype", None) != _dtype or getattr(arr, "shape", None) != shape:
            got = f"{getattr(arr, 'dtype', type(arr).__name__)} {tuple(getattr(arr, 'shape', ()))}"
            raise ValueError(f"params[{name!r}]: expected a {_dtype.name} array of shape {shape}, got {got}")
        arrays[name] = arr if isinstance(arr, jax.Array) else jnp.asarray(arr)
    X = _batch(X, "X", _N_IN)
    if targets:
        Y = _batch(Y, "Y", _N_OUT)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}; one target row per sample")
    if writable and _BUFFERED and X.shape[0] < 2:
        raise ValueError("train_step with batch norm needs a batch of at least 2 rows (the running variance is m/(m-1) var_B)")
    return arrays, X, Y


def _unpack(params, X, Y, writable=False, targets=True):
    """The arrays in the order of _SPECS, then X and Y (inside jax.jit: no checks here)."""
    return (*(params[name] for name, _ in _SPECS), X, Y)
'''

_TORCH_CHECKS = '''
def _batch(value, name, width):
    """``value`` as a finite (batch, width) tensor of _dtype (integers converted), else a ValueError."""
    if value is None:
        raise ValueError(f"{name}: expected a (batch, {width}) tensor, got None")
    try:  # a list of numbers is taken in the module's dtype (torch would make it float32)
        arr = torch.as_tensor(value) if hasattr(value, "dtype") else torch.as_tensor(value, dtype=_dtype)
    except (TypeError, ValueError, RuntimeError) as why:
        raise ValueError(f"{name}: expected a 2-D tensor of numbers (batch, {width}): {why}") from None
    if not arr.dtype.is_floating_point and not arr.dtype.is_complex:
        arr = arr.to(_dtype)
    if arr.dtype != _dtype:
        raise ValueError(f"{name} has dtype {arr.dtype}; this module computes in {_dtype} (convert it first)")
    if arr.dim() != 2 or arr.shape[1] != width or arr.shape[0] < 1:
        raise ValueError(f"{name} has shape {tuple(arr.shape)}; expected (batch, {width}) with batch >= 1")
    if not bool(torch.isfinite(arr).all()):
        raise ValueError(f"{name} contains NaN or infinity; expected finite numbers")
    return arr


def _check(params, X, Y, writable=False, targets=True):
    """The tensors of params in the order of _SPECS, then X and Y, else a ValueError naming what is wrong."""
    expected = ", ".join(f"{n} {s}" for n, s in _SPECS)
    if not isinstance(params, Mapping) or set(params) != {n for n, _ in _SPECS}:
        raise ValueError(f"params: expected a dict with exactly {expected}")
    out = []
    for name, shape in _SPECS:
        arr = params[name]
        is_tensor = isinstance(arr, torch.Tensor)
        if not is_tensor or arr.dtype != _dtype or tuple(arr.shape) != shape:
            got = f"{getattr(arr, 'dtype', type(arr).__name__)} {tuple(getattr(arr, 'shape', ()))}"
            raise ValueError(f"params[{name!r}]: expected a {_dtype} tensor of shape {shape}, got {got}")
        out.append(arr)
    X = _batch(X, "X", _N_IN)
    if targets:
        Y = _batch(Y, "Y", _N_OUT)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}; one target row per sample")
    if writable and _BUFFERED and X.shape[0] < 2:
        raise ValueError("train_step with batch norm needs a batch of at least 2 rows (the running variance is m/(m-1) var_B)")
    return (*out, X, Y)
'''

_JAX_WRAPPER = '''
@jax.jit
def _{name}({args}):
    return _finite({data}), _{name}_body({args})


def {name}({public}):
    """{doc}"""
{checks}    finite, result = _{name}({call})
    _raise_unless_finite(finite)
    return result
'''

_JAX_DOCS = {
    "forward": "The network's output a^L for the rows of X (inference: running statistics, no dropout).",
    "trace": "Every z^l and a^l of the forward pass, by name.",
    "loss": "The cost C: the loss summed over outputs, averaged over the batch, plus the penalty.",
    "loss_and_grad": "(C, dict of dC/dparam with the keys of params), the gradient from BP1-BP4.",
    "train_step": "One step of gradient descent: the new arrays are stored in params; returns the loss before the step.",
}


def _jax_entries(dropout: bool) -> str:
    """The public JAX functions: checks outside ``jax.jit``, the printed body and the finiteness flag inside."""
    blocks = []
    for name in ("forward", "trace", "loss", "loss_and_grad", "train_step"):
        targets = name not in ("forward", "trace")
        seeded = dropout and name != "forward"
        data = "X, Y" if targets else "X"
        args = ["params", "X", *(["Y"] if targets else []), *(["lr"] if name == "train_step" else [])]
        public = [*args, *(["seed=0"] if seeded else [])]
        checks = []
        if name == "train_step":
            checks.append("lr = _check_lr(lr)")
        checks.append(f"arrays, X, {'Y' if targets else '_'} = _check(params, X, {'Y' if targets else 'None'}, "
                      f"{name == 'train_step'}, {targets})")
        call = ["arrays", *args[1:]]
        if seeded:
            checks.append("key = jax.random.PRNGKey(_check_seed(seed))")
            args.append("key")
            call.append("key")
        body = "".join(f"    {line}\n" for line in checks)
        text = _JAX_WRAPPER.format(name=name, args=", ".join(args), data=data, public=", ".join(public),
                                   doc=_JAX_DOCS[name], checks=body, call=", ".join(call))
        if name == "train_step":
            text = text.replace("    _raise_unless_finite(finite)\n    return result\n",
                                "    _raise_unless_finite(finite)  # before params change\n"
                                "    value, new = result\n    params.update(new)\n    return value\n")
        blocks.append(text.strip("\n"))
    return "\n\n\n".join(blocks)


_JAX_SEED = '''
def _check_seed(seed):
    """The seed of the dropout masks: an integer from 0 to 2**31 - 1 (a jax.random.PRNGKey), else a ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**31:
        raise ValueError(f"seed: expected an integer from 0 to 2147483647 (it fixes the dropout masks), got {seed!r}")
    return int(seed)
'''



def _check_backend(backend: str) -> None:
    if backend not in NETWORK_BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; accepted: numpy (symdl.export.standalone), {', '.join(NETWORK_BACKENDS)}")


def _stage_printer(backend: str):
    """A printer of one batch-norm stage as an expression on whole arrays: rows on axis 0, features last."""
    from ..backends.printers import printer_for

    base = type(printer_for(backend))

    class StagePrinter(base):
        def __init__(self, names: Mapping[str, str]) -> None:
            super().__init__()
            self.names = names

        def _print_Indexed(self, expr: sp.Indexed) -> str:
            # x[i, j] is the (batch, features) array, gamma[j] the (features,) one: it broadcasts over the rows.
            return self.names[str(expr.base.label)]

        def _print_Symbol(self, expr: sp.Symbol) -> str:
            return self.names.get(expr.name, expr.name)

        def _print_Sum(self, expr: sp.Sum) -> str:
            (index, *_), = expr.limits
            if index in _FEATURE_INDICES:
                raise ValueError(f"batch-norm stage sums over the features: {expr}")
            return f"{self._module}.sum({self._print(expr.function)}, 0)"

    return StagePrinter


def _inline_stage(backend: str):
    """``inline(stage, names)`` for :func:`symdl.export.standalone.batchnorm_blocks`: the stage as one expression."""
    printer_class = _stage_printer(backend)

    def inline(stage, names: Mapping[str, str]) -> str:
        slots = set(stage.slots.values())
        if not slots <= {-2, -1}:
            raise ValueError(f"batch-norm stage {stage.name} has axes other than rows and features")
        return printer_class(names).doprint(stage.expr)

    return inline


def _masks_block(network: object, backend: str) -> str:
    """``_masks``: one Bernoulli(p) mask per hidden layer, from the backend's generator."""
    keep, hidden = float(network.dropout), tuple(network.layers[1:-1])
    if backend == "jax":
        lines = [
            "# mask ~ Bernoulli(p), one key per layer folded from the call's key.",
            f"return [jax.random.bernoulli(jax.random.fold_in(key, k), {keep!r}, (m, n)).astype(_dtype) "
            f"for k, n in enumerate({hidden!r})]",
        ]
        doc = f"Dropout masks of the hidden layers for a batch of m rows (keep probability p = {keep!r})."
        return _function("_masks", "key, m", doc, lines)
    lines = [
        "if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**63:",
        "    raise ValueError(f'seed: expected an integer from 0 to 2**63 - 1 (it fixes the dropout masks), got {seed!r}')",
        "generator = torch.Generator().manual_seed(int(seed))",
        "# mask ~ Bernoulli(p): u ~ U[0, 1) in float64, kept where u < p.",
        f"return [(torch.rand((m, n), generator=generator, dtype=torch.float64) < {keep!r}).to(_dtype) for n in {hidden!r}]",
    ]
    doc = f"Dropout masks of the hidden layers for a batch of m rows (keep probability p = {keep!r})."
    return _function("_masks", "seed, m", doc, lines)


def _kernels(kernels: dict[str, tuple[str, str]], backend: str) -> list[str]:
    """The vector rules' forward and VJP kernels the network calls, printed for ``backend`` by symdl.export.custom_gradient."""
    from ..export.custom_gradient import _kernel, _plan
    from ..rulebook.registry import rule

    blocks = []
    for name in sorted(kernels):
        rule_name, role = kernels[name]
        plan = _plan(rule(rule_name))
        args = list(plan.inputs)
        if role == "value":
            blocks.append(_kernel(plan, backend, plan.forward, name, args, f"{rule_name} along the last axis."))
        else:
            vjp_args = args if plan.scalar_output else [*args, "v"]
            doc = f"vᵀ ∂{rule_name}/∂{args[0]} along the last axis."
            blocks.append(_kernel(plan, backend, plan.derivatives[0], name, vjp_args, doc))
    return ["\n".join(lines) for lines in blocks]


def _entry_points(source: str, backend: str) -> str:
    """The printed functions, renamed ``_NAME_body`` (JAX, wrapped by jitted checkers) or run without autograd (torch)."""
    for name in ("forward", "trace", "loss", "loss_and_grad", "train_step"):
        head = f"def {name}("
        if head not in source:
            raise ValueError(f"printed network has no {name}")
        new = f"def _{name}_body(" if backend == "jax" else f"@torch.no_grad()\ndef {name}("
        source = source.replace(f"\n{head}", f"\n{new}") if not source.startswith(head) else new + source[len(head):]
    return source


def network_module_source(network: object, backend: str, dtype: str | np.dtype | type = "float64") -> str:
    """Source of a JAX (``backend="jax"``) or PyTorch (``"torch"``) module for ``network`` in ``dtype``.

    The module defines ``init_params(seed)``, ``forward(params, X)``,
    ``trace(params, X)``, ``loss(params, X, Y)``, ``loss_and_grad(params, X,
    Y)`` and ``train_step(params, X, Y, lr)`` with the conventions and
    numbers of ``network.compile(dtype)`` (``init_params`` draws from the
    backend's own generator). Same input → byte-identical text.
    """
    from ..export.standalone import _helper
    from ..network.model import LR_RANGE, Network, check_learning_rate, loss_forms

    if not isinstance(network, Network):
        raise TypeError(f"network_module_source: expected a symdl.Network, got {type(network).__name__}")
    _check_backend(backend)
    compiled = network.compile(dtype)
    dtype = compiled.dtype
    eqs = network._equations(output_form=True)
    penalty_value = None
    if network.penalty is not None:
        import sympy as sp

        (w,) = network.penalty.inputs
        penalty_value = sp.Lambda(w, network.penalty.numeric_forward_expr())
    inference = network._equations(output_form=True, training=False) if network.batchnorm or network.dropout else None
    printed = print_network(eqs, loss_forms(network.loss), penalty_value, network.layers, inference, backend=backend)
    noun = {"jax": "JAX arrays", "torch": "torch tensors"}[backend]
    dtype_line = f"_dtype = jnp.dtype({dtype.name!r})" if backend == "jax" else f"_dtype = torch.{dtype.name}"
    constant = "jnp.asarray" if backend == "jax" else "torch.tensor"
    blocks = [
        "\n".join([
            *(['jax.config.update("jax_enable_x64", True)  # a float64 module computes in float64', ""]
              if backend == "jax" and dtype == np.float64 else []),
            dtype_line,
            f"_t = functools.partial({constant}, dtype=_dtype)",
            f"_SPECS = {tuple(compiled.param_shapes.items())!r}",
            "_KEYS = {name for name, _ in _SPECS}",
            f"_N_IN, _N_OUT = {network.layers[0]}, {network.layers[-1]}",
            f"_BUFFERED = {bool(compiled.buffer_names)}",
            f"_LR_RANGE = {LR_RANGE!r}",
        ]) + "\n",
        _helper(check_learning_rate, {"check_learning_rate": "_check_lr", "LR_RANGE": "_LR_RANGE"}),
        _JAX_CHECKS if backend == "jax" else _TORCH_CHECKS,
        init_block(compiled, backend),
        *_kernels(dict(printed.kernels), backend),
        *(batchnorm_blocks(network, backend, _inline_stage(backend)) if network.batchnorm else []),
        *([_masks_block(network, backend)] if network.dropout is not None else []),
        *([_JAX_SEED] if backend == "jax" and network.dropout is not None else []),
        _entry_points(printed.source, backend),
    ]  # fmt: skip
    if backend == "jax":
        blocks.append(_jax_entries(network.dropout is not None))
    entry = ["init_params", "forward", "trace", "loss", "loss_and_grad", "train_step"]
    name = {"jax": "JAX", "torch": "PyTorch"}[backend]
    mutation = (
        "train_step(params, X, Y, lr): one step of gradient descent; the new arrays are stored in the dict params "
        "(JAX arrays are immutable); returns the loss before it."
        if backend == "jax"
        else "train_step(params, X, Y, lr): one step of gradient descent on the tensors of params, in place; "
        "returns the loss before it."
    )
    conventions = [
        f"params: dict of {noun} " + ", ".join(f"{n} {s}" for n, s in compiled.param_shapes.items()) + ".",
        f"X: (batch, {network.layers[0]}), Y: (batch, {network.layers[-1]}), {dtype.name}; zˡ = aˡ⁻¹ Wˡᵀ + bˡ row by row.",
        "loss: per-sample sum over output units of the loss, averaged over the batch, plus the penalty on the weights.",
        mutation,
        "Gradients are BP1–BP4 as derived by symdl and printed here, not the library's autodiff.",
    ]
    if network.batchnorm or network.dropout is not None:
        conventions.append("forward uses batch-norm running statistics and no dropout; trace, loss, loss_and_grad and "
                           "train_step train" + (" (dropout masks drawn from seed=0 unless given)." if network.dropout else "."))
    sections = [
        ("Spec", [f"{network!r}.compile({dtype.name!r})", f"Functions: {', '.join(entry)}."]),
        ("Conventions", conventions),
        ("Equations (LaTeX)", [f"{label}: {text}" for label, text in network.equations().latex()]),
    ]
    title = f"{name} code for a network: generated by symdl {__version__} from SymPy expressions. Do not edit: regenerate."
    imports = ["import functools", "import numbers", "from collections.abc import Mapping"]
    if backend == "jax":
        imports[-1] = "from collections.abc import Mapping, MutableMapping"
    imports += ["import jax", "import jax.numpy as jnp"] if backend == "jax" else ["import torch"]
    return _module(_docstring(title, sections), imports, entry, blocks)

