"""C = (1/m) Σ ℓ(aᴸ, y) + Σₗ Σ Ω(Wˡ) and its seed ∇ₐC/m: the loss lines of a network's entry points, printed from ℓ.

The loss's value is printed from its SymPy form (or its vector rule's kernel) and its seed ∇ₐC from the loss
gradient equation of :mod:`symdl.backprop.equations`; :mod:`symdl.codegen.network` puts these lines into
``loss``, ``inference_loss``, ``loss_and_grad`` and ``train_step``.
"""

from __future__ import annotations

import sympy as sp

from ..backprop.equations import BackpropEquations, Elementwise, LossForms
from ..symbolic.shared_cse import cse_basic
from .kernel import printable
from .loss_scaling import penalty_value_line, reading_widened, widened_copies
from .statements import Scope, StatementPrinter, kernel_function_name

__all__ = ["loss_value_lines", "reduction_lines"]


def loss_value_lines(
    loss: LossForms,
    scope: Scope,
    out_name: str,
    penalty_value: sp.Lambda | None,
    eqs: BackpropEquations,
    *,
    gradient: bool,
    scale: str | None = None,
) -> list[str]:
    """C = (1/m) Σ ℓ(aᴸ, y) + Σₗ Σ Ω(Wˡ), and with ``gradient`` also ∇ₐC (the equation's right side)/m into ``gA``.

    When ∇ₐC is ℓ'∘(aᴸ, y), value and gradient share their common subexpressions (a − y). The sums accumulate in
    the scope's ``accumulate`` dtype when it has one; ``scale`` (a name) multiplies ∇ₐC by the loss scale: the static
    ``_LOSS_SCALE`` or a 0-d tensor argument (the torch ``Module``'s backward: its incoming gradient).
    With an ``accumulate`` dtype (mixed precision) ℓ and ∇ₐC are computed in it from aᴸ and Y cast once (as
    ``torch.autocast`` computes a loss), and s·∇ₐC/m is rounded once to ``_dtype``: an overflow there is an inf
    that ``_all_finite`` sees on the device.
    """
    printer = scope.printer
    factor = "_inv_m" if loss.reduction is None else "_reduction"
    lines = ["_inv_m = 1.0 / X.shape[0]"] if loss.reduction is None else reduction_lines(loss, printer)
    acc = scope.accumulate or "_dtype"
    # float16: the seed ∇ₐC scaled up before it is rounded, so that small gradients do not flush to zero
    gradient_scale = f"({factor} * {scale})" if scale else factor
    backend, top_a = scope.backend, eqs.layers[-1].a
    m = backend.module
    rhs = eqs.loss_gradient.rhs
    shared = gradient and isinstance(rhs, Elementwise) and loss.value is not None and rhs.arrays == (top_a, eqs.y)
    # Mixed precision: ℓ and ∇ₐC from aᴸ and Y cast once to _acc_dtype (float32), as torch.autocast computes a loss
    widened, copies = widened_copies([top_a, eqs.y], scope)
    lines += copies
    a_name, y_name = widened.get(top_a, scope.name(top_a)), widened.get(eqs.y, "Y")
    narrowed = (lambda code: backend.cast(f"({code})", "_dtype")) if widened else (lambda code: code)  # rounded once
    if loss.vector_rule is not None:
        lines.append(f"loss = {m}.sum({kernel_function_name(loss.vector_rule, 'value')}({widened.get(top_a, out_name)}, {y_name}), dtype={acc}) * {factor}")
    else:
        value_lambda = loss.value_lambda()
        a, y = value_lambda.variables
        arrays = {a: sp.Symbol(a_name, real=True), y: sp.Symbol(y_name, real=True)}
        exprs = [printable(value_lambda.expr.xreplace(arrays), loss.name)]
        if shared:
            ga, gy = rhs.function.variables
            exprs.append(printable(rhs.scalar().xreplace({ga: arrays[a], gy: arrays[y]}), loss.name))
        intermediates, finals = cse_basic(exprs, symbols=scope.temps)
        lines += [f"{s} = {printer.doprint(v)}" for s, v in intermediates]
        # Σ c·f = c·Σ f: the constant (½ of the squared error) multiplies once, not per element.
        coeff, rest = finals[0].as_coeff_Mul()
        scale = factor if coeff == 1 else f"({printer.doprint(coeff)} * {factor})"
        lines.append(f"loss = {m}.sum({printer.doprint(rest)}, dtype={acc}) * {scale}")
        if shared:
            code = printer.doprint(finals[1])
            if not finals[1].free_symbols and scale not in (None, "_LOSS_SCALE"):  # a tensor scale: no torch.full of it
                ones = backend.tensor_factory("ones", f"{scope.name(top_a)}.shape", scope.name(top_a))
                lines.append(f"gA = {ones} * ({code} * {gradient_scale})")  # s·ℓ'/m rounded once, to the ones' dtype
            elif not finals[1].free_symbols:  # a constant ∂ℓ/∂a (a linear loss): one value per output
                lines.append(f"gA = {backend.tensor_factory('full', f'{scope.name(top_a)}.shape, {code} * {gradient_scale}', scope.name(top_a))}")
            elif code.isidentifier() or widened:  # a bare name may be an input or a value still needed: no in-place scaling
                lines.append(f"gA = {narrowed(f'{code} * {gradient_scale}')}")
            else:
                lines += [f"gA = {code}", f"gA *= {gradient_scale}"]
    if gradient and not shared:
        with reading_widened(scope, widened):  # ∇ₐC from the float32 copies; the backward pass reads aᴸ itself
            lines += StatementPrinter(scope, [eqs.loss_gradient], keep=[eqs.loss_gradient.lhs]).emit_all()
        lines.append(f"gA = {narrowed(f'gA * {gradient_scale}')}")
    if penalty_value is not None:
        lines += [penalty_value_line(penalty_value, scope.name(layer.W), scope) for layer in eqs.layers]
    return lines


def reduction_lines(loss: LossForms, printer: sp.printing.printer.Printer) -> list[str]:
    """``_reduction = κ``, printed from the loss's reduction factor c·mᵖ (p = 0 or −1) with m = the batch's rows."""
    assert loss.reduction is not None
    coeff, power = (loss.reduction, 0) if loss.batch is None else loss.reduction.as_coeff_exponent(loss.batch)
    if coeff.free_symbols or power not in (0, -1):
        raise ValueError(f"{loss.name}: a reduction factor c·m or c/m is printed, got {loss.reduction}")
    printed = printer.doprint(coeff) if coeff.is_Integer else f"({printer.doprint(coeff)})"
    return [f"_reduction = {printed}" + (" / X.shape[0]" if power == -1 else "")]
