"""A loss's reduction: the exact constant κ in C = κ · Σ_samples L, L the per-sample loss (Σⱼ ℓ(aⱼ, yⱼ) element-wise).

``"symdl"`` (the default) is the batch mean, κ = 1/m. ``"mean"`` and ``"sum"`` are ``torch.nn.functional``'s
``reduction=`` for the loss's counterpart (:class:`symdl.rulebook.definition.TorchLoss`): with r = torch's
per-element loss / ℓ (derived from the two expressions: 2 for ``mse``, whose ℓ carries a ½),

* ``"mean"`` averages over every element: κ = r/(m·n_L) for an element-wise loss, r/m for a per-sample one;
* ``"sum"`` sums over every element: κ = r.

C and ∇ₐC are scaled by κ once, where the generated code applies it, so every output follows from this expression.
"""

from __future__ import annotations

from typing import Literal, get_args

import sympy as sp

from .definition import TorchLoss

__all__ = ["BATCH", "REDUCTIONS", "Reduction", "check_reduction", "reduction_factor", "torch_loss", "torch_ratio"]

Reduction = Literal["symdl", "mean", "sum"]
REDUCTIONS: tuple[Reduction, ...] = get_args(Reduction)
#: m, the number of samples in the batch, in κ.
BATCH = sp.Symbol("m", integer=True, positive=True)


def torch_loss(rule: object) -> TorchLoss | None:
    """The ``torch.nn.functional`` counterpart a loss rule declares (None: it has none, as a formula loss)."""
    return getattr(getattr(rule, "definition", None), "torch_loss", None)


def torch_ratio(rule: object) -> sp.Expr:
    """r = torch's per-element loss / the rule's ℓ, an exact nonzero constant (1 when torch's is the rule's own)."""
    counterpart = torch_loss(rule)
    if counterpart is None:
        raise ValueError(f"{getattr(rule, 'name', rule)}: no torch.nn.functional counterpart")
    if counterpart.element is None:
        return sp.Integer(1)
    ratio = sp.simplify(counterpart.element / rule.definition.expr)  # type: ignore[attr-defined]
    if ratio.free_symbols or ratio == 0:
        raise ValueError(f"{rule!r}: torch's {counterpart.function} is not a constant multiple of ℓ (ratio {ratio})")
    return ratio


def check_reduction(rule: object, reduction: object) -> Reduction:
    """``reduction`` itself when ``rule`` accepts it, else one ValueError naming what is accepted."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {', '.join(map(repr, REDUCTIONS))}, got {reduction!r}")
    if reduction != "symdl" and torch_loss(rule) is None:
        raise ValueError(f"reduction: loss {getattr(rule, 'name', rule)!r} has no torch.nn.functional counterpart, "
                         f"so only 'symdl' is accepted for it, got {reduction!r}")
    return reduction


def reduction_factor(rule: object, reduction: str, units: int | sp.Expr) -> sp.Expr:
    """κ in C = κ · Σ_samples L for ``rule`` with ``units`` = n_L outputs: 1/m, r/(m·n_L) (r/m per sample) or r."""
    reduction = check_reduction(rule, reduction)
    if reduction == "symdl":
        return 1 / BATCH
    ratio = torch_ratio(rule)
    if reduction == "sum":
        return ratio
    per_element = bool(getattr(rule, "element_wise", True))  # a vector loss's L is already torch's per-sample loss
    return ratio / (BATCH * units) if per_element else ratio / BATCH
