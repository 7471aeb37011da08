"""C = (1/m) Σₜ cₜ Σ ℓₜ(hᵗ, yᵗ) + Σ Ω(θ): a graph's loss lines and its seeds cₜ ℓₜ'/m, printed from each term's SymPy form.

:mod:`symdl.graph.printing` puts these lines into ``inference_loss``, ``loss``, ``loss_and_grad`` and
``train_step``; with mixed precision the outputs and targets the losses read are copied to ``_acc_dtype``
first (:mod:`symdl.codegen.loss_scaling`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from ..backprop.equations import Elementwise
from ..codegen import loss_scaling as scaling
from ..codegen.kernel import printable
from ..codegen.statements import Scope, kernel_function_name
from ..symbolic.shared_cse import cse_basic
from .equations import GraphEquations, LossEquation

__all__ = ["entry_casts", "loss_lines", "output_loss_lines", "output_terms", "penalty_value_lines", "seed_times", "widened_outputs"]


def seed_times(rhs: sp.MatrixExpr, factor: sp.Symbol) -> sp.MatrixExpr:
    """c·ℓ'(h, y) with the factor (1/m) inside the element-wise function (a vector rule's VJP: times it)."""
    if not isinstance(rhs, Elementwise):
        return sp.MatMul(factor, rhs)
    lam = rhs.function
    return type(rhs)(rhs.name, sp.Lambda(lam.variables, lam.expr * factor), *rhs.arrays)


def loss_lines(eqs: GraphEquations, alias: dict, scope: Scope, penalties: bool = True) -> list[str]:
    """C = (1/m) Σₜ cₜ Σ ℓₜ(hᵗ, yᵗ) + Σ Ω(θ), each term's ℓ printed from its SymPy form (common subexpressions once).

    The sums accumulate in the scope's ``accumulate`` dtype when it has one (mixed precision), else in ``_dtype``;
    without ``penalties`` (mixed precision: they join in float32 on the masters) Σ Ω(θ) is left out.
    """
    lines = [f"_inv_m = 1.0 / {eqs.names[eqs.inputs[0]]}.shape[0]", "loss = 0.0"]
    widened, copies = widened_outputs(eqs, alias, scope)
    lines += copies
    for t in eqs.losses:
        lines += _term_lines(t, t.coefficient, "loss +=", alias, widened, scope)
    return lines + (penalty_value_lines(eqs, scope) if penalties else [])


def output_loss_lines(eqs: GraphEquations, alias: dict, scope: Scope, keys: Sequence[str]) -> list[str]:
    """``_losses = {key: Lₖ}``: each output's own loss Lₖ = (1/m) Σ ℓₖ(hᵏ, yᵏ) without its weight (over the width
    for ``reduction="mean"``) under its log key (``main_loss``), as Keras logs ``<output>_loss``; the terms of
    ``Model(losses=)`` (:func:`output_terms`), not ``add_loss``'s.

    The same per-term lines as :func:`loss_lines` with the unweighted coefficient: in mixed precision from the
    outputs and targets copied to the scope's ``accumulate`` dtype and summed in it, as the total loss.
    """
    terms = output_terms(eqs)
    if len(keys) != len(terms):
        raise ValueError(f"output_losses: {len(keys)} log keys for {len(terms)} outputs with a loss")
    lines = [f"_inv_m = 1.0 / {eqs.names[eqs.inputs[0]]}.shape[0]", "_losses = {}"]
    widened, copies = widened_outputs(eqs, alias, scope, terms)
    lines += copies
    for key, t in zip(keys, terms):
        lines += _term_lines(t, t.term.unweighted_coefficient, f"_losses[{key!r}] =", alias, widened, scope)
    return lines


def output_terms(eqs: GraphEquations) -> list[LossEquation]:
    """The loss terms of ``Model(losses=)``, one per output with a loss, in order (``add_loss``'s are left out)."""
    return [t for t in eqs.losses if not t.term.auxiliary]


def _term_lines(t: LossEquation, coefficient: sp.Expr, into: str, alias: dict, widened: dict, scope: Scope) -> list[str]:
    """The lines of c Σ ℓ(h, y) / m for one term: its intermediates, then ``into`` the value (``loss +=`` a sum, or
    ``_losses['main_loss'] =``)."""
    printer = scope.printer
    m = scope.backend.module
    acc = scope.accumulate or "_dtype"

    def read(symbol: sp.MatrixSymbol) -> str:
        return widened.get(symbol, scope.name(symbol))
    h, target = alias.get(t.value, t.value), alias.get(t.target, t.target)
    if t.forms.vector_rule is not None:
        value = kernel_function_name(t.forms.vector_rule, "value")
        coeff = printer.doprint(coefficient)
        return [f"{into} {m}.sum({value}({read(h)}, {read(target)}), dtype={acc}) * ({coeff} * _inv_m)"]
    value_lambda = t.forms.value_lambda()
    a, y = value_lambda.variables
    arrays = {a: sp.Symbol(read(h), real=True), y: sp.Symbol(read(target), real=True)}
    body = printable(value_lambda.expr.xreplace(arrays), t.forms.name)
    intermediates, (final,) = cse_basic(body, symbols=scope.temps)
    lines = [f"{s} = {printer.doprint(v)}" for s, v in intermediates]
    coeff, rest = (coefficient * final).as_coeff_Mul()
    if not rest.free_symbols:  # ℓ constant: Σ over m rows and n entries of c, over m, is n·c
        return [*lines, f"{into} {printer.doprint(coeff * rest * h.shape[0])}"]
    return [*lines, f"{into} {m}.sum({printer.doprint(rest)}, dtype={acc}) * ({printer.doprint(coeff)} * _inv_m)"]


def widened_outputs(eqs: GraphEquations, alias: dict, scope: Scope,
                    terms: Sequence[LossEquation] | None = None) -> tuple[dict[sp.MatrixSymbol, str], list[str]]:
    """Mixed precision: each loss term's output hᵗ and target yᵗ → the name of its copy in ``_acc_dtype`` (float32),
    which the losses and their seeds read, and the lines that make them (an input's at the entry, :func:`entry_casts`,
    before it is cast to ``_dtype``); none in one dtype throughout. ``terms``: those of ``eqs`` read (default all)."""
    terms = eqs.losses if terms is None else terms
    copies, lines = scaling.widened_copies([alias.get(s, s) for t in terms for s in (t.value, t.target)], scope)
    return copies, [line for symbol, line in zip(copies, lines) if symbol not in eqs.inputs]


def entry_casts(eqs: GraphEquations, alias: dict, scope: Scope, terms: Sequence[LossEquation] | None = None) -> list[str]:
    """Mixed precision: the float32 copy of each input a loss term (of ``terms``, default all) reads as its target,
    then the inputs cast once."""
    terms = eqs.losses if terms is None else terms
    targets = [target for t in terms if (target := alias.get(t.target, t.target)) in eqs.inputs]
    return scaling.entry_casts(eqs.inputs, targets, scope)


def penalty_value_lines(eqs: GraphEquations, scope: Scope) -> list[str]:
    """``loss += Σ Ω(θ)`` for every penalized parameter θ, printed from Ω."""
    return [scaling.penalty_value_line(pf.value, key, scope) for key, pf in eqs.penalties]
