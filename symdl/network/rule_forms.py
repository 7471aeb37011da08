"""The rules of a network: a rule spec (name or object) resolved and checked, and the forms BP1–BP4 print.

:func:`resolve_rule` turns ``activation="tanh"`` or ``symdl.rule("elu", alpha=0.5)``
into a checked rule; :func:`activation_forms` and :func:`loss_forms` give the
SymPy functions the equations use (stable forms, kink conventions applied).
Element-wise and vector rules are told apart by ``rule.element_wise``
(:class:`symdl.rulebook.derivation.RuleLike`), not by their class.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import sympy as sp

from ..backprop.equations import ActivationForms, LossForms
from ..excerpt import excerpt
from ..rulebook.continuity import value_jumps
from ..rulebook.derivation import Derives
from ..rulebook.reductions import BATCH, check_reduction, reduction_factor
from ..rulebook.registry import rule, rules
from ..rulebook.rule import Rule
from ..rulebook.vector_rule import VectorRule

__all__ = ["LogitsLossWarning", "RuleLike", "TargetDomain", "accepted_rules", "activation_forms", "loss_forms", "resolve_rule",
           "target_domain", "warn_logits_loss"]

RuleLike = str | Rule | VectorRule
_LAYER_RULES = ("maxout", "rbf")  # layers with weights of their own, not functions of zˡ


def resolve_rule(spec: object, role: str, kinds: tuple[str, ...], params: Mapping[str, float] | None) -> Rule | VectorRule:
    """A rule object from a name (with ``params``) or a rule given as such; checks its kind and arity."""
    if params is not None and (not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params)):
        raise ValueError(f"{role}_params: expected a dict of parameter name → value, got {excerpt(params)}")
    if isinstance(spec, str):
        if spec in _LAYER_RULES:
            raise ValueError(
                f"{role}: {spec!r} is a layer with weights of its own, not a function of zˡ; "
                f"accepted: {', '.join(_accepted(kinds))}"
            )
        if spec not in rules():
            raise ValueError(f"{role}: unknown rule {spec!r}; accepted: {', '.join(_accepted(kinds))}")
        if rules()[spec] not in kinds:
            raise ValueError(f"{role}: {spec!r} is {_article(rules()[spec])}, not {_article(kinds[0])}; accepted: {', '.join(_accepted(kinds))}")
        found = rule(spec, **dict[str, Any](params or {}))
    elif isinstance(spec, Derives):
        if params:
            raise ValueError(f"{role}: give parameters to symdl.rule(...) when passing a rule object, not as {role}_params")
        found = cast("Rule | VectorRule", spec)  # Derives is the mixin of exactly these two
        if found.name in _LAYER_RULES:
            raise ValueError(f"{role}: {found!r} is a layer with weights of its own, not a function of zˡ; "
                             f"accepted: {', '.join(_accepted(kinds))}")
        if found.kind not in (*kinds, "formula"):
            raise ValueError(f"{role}: {found!r} is {_article(found.kind)}, not {_article(kinds[0])}; accepted: {', '.join(_accepted(kinds))}")
    else:
        raise ValueError(f"{role}: expected a rule name or a symdl rule, got {type(spec).__name__}")
    if found.element_wise:
        arity = {"loss": 2, "penalty": 1}.get(kinds[0], None)
        if arity is not None and len(found.inputs) != arity:
            raise ValueError(f"{role}: {found!r} takes {len(found.inputs)} inputs; a {kinds[0]} takes {arity}")
        missing = sorted(s.name for s in found.param_symbols.values() if s.name not in found.params)
        if missing:
            raise ValueError(f"{role}: parameter(s) {', '.join(missing)} of {found!r} have no value")
        if found.kind == "formula" and kinds[0] in ("loss", "penalty"):
            _refuse_jumps(found, role, kinds[0])
    return found


def _refuse_jumps(found: Rule, role: str, kind: str) -> None:
    """A formula loss or penalty whose value jumps: gradient descent follows f' and never sees the jump.

    The Keras notebook's Huber written d·|e| − d·2·0.5 jumps by ±d(d − 2)/2 at |e| = d (0 only for d = 0, 2).
    """
    jumps = value_jumps(found)
    if jumps:
        where = "; ".join(f"at {found.wrt} = {b.at} by {b.jump}" for b in jumps)
        raise ValueError(
            f"{role}: {found!r} jumps {where}; a {kind} must be continuous, since its gradient never sees a jump "
            f"(make the branches agree there; 'symdl check' lists every boundary and the parameter values that remove a jump)"
        )


class LogitsLossWarning(UserWarning):
    """A loss that takes logits after an output activation that already squashes them (Keras' ``from_logits`` warning)."""


#: The losses that take logits, each with the squashing it applies itself (ℓ(a, y) = CE(σ(a), y), CE(softmax(a), y)).
_LOGITS_LOSSES = {"binary_cross_entropy": "sigmoid", "softmax_cross_entropy": "softmax"}
#: Output activations whose values are probabilities already, not logits.
_SQUASHING = ("sigmoid", "hard_sigmoid", "softmax", "softmin", "sparsemax")


def warn_logits_loss(activation: Rule | VectorRule | None, loss: Rule | VectorRule, where: str, instead: str,
                     stacklevel: int = 3) -> None:
    """One :class:`LogitsLossWarning` when ``loss`` takes logits and ``activation`` (the output's) squashes them first.

    ``where`` names the model, ``instead`` the identity output in its own spelling (``output_activation='identity'``).
    CE(softmax(softmax(z)), y) trains, but squashes twice: the outputs are not logits, the gradient
    s − y of the logits is lost (Keras warns alike: "``from_logits=True``, but the ``output`` argument was
    produced by a Softmax activation"). A library rule only: a formula is the user's own function.
    """
    if activation is None or activation.kind == "formula" or activation.name not in _SQUASHING:
        return
    own = _LOGITS_LOSSES.get(loss.name) if loss.kind == "loss" else None
    if own is None:
        return
    warnings.warn(
        f"{where}: loss {loss.name!r} takes logits (it applies {own} itself, as from_logits=True), but the output is "
        f"produced by a {activation.name} activation and thus does not represent logits; use {instead} "
        f"with this loss (and apply {own} to the outputs for probabilities)",
        LogitsLossWarning, stacklevel=stacklevel,
    )


def _article(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _accepted(kinds: tuple[str, ...]) -> list[str]:
    return [name for name, kind in rules().items() if kind in kinds and name not in _LAYER_RULES]


def accepted_rules(kind: str) -> list[str]:
    """The rule names a :class:`Network` accepts as an ``"activation"``, ``"loss"`` or ``"penalty"``."""
    return _accepted((kind,))


def activation_forms(r: Rule | VectorRule, name: str) -> ActivationForms:
    """φ, φ′ (stable, kink convention applied) and φ′ through the output where the rule proves one."""
    if not r.element_wise:
        return ActivationForms(name=name, forward=None, derivative=None, vector_rule=r.name)
    inputs = r.inputs
    output_derivative = None
    output = r.definition.output
    if output is not None and not r.kinks and r.definition.textbook is not None:
        form = r.bind(r.textbook(in_output=True))
        if form.free_symbols <= {output}:
            output_derivative = sp.Lambda(output, form)
    return ActivationForms(
        name=name,
        forward=sp.Lambda(inputs, r.numeric_forward_expr()),
        derivative=sp.Lambda(inputs, r.numeric_derivative_expr()),
        output_derivative=output_derivative,
        extras=tuple(s.name for s in inputs[1:]),
        extra_partials=tuple(sp.Lambda(inputs, r.numeric_derivative_expr(s)) for s in inputs[1:]),
    )


def loss_forms(r: Rule | VectorRule, reduction: str = "symdl", units: int | None = None) -> LossForms:
    """ℓ and ∂ℓ/∂a as SymPy functions (stable forms); a vector rule (softmax cross-entropy) by name only.

    ``reduction`` other than ``"symdl"`` carries κ (:func:`symdl.rulebook.reductions.reduction_factor`, ``units`` = n_L).
    """
    scale: dict[str, Any] = {}
    if check_reduction(r, reduction) != "symdl":
        if units is None:
            raise ValueError(f"reduction {reduction!r}: the number of output units is needed")
        scale = {"reduction": reduction_factor(r, reduction, units), "batch": BATCH}
    if not r.element_wise:
        return LossForms(name=r.name, value=None, gradient=None, vector_rule=r.name, **scale)
    return LossForms(
        name=r.name,
        value=sp.Lambda(r.inputs, r.numeric_forward_expr()),
        gradient=sp.Lambda(r.inputs, r.numeric_derivative_expr()),
        **scale,
    )


@dataclass(frozen=True)
class TargetDomain:
    """The targets y a loss is defined for: low ≤ yⱼ ≤ high (None: unbounded) and, with ``simplex``, Σⱼ yⱼ = 1 per row."""

    loss: str
    low: float | None
    high: float | None
    simplex: bool = False

    def as_tuple(self) -> tuple[str, float | None, float | None, bool]:
        """``(loss, low, high, simplex)``: the plain arguments of :func:`symdl.network.checks.check_targets`."""
        return (self.loss, self.low, self.high, self.simplex)


def target_domain(r: Rule | VectorRule) -> TargetDomain | None:
    """The domain of ``r``'s target, read from the rule: binary cross-entropy's y ∈ [0, 1], softmax cross-entropy's rows
    of non-negative numbers summing to 1 (a probability vector); None for a loss defined for every real target.

    An element-wise loss ℓ(a, y) states it as the ``input_ranges`` of y; a vector loss as its ``simplex_inputs``
    (each a probability vector) or the ``input_ranges`` of its label input.
    """
    d = r.definition
    if r.element_wise:
        if len(r.inputs) != 2 or r.inputs[1] not in d.input_ranges:
            return None
        low, high = d.input_ranges[r.inputs[1]]
        return TargetDomain(r.name, float(low), float(high))
    d = r.definition  # a vector rule's, now that r is one
    labels = [inp.base for inp in d.inputs if inp.base in d.label_inputs]
    if not labels:
        return None
    (y,) = labels
    if y in d.simplex_inputs:
        return TargetDomain(r.name, 0.0, None, simplex=True)
    if y in d.input_ranges:
        low, high = d.input_ranges[y]
        return TargetDomain(r.name, float(low), float(high))
    return None
