"""Report sections of rules and user formulas, read from each rule's :class:`~symdl.rulebook.derivation.Derivation`.

Steps show *how* the derivative arises — SymPy's raw derivative, then the
sum, product and chain rule applied one at a time to the definition, branch
by branch for a ``Piecewise`` — before the textbook and stable forms that
the proofs show equal to it. Checks are the measured results of
:func:`symdl.verify_rule` (:mod:`symdl.report.checks`).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

from ..rulebook.derivation import Derives, RuleLike
from ..rulebook.registry import rule
from ..rulebook.rule import formula_rule
from .checks import rule_checks
from .model import Plot, Section
from .named_constants import name_constants
from .unicode_math import unicode_scripts

if TYPE_CHECKING:
    from ..rulebook.rule import Rule
    from ..rulebook.vector_rule import VectorRule

__all__ = ["formula_section", "rule_section"]


def _plot(r: Rule | VectorRule) -> Plot:
    from .plots import draw, figure_pdf, figure_svg, plot_values

    values = plot_values(r)
    fig = draw(r, values)
    what = "the value (top) and the derivative (bottom), from the generated numpy code"
    if not r.element_wise:
        what = f"a one-dimensional slice: the value (top) and its derivative from the generated VJP (bottom); {values.fixed}"
    elif values.fixed:
        what += f", with {values.fixed}"
    if values.kinks:
        what += "; at each kink (dotted line) open circles mark the one-sided derivatives and the filled circle the value returned"
    # The PDF only when the LaTeX document asks for it (from this figure, so the same bytes as drawn at once).
    return Plot(figure_svg(fig), f"{r.name if r.kind != 'formula' else 'The formula'}: {what}.",
                pdf=functools.partial(figure_pdf, fig))


def _key(text: str) -> str:
    key = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")
    if not key:
        raise ValueError(f"cannot make a section key from {text!r}")
    return key


def rule_section(r: RuleLike | str, *, verify: bool = True, plot: bool = True, key: str | None = None) -> Section:
    """The section of one rule: definition, derivation steps, kink conventions, verification checks and a plot.

    ``r`` is a rule object or a registered name. Everything shown is read
    from ``r.derivation()``: with ``verify`` its proofs (computed once, shared
    with the steps' notes and :func:`symdl.verify_rule`) and the measured
    checks; without it nothing is proven or measured and the section has no
    checks (fast: the steps alone).
    """
    if isinstance(r, str):
        r = rule(r)
    if not isinstance(r, Derives):
        raise TypeError(f"rule_section takes a rule or a rule name, got {type(r).__name__}")
    r = cast("Rule | VectorRule", r)  # Derives is the mixin of exactly these two
    d = r.derivation()
    proofs = d.proofs if verify else {}
    formula = r.kind == "formula"
    return name_constants(Section(
        key=key or _key(r.name),
        title=r.name if not formula else "Formula",
        kind=r.kind,
        summary=unicode_scripts((r.summary if not formula else "a user formula, parsed without eval; its derivative "
                                 "taken by SymPy") + (f" {r.notes}" if r.notes else "")),
        definition=d.definition,
        steps=d.steps(proven=verify),
        kinks=d.kink_steps,
        checks=tuple(rule_checks(r, proofs, verify)),
        plot=_plot(r) if plot and not r.symbolic_params else None,
    ))


#: A formula's name in a report: a title, so letters, digits, ``_``, ``-`` and spaces, at most 60 characters.
FORMULA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_ -]{0,59}")


def formula_section(
    text: str,
    wrt: str = "z",
    params: Mapping[str, float | None] | None = None,
    *,
    symbols: Sequence[str] = (),
    index: int = 1,
    verify: bool = True,
    plot: bool = True,
    name: str | None = None,
) -> Section:
    """The section of a user formula (parsed by :func:`symdl.symbolic.parse`, never evaluated), keyed ``formula-<index>``.

    The formula text itself appears nowhere in the section: only the SymPy
    expression parsed from it. ``wrt`` is its variable (a loss in ``e``),
    ``symbols`` its further inputs, ``params`` its parameters; the section is
    titled ``name`` (matching :data:`FORMULA_NAME`), or "Formula <index>".
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 1:
        raise ValueError(f"index must be a positive integer, got {index!r}")
    if name is not None and not (isinstance(name, str) and FORMULA_NAME.fullmatch(name)):
        raise ValueError(f"formula name {name!r}: use a letter, then letters, digits, '_', '-' or spaces "
                         "(at most 60 characters)")
    r = formula_rule(text, wrt, params, symbols=symbols)
    section = rule_section(r, verify=verify, plot=plot, key=f"formula-{index}")
    return dataclasses.replace(section, title=name or f"Formula {index}")
