"""The BP1–BP4 equations (and a graph's) as plain Unicode text: what ``print(net.equations())`` shows in a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..rulebook.derivation import derivative_name
from .unicode_math import unicode_equation, unicode_expr, unicode_label, unicode_name

if TYPE_CHECKING:
    from ..backprop.equations import BackpropEquations
    from ..graph.equations import GraphEquations
    from ..rulebook.derivation import Derivation

__all__ = ["derivation_text", "equations_text"]


def equations_text(eqs: BackpropEquations | GraphEquations) -> str:
    """Every equation of ``eqs`` as Unicode text, a labelled line each: what ``print(net.equations())`` shows.

    ``φ(z) = σ(z)``, ``z¹ = W¹x + b¹``, ``BP2 (layer 1)  δ¹ = W²ᵀδ² ⊙ φ′(z¹)``: definitions first (for a
    network), then the forward pass, the loss gradients and the backward pass.
    """
    rows: list[tuple[str, str]] = []
    for label, name, args, rhs in getattr(eqs, "definition_forms", ()):
        head = unicode_name(name) + (f"({', '.join(unicode_expr(a) for a in args)})" if args else "")
        rows.append((label, f"{head} = {rhs if isinstance(rhs, str) else unicode_expr(rhs)}"))
    rows += [("forward", unicode_equation(eq.lhs, eq.rhs)) for eq in getattr(eqs, "shown_forward", eqs.forward)]
    if hasattr(eqs, "loss_gradient"):  # a network's ∇ₐC; a graph has a term per loss
        rows.append(("loss gradient", unicode_equation(eqs.loss_gradient.lhs, eqs.loss_gradient.rhs)))
    else:
        rows += [(f"loss term {k + 1}", unicode_equation(t.equation.lhs, t.equation.rhs)) for k, t in enumerate(eqs.losses)]
    rows += [(unicode_label(label), unicode_equation(eq.lhs, eq.rhs)) for label, eq in eqs.backward]
    width = max((len(label) for label, _ in rows), default=0)
    return "\n".join(f"{label:<{width}}  {line}" for label, line in rows)


def derivation_text(d: Derivation) -> str:
    """A rule's derivation as Unicode text: definition and parameters, ∂g/∂z, the textbook form, the kinks.

    What ``print(symdl.rule("huber").derivation())`` shows::

        huber  (by a)
          L(a, y) = {(a − y)²/2 if δ ≥ |a − y|; δ·(−δ/2 + |a − y|)}
          δ = 1
          ∂L/∂a = …
    """
    r = d.rule
    var = unicode_expr(d.wrt)
    value = unicode_name(derivative_name(r.kind))
    lines = [f"{r.name}  (by {var})"]
    lines += [f"  {unicode_equation(m.lhs, m.rhs)}" for m in d.definition]
    lines.append(f"  ∂{value}/∂{var} = {unicode_expr(d.derivative)}")
    if d.textbook is not None:
        lines.append(f"  textbook: ∂{value}/∂{var} = {unicode_expr(d.textbook)}"
                     + (f", {unicode_expr(d.output)} = {unicode_expr(r.head())}" if d.output is not None else ""))
    lines += [f"  kink at {var} = {unicode_expr(k.at)}: one-sided {unicode_expr(k.left)}, {unicode_expr(k.right)};"
              f" returned {unicode_expr(k.value)}" for k in d.kinks]
    return "\n".join(lines)
