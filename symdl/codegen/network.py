"""BP1–BP4 equations → one flat numpy function per entry point, printed by symdl.

The equations (:mod:`symdl.backprop.equations`) are written for one sample with column
vectors. The printed code works on a batch held in rows, ``X`` of shape
(m, n₀), so every per-sample vector v becomes the rows of a matrix V and

    W v        → V @ W.T          (Wᵀ d → D @ W)
    d (a)ᵀ     → D.T @ A          (BP4, summed over the batch)
    δ (BP3)    → D.sum(axis=0)    (a parameter's gradient sums over samples)

The 1/m of the batch mean is applied once, to ∇ₐC. Statements reuse their
buffers where the equations allow it (``Z += b``, ``numpy.tanh(Z, out=Z)``,
``D *= σ'(A)``): a buffer is overwritten only when no later equation reads
the value it holds, decided from the equations themselves. The loss lines are
:mod:`symdl.codegen.network_loss`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp

from ..backends.base import Backend
from ..backends.registry import get_backend
from ..backprop.equations import BackpropEquations, LossForms, VectorRuleCall
from ..optim.base import Optimizer
from ..optim.catalogue import sgd
from .loss_scaling import (
    keep_finite_line,
    master_step_lines,
    penalty_value_line,
    split_penalty,
)
from .naming import bias_name, grad_name, parameter_name, weight_name
from .network_loss import loss_value_lines
from .optimizer import print_init_state, print_update
from .statements import Scope, StatementPrinter, kernel_function_name

__all__ = ["NetworkSource", "buffer_names", "parameter_names", "print_network"]


@dataclass(frozen=True)
class NetworkSource:
    """Printed entry points: the module source and the names its namespace must provide."""

    source: str
    kernels: Mapping[str, tuple[str, str]]  # python name → (vector rule, "value" | "vjp")


def _names(eqs: BackpropEquations) -> tuple[dict[sp.MatrixSymbol, str], set[sp.MatrixSymbol]]:
    names = {eqs.x: "X", eqs.y: "Y", eqs.loss_gradient.lhs: "gA"}
    batched = {eqs.x, eqs.y, eqs.loss_gradient.lhs}
    for layer in eqs.layers:
        l = layer.index
        names.update({layer.W: weight_name(l), layer.b: bias_name(l), layer.grad_W: grad_name(weight_name(l)), layer.grad_b: grad_name(bias_name(l))})
        names.update({layer.z: f"z{l}", layer.a: f"a{l}", layer.delta: f"d{l}", layer.grad_a: f"ga{l}"})
        batched |= {layer.z, layer.a, layer.delta, layer.grad_a}
        for part in layer.parts:  # the attached layers' own symbols: stem + l
            for sym in part.symbols():
                names[layer[sym.stem]] = f"{sym.stem}{l}"
                if sym.batched:
                    batched.add(layer[sym.stem])
        for extra, grad in zip(layer.extra, layer.grad_extra):
            base = _param_base(extra)
            names[extra], names[grad] = parameter_name(base, l), grad_name(parameter_name(base, l))
    return names, batched


def _param_base(symbol: sp.MatrixSymbol) -> str:
    return symbol.name.split("^")[0].lstrip("\\")


def parameter_names(eqs: BackpropEquations) -> list[str]:
    """The trainable keys of params in order: W1, b1 (none before batch norm), learned activation inputs, γ1, β1, W2, …"""
    names, _ = _names(eqs)
    out = []
    for layer in eqs.layers:
        out.append(names[layer.W])
        if layer.has_bias:
            out.append(names[layer.b])
        out += [names[e] for e in layer.extra]
        out += [f"{p.name}{layer.index}" for part in layer.parts for p in part.parameters()]
    return out


def buffer_names(eqs: BackpropEquations) -> list[str]:
    """The keys of params that are state, not trained: batch norm's running mean and variance."""
    return [f"{b.name}{layer.index}" for layer in eqs.layers for part in layer.parts for b in part.buffers()]


def _mask_names(eqs: BackpropEquations) -> list[str]:
    return [f"{m.name}{layer.index}" for layer in eqs.layers for part in layer.parts for m in part.masks()]


def _update_lines(params: Sequence[str], backend: Backend) -> list[str]:
    """Gradient descent with η given per call, W ← W − η·g (:func:`symdl.optim.sgd`), printed: ``g *= lr`` then ``W -= g``."""
    code = print_update(sgd(lr=None), params, backend.printer(), functional=False, keep_step=False, backend=backend)
    return [*code.compute, *code.write]


def print_network(
    eqs: BackpropEquations,
    loss: LossForms,
    penalty_value: sp.Lambda | None,
    widths: Sequence[int] | None = None,
    inference: BackpropEquations | None = None,
    backend: str | Backend = "numpy",
    optimizer: Optimizer | None = None,
    loss_scale: float | None = None,
    runtime_scale: bool = False,
) -> NetworkSource:
    """Source of ``forward``, ``trace`` (every zˡ and aˡ), ``loss``, ``inference_loss``, ``loss_and_grad`` and ``train_step`` for ``eqs``.

    ``widths`` (n₀ … n_L), when known, let a product with a one-row matrix
    print as a broadcast. ``forward`` and ``inference_loss`` (the cost of
    ``forward``'s output, as Keras' ``evaluate``) are printed from
    ``inference`` (batch norm with running statistics, no dropout) when
    given; the other entry points are the training-mode computation.

    The namespace must provide ``numpy``, ``_dtype``, ``_t`` (its scalar
    type), ``_check`` (validates params, X, Y and returns the arrays in
    :func:`parameter_names` then :func:`buffer_names` order, then X, Y),
    ``_check_lr``, the vector rule kernels named in
    :attr:`NetworkSource.kernels`, and with batch norm or dropout ``_bn_*``,
    ``_bn_update`` and ``_masks``.

    ``backend`` (a name in :func:`symdl.backends.backend_names` or a
    :class:`symdl.backends.Backend`) picks the array library; a functional
    backend's namespace provides the pure ``_unpack(params, X, Y)`` in place
    of ``_check`` and ``_check_lr``.

    With an ``optimizer`` (:class:`symdl.optim.Optimizer`), ``train_step(params,
    X, Y, state[, hyperparameters without a value][, seed])`` applies its
    update (:func:`symdl.codegen.optimizer.print_update`) with the optimizer
    state dict ``state``, and ``init_state(params)`` gives that dict; the
    namespace then also provides ``_check_params`` (params alone, the arrays in
    order), ``_check_state`` (validates ``state``) and ``_check_hyper(name,
    value)``. A functional backend's ``train_step`` returns
    ``(loss, new params, new state)``.

    ``loss_scale`` (None: one dtype throughout) prints mixed precision
    (:mod:`symdl.export.mixed_precision`): the loss and its seed ∇ₐC are
    computed in ``_acc_dtype`` from aᴸ and Y cast to it, the sums over the batch (loss, bias gradients) accumulate
    there, the seed is multiplied by ``_LOSS_SCALE`` when ``loss_scale`` ≠ 1 and rounded once to ``_dtype``, the gradients
    pass through ``_master_grads`` (float32, unscaled) and ``train_step``
    updates ``_masters(params)``. The penalty is not computed in the compute
    dtype: its value Σ Ω(Wˡ) and its term Ω'∘Wˡ of BP4 are printed from the
    same expressions after ``_master_grads``, in float32 on the masters
    (``gW1 += Ω'(W1)`` with ``W1`` rebound to ``_masters(params)``), as
    ``torch.amp`` with weight decay and optax apply it. With a scale ≠ 1,
    ``train_step``'s ``_finite_step = _all_finite(…)`` is decided on the
    unscaled data term before the penalty joins; with an optimizer the whole
    step (params, slots, the step count) is computed first and then kept
    only where it holds (``_keep_finite``: ``torch.where``/``jnp.where`` on
    the device, in place for torch), without one the gradients are zeroed
    (``_finite_or_zero``): an overflowing float16 step changes nothing, as
    ``optax.apply_if_finite`` and ``torch.amp.GradScaler`` skip it.

    ``runtime_scale`` (a scaled mixed-precision module's torch ``Module``) adds
    ``_loss_and_grad_scaled(params, X, Y, loss_scale[, seed])``, unchecked: loss_and_grad's
    lines with the scale the 0-d tensor ``loss_scale`` (the ``Module``'s incoming gradient) in
    place of ``_LOSS_SCALE``, in the seed and in ``_master_grads``.
    """
    array = get_backend(backend)
    check = "_unpack" if array.functional else "_check"
    names, batched = _names(eqs)
    params = parameter_names(eqs)
    buffers = buffer_names(eqs)
    inputs = {*params, *buffers, "X", "Y"}
    kernels: dict[str, tuple[str, str]] = {}
    for eq in [*eqs.all(), *(inference.all() if inference else [])]:
        for call in eq.rhs.atoms(VectorRuleCall):
            kernels[kernel_function_name(call.rule, call.role)] = (call.rule, call.role)
    if loss.vector_rule is not None:
        kernels[kernel_function_name(loss.vector_rule, "value")] = (loss.vector_rule, "value")
    top = eqs.layers[-1]
    unpack = ", ".join([*params, *buffers, "X", "Y"])
    fwd_unpack = ", ".join([*params, *buffers, "X"])
    mask_names = _mask_names(eqs)
    draw = array.mask_parameter.split("=")[0]
    masks = [f"{', '.join(mask_names)}, = _masks({draw}, {array.mask_arguments('X')})"] if mask_names else []
    seed = f", {array.mask_parameter}" if mask_names else ""
    header = [f"{unpack} = {check}(params, X, Y)", *masks]

    known = {} if widths is None else {sp.Symbol(f"n_{l}", integer=True, positive=True): n for l, n in enumerate(widths)}

    mixed = loss_scale is not None
    accumulate = "_acc_dtype" if mixed else None

    def scope() -> Scope:
        return Scope(names=names, batched=batched, inputs=inputs, widths=known, backend=array, printer=array.printer(),
                     accumulate=accumulate)

    out_name = f"a{top.index}"
    sources = []

    def entry(name: str, args: str, lines: Sequence[str]) -> str:  # the constants made where X lives
        return _def(name, args, array.bind_constants(lines, "X"))
    forward = StatementPrinter(scope(), (inference or eqs).forward, keep=[top.a]).emit_all()
    sources.append(
        entry("forward", "params, X", [f"{fwd_unpack}, _ = {check}(params, X, None, False, False)", *forward, f"return {out_name}"])
    )
    every = [s for layer in eqs.layers for s in (layer.z, layer.a)]
    trace = StatementPrinter(scope(), eqs.forward, keep=every).emit_all()
    traced = ", ".join(f"{names[s]!r}: {names[s]}" for s in every)
    trace_head = [f"{fwd_unpack}, _ = {check}(params, X, None, False, False)", *masks]
    sources.append(entry("trace", f"params, X{seed}", [*trace_head, *trace, f"return {{{traced}}}"]))
    # Mixed precision: the penalty, its value and its term Ω'∘Wˡ in BP4, is computed in float32 on the masters once
    # the gradients are unscaled, as torch.amp with weight decay and optax do, not in the compute dtype
    late = mixed and penalty_value is not None
    early_penalty = None if mixed else penalty_value
    masters_line = f"{', '.join([*params, *buffers])}, = _masters(params)"

    def master_penalty(scope: Scope, accumulations: Sequence[sp.Eq] = ()) -> list[str]:
        """Σ Ω(Wˡ) added to the loss, and ``gWˡ += Ω'(Wˡ)``: on the float32 masters ``_masters(params)`` binds."""
        if not late:
            return []
        assert penalty_value is not None
        values = [penalty_value_line(penalty_value, scope.name(layer.W), scope) for layer in eqs.layers]
        return [masters_line, *values, *StatementPrinter(scope, accumulations, keep=[]).emit_all()]
    loss_scope = scope()
    loss_lines = StatementPrinter(loss_scope, eqs.forward, keep=[top.a]).emit_all()
    loss_lines += loss_value_lines(loss, loss_scope, out_name, early_penalty, eqs, gradient=False)
    loss_lines += master_penalty(loss_scope)
    sources.append(entry("loss", f"params, X, Y{seed}", [*header, *loss_lines, "return loss"]))
    # The cost at inference (Keras' evaluate): the forward of ``inference``, no masks, buffers only read.
    eval_scope = scope()
    eval_lines = StatementPrinter(eval_scope, (inference or eqs).forward, keep=[top.a]).emit_all()
    eval_lines += loss_value_lines(loss, eval_scope, out_name, early_penalty, inference or eqs, gradient=False)
    eval_lines += master_penalty(eval_scope)
    sources.append(entry("inference_loss", "params, X, Y", [f"{unpack} = {check}(params, X, Y)", *eval_lines, "return loss"]))

    equations = [*eqs.forward, eqs.loss_gradient, *(eq for _, eq in eqs.backward)]
    read_later = {s for eq in equations[len(eqs.forward):] for s in eq.rhs.atoms(sp.MatrixSymbol)}
    statistics = {s for layer in eqs.layers for part in layer.parts for s in part.kept_for_backward(layer)}
    scaled = mixed and loss_scale != 1
    backward, accumulations = [eq for _, eq in eqs.backward], []
    if mixed:  # BP4's data term in the compute dtype; its penalty term later, in float32 on the masters
        split = [split_penalty(eq) for eq in backward]
        backward = [data for data, _ in split if data is not None]
        accumulations = [acc for _, acc in split if acc is not None]

    def gradient_body(scale: str | None) -> tuple[list[str], list[str]]:
        """The forward pass, the loss and the seed (times ``scale``), the backward pass; then the penalty's lines."""
        grad_scope = scope()
        body = StatementPrinter(grad_scope, eqs.forward, keep=read_later | statistics | {top.a}).emit_all()
        body += loss_value_lines(loss, grad_scope, out_name, early_penalty, eqs, gradient=True, scale=scale)
        body += StatementPrinter(grad_scope, backward, keep=[]).emit_all()
        return body, master_penalty(grad_scope, accumulations)

    body, penalty_lines = gradient_body("_LOSS_SCALE" if scaled else None)
    grads = ", ".join(f"{p!r}: {grad_name(p)}" for p in params)
    gradients = ", ".join(grad_name(p) for p in params)
    unscale = [f"{gradients}, = _master_grads({gradients})"] if mixed else []
    sources.append(entry("loss_and_grad", f"params, X, Y{seed}", [*header, *body, *unscale, *penalty_lines,
                                                                    f"return loss, {{{grads}}}"]))
    if scaled and runtime_scale:  # the Module's backward: the same lines, the scale a tensor argument (unchecked)
        at_scale, at_scale_penalty = gradient_body("loss_scale")
        opening = [line.replace(f"= {check}(", "= _unpack(") for line in header]
        sources.append(entry("_loss_and_grad_scaled", f"params, X, Y, loss_scale{seed}", [
            *opening, *at_scale, f"{gradients}, = _master_grads({gradients}, scale=loss_scale)", *at_scale_penalty,
            f"return loss, {{{grads}}}"]))
    # A loss-scaled step is kept only if the data term of its gradients is finite (decided on the device, before the
    # float32 penalty joins): an optimizer's step is computed whole, then kept or dropped; plain SGD's gradients are zeroed.
    skip = scaled and optimizer is not None
    # train_step writes the float32 masters, not the compute copies the body read
    masters = master_step_lines(gradients, masters_line, penalty_lines, scaled=scaled, plain=optimizer is None) if mixed else []
    # Every step is scaled before any parameter is written: an overflow raises with params untouched.
    if optimizer is None:
        update = _update_lines(params, array)
        arguments, new_state = ["lr"], None
    else:
        code = print_update(optimizer, params, array.printer(), functional=array.functional or skip, backend=array)
        update, arguments, new_state = [*code.compute, *code.write], ["state", *code.arguments], code.new_state
        if skip:
            kept = [("params", {p: p for p in params}), *([("state", code.new_state)] if code.new_state else [])]
            update += [keep_finite_line(store, new, array.functional) for store, new in kept]
        sources.append(entry("init_state", "params", print_init_state(optimizer, params, array, f"{', '.join([*params, *buffers])}, = _check_params(params)",
                                                                      device_scalars=skip)))
    for layer in eqs.layers:
        for change in (c for part in layer.parts for c in part.state_updates()):
            l = layer.index
            targets = ", ".join(f"{b}{l}" for b in change.buffers)
            call = f"{change.kernel}({', '.join(f'{n}{l}' for n in (*change.buffers, *change.inputs))}, X.shape[0])"
            # Immutable arrays: the buffers come back as new arrays instead of being written in place.
            update.append(f"{targets} = {call}" if array.functional else call)
    checks = [] if array.functional else [_argument_check(a) for a in arguments if a != "state"]
    # the state once params and X are checked: its tensors must be on their device
    state_check = [array.state_check("X")] if not array.functional and "state" in arguments else []
    train_head = [*checks, f"{unpack} = {check}(params, X, Y, True)", *state_check, *masks]
    if array.functional:  # immutable arrays: the new values are returned, the caller stores them
        new = ", ".join(f"{p!r}: {p}" for p in (*params, *buffers))
        result = f"return loss, {{{new}}}"
        if new_state is not None:
            result += ", {" + ", ".join(f"{k!r}: {v}" for k, v in new_state.items()) + "}"
    else:
        result = "return loss"
    sources.append(entry("train_step", f"params, X, Y, {', '.join(arguments)}{seed}", [*train_head, *body, *masters, *update, result]))
    return NetworkSource(source="\n\n".join(sources), kernels=kernels)


def _argument_check(name: str) -> str:
    """The check of one train_step argument but the state: the learning rate's range, another hyperparameter."""
    if name == "lr":
        return "lr = _check_lr(lr)"
    return f"{name} = _check_hyper({name!r}, {name})"


_UNPACK = re.compile(r"([A-Za-z_]\w*(?:, *[A-Za-z_]\w*)+,?) = (.*)")


_ALIAS = re.compile(r"([A-Za-z_]\w*) = [A-Za-z_]\w*")


def _def(name: str, args: str, body: Sequence[str]) -> str:
    """The function's source; names unpacked from a tuple and never read afterwards are bound to ``_``,
    and an alias ``a = z`` that nothing reads afterwards is left out."""
    lines = list(body)
    for k in range(len(lines) - 1, -1, -1):
        alias = _ALIAS.fullmatch(lines[k])
        if alias and not re.search(rf"\b{alias.group(1)}\b", "\n".join(lines[k + 1:])):
            del lines[k]
    for k, line in enumerate(lines):
        match = _UNPACK.fullmatch(line)
        if match:
            later = "\n".join(lines[k + 1:])
            targets = [t.strip() for t in match.group(1).split(",") if t.strip()]
            kept = [t if re.search(rf"\b{t}\b", later) else "_" for t in targets]
            lines[k] = f"{', '.join(kept)}{',' if len(kept) == 1 else ''} = {match.group(2)}"
    return f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in lines)

