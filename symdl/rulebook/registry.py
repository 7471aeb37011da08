"""The rule registry: names → builders, and :func:`rule`, which binds parameter values and returns the rule.

A catalogue module registers each builder with :func:`register` (element-wise
rules, built into :class:`~symdl.rulebook.rule.Rule`) or :func:`register_vector`
(index-notation rules, built into :class:`~symdl.rulebook.vector_rule.VectorRule`).
The registry never imports the catalogues; :mod:`symdl.rulebook` does.
"""

from __future__ import annotations

import difflib
import keyword
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..excerpt import excerpt
from ..symbolic.parse import FormulaError
from .definition import (
    Definition,
    Kind,
    KinkConvention,
    Param,
    check_convention,
    exact_param,
)
from .rule import Rule, formula_rule
from .vector_rule import VectorRule

__all__ = [
    "REGISTERED_KINDS",
    "Equivalent",
    "formula_rule_or_name",
    "neither_rule_nor_formula",
    "register",
    "register_vector",
    "registered_equivalent",
    "registered_equivalents",
    "rule",
    "rule_params",
    "rule_summary",
    "rules",
]


@dataclass(frozen=True)
class _Entry:
    name: str
    kind: Kind
    builder: Callable[..., Any]  # a Definition, or a VectorDefinition for vector rules
    params: tuple[Param, ...]
    summary: str
    vector: bool = False


_REGISTRY: dict[str, _Entry] = {}
#: The kinds a registered rule may have (a formula rule's kind, "formula", is never registered).
REGISTERED_KINDS: tuple[str, ...] = ("activation", "loss", "penalty")


def register(name: str, kind: Kind, params: tuple[Param, ...] = (), *, vector: bool = False) -> Callable:
    """Decorator: add the builder of rule ``name`` to the registry.

    ``name`` is an ASCII identifier (generated modules name their functions after it), ``kind`` one of
    :data:`REGISTERED_KINDS`; anything else is one ValueError line, before anything is registered.
    """
    if not (isinstance(name, str) and name.isascii() and name.isidentifier() and not keyword.iskeyword(name)):
        raise ValueError("register: a rule's name must be an ASCII identifier that is not a Python keyword "
                         f"(it names generated functions), got {excerpt(name)}")
    if kind not in REGISTERED_KINDS:
        raise ValueError(f"register: kind must be one of {', '.join(REGISTERED_KINDS)}, got {kind!r}")

    def decorate(builder: Callable[..., Definition]) -> Callable[..., Definition]:
        if name in _REGISTRY:
            raise RuntimeError(f"rule {name!r} is registered twice")
        summary = (builder.__doc__ or "").strip().splitlines()[0] if builder.__doc__ else name
        _REGISTRY[name] = _Entry(name, kind, builder, params, summary, vector)
        return builder

    return decorate


def register_vector(name: str, kind: Kind) -> Callable:
    """Decorator: add a vector rule's builder (returning a ``VectorDefinition``) to the registry."""
    return register(name, kind, vector=True)


def rules() -> dict[str, str]:
    """Every registered rule name with its kind (activation, loss, penalty)."""
    order = {"activation": 0, "loss": 1, "penalty": 2}
    ranked = sorted(_REGISTRY.values(), key=lambda e: order[e.kind])
    return {entry.name: entry.kind for entry in ranked}


def neither_rule_nor_formula(name: str, listing: str) -> str:
    """``'nope' is neither a rule (did you mean 'softplus'? see <listing>) nor a formula``: the start of the line for
    a bare identifier that names no rule and that formula text cannot read (the parser's reason follows it)."""
    close = difflib.get_close_matches(name, rules(), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{name!r} is neither a rule ({hint}see {listing}) nor a formula"


def formula_rule_or_name(text: str, listing: str, *, wrt: str = "z", params: Any = None, symbols: Sequence[str] = ()) -> Rule:
    """:func:`formula_rule` of ``text``; where it fails on a bare identifier that is no declared name (a misspelt rule
    name, most likely), the FormulaError starts with :func:`neither_rule_nor_formula`'s words."""
    try:
        return formula_rule(text, wrt=wrt, params=params, symbols=symbols)
    except FormulaError as error:
        if text.isidentifier() and text not in {wrt, *symbols, *(params or {})}:
            raise FormulaError(f"{neither_rule_nor_formula(text, listing)}: {error}") from None
        raise


def rule_params(name: str) -> tuple[Param, ...]:
    """The parameters of rule ``name`` with defaults and descriptions."""
    return _entry(name).params


def is_vector_rule(name: str) -> bool:
    """Whether rule ``name`` is a vector rule (softmax, rbf, …), without building it."""
    return _entry(name).vector


def rule_summary(name: str) -> str:
    """The one-line formula of rule ``name``."""
    return _entry(name).summary


def _entry(name: str) -> _Entry:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown rule {name!r}; known rules: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def rule(name: str, *, kink_convention: KinkConvention = "pytorch", **params: float) -> Rule | VectorRule:
    """The rule called ``name`` with parameter values ``params`` (defaults for the rest).

    A :class:`~symdl.Rule` (element-wise) or a :class:`~symdl.VectorRule`;
    both satisfy the protocol :class:`symdl.RuleLike`, and ``r.element_wise``
    (``Literal[True]`` / ``Literal[False]``) tells a type checker which one.

    ``kink_convention`` picks the derivative's value at kinks: ``"pytorch"``
    (default; what PyTorch returns), ``"left"``/``"right"`` (a one-sided
    derivative) or ``"average"`` (their mean). Unknown names, parameters or
    conventions raise ``ValueError`` naming the accepted ones.
    """
    entry = _entry(name)
    known = {p.name: p for p in entry.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        accepted = ", ".join(known) or "none"
        raise ValueError(f"rule {name!r} has no parameter {unknown[0]!r}; its parameters: {accepted}")
    check_convention(kink_convention)
    values: dict[str, sp.Expr] = {}
    for p in entry.params:
        value = exact_param(p.name, params.get(p.name, p.default))
        if p.positive and not value > 0:
            raise ValueError(f"parameter {p.name!r} of rule {name!r} must be > 0, got {params.get(p.name, p.default)}")
        values[p.name] = value
    if entry.vector:
        if kink_convention != "pytorch":
            raise ValueError(
                f"rule {name!r} has one convention at ties (the first arg-max piece); "
                "kink_convention applies to element-wise rules"
            )

        return VectorRule(name, entry.kind, entry.builder(), entry.summary)
    symbols = {p.name: p.symbol() for p in entry.params}
    definition = entry.builder(**symbols)
    return Rule(name, entry.kind, definition, symbols, values, kink_convention, entry.summary)


@dataclass(frozen=True)
class Equivalent:
    """A registered rule that computes a formula: ``formula(inputs) = rule(arguments)``.

    ``arguments`` are the rule's inputs in terms of the formula's; ``through``
    names a change of variable the rule expects (``"logit"``: the formula's
    probability p is σ(u) of the rule's logit u), or is None.
    """

    name: str
    arguments: tuple[sp.Symbol, ...]
    through: str | None = None
    changed: sp.Symbol | None = None  # the input whose change of variable ``through`` names
    params: tuple[tuple[str, float], ...] = ()  # the rule's parameter values that make it match (its defaults)


def _agree_at_samples(first: sp.Expr, second: sp.Expr, symbols: list[sp.Symbol]) -> bool:
    """False when the two differ clearly at a rational point where both are real: a cheap filter before a proof."""
    for trial in range(2):
        point = {s: sp.Rational(3 + 2 * i + trial, 7 + trial) * (-1) ** (i + trial) for i, s in enumerate(symbols)}
        try:
            a, b = (sp.N(e.xreplace(point), 20) for e in (first, second))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if a.is_real and b.is_real and a.is_finite and b.is_finite and abs(a - b) > 1e-12 * (1 + abs(a)):
            return False
    return True


def registered_equivalents(r: Rule) -> list[Equivalent]:
    """Registered element-wise rules provably computing ``r``'s function, inputs matched in any order.

    A rule with parameters is tried at its defaults (``(z + sqrt(z**2 + 4))/2``
    is squareplus with b = 4); the match then names those values.

    A loss also matches a formula in the probability p = σ(u) of its first input, the logit u
    (binary cross-entropy written by hand as −(y log p + (1 − y) log(1 − p))).
    Each match is shown by :func:`~symdl.symbolic.proof.prove_zero` in every input.
    """
    import itertools

    from ..symbolic.functions import sigmoid
    from ..symbolic.proof import prove_zero

    mine = r.bind(r.expr)
    found: list[Equivalent] = []
    for name, entry in _REGISTRY.items():
        if entry.vector:
            continue
        candidate = rule(name)
        if len(candidate.inputs) != len(r.inputs) or not candidate.element_wise:
            continue
        defaults = tuple((p.name, p.default) for p in entry.params)
        for order in itertools.permutations(r.inputs):
            theirs = candidate.bind(candidate.expr).xreplace(dict(zip(candidate.inputs, order)))
            changes: list[tuple[str | None, sp.Symbol | None, sp.Expr]] = [(None, None, mine)]
            if candidate.kind == "loss":  # losses of a logit (BCE) match a formula of the probability
                changes.append(("logit", order[0], mine.xreplace({order[0]: sigmoid(order[0])})))
            for through, changed, expr in changes:
                if not _agree_at_samples(expr, theirs, list(r.inputs)):
                    continue
                if all(prove_zero(expr - theirs, s) for s in r.inputs):
                    found.append(Equivalent(name, tuple(order), through, changed, defaults))
                    break
            else:
                continue
            break
    return found


def registered_equivalent(r: Rule) -> str | None:
    """The name of the first of :func:`registered_equivalents`, or None.

    ``symdl check`` names it when ``r``'s text overflows: the library rule is the same function, printed stably.
    """
    matches = registered_equivalents(r)
    return matches[0].name if matches else None
