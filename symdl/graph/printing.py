"""A graph's equations → numpy source of ``forward``, ``inference_loss``, ``loss``, ``loss_and_grad``, ``train_step`` (and ``init_state``).

The statements come from :class:`symdl.codegen.statements.StatementPrinter`
(batch in rows: W v → V @ W.T, δ aᵀ summed over the batch, buffers reused
only where no later equation reads them); a graph adds sums of bare
vectors (printed as fresh arrays, never into an operand's buffer), the
stacking of vectors and their slices (:mod:`symdl.graph.statement_printer`). An equation whose right side is
another symbol (stop-gradient's forward, inference dropout, a node whose
gradient is one consumer's) is no statement: the later equations read the
symbol itself. The loss lines are :mod:`symdl.graph.loss_printing`'s, the optimizer's update is
:func:`symdl.codegen.optimizer.print_update`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sympy as sp

from ..backends.base import Backend
from ..backends.registry import get_backend
from ..backprop.equations import VectorRuleCall
from ..codegen import loss_scaling as scaling
from ..codegen.kernel import KernelPrinter
from ..codegen.optimizer import print_init_state, print_update
from ..codegen.statements import Scope, kernel_function_name
from ..optim.base import Optimizer
from ..optim.catalogue import sgd
from .blocks import ArrayNode, Narrowed, Stopped
from .constraints import projection_lines
from .equations import GraphEquations
from .loss_printing import (
    entry_casts,
    loss_lines,
    output_loss_lines,
    output_terms,
    penalty_value_lines,
    seed_times,
    widened_outputs,
)
from .select_printer import SelectPrinter
from .statement_printer import GraphStatementPrinter

__all__ = ["GraphStatementPrinter", "array_definitions", "print_graph", "vector_kernels"]


def _inline_aliases(equations: Sequence[sp.Eq], batched: frozenset[sp.MatrixSymbol],
                    stopped: Sequence[sp.MatrixSymbol] = ()) -> tuple[list[sp.Eq], dict[sp.MatrixSymbol, sp.MatrixSymbol]]:
    """Drop ``h = x`` (both per-sample) and read x wherever h is read; the mapping h → x for the return values.

    A ``stopped`` h (stop-gradient's output) stays a statement, h = stop_gradient(x), for a backend that
    differentiates the printed code itself (JAX, torch autograd).
    """
    alias: dict[sp.MatrixSymbol, sp.MatrixSymbol] = {}
    out = []
    for eq in equations:
        rhs = eq.rhs.xreplace(alias) if alias else eq.rhs
        if eq.lhs in stopped and isinstance(rhs, sp.MatrixSymbol):
            out.append(sp.Eq(eq.lhs, Stopped(rhs), evaluate=False))
            continue
        if isinstance(rhs, sp.MatrixSymbol) and eq.lhs in batched and rhs in batched:
            alias[eq.lhs] = rhs
            continue
        out.append(sp.Eq(eq.lhs, rhs, evaluate=False))
    return out, alias


def _narrowed(equations: Sequence[sp.Eq], narrowed: frozenset[sp.MatrixSymbol]) -> list[sp.Eq]:
    """Each equation whose left side leaves a float32 layer (batch norm's output, its input's error signal) with its
    right side cast back to the compute dtype (mixed precision)."""
    return [sp.Eq(eq.lhs, Narrowed(eq.rhs), evaluate=False) if eq.lhs in narrowed else eq for eq in equations]


def _prune(equations: Sequence[sp.Eq], keep: set[sp.MatrixSymbol]) -> list[sp.Eq]:
    """The equations some kept symbol depends on (an auxiliary head is no part of ``forward``)."""
    needed, out = set(keep), []
    for eq in reversed(equations):
        if eq.lhs in needed:
            out.append(eq)
            needed |= eq.rhs.atoms(sp.MatrixSymbol)
    return out[::-1]


def _unpacked(names: Sequence[str], body: Sequence[str]) -> str:
    """``names`` as a tuple target, each that ``body`` never reads as ``_name`` (an auxiliary head's weights in forward)."""
    text = "\n".join(body)
    return ", ".join(n if re.search(rf"\b{re.escape(n)}\b", text) else f"_{n}" for n in names)


def _def(name: str, args: str, body: Sequence[str]) -> str:
    return f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in body)


def vector_kernels(train: GraphEquations, inference: GraphEquations) -> dict[str, tuple[str, str]]:
    """The vector-rule kernels the printed code calls: python name → (rule, "value" | "vjp")."""
    kernels = {}
    equations = [*train.forward, *inference.forward, *(t.equation for t in train.losses), *(eq for _, eq in train.backward)]
    for eq in equations:
        for call in eq.rhs.atoms(VectorRuleCall):
            kernels[kernel_function_name(call.rule, call.role)] = (call.rule, call.role)
    for t in train.losses:
        if t.forms.vector_rule is not None:
            kernels[kernel_function_name(t.forms.vector_rule, "value")] = (t.forms.vector_rule, "value")
    return kernels


def array_definitions(train: GraphEquations, inference: GraphEquations, module: str = "numpy",
                      accumulate: str | None = None) -> list[str]:
    """The sources the array nodes of the equations need defined (:meth:`ArrayNode.definitions`), each once, in order.

    ``accumulate`` (mixed precision): the dtype a reduced node's sum over the batch accumulates in.
    """
    equations = [*inference.forward, *train.forward, *(t.equation for t in train.losses), *(eq for _, eq in train.backward)]
    sources: dict[str, str] = {}
    for eq in equations:
        for node in sorted(eq.rhs.atoms(ArrayNode), key=sp.default_sort_key):
            for name, source in node.definitions(module, accumulate) if node.reduced and accumulate else node.definitions(module):
                sources.setdefault(name, source)
    return list(sources.values())


def print_graph(train: GraphEquations, inference: GraphEquations, optimizer: Optimizer | None = None,
                backend: str | Backend = "numpy", select: bool = False, loss_scale: float | None = None,
                output_losses: Sequence[str] = (), moved_buffers: bool = False, runtime_scale: bool = False) -> str:
    """The module source; its namespace provides numpy, math, _dtype, _check, _check_forward, _masks and the argument checks.

    ``_check(params, *inputs, *targets, writable)`` returns the parameter arrays
    (keys in ``train.params`` order), the inputs and the targets;
    ``_masks(seed, m)`` the masks' arrays in ``train.masks`` order; and the
    kernels of :func:`vector_kernels`. Another ``backend`` prints its array
    module in place of numpy (:mod:`symdl.export.graph_modules`); a functional
    one (JAX) calls the pure ``_unpack`` / ``_unpack_forward`` in place of the
    checks, prints no argument checks (its wrappers check) and returns the new
    params (and state) from ``train_step``. ``select`` (numpy only) prints
    ``numpy.where`` as the namespace's ``_where`` / ``_where_into``
    (:mod:`symdl.graph.select`: the same bits, no branch per element).

    ``loss_scale`` (None: one dtype throughout) prints mixed precision as
    :func:`symdl.codegen.network.print_network` does (:mod:`symdl.export.mixed_precision`):
    the loss terms and their seeds ℓ'/m are computed in ``_acc_dtype`` from
    the outputs and targets cast to it (:func:`widened_outputs`; an input target at the
    entry, before the inputs are cast once: :func:`entry_casts`), the loss, the
    penalties and every sum over the batch (bias gradients, a
    formula parameter's Σ over the rows) accumulate in ``_acc_dtype``, the
    masks are cast to ``_dtype``, the seeds ℓ'/m are multiplied by
    ``_LOSS_SCALE`` when it is not 1 and rounded once to ``_dtype``, the gradients pass through
    ``_master_grads`` and ``train_step`` updates ``_masters(params)``; the
    penalties' values Σ Ω(θ) and terms Ω'(θ) join after ``_master_grads``, in
    float32 on the masters, and a scaled step is kept only where its data term
    is finite (:mod:`symdl.codegen.loss_scaling`).

    ``moved_buffers`` (a graph with buffers) adds ``_loss_grad_moved(params, *data[, seed])``, unchecked (``_unpack``):
    loss_and_grad's loss and gradients and each buffer's value after the call, as ``train_step`` moves it, from one
    training forward (a torch ``Module``'s forward in training, which moves its buffers as ``torch.nn.BatchNorm1d`` does).
    ``runtime_scale`` (a scaled module's torch ``Module``) adds ``_loss_and_grad_scaled(params, *data, loss_scale[, seed])``,
    unchecked: loss_and_grad with the 0-d tensor ``loss_scale`` in place of ``_LOSS_SCALE`` (seeds, ``_master_grads``).

    ``output_losses`` (the log keys ``<output>_loss``, one per output with a loss), when there are two or more (Keras
    logs one output's loss as ``loss`` alone), adds
    ``output_losses(params, *data[, seed])`` in training mode and ``inference_output_losses(params, *data)``: the dict
    of each output's unweighted loss by its key (:func:`output_loss_lines`; in mixed precision from float32 copies and
    summed in float32, as the loss). They print the forward pass up to the outputs they read only.
    """
    backend = get_backend(backend)
    m = backend.module
    functional = backend.functional
    check = "_unpack" if functional else "_check"
    stopped = train.stopped if backend.stop_gradient("x") != "x" else ()
    params = list(train.params)
    buffers = list(train.buffers)  # in params, not trained: read at inference, written by train_step
    inputs = [train.names[x] for x in train.inputs]
    targets = [train.names[y] for y in train.targets]
    data = ", ".join([*inputs, *targets])
    masks = list(train.masks)
    seed = f", {backend.mask_parameter}" if masks else ""
    draw = backend.mask_parameter.split("=")[0]
    mixed = loss_scale is not None
    drawn = f"_masks({draw}, {backend.mask_arguments(inputs[0])})"
    if mixed:  # drawn as in float32 (the same masks whatever the compute dtype), multiplied in _dtype
        drawn = f"[{backend.cast('_mask', '_dtype')} for _mask in {drawn}]"
    mask_line = [f"{', '.join(masks)}, = {drawn}"] if masks else []
    unpack = ", ".join([*params, *buffers, *inputs, *targets])

    if select and backend.printer_class is not KernelPrinter:
        raise ValueError(f"select= is for the numpy backend, not {backend.title}")

    def scope(eqs: GraphEquations) -> Scope:
        printer = SelectPrinter() if select else backend.printer()
        return Scope(names=eqs.names, batched=set(eqs.batched), inputs={*params, *buffers, *inputs, *targets, *masks},
                     backend=backend, printer=printer, accumulate="_acc_dtype" if mixed else None)

    def entry(name: str, args: str, lines: Sequence[str]) -> str:  # the constants made where the first input lives
        return _def(name, args, backend.bind_constants(lines, inputs[0]))

    # Mixed precision: the penalties, their values and their terms Ω'(θ), are computed in float32 on the masters once
    # the gradients are unscaled, as torch.amp with weight decay and optax do, not in the compute dtype
    # (_masters gives every array of _SPECS: the buffers, already float32 masters as unpacked, are bound as _name)
    masters_line = f"{', '.join([*params, *(f'_{b}' for b in buffers)])}, = _masters(params)"

    def master_penalty(eqs: GraphEquations, s: Scope, accumulations: Sequence[sp.Eq] = ()) -> list[str]:
        """Σ Ω(θ) added to the loss, and ``gθ += Ω'(θ)``: on the float32 masters ``_masters(params)`` binds."""
        if not (mixed and eqs.penalties):
            return []
        printed = GraphStatementPrinter(s, accumulations, keep=set(train.param_grads.values())).emit_all()
        return [masters_line, *penalty_value_lines(eqs, s), *printed]

    sources = array_definitions(train, inference, m, "_acc_dtype" if mixed else None)
    # forward: inference mode (no noise, no dropout); mixed precision: a float32 layer's output cast back to _dtype
    inference_forward = _narrowed(inference.forward, inference.narrowed) if mixed else inference.forward
    fwd, alias = _inline_aliases(inference_forward, inference.batched, stopped)
    outs = [alias.get(o, o) for o in inference.outputs]
    body = GraphStatementPrinter(scope(inference), _prune(fwd, set(outs)), keep=outs).emit_all()
    names = [inference.names[o] for o in outs]
    result = names[0] if len(names) == 1 else f"({', '.join(names)},)"
    head = f"{_unpacked([*params, *buffers, *inputs], [*body, result])}, = {check}_forward(params, {', '.join(inputs)})"
    sources.append(entry("forward", f"params, {', '.join(inputs)}", [head, *body, f"return {result}"]))

    # inference_loss: the cost in inference mode (no noise, no dropout), as Keras' evaluate
    fwd, alias = _inline_aliases(inference_forward, inference.batched, stopped)
    keep = {alias.get(t.value, t.value) for t in inference.losses} | {alias.get(t.target, t.target) for t in inference.losses}
    evaluating = scope(inference)
    body = GraphStatementPrinter(evaluating, _prune(fwd, keep), keep=keep).emit_all()
    body += loss_lines(inference, alias, evaluating, penalties=not mixed)
    body += master_penalty(inference, evaluating)
    opening = [f"{unpack}, = {check}(params, {data}{', ' if data else ''}False)", *entry_casts(inference, alias, evaluating)]
    sources.append(entry("inference_loss", f"params, {data}", [*opening, *body, "return loss"]))

    output_losses = output_losses if len(output_losses) > 1 else ()
    if output_losses:
        outputs_scope, terms = scope(inference), output_terms(inference)
        read = {alias.get(t.value, t.value) for t in terms} | {alias.get(t.target, t.target) for t in terms}
        body = [*entry_casts(inference, alias, outputs_scope, terms),
                *GraphStatementPrinter(outputs_scope, _prune(fwd, read), keep=read).emit_all(),
                *output_loss_lines(inference, alias, outputs_scope, output_losses), "return _losses"]
        head = f"{_unpacked([*params, *buffers, *inputs, *targets], body)}, = {check}(params, {data}{', ' if data else ''}False)"
        sources.append(entry("inference_output_losses", f"params, {data}", [head, *body]))

    forward, alias = _inline_aliases(_narrowed(train.forward, train.narrowed) if mixed else train.forward, train.batched, stopped)
    losses = [sp.Eq(t.gradient, t.equation.rhs.xreplace(alias), evaluate=False) for t in train.losses]
    inv_m = sp.Symbol("_inv_m", real=True)
    scaled_seeds = mixed and loss_scale != 1
    # float16: the seeds ℓ'/m scaled up before they are rounded, so that small gradients do not flush to zero
    seed_factor = inv_m * sp.Symbol("_LOSS_SCALE", positive=True) if scaled_seeds else inv_m

    def seeds(factor: sp.Expr) -> list[sp.Eq]:
        return [sp.Eq(eq.lhs, seed_times(eq.rhs, factor), evaluate=False) for eq in losses]
    scaled = seeds(seed_factor)
    backward, _ = _inline_aliases([eq.xreplace(alias) for _, eq in train.backward], train.batched)
    if mixed:  # the error signal a float32 layer passes back, cast back to _dtype
        backward = _narrowed(backward, train.narrowed)
    accumulations: list[sp.Eq] = []
    if mixed:  # a gradient's data term in the compute dtype; the penalties' terms Ω'(θ) later, in float32 on the masters
        split = [scaling.split_penalty(eq) for eq in backward]
        backward = [data for data, _ in split if data is not None]
        accumulations = [acc for _, acc in split if acc is not None]
        no_data = [acc.lhs for data, acc in split if data is None and acc is not None]
    # only train_step reads the buffers (its update of the moving statistics): elsewhere they are unpacked as _name
    unread = ", ".join([*params, *(f"_{b}" for b in buffers), *inputs, *targets])
    header = [f"{{unpack}}, = {check}(params, {data}{', ' if data else ''}{{writable}})",
              *entry_casts(train, alias, scope(train)), *mask_line]

    def values(eqs: GraphEquations, keep: set[sp.MatrixSymbol]) -> tuple[list[str], Scope]:
        s = scope(eqs)  # only what is read: batch norm's μ_B is read by train_step's update, x̂ by the backward pass
        lines = GraphStatementPrinter(s, _prune(forward, keep), keep=keep).emit_all()
        lines += loss_lines(train, alias, s, penalties=not mixed)
        return lines, s

    loss_keep = {alias.get(t.value, t.value) for t in train.losses} | {alias.get(t.target, t.target) for t in train.losses}
    lines, s = values(train, loss_keep)
    lines += master_penalty(train, s)
    sources.append(entry("loss", f"params, {data}{seed}", [h.format(writable="False", unpack=unread) for h in header] + lines + ["return loss"]))

    if output_losses:  # the masks drawn from seed as loss draws them: the values of the step with that seed
        outputs_scope, terms = scope(train), output_terms(train)
        read = {alias.get(t.value, t.value) for t in terms} | {alias.get(t.target, t.target) for t in terms}
        body = [*GraphStatementPrinter(outputs_scope, _prune(forward, read), keep=read).emit_all(),
                *output_loss_lines(train, alias, outputs_scope, output_losses), "return _losses"]
        body = [*entry_casts(train, alias, outputs_scope, terms), *([f"{_unpacked(masks, body)}, = {drawn}"] if masks else []), *body]
        # only what the outputs' losses read is printed: an auxiliary head's arrays and masks are unpacked as _name
        bound = [_unpacked(params, body), *(f"_{b}" for b in buffers), _unpacked([*inputs, *targets], body)]
        head = f"{', '.join(filter(None, bound))}, = {check}(params, {data}{', ' if data else ''}False)"
        sources.append(entry("output_losses", f"params, {data}{seed}", [head, *body]))

    read_later = {s for eq in [*scaled, *backward] for s in eq.rhs.atoms(sp.MatrixSymbol)}

    def gradient_lines(keep: set[sp.MatrixSymbol], scaled: list[sp.Eq] = scaled) -> tuple[list[str], Scope]:
        """The forward pass up to what ``keep`` and the backward pass read, then the gradients from the seeds ``scaled``."""
        grad_lines, s = values(train, keep | read_later | loss_keep)
        if not mixed:  # 1ᵀD sums a gradient over the batch (the statement printer's reduction reads _ones)
            grad_lines.append(f"_ones = {backend.tensor_factory('ones', f'{inputs[0]}.shape[0]', inputs[0])}")
            s.defined.add("_ones")
        if mixed:  # the seeds s·ℓ'/m from the float32 copies, each rounded once to _dtype, as autograd through autocast
            widened, _ = widened_outputs(train, alias, s)
            later = {r for eq in backward for r in eq.rhs.atoms(sp.MatrixSymbol)} | set(train.param_grads.values())
            with scaling.reading_widened(s, widened):  # the backward pass then reads hᵗ itself, in the compute dtype
                grad_lines += GraphStatementPrinter(s, scaled, keep=later).emit_all()
            seeds = [s.name(eq.lhs) for eq in scaled]
            grad_lines += [f"{g} = {backend.cast(g, '_dtype')}" for g in dict.fromkeys(seeds)]
            grad_lines += GraphStatementPrinter(s, backward, keep=set(train.param_grads.values())).emit_all()
        else:
            wanted = set(train.param_grads.values())  # a seed no backward line reads (a loss on an input) is not printed
            grad_lines += GraphStatementPrinter(s, _prune([*scaled, *backward], wanted), keep=wanted).emit_all()
        for key in params:
            if key not in train.param_grads or (mixed and train.param_grads[key] in no_data):  # no path to the loss
                grad_lines.append(f"g{key} = {m}.zeros_like({key})")
        return grad_lines, s

    grad_lines, s = gradient_lines(set())
    if train.updates:  # and the statistics the buffers' updates read (μ_B), in train_step only
        step_lines, step_scope = gradient_lines({r for eq in train.updates for r in eq.rhs.atoms(sp.MatrixSymbol)})
    else:
        step_lines, step_scope = grad_lines, s
    penalty_lines = master_penalty(train, s, accumulations)
    grads = ", ".join(f"{p!r}: g{p}" for p in params)
    gradients = ", ".join(f"g{p}" for p in params)
    unscale = [f"{gradients}, = _master_grads({gradients})"] if mixed and params else []
    sources.append(entry("loss_and_grad", f"params, {data}{seed}", [h.format(writable="False", unpack=unread) for h in header] + grad_lines
                         + unscale + penalty_lines + [f"return loss, {{{grads}}}"]))
    if moved_buffers and train.updates:  # train_step's forward and gradients, then the buffers' new values, not written
        opening = [h.format(writable="False", unpack=unpack).replace(f"= {check}(", "= _unpack(") for h in header]
        sources.append(entry("_loss_grad_moved", f"params, {data}{seed}", [
            *opening, *step_lines, *unscale, *penalty_lines, *_buffer_lines(train, step_scope, backend, write=False),
            f"return loss, {{{grads}}}, {{" + ", ".join(f"{b!r}: {b}" for b in buffers) + "}"]))
    if runtime_scale and scaled_seeds:  # the Module's backward: the same lines, the scale a tensor argument (unchecked)
        at_scale, at_scope = gradient_lines(set(), seeds(inv_m * sp.Symbol("loss_scale", positive=True)))
        opening = [h.format(writable="False", unpack=unread).replace(f"= {check}(", "= _unpack(") for h in header]
        sources.append(entry("_loss_and_grad_scaled", f"params, {data}, loss_scale{seed}", [
            *opening, *at_scale, *([f"{gradients}, = _master_grads({gradients}, scale=loss_scale)"] if params else []),
            *master_penalty(train, at_scope, accumulations), f"return loss, {{{grads}}}"]))
    # A loss-scaled step is kept only if the data term of its gradients is finite (decided on the device, before the
    # float32 penalties join): an optimizer's step is computed whole, then kept or dropped; plain SGD's gradients are zeroed.
    skip = scaled_seeds and optimizer is not None
    # train_step writes the float32 masters, not the compute copies the body read
    step_masters = (scaling.master_step_lines(gradients, masters_line, penalty_lines, scaled=scaled_seeds, plain=optimizer is None)
                    if mixed and params else [])

    if optimizer is None:
        code = print_update(sgd(lr=None), params, backend.printer(), functional=functional, keep_step=False, backend=backend)
        arguments = ["lr"]
        checks = ["lr = _check_lr(lr)"]
    else:
        code = print_update(optimizer, params, backend.printer(), functional=functional or skip, backend=backend)
        arguments = ["state", *code.arguments]
        checks = [f"{a} = _check_hyper({a!r}, {a})" for a in code.arguments]
        # the state dict first: a parameter it never reads (plain SGD keeps no slot) is unpacked as _name
        state = print_init_state(optimizer, params, backend, "", device_scalars=skip)[1:]
        # no parameters: nothing to unpack (`, = …` would not parse)
        head = (f"{', '.join([_unpacked(params, state), *(f'_{b}' for b in buffers)])}, = _check_params(params)" if params
                else "_check_params(params)")
        sources.append(entry("init_state", "params", [head, *state]))
    update = [*code.compute, *code.write]
    if skip:  # the kept values rebound to the names: a constraint then projects what params holds
        kept = [("params", {p: p for p in params}), *([("state", code.new_state)] if code.new_state else [])]
        update += [scaling.keep_finite_line(store, new, True) for store, new in kept]
    update += _constraint_lines(train, backend)
    update += _buffer_lines(train, step_scope, backend)
    if functional:  # immutable arrays: the new values are returned, the caller stores them
        result = "return loss, {" + ", ".join(f"{p!r}: {p}" for p in [*params, *buffers]) + "}"
        if optimizer is not None:
            result += ", {" + ", ".join(f"{k!r}: {v}" for k, v in code.new_state.items()) + "}"
        checks = []
    else:
        result = "return loss"
    # the state once params and the data are checked: its tensors must be on their device
    state_check = [backend.state_check(inputs[0])] if optimizer is not None and not functional else []
    train_head = [h.format(writable="True", unpack=unpack) for h in header]
    sources.append(entry("train_step", f"params, {data}, {', '.join(arguments)}{seed}",
                        [*checks, train_head[0], *state_check, *train_head[1:], *step_lines, *step_masters, *update, result]))
    return "\n\n".join(sources)


def _buffer_lines(eqs: GraphEquations, s: Scope, backend: Backend, write: bool = True) -> list[str]:
    """Each buffer's new value after the step (batch norm's moving statistics), printed from its SymPy expression:
    written into the array params holds (numpy, torch), or bound anew (JAX; ``write=False``) and returned."""
    printer = GraphStatementPrinter(s, [], keep=set())
    lines = []
    for eq in eqs.updates:
        key = eqs.names[eq.lhs]
        code = printer._code(eq.rhs)
        lines.append(f"{key} = {code}" if backend.functional or not write else f"{key}[...] = {code}")
    return lines


def _constraint_lines(eqs: GraphEquations, backend: Backend) -> list[str]:
    """θ ← P(θ) after the step (projected gradient descent), P printed from its SymPy form (:mod:`symdl.graph.constraints`)."""
    return [line for key, project, vector in eqs.constraints for line in projection_lines(key, project, backend, vector)]
