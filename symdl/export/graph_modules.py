"""A graph model (:class:`symdl.graph.Model`) as a standalone numpy, JAX or PyTorch module: its generalised backprop printed.

:func:`graph_module_source` prints the equations ``model.compile()`` runs
(:func:`symdl.graph.printing.print_graph`) with the backend's printer, so every
formula comes from the same SymPy expressions and the gradient is the derived
one, not the library's autodiff. The module imports only its array library and
the standard library (never sympy or symdl) and defines

* ``init_params(seed)`` — each weight from its layer's scheme (the limit or
  standard deviation evaluated here from the scheme's SymPy expression), the
  rest constant; numpy draws the numbers of ``CompiledGraph.init(seed)``;
* ``forward(params, *inputs)`` — inference mode (no noise, no dropout);
* ``loss``, ``loss_and_grad`` and ``train_step(params, *inputs, *targets, lr | state…[, seed=0])``
  in training mode, masks drawn from ``seed`` (numpy: the masks of the compiled
  graph; JAX ``jax.random.PRNGKey(seed)``, torch ``torch.Generator``: the same
  laws, other numbers); each constraint applied after the step;
* ``masks(seed, batch)`` (a graph with noise or dropout) and ``init_state(params)`` (with an optimizer);
* ``output_losses(params, *inputs, *targets[, seed=0])`` (training mode) and ``inference_output_losses`` for a graph
  with two or more outputs with a loss: each output's unweighted loss in a dict by its log key ``<output>_loss``
  (the constant ``output_loss_names``), as ``CompiledGraph.output_losses`` returns them, which the module's ``fit``
  and ``evaluate`` and ``symdl.fit`` log (:mod:`symdl.export.module_fit`); in mixed precision computed in float32
  from the outputs and targets copied to it, as the loss;
* the constants ``metric_outputs`` (each output with a data target: its name, the keys a metrics dict may give it
  by, its index among ``forward``'s outputs and its target's) and ``output_widths``, printed from
  ``CompiledGraph.metric_outputs`` and ``output_widths``, so that ``symdl.fit(module, metrics=...)`` takes a list
  or a dict by output name and logs ``<output>_<metric>`` as ``CompiledGraph.fit`` does.

Spellings as in :mod:`symdl.export.network_modules`: JAX entry points are
jitted with the checks outside (``<name>_unchecked``: the jitted body alone),
torch entry points come also as ``<name>_unchecked`` (no checks, no host read-back)
and make every tensor on their first input's device (``init_params(seed, device=None)``),
``train_step`` stores the new arrays in ``params`` (with an optimizer it returns
``(loss, new params, new state)``); StopGradient prints as
``jax.lax.stop_gradient`` / ``.detach()``, so JAX's and torch's own autodiff of
the printed code agree with the printed gradient. An expression the backend's
printer does not know (a future node type) is refused with one ValueError line.

``dtype="bfloat16"`` or ``"float16"`` prints a mixed-precision module (torch and JAX;
:mod:`symdl.export.mixed_precision`): float32 masters and optimizer state, compute in the low dtype, the loss,
the penalties and the sums over the batch in float32 (``_acc_dtype``), float16 with a static loss scale; batch norm
and a formula layer with a reduction (layer norm) in float32 (their statistics, γ, β and moving statistics), their
output and input gradients cast back to the low dtype.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..backends import Backend, get_backend
from ..backends.runtime_keys import check_keys
from ..backprop.equations import Elementwise, VectorRuleCall
from ..codegen.arrays import as_array, as_float_array, place
from ..codegen.module_text import (
    function_source,
    helper_source,
    module_docstring,
    module_source,
    renamed_kernel,
)
from ..graph.blocks import ArrayNode, Stopped
from ..graph.compiled_data import GraphData
from ..graph.forms import LibraryForms
from ..graph.printing import print_graph, vector_kernels
from ..layers.init_schemes import check_draw_range, get_scheme, parameter_value
from ..network.checks import (
    check_batch,
    check_hyperparameter,
    check_params,
    check_state,
    params_error,
)
from ..version import __version__
from .graph_data import data_convention, data_forms, data_runtime
from .module_fit import fit_blocks, module_metrics
from .network_modules import _kernels
from .standalone import lr_check_blocks, seed_check_lines

if TYPE_CHECKING:
    from ..graph.model import Model
    from ..optim.base import Optimizer

__all__ = ["graph_module_source"]

_ENTRIES = ("forward", "loss", "inference_loss", "loss_and_grad", "train_step")
# a graph with two or more outputs with a loss: each one's unweighted loss, training and inference mode (Keras' <output>_loss)
_OUTPUT_ENTRIES = ("output_losses", "inference_output_losses")
# ZeroMatrix: a zero block of a slice's transpose [0; g; 0] (printed by Concat as a pad)
_KNOWN = (sp.MatrixSymbol, sp.MatMul, sp.MatAdd, sp.HadamardProduct, sp.Transpose, Elementwise, VectorRuleCall, sp.ZeroMatrix)


def _refuse_unknown(equations: list[sp.Eq], backend: Backend) -> None:
    """One ValueError line for the first matrix expression the backend's printer does not know (never misprint it)."""
    for eq in equations:
        for node in sp.preorder_traversal(eq.rhs):
            if not isinstance(node, sp.MatrixExpr) or isinstance(node, _KNOWN) or isinstance(node, Stopped):
                continue
            if isinstance(node, ArrayNode) and backend.module in node.modules:
                continue
            raise ValueError(f"graph_module_source: the graph's equations hold a {type(node).__name__} node, which has no "
                             f"{backend.title} spelling (known: matrix products and sums, element-wise rules, vector rules, "
                             "stacking and slicing); the model cannot be exported to this backend")


def _numpy_checks(optimizer: bool) -> list[str]:
    """The numpy module's checks: the text CompiledGraph runs (symdl.network.checks)."""
    blocks = [
        helper_source(check_keys, {"check_keys": "_check_keys"}),
        helper_source(params_error, {"params_error": "_params_error", "check_keys": "_check_keys"}),
        helper_source(check_params, {"check_params": "_check_params_arrays", "params_error": "_params_error"}),
        helper_source(check_batch, {"check_batch": "_check_batch"}),
        function_source("_check_params", "params", "The parameter arrays in the order of _SPECS; ValueError if wrong.",
                        ["return _check_params_arrays(_SPECS, _dtype, params)"]),
        function_source("_batch", "value, name, width", "value as a finite (batch, width) array of _dtype, else a ValueError.",
                        ["return _check_batch(value, name, width, _dtype)"]),
    ]
    if optimizer:
        blocks += [
            helper_source(check_state, {"check_state": "_check_state_dict", "check_keys": "_check_keys", "excerpt": "_excerpt"}),
            helper_source(check_hyperparameter, {"check_hyperparameter": "_check_hyper_value", "finite_real": "_finite_real"}),
            function_source("_check_hyper", "name, value", "A hyperparameter as a float finite in _dtype; ValueError if not.",
                            ["return _check_hyper_value(name, value, _dtype)"]),
            function_source("_check_state", "state", "The optimizer state: ValueError naming what is wrong.",
                            ["_check_state_dict(*_STATE, _dtype, state)"]),
        ]
    return blocks


def _numpy_kernels(kernels: dict[str, tuple[str, str]]) -> list[str]:
    """The vector-rule kernels as CompiledGraph runs them, with their helpers."""
    from ..rulebook.registry import rule

    if not kernels:
        return []
    blocks = [
        helper_source(as_float_array, {"as_float_array": "_as_float_value"}),
        helper_source(as_array, {"as_array": "_as_float", "as_float_array": "_as_float_value"}),
        helper_source(place, {"place": "_place"}),
    ]
    for name in sorted(kernels):
        rule_name, role = kernels[name]
        kernel = rule(rule_name).numeric() if role == "value" else rule(rule_name).numeric_derivative()
        blocks.append(renamed_kernel(kernel.source, kernel.name, name))
    return blocks


def _init_block(model: Model, names: tuple[str, ...], backend: Backend, dtype: np.dtype) -> str:
    """``init_params(seed)``: weights from their schemes (a or s evaluated from the SymPy expression), the rest constant;
    one ValueError line, as ``init``'s, where a or s draws beyond the ``dtype`` of the params."""
    if backend.init_spelling is None or backend.init_normal is None:
        raise NotImplementedError(f"backend {backend.name!r} does not provide init_spelling and init_normal")
    setup, uniform, constant, generator = backend.init_spelling
    lines = [*seed_check_lines(backend), *setup, "params = {}"]
    found = {}
    for layer in model.layers:
        for p in (*layer.parameters(), *layer.buffers()):
            found[f"{p.stem}{model.parameter_index(layer)}"] = p
    for index, key in enumerate(names):
        p = found[key]
        if isinstance(p.init, str):
            scheme = get_scheme(p.init)
            n_out, n_in = p.shape
            value = parameter_value(scheme, n_in, n_out)
            check_draw_range(scheme, value, n_in, n_out, dtype)
            lines.append(f"# {p.init}: {scheme.parameter_name} = {scheme.parameter} = {value!r} at n_in = {n_in}, n_out = {n_out}")
            template = uniform if scheme.family == "uniform" else backend.init_normal
            lines.append(f"params[{key!r}] = " + template.format(index=index, shape=p.shape, width=2 * value, limit=value, std=value))
        else:
            lines.append(f"params[{key!r}] = " + constant.format(shape=p.shape, value=float(p.init)))
    signature, closing = backend.init_placement()
    lines += closing
    doc = f"Initial parameters: each weight from its layer's scheme, drawn in order from {generator.split(';')[0].split(' (')[0]}; the rest constant."
    return function_source("init_params", signature, doc, lines)


def _masks_blocks(masks: dict, backend: Backend, mixed: bool = False) -> list[str]:
    specs = tuple((symbol.shape[0], mask.draw, mask.value) for symbol, mask in masks.values())
    args, body = backend.graph_masks(specs)
    if mixed:
        body = backend.master_block("\n".join(body)).split("\n")
    names = tuple(masks)
    draw = ("_masks(jax.random.PRNGKey(_check_seed(seed)), batch)" if backend.functional else "_masks(seed, batch)")
    return [
        function_source("_masks", args, "The noise and dropout arrays of one training call, in the order of _MASKS.", body),
        function_source("masks", "seed, batch", "The noise and dropout arrays a training call with seed uses on batch rows, by name.", [
            "if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1:",
            "    raise ValueError(f'batch: expected a positive integer, got {batch!r}')",
            f"return dict(zip(_MASKS, {draw}))",
        ]),
        f"_MASKS = {names!r}\n",
    ]


def _entry_points(source: str, backend: Backend, names: Sequence[str]) -> tuple[str, list[tuple[str, str, str, bool]]]:
    """The printed functions ``names`` in the backend's entry spelling, and each entry's (name, arguments, data arrays, seeded)."""
    entries = []
    for name in names:
        match = re.search(rf"^def {name}\((.*)\):$", source, re.MULTILINE)
        if match is None:
            raise ValueError(f"printed graph has no {name}")
        args = match.group(1)
        entries.append((name, args, "", backend.mask_parameter in args))
        source = source[:match.start()] + backend.entry_point(name) + source[match.start() + len(f"def {name}("):]
    return source, entries


def _state_specs(optimizer: object, names: tuple[str, ...], shapes: dict) -> tuple:
    counters = tuple(s.name for s in optimizer.global_slots if s.symbol.is_integer)  # type: ignore[attr-defined]
    scalars = tuple(s.name for s in optimizer.global_slots if not s.symbol.is_integer)  # type: ignore[attr-defined]
    slots = tuple((f"{s.name}_{p}", shapes[p]) for p in names for s in optimizer.parameter_slots)  # type: ignore[attr-defined]
    return counters, scalars, slots


def graph_module_source(model: Model, backend: str | Backend = "numpy", dtype: str | np.dtype | type = "float64",
                        optimizer: str | Optimizer | None = None,
                        metrics: Sequence[object] | Mapping[str, object] = (), loss_scale: float | None = None) -> str:
    """Source of a module for the graph ``model`` in ``dtype``: numpy (``"numpy"``), JAX (``"jax"``) or PyTorch (``"torch"``).

    ``optimizer`` (a name or a :class:`symdl.optim.Optimizer`) as in
    ``model.compile(dtype, optimizer)``: then ``init_state(params)`` and
    ``train_step(params, *inputs, *targets, state[, hyperparameters])``. The
    functions take the compiled graph's arguments and give its numbers (see the
    module docstring for each backend's conventions). ``metrics`` as in ``CompiledGraph.fit(metrics=...)`` (a list
    for every output with a data target, or a dict by output name) are printed into the module for its ``fit`` and
    ``evaluate``, logged under the same keys (``<output>_<metric>`` for several outputs). Same input → byte-identical text.

    ``dtype="bfloat16"`` or ``"float16"`` (torch and jax) gives a mixed-precision module
    (:mod:`symdl.export.mixed_precision`): float32 master parameters and optimizer state, the data cast once to the
    low dtype, products and activations in it forward and backward, the loss, the penalties and every sum over the
    batch (bias gradients, a formula parameter's Σ over the rows) in float32, float32 gradients; ``loss_scale`` (a
    power of two; default 2**10 for float16, 1 for bfloat16) is float16's static loss scale.
    """
    from ..graph.model import Model

    if not isinstance(model, Model):
        raise TypeError(f"graph_module_source: expected a symdl.graph.Model, got {type(model).__name__}")
    from .mixed_precision import mixed_precision

    backend = get_backend(backend)
    mixed = mixed_precision(dtype, backend, model, loss_scale, modules="graph")
    # the compiled graph's names, shapes and checks, without its numpy code (a mixed module's masters are float32)
    compiled = GraphData(model, "float32" if mixed else dtype, optimizer)
    dtype, optimizer = compiled.dtype, compiled.optimizer
    printed_metrics = module_metrics(compiled, metrics, len(compiled.equations.targets))  # checked before any printing
    train = compiled.equations
    inference = model.equations(training=False, forms=LibraryForms(output_form=True))
    _refuse_unknown([*train.forward, *inference.forward, *(t.equation for t in train.losses), *(eq for _, eq in train.backward)], backend)
    # two or more outputs with a loss: each one's loss is logged (a mixed module's from float32 copies, as its loss)
    output_losses = compiled.output_loss_names if len(compiled.output_loss_names) > 1 else ()
    names_printed = (*_ENTRIES, *(_OUTPUT_ENTRIES if output_losses else ()))
    for metric in printed_metrics:  # as CompiledGraph.fit refuses it (symdl.training.output_losses)
        if metric.key in output_losses:
            raise ValueError(f"metrics: the log key {metric.key!r} is an output's loss; give the metric another name")
    inputs = tuple((train.names[x], x.shape[0]) for x in train.inputs)
    targets = tuple((train.names[y], y.shape[0]) for y in train.targets)
    # float16 with a loss scale: Module's backward takes the scale from its incoming gradient (torch.amp.GradScaler's);
    # with buffers it has none (its forward would move them from a training forward that computes no gradient)
    scaled = mixed is not None and mixed.loss_scale != 1
    classes = ([] if scaled and train.buffers
               else backend.graph_module_class(bool(train.masks), [n for n, _ in inputs], [n for n, _ in targets],
                                               buffers=tuple(train.buffers), scaled=scaled))
    try:  # a Module's forward moves the buffers from its one training forward: _loss_grad_moved
        printed = print_graph(train, inference, optimizer, backend=backend, loss_scale=None if mixed is None else mixed.loss_scale,
                              output_losses=output_losses, moved_buffers=bool(classes and train.buffers),
                              runtime_scale=scaled and bool(classes))
    except ValueError as error:
        raise ValueError(f"graph_module_source: {error}".splitlines()[0]) from None
    names = compiled.param_names
    shapes = {k: compiled.param_shapes[k] for k in names}
    has_opt = optimizer is not None
    head = [
        *backend.module_prelude(dtype),
        *(mixed.constant_lines(backend) if mixed else [backend.dtype_line(dtype)]),
        *filter(None, [backend.module_constant()]),
        f"_SPECS = {tuple(shapes.items())!r}",
        "_KEYS = {name for name, _ in _SPECS}",
        # a layer that computes in float32 (batch norm, layer norm): its parameters and buffers are never cast to the compute dtype
        *([f"_FLOAT32_KEYS = {train.float32_keys!r}"] if mixed else []),
        f"_INPUTS = {inputs!r}",
        f"_TARGETS = {targets!r}",
        *([f"_STATE = {_state_specs(optimizer, compiled.trained_names, shapes)!r}"] if has_opt else []),
        # the keys of output_losses' dicts, as CompiledGraph.output_loss_names (symdl.fit reads them)
        *([f"output_loss_names = {tuple(output_losses)!r}"] if output_losses else []),
        # as CompiledGraph.metric_outputs and output_widths, which symdl.fit's metrics read (a dict by output name):
        # each output with a data target as (name, the keys a dict may use, its index among forward's outputs, its target's)
        f"metric_outputs = {tuple((o.name, tuple(sorted(o.keys)), o.output, o.target) for o in compiled.metric_outputs)!r}",
        f"output_widths = {compiled.output_widths!r}",
    ]
    kernels = vector_kernels(train, inference)
    source, entries = _entry_points(printed, backend, names_printed)
    data_names = ", ".join(n for n, _ in (*inputs, *targets))
    entries = [(n, a, ", ".join(x for x, _ in inputs) if n == "forward" else data_names, s) for n, a, _, s in entries]
    blocks = [
        "\n".join(head) + "\n",
        *lr_check_blocks(dtype),
        *(_numpy_checks(has_opt) if backend.name == "numpy" else []),
        *(backend.graph_mixed_runtime(has_opt) if mixed else backend.graph_runtime(has_opt)),
        *data_runtime(compiled.input_aliases, compiled.target_aliases),
        # a mixed module draws its float32 masters, and its masks as the float32 module does (cast where they multiply)
        *(_masks_blocks(dict(train.masks), backend, mixed is not None) if train.masks else []),
        backend.master_block(_init_block(model, names, backend, dtype)) if mixed else _init_block(model, names, backend, dtype),
        *(_numpy_kernels(kernels) if backend.name == "numpy" else _kernels(kernels, backend)),
        # the checked entry points take the data in CompiledGraph's forms too; JAX's are its wrappers
        source if backend.functional else data_forms(source, [n for n, _ in inputs], [n for n, _ in targets], names_printed),
    ]
    wrappers = backend.graph_entry_wrappers(entries)
    if wrappers is not None:
        blocks.append(data_forms(wrappers, [n for n, _ in inputs], [n for n, _ in targets], names_printed))
    unchecked = backend.unchecked_entry_points(source, names_printed)
    if unchecked is not None:
        blocks.append(unchecked)
    step_args = next(a for n, a, _, _ in entries if n == "train_step").split(", ")
    data = {"params", "seed=0", backend.mask_parameter, *(n for n, _ in (*inputs, *targets))}
    fitting = fit_blocks(backend, bool(train.masks), tuple(a for a in step_args if a not in data),
                         printed_metrics, ([n for n, _ in inputs], [n for n, _ in targets]),
                         (compiled.input_aliases, compiled.target_aliases), arrange="_arrange", output_losses=output_losses)
    blocks += fitting
    public = ["init_params", *names_printed, *(["init_state"] if has_opt else []), *(["masks"] if train.masks else [])]
    public += ["fit", "evaluate"] if fitting else []
    if backend.functional or unchecked is not None:
        public += [f"{n}_unchecked" for n in names_printed]
    blocks += classes
    if classes:
        public.append("Module")
    conventions = _conventions(backend, shapes, inputs, targets, entries, has_opt, bool(train.masks))
    conventions.insert(2, data_convention([n for n, _ in inputs], [n for n, _ in targets], compiled.input_aliases,
                                          compiled.target_aliases))
    if mixed:
        conventions[1] = conventions[1].replace("; a layer's", f"; float32 or {mixed.compute}; a layer's")
        conventions.append(_mixed_convention(mixed.compute, mixed.loss_scale, any(layer.computes_in_float32 for layer in model.layers)))
    computing = f", computing in {mixed.compute}" if mixed else ""
    sections = [
        ("Spec", [f"{model!r}.compile({dtype.name!r}{', optimizer=' + repr(optimizer) if has_opt else ''}){computing}",
                  f"Functions: {', '.join(public)}."]),
        ("Conventions", conventions),
        ("Equations (LaTeX)", [f"{label}: {text}" for label, text in train.latex()]),
    ]
    title = f"{backend.title} code for a graph model: generated by symdl {__version__} from SymPy expressions. Do not edit: regenerate."
    # JAX's train_step with an optimizer returns new dicts: nothing then checks that params is mutable
    mappings = "Mapping, Sequence" if backend.functional and has_opt else "Mapping, MutableMapping, Sequence"
    imports = ["import functools", "import numbers", f"from collections.abc import {mappings}", *backend.imports,
               *backend.runtime_imports, *(backend.fit_imports() if fitting else [])]
    if has_opt and not backend.functional:  # the step's scalars (symdl.codegen.step_scalars.ScalarPrinter)
        imports.append("import math")
    return module_source(module_docstring(title, sections), imports, public, blocks)


def _mixed_convention(compute: str, loss_scale: float, float32_layers: bool = False) -> str:
    """The module docstring's line on what a mixed-precision graph module runs in which dtype (``float32_layers``: the
    graph has a layer that computes in float32)."""
    scaled = (f", scaled by _LOSS_SCALE = {loss_scale!r} and unscaled; a step whose gradients overflow leaves params (and an "
              "optimizer's state) unchanged" if loss_scale != 1 else "")
    return (f"Mixed precision: params are float32 masters (init_params, train_step); the data float32 or {compute}, cast once. "
            f"Products, activations and the masks run in {compute}; the loss, the penalties and every sum over the batch "
            f"(bias gradients, a formula parameter's sum over the rows) accumulate in float32; gradients come back in float32"
            f"{scaled}. Optimizer state is float32 like the params."
            + (f" Batch norm and a formula layer with a sum over its input (layer norm) compute in float32, as autocast's "
               f"layer_norm: float32 statistics, their inputs read widened, their parameters and moving statistics "
               f"(_FLOAT32_KEYS: never cast, moved in float32); their output and their inputs' gradients go back to {compute}."
               if float32_layers else ""))


def _conventions(backend: Backend, shapes: dict, inputs: tuple, targets: tuple, entries: list, optimizer: bool, masks: bool) -> list[str]:
    step = next(a for n, a, _, _ in entries if n == "train_step")
    if backend.functional:
        change = ("returns (the loss before it, new params, new state): JAX arrays are immutable." if optimizer
                  else "stores the new arrays in the dict params (JAX arrays are immutable); returns the loss before it.")
    else:
        change = f"updates the {backend.noun} of params{' and the dict state' if optimizer else ''} in place; returns the loss before it."
    return [
        f"params: dict of {backend.noun} " + (", ".join(f"{n} {s}" for n, s in shapes.items()) or "(none: an empty dict)") + ".",
        "inputs: " + ", ".join(f"{n} (batch, {w})" for n, w in inputs) + "; targets: "
        + (", ".join(f"{n} (batch, {w})" for n, w in targets) or "none") + "; a layer's W v is V @ W.T row by row.",
        "loss: each loss term's weight times its per-sample sum, averaged over the batch, plus the penalties.",
        f"train_step({step}): one step, then each constraint's projection (projected gradient descent); {change}",
        "forward is inference mode (no noise, no dropout); loss, loss_and_grad and train_step train"
        + (" (noise and dropout drawn from seed)." if masks else "."),
        "Gradients are the generalised backprop as derived by symdl and printed here, not the library's autodiff.",
    ]
