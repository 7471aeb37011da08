"""∂C/∂θ = unscale(s·(data term)) + Ω'(θ): the printed pieces of a mixed-precision step that network and graph modules share.

A mixed-precision module (:mod:`symdl.export.mixed_precision`) computes a parameter's data term in the compute
dtype, with the gradient seeds multiplied by the static loss scale s, and hands it to ``_master_grads`` (float32,
divided by s). The penalty is not computed in the compute dtype: its value Σ Ω(θ) and its gradient term Ω'(θ) are
printed from the same expressions afterwards, in float32 on the masters ``_masters(params)`` binds, as
``torch.amp`` with weight decay and optax apply it (:func:`split_penalty`, :func:`penalty_value_line`). With s ≠ 1
a step is kept only where the unscaled data term is finite (``_all_finite``), decided before the penalty joins
(:func:`master_step_lines`): an optimizer's step is computed whole and then kept or dropped
(:func:`keep_finite_line`), plain gradient descent's gradients are zeroed (``_finite_or_zero``). The network
printer (:mod:`symdl.codegen.network`) and the graph printer (:mod:`symdl.graph.printing`) print these lines.
The loss and its seeds are computed in float32 from the outputs cast once and the targets (:func:`widened_copies`,
:func:`reading_widened`), as ``torch.autocast`` computes a loss; the targets are float32 from the entry already (a
mixed module's ``_check`` / ``_unpack`` keep them in ``_param_dtype``), so their copies (``_Y_acc``) cast nothing. An
input that a loss reads as its target (a graph's reconstruction loss) is copied before the inputs are cast to the
compute dtype (:func:`entry_casts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import sympy as sp

from ..backprop.equations import Elementwise
from ..layers.dense import PENALTY_GRADIENT
from .kernel import printable
from .statements import Scope

__all__ = ["entry_casts", "keep_finite_line", "master_step_lines", "penalty_value_line", "reading_widened", "split_penalty",
           "widened_copies"]


def split_penalty(eq: sp.Eq) -> tuple[sp.Eq | None, sp.Eq | None]:
    """∂C/∂θ = (data term) + Ω'(θ) as the data term g = (data term) and the accumulation g = g + Ω'(θ).

    ``(eq, None)`` without a penalty term; ``(None, g = g + Ω'(θ))`` when the penalty is the whole gradient (a graph's
    parameter with no path to the loss): its data term is zero.
    """
    if isinstance(eq.rhs, Elementwise) and eq.rhs.name == PENALTY_GRADIENT:
        return None, sp.Eq(eq.lhs, sp.MatAdd(eq.lhs, eq.rhs, evaluate=False), evaluate=False)
    terms = eq.rhs.args if isinstance(eq.rhs, sp.MatAdd) else ()
    penalty = [t for t in terms if isinstance(t, Elementwise) and t.name == PENALTY_GRADIENT]
    if not penalty:
        return eq, None
    rest = [t for t in terms if t not in penalty]
    data = rest[0] if len(rest) == 1 else sp.MatAdd(*rest, evaluate=False)
    return sp.Eq(eq.lhs, data, evaluate=False), sp.Eq(eq.lhs, sp.MatAdd(eq.lhs, *penalty, evaluate=False), evaluate=False)


def penalty_value_line(omega: sp.Lambda, name: str, scope: Scope) -> str:
    """``loss += Σ Ω(θ)`` for the array ``name``, printed from Ω; summed in the scope's ``accumulate`` dtype if it has one."""
    (w,) = omega.variables
    term = printable(omega.expr.xreplace({w: sp.Symbol(name, real=True)}), "penalty")
    coeff, rest = term.as_coeff_Mul()
    scale = "" if coeff == 1 else f" * {scope.printer.doprint(coeff)}"
    return f"loss += {scope.backend.module}.sum({scope.printer.doprint(rest)}, dtype={scope.accumulate or '_dtype'}){scale}"


def master_step_lines(gradients: str, masters: str, penalty: Sequence[str], *, scaled: bool, plain: bool) -> list[str]:
    """train_step's lines between the backward pass and the update of the masters.

    The gradients ``gradients`` (names, comma-separated) unscaled to float32; with a scale (``scaled``),
    ``_finite_step`` decided on this data term; then ``penalty`` (its first line binds the masters), else ``masters``
    (the line that binds them); plain gradient descent (``plain``) with a scale zeroes the gradients of a step that
    overflowed, so that params stay as they were.
    """
    finite = [f"_finite_step = _all_finite(({gradients},))"] if scaled else []
    drop = [f"{gradients}, = _finite_or_zero(_finite_step, ({gradients},))"] if scaled and plain else []
    return [f"{gradients}, = _master_grads({gradients})", *finite, *(penalty or [masters]), *drop]


def keep_finite_line(store: str, new: Mapping[str, str], functional: bool) -> str:
    """``_keep_finite(_finite_step, store, {'a': a, …})``: the step's new values kept only where it was finite.

    In place into ``store``'s arrays (torch); a functional backend rebinds the names to the kept values.
    """
    call = f"_keep_finite(_finite_step, {store}, {{{', '.join(f'{key!r}: {name}' for key, name in new.items())}}})"
    return f"{', '.join(new.values())}, = {call}" if functional else call


def widened_copies(symbols: Iterable[sp.MatrixSymbol], scope: Scope) -> tuple[dict[sp.MatrixSymbol, str], list[str]]:
    """Each array → the name of its copy in the scope's ``accumulate`` dtype, and the lines ``_a2_acc = a2.to(_acc_dtype)``.

    Nothing (``{}``, ``[]``) without an ``accumulate`` dtype (one dtype throughout).
    """
    if scope.accumulate is None:
        return {}, []
    copies = {s: f"_{scope.name(s)}_acc" for s in dict.fromkeys(symbols)}
    return copies, [f"{name} = {scope.backend.cast(scope.name(s), scope.accumulate)}" for s, name in copies.items()]


def entry_casts(inputs: Sequence[sp.MatrixSymbol], targets: Iterable[sp.MatrixSymbol], scope: Scope) -> list[str]:
    """After an entry point's checks: ``_x_acc = x.to(_acc_dtype)`` for each input x in ``targets`` (a loss reads it as
    its target), then every input cast once, ``x = x.to(_dtype)``.

    The layers read x in the compute dtype, the loss and its seed (through :func:`widened_copies`' name) the float32 x
    the checks gave (a low-dtype x widened exactly), as ``torch.autocast`` computes a float32 loss. Nothing
    (``[]``) without an ``accumulate`` dtype (one dtype throughout).
    """
    if scope.accumulate is None:
        return []
    _, copies = widened_copies(targets, scope)
    return [*copies, *(f"{scope.name(x)} = {scope.backend.cast(scope.name(x), '_dtype')}" for x in inputs)]


@contextmanager
def reading_widened(scope: Scope, copies: Mapping[sp.MatrixSymbol, str]) -> Iterator[None]:
    """Statements printed inside read ``copies``' names for their arrays and never write them; afterwards the arrays
    are read under their own names (or aliases) again."""
    inputs, aliases = scope.inputs, {s: scope.aliases[s] for s in copies if s in scope.aliases}
    scope.inputs = inputs | set(copies.values())
    scope.aliases.update(copies)
    try:
        yield
    finally:
        for symbol in copies:
            del scope.aliases[symbol]
        scope.aliases.update(aliases)
        scope.inputs = inputs
