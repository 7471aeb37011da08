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
  ``init_params(seed, device=None)`` places the parameters on a ``jax.Device``;
  the ``<entry>_unchecked`` functions transfer nothing from the host when every
  argument is on the device (``lr`` as a 0-d array).
* **PyTorch** — eager, under ``torch.no_grad()``, with the numpy code's
  in-place statements (``torch.tanh(z, out=z)``); ``train_step`` updates the
  tensors of ``params`` in place. Every tensor the module makes is made on the
  device of X (``init_params(seed, device=None)`` on ``device``), and each entry
  point also comes as ``<name>_unchecked``: no argument checks, nothing read
  back to the host (see :mod:`symdl.backends.torch`).

Everything a :class:`symdl.Network` holds is supported: element-wise
activations, losses and penalties, the softmax vector rules, batch norm
(each proven stage of :data:`symdl.layers.batchnorm_symbolic.STAGES` printed inline
as an array expression; JAX returns the new running statistics, torch writes
them in place) and dropout (masks from ``jax.random.PRNGKey(seed)`` /
``torch.Generator(device=X.device).manual_seed(seed)``: the same Bernoulli(1 − p) law as the
numpy module's, other draws).

``dtype="bfloat16"`` or ``"float16"`` prints a mixed-precision module
(:mod:`symdl.export.mixed_precision`): float32 master parameters, compute in
the low dtype, float32 sums, float16 with a static loss scale (its ``Module``'s
backward takes the scale from its incoming gradient: ``torch.amp.GradScaler``'s).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..backends import Backend, get_backend
from ..codegen.module_text import module_docstring, module_source
from ..codegen.network import print_network
from ..export.standalone import init_block, lr_check_blocks
from ..version import __version__
from .module_fit import fit_blocks, module_metrics

__all__ = ["network_module_source"]

def _kernels(kernels: dict[str, tuple[str, str]], backend: Backend) -> list[str]:
    """The vector rules' forward and VJP kernels the network calls, printed for ``backend`` by symdl.export.custom_gradient."""
    from ..export.custom_gradient import _kernel, _plan
    from ..rulebook.registry import rule

    blocks = []
    for name in sorted(kernels):
        rule_name, role = kernels[name]
        plan = _plan(rule(rule_name), kernels_only=True)
        args = list(plan.inputs)
        if role == "value":
            blocks.append(_kernel(plan, backend, plan.forward, name, args, f"{rule_name} along the last axis."))
        else:
            vjp_args = args if plan.scalar_output else [*args, "v"]
            doc = f"vᵀ ∂{rule_name}/∂{args[0]} along the last axis."
            blocks.append(_kernel(plan, backend, plan.derivatives[0], name, vjp_args, doc))
    return ["\n".join(lines) for lines in blocks]


def _entry_points(source: str, backend: Backend) -> str:
    """The printed functions with the backend's entry spelling (JAX: ``_NAME_body`` wrapped by checkers; torch: no autograd)."""
    from ..network.compiled import ENTRY_POINTS

    for name in ENTRY_POINTS:
        head = f"def {name}("
        if head not in source:
            raise ValueError(f"printed network has no {name}")
        new = backend.entry_point(name)
        source = source.replace(f"\n{head}", f"\n{new}") if not source.startswith(head) else new + source[len(head):]
    return source


def network_module_source(
    network: object, backend: str | Backend, dtype: str | np.dtype | type = "float64", loss_scale: float | None = None,
    metrics: Sequence[object] = (),
) -> str:
    """Source of a module for ``network`` in ``dtype`` for a registered backend: JAX (``"jax"``), PyTorch (``"torch"``), ….

    ``"numpy"`` is :func:`symdl.export.standalone.network_module`'s module, the one ``symdl codegen --backend numpy`` writes.

    The module defines ``init_params(seed)``, ``forward(params, X)``,
    ``trace(params, X)``, ``loss(params, X, Y)``, ``inference_loss(params, X,
    Y)``, ``loss_and_grad(params, X, Y)`` and ``train_step(params, X, Y, lr)``
    with the conventions and
    numbers of ``network.compile(dtype)`` (``init_params`` draws from the
    backend's own generator). Same input → byte-identical text.

    ``dtype="bfloat16"`` or ``"float16"`` (torch and jax) gives a mixed-precision
    module (:mod:`symdl.export.mixed_precision`): float32 master parameters,
    products and activations in the low dtype, float32 sums; ``loss_scale``
    (a power of two; default 2**10 for float16, 1 for bfloat16) is float16's
    static loss scale.

    ``metrics`` (names such as ``"mae"`` or :mod:`symdl.metrics` objects) are printed into the module from their
    SymPy state, update and result: its ``fit`` logs them as ``CompiledNetwork.fit(metrics=...)`` does, and
    ``evaluate(params, X, Y)`` returns them with the inference loss.
    """
    from ..network.model import Network

    if not isinstance(network, Network):
        raise TypeError(f"network_module_source: expected a symdl.Network, got {type(network).__name__}")
    from .mixed_precision import mixed_precision

    backend = get_backend(backend)
    mixed = mixed_precision(dtype, backend, network, loss_scale)  # refuses a dtype in the backend's own words
    if backend.name == "numpy":  # the numpy module is standalone's (as symdl codegen --backend numpy writes it)
        from .standalone import network_module

        return network_module(network, dtype, metrics)
    compiled = network.compile("float32" if mixed else dtype)  # a mixed module's masters are float32
    dtype = compiled.dtype
    printed_metrics = module_metrics(compiled, metrics, 1)  # checked before any printing
    eqs = network._equations(output_form=True)
    penalty_value = None
    if network.penalty is not None:
        import sympy as sp

        (w,) = network.penalty.inputs
        penalty_value = sp.Lambda(w, network.penalty.numeric_forward_expr())
    inference = network._equations(output_form=True, training=False) if any(network.parts) else None
    optimizer = network.optimizer
    scaled = mixed is not None and mixed.loss_scale != 1
    # float16 with a loss scale: Module's backward takes the scale from its incoming gradient (torch.amp.GradScaler's)
    classes = backend.network_module_class(network.seeded, optimizer is not None, scaled)
    printed = print_network(eqs, network.loss_forms(), penalty_value, network.layers, inference, backend=backend,
                            optimizer=optimizer, loss_scale=None if mixed is None else mixed.loss_scale,
                            runtime_scale=scaled and bool(classes))
    train_arguments = ("lr",) if optimizer is None else ("state", *(h.name for h in optimizer.unbound()))
    noun = backend.noun
    entry_source = _entry_points(printed.source, backend)
    blocks = [
        "\n".join([
            *backend.module_prelude(dtype),
            *(mixed.constant_lines(backend) if mixed else [backend.dtype_line(dtype)]),
            *filter(None, [backend.module_constant()]),
            f"_SPECS = {tuple(compiled.param_shapes.items())!r}",
            "_KEYS = {name for name, _ in _SPECS}",
            f"_N_IN, _N_OUT = {network.layers[0]}, {network.layers[-1]}",
            f"_BUFFERED = {bool(compiled.buffer_names)}",
            *([] if optimizer is None else [f"_STATE = {compiled.state_specs()!r}"]),
        ]) + "\n",
        *lr_check_blocks(dtype),
        *(backend.mixed_runtime() if mixed else backend.network_runtime(network.seeded)),
        # a mixed module's optimizer state is float32, as its masters: the checks of params and state say _param_dtype
        *([] if optimizer is None else [re.sub(r"(?<![\w.])_dtype\b", "_param_dtype", block) if mixed else block
                                        for block in backend.optimizer_runtime()]),
        # a mixed module's init_params draws the float32 masters (the backends' init templates say _dtype)
        re.sub(r"\b_dtype\b", "_param_dtype", init_block(compiled, backend)) if mixed else init_block(compiled, backend),
        *_kernels(dict(printed.kernels), backend),
        *network.layer_blocks(backend, inline=True, accumulate="_acc_dtype" if mixed else None),
        entry_source,
    ]  # fmt: skip
    wrappers = backend.entry_wrappers(network.seeded) if optimizer is None else backend.entry_wrappers(network.seeded, train_arguments)
    if wrappers is not None:
        blocks.append(wrappers)
    steps = ("forward", "trace", "loss", "inference_loss", "loss_and_grad", "train_step")
    unchecked = backend.unchecked_entry_points(entry_source, steps)
    if unchecked is not None:
        blocks.append(unchecked)
    fitting = fit_blocks(backend, network.seeded, train_arguments, printed_metrics, batch_norm=bool(compiled.buffer_names))
    blocks += fitting
    entry = ["init_params", "forward", "trace", "loss", "inference_loss", "loss_and_grad", *(["init_state"] if optimizer else []), "train_step"]
    if backend.functional or unchecked is not None:  # JAX's are made by its entry wrappers
        entry += [f"{n}_unchecked" for n in steps]
    blocks += classes
    if classes:
        entry.append("Module")
    entry += ["fit", "evaluate"] if fitting else []
    name = backend.title
    mutation = backend.train_step_doc()
    if optimizer is not None:
        call = f"train_step(params, X, Y, {', '.join(train_arguments)})"
        mutation = (f"{call}: one step of {optimizer!r} with state = init_state(params); "
                    + ("returns (the loss before it, new params, new state): JAX arrays are immutable."
                       if backend.functional else f"updates the {noun} of params and the dict state in place; returns the loss before it."))
    conventions = [
        f"params: dict of {noun} " + ", ".join(f"{n} {s}" for n, s in compiled.param_shapes.items()) + ".",
        f"X: (batch, {network.layers[0]}), Y: (batch, {network.layers[-1]}), {dtype.name if mixed is None else 'float32 or ' + mixed.compute}; "
        "zˡ = aˡ⁻¹ Wˡᵀ + bˡ row by row.",
        "loss: per-sample sum over output units of the loss, averaged over the batch, plus the penalty on the weights.",
        mutation,
        "Gradients are BP1–BP4 as derived by symdl and printed here, not the library's autodiff.",
    ]
    if mixed:
        conventions.append(mixed.convention())
    if any(network.parts):
        conventions.append("forward and inference_loss use batch-norm running statistics and no dropout; trace, loss, loss_and_grad and "
                           "train_step train" + (" (dropout masks drawn from seed=0 unless given)." if network.seeded else "."))
    sections = [
        ("Spec", [f"{network!r}.compile({dtype.name!r})" + (f", computing in {mixed.compute}" if mixed else ""), f"Functions: {', '.join(entry)}."]),
        ("Conventions", conventions),
        ("Equations (LaTeX)", [f"{label}: {text}" for label, text in network.equations().latex()]),
    ]
    title = f"{name} code for a network: generated by symdl {__version__} from SymPy expressions. Do not edit: regenerate."
    imports = [*backend.network_imports(), *(backend.fit_imports() if fitting else [])]
    if optimizer is not None and not backend.functional:  # the step's scalars (symdl.codegen.step_scalars.ScalarPrinter)
        imports = ["import math", *imports]
    return module_source(module_docstring(title, sections), imports, entry, blocks)

