"""``symdl verify``: prove every rule, and check its generated code numerically.

For each rule: the symbolic identities of :meth:`Rule.prove`; at each piecewise
boundary, that the value does not jump unless the rule declares it (exact:
:func:`symdl.rulebook.continuity.jump_lines`); at each kink,
that the returned value is a subgradient and that the generated derivative
returns it; central finite differences of the generated forward code against
the generated derivative (float64, away from every breakpoint); both against a
50-digit mpmath evaluation on [−40, 40] (float64 and float32; relative where the
reference is a normal number, forgiving what a few ulps of input rounding explain:
:func:`symdl.testing.relative_error`); finite,
warning-free results on [−1000, 1000] in float32 and float64; and that every
planted mistake in the derivative (:mod:`symdl.verify.mutations`) fails those checks.
Vector rules are checked by :mod:`symdl.verify.vector_rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..codegen.kernel import Kernel, compile_kernel
from ..display_hooks import Displayed
from ..rulebook.continuity import jump_lines
from ..rulebook.derivation import Derives
from ..rulebook.registry import rule, rule_params, rules
from ..rulebook.rule import Rule
from ..rulebook.vector_rule import VectorRule
from ..testing import (
    ACCURACY_RTOL,
    STABILITY_LIMIT,
    input_sensitivity,
    mpmath_reference,
    relative_error,
    stability_grid,
    unstable_points,
)
from .limits import MAX_POINTS
from .measures import FD_TOLERANCE, REFERENCE_DIGITS, _fd_error, _points, check_kinks
from .vector_rules import check_vector_rule

__all__ = ["FD_TOLERANCE", "CheckTable", "RuleReport", "case_params", "typed_form_instability", "verify_rule", "verify_rules"]

@dataclass
class RuleReport(Displayed):
    """What :func:`verify_rule` measured for one rule."""

    name: str
    proofs: dict[str, bool] = field(default_factory=dict)
    kinks_ok: bool = True
    fd_error: float = 0.0
    accuracy64: float = 0.0
    accuracy32: float = 0.0
    unstable: list[str] = field(default_factory=list)
    mutants_killed: int = 0
    mutants_total: int = 0
    mutant_survivors: list[str] = field(default_factory=list)
    #: One line per boundary where the value jumps and the rule does not declare it (:func:`~symdl.rulebook.continuity.jump_lines`).
    value_jumps: list[str] = field(default_factory=list)
    #: What the row measures: "rule" (everything), "proof" (proofs only), "network" (gradient check and mutants).
    kind: str = "rule"

    @property
    def proven(self) -> bool:
        return all(self.proofs.values())

    @property
    def stable(self) -> bool:
        return not self.unstable

    @property
    def passed(self) -> bool:
        return (
            self.proven
            and self.kinks_ok
            and not self.value_jumps
            and self.fd_error <= FD_TOLERANCE
            and self.accuracy64 <= ACCURACY_RTOL[np.dtype(np.float64)]
            and self.accuracy32 <= ACCURACY_RTOL[np.dtype(np.float32)]
            and self.stable
            and self.mutants_killed == self.mutants_total
        )


class CheckTable(Displayed, list):
    """A list of :class:`RuleReport` that prints as ``symdl verify``'s table and shows as one table in a notebook.

    ``print(table)``, ``repr(table)`` and a notebook's plain text are the
    verify table (rows, what failed, tolerances, a summary line); otherwise
    it is a plain ``list``.
    """

    @property
    def passed(self) -> bool:
        """Every report passed."""
        return all(r.passed for r in self)

    def __repr__(self) -> str:
        return str(self)


def verify_rule(
    r: Rule | VectorRule, points: int = 200, seed: int = 0, proofs: Mapping[str, object] | None = None
) -> RuleReport:
    """Prove ``r`` and check its generated code; see the module docstring for what is checked.

    ``proofs``: the result of ``r.prove()`` when the caller already has it
    (the report builder quotes the proofs and need not run them twice).
    """
    if not isinstance(r, Derives):
        raise TypeError(f"verify_rule takes a rule (symdl.rule or symdl.formula_rule), got {type(r).__name__}")
    _check_points(points)
    report = RuleReport(r.name)
    report.proofs = {label: bool(proof) for label, proof in (r.prove() if proofs is None else proofs).items()}
    if not r.element_wise:
        for key, value in check_vector_rule(r, rows=max(4, points // 5), seed=seed).items():
            setattr(report, key, value)
        return report
    # Element by element even for penalties (whose numeric() sums), so that differences can be taken.
    forward = compile_kernel(r.numeric_forward_expr(), r.inputs, r.kernel_name)
    report.kinks_ok = check_kinks(r)
    # Exact, at the bound parameters: the numeric checks below stay away from boundaries and never see a jump.
    report.value_jumps = jump_lines(r)
    rng = np.random.default_rng(seed)
    d = r.definition
    for var in (r.wrt, *d.other_textbooks):
        derivative = r.numeric_derivative(var)
        values = _points(r, var, points, rng)
        report.fd_error = max(report.fd_error, _fd_error(r, var, forward, derivative, values))
        exact_forward, exact_expr = r.reference_exprs(var)
        for dtype, attr in ((np.float64, "accuracy64"), (np.float32, "accuracy32")):
            cast = [v.astype(dtype) for v in values]
            for kernel, expr in ((forward, exact_forward), (derivative, exact_expr)):
                with np.errstate(all="ignore"):
                    numeric = np.asarray(kernel(*cast))
                # Only where the code gives a number: elsewhere (overflow, log of a negative) there is nothing
                # to compare, the stability check reports it, and mpmath would chase exp(exp(exp(40))) forever.
                finite = np.broadcast_to(np.isfinite(numeric), numeric.shape)
                reference = mpmath_reference(expr, r.inputs, cast, dps=REFERENCE_DIGITS, where=finite)
                # Error beyond what a few ulps of input rounding explains (see relative_error).
                errors = relative_error(numeric, reference, input_sensitivity(kernel, cast))[finite]
                worst = float(np.max(errors)) if errors.size else float("inf")
                setattr(report, attr, max(getattr(report, attr), worst))
        report.unstable += _check_stability(r, derivative, forward)
    if r.kind != "formula":
        from .mutations import mutation_report

        mutations = mutation_report(r, forward=forward)
        report.mutants_killed, report.mutants_total = mutations.killed, mutations.total
        report.mutant_survivors = mutations.survivors
    return report


def typed_form_instability(r: Rule) -> list[str]:
    """Where the formula *as typed* (not the rewrite pass's stable form the code prints) overflows or warns.

    Empty when the rule has no stable form of its own (its code is the typed
    form, which :func:`verify_rule` already checks) or the typed form is stable.
    """
    if not isinstance(r, Derives) or not r.element_wise:
        raise TypeError(f"typed_form_instability takes an element-wise rule, got {type(r).__name__}")
    if r.definition.stable_expr is None and r.definition.stable_derivative is None:
        return []
    kernels = [compile_kernel(r.bind(r.expr), r.inputs, f"{r.kernel_name}_as_typed")]
    kernels += [compile_kernel(r.bind(r.derivative(v)), r.inputs, f"{r.kernel_name}_as_typed_d_{v}") for v in r.inputs]
    return _check_stability(r, *kernels)


def _check_stability(r: Rule, *kernels: Kernel) -> list[str]:
    problems = []
    d = r.definition
    for dtype in (np.float32, np.float64):
        high = STABILITY_LIMIT
        if d.exp_growth:
            high = min(high, float(np.log(np.finfo(dtype).max)) / d.exp_growth * 0.999)
        grids = []
        for s in r.inputs:
            lo, hi = d.input_ranges.get(s, (-STABILITY_LIMIT, high))
            grid = stability_grid(np.dtype(dtype), lo, hi)
            grids.append(grid if len(r.inputs) == 1 else grid[:: max(1, len(grid) // 40)])
        for kernel in kernels:
            count, first = unstable_points(kernel, grids)
            if count:
                problems.append(f"{kernel.name} ({np.dtype(dtype).name}): {first}")
    return problems


def _check_points(points: object) -> None:
    if not isinstance(points, int) or isinstance(points, bool) or not 1 <= points <= MAX_POINTS:
        raise ValueError(f"points must be an integer from 1 to {MAX_POINTS}, got {points!r}")


def case_params(name: str) -> list[tuple[str, dict[str, float]]]:
    """(label, parameter values) of the rows of rule ``name``: its defaults ({}) and, when it has parameters,
    other values (bugs hide behind α = 1)."""
    cases: list[tuple[str, dict[str, float]]] = [(name, {})]
    params = rule_params(name)
    if params:
        other = {p.name: round(p.default * 2.5 if p.default else 0.5, 6) for p in params}
        label = ", ".join(f"{k}={v}" for k, v in other.items())
        cases.append((f"{name}({label})", other))
    return cases


def _cases(name: str) -> list[tuple[str, Rule | VectorRule]]:
    return [(label, rule(name, **dict[str, Any](params))) for label, params in case_params(name)]


def verify_rules(
    names: list[str] | None = None, progress: Callable[[str, int, int], None] | None = None, points: int = 200
) -> CheckTable:
    """Verify every rule (or those named), each also at non-default parameters; ``progress(label, i, n)`` before each.

    The reports come as a :class:`CheckTable`: a list that prints as the verify table.
    """
    if isinstance(names, str):
        raise TypeError(f"names must be a list of rule names, got the string {names!r}")
    _check_points(points)
    names = list(rules()) if names is None else list(names)
    cases = [case for name in names for case in _cases(name)]
    reports = CheckTable()
    for i, (label, r) in enumerate(cases):
        if progress:
            progress(label, i, len(cases))
        report = verify_rule(r, points=points)
        report.name = label
        reports.append(report)
    return reports
