"""``symdl check``: a rule's or formula's boundary continuity (exact), kinks and numeric checks; exit 1 if one fails."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..report.display import failure_details, report_row
from .bounded import bounded, describe
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    Progress,
    UsageError,
    build_rule,
    input_symbol,
    one_line,
    out,
    progress_wanted,
    report_json,
)

__all__ = ["cmd_check"]

if TYPE_CHECKING:
    from ..rulebook.registry import Equivalent
    from ..rulebook.rule import Rule


def cmd_check(args: argparse.Namespace) -> int:
    """``symdl check``: boundary continuity exactly, then the numeric checks when parameters have values, within ``--time-limit``."""
    return bounded(args, describe("checking", args.target), _check_showing_progress, args)


#: The stages of ``symdl check`` on an element-wise rule or formula, in order, for the progress line.
CHECK_STAGES = ("reading", "boundaries", "numeric checks")


def _check_showing_progress(args: argparse.Namespace) -> int:
    """:func:`_check` with its progress line (in the worker that --time-limit bounds), cleared before the results."""
    progress = Progress(sys.stderr, progress_wanted(args, sys.stderr), "check")
    try:
        return _check(args, lambda index: progress(describe("", args.target).strip(), index, len(CHECK_STAGES),
                                                   CHECK_STAGES[index]))
    finally:
        progress.close()


def _check(args: argparse.Namespace, stage: Callable[[int], None]) -> int:
    from ..rulebook.continuity import boundary_properties
    from ..rulebook.registry import registered_equivalents
    from ..symbolic.readable import approximately
    from ..symbolic.rewrite import describe_stable_form
    from ..verify.rules import typed_form_instability, verify_rule
    from .check_layer import check_formula_layer, is_layer_equation

    stage(0)
    if is_layer_equation(args.target):
        return check_formula_layer(args)
    r = build_rule(args)
    if not r.element_wise:
        raise UsageError(f"check applies to element-wise rules and formulas; {args.target!r} is a vector rule")
    if args.derivative is not None:
        return _check_derivative(r, args)
    if args.wrt is not None and input_symbol(r, args.wrt) != r.wrt:  # an unknown input: one line naming the inputs
        raise UsageError(
            f"check examines {r.name!r} by its input {r.wrt} (continuity and kinks in {r.wrt}, the checks of "
            f"d/d{r.wrt}); --wrt {args.wrt} is not supported here: 'symdl derive {r.name} --wrt {args.wrt}' derives by it"
        )
    stage(1)
    properties = boundary_properties(r)
    symbolic = list(r.derivation().symbolic_params)
    if not symbolic:
        stage(2)
    report = None if symbolic else verify_rule(r, points=100)
    result = {
        "name": r.name,
        "wrt": str(r.wrt),
        "continuous": properties.continuous,
        "derivative_continuous": properties.derivative_continuous,
        "boundaries": [
            {
                "of": b.what,
                "at": str(b.at),
                "left": str(b.left),
                "right": str(b.right),
                "jump": str(b.jump),
                "vanishes_for": {k: [str(v) for v in vs] for k, vs in b.vanishes_for.items()},
                "declared": b.declared,
            }
            for b in properties.boundaries
        ],
        "undecided": properties.undecided or None,
        "kinks": [{"at": str(k.at), "left": str(k.left), "right": str(k.right), "value": str(k.value)} for k in r.kinks],
        "numeric": None if report is None else report_json(report),
        "numeric_skipped_for": symbolic or None,
    }
    passed = properties.continuous and (report is None or report.passed)
    if args.json:
        out(json.dumps({**result, "passed": passed}, indent=2))
        return EXIT_OK if passed else EXIT_FAILED
    out(f"{r.name}  (by {r.wrt})")
    for b in properties.boundaries:
        if b.continuous:
            out(f"  {b.what} continuous at {r.wrt} = {b.at}")
            continue
        where = "; ".join(f"{k} = {', '.join(map(str, vs))}" for k, vs in b.vanishes_for.items())
        out(f"  {b.what} JUMPS at {r.wrt} = {b.at}: {b.left} -> {b.right}, jump {b.jump}{approximately(b.jump)}"
             + (f" (zero only for {where})" if where else "")
             + (f" (by {r.name}'s definition)" if b.declared else ""))
    if properties.undecided:
        out(f"  boundaries undecided: {properties.undecided}")
    for k in r.kinks:
        out(f"  kink at {r.wrt} = {k.at}: one-sided {k.left}, {k.right}; returned {k.value}")
    if report is None:
        out(f"  numeric checks skipped: give values to {', '.join(symbolic)} (--param NAME=VALUE)")
    else:
        out(f"  numeric: {' '.join(report_row(report)[1:])}")
        # A value jump is already a JUMPS line above: the first detail is the first other failure.
        shown_jumps = {f"{report.name}: {jump}" for jump in report.value_jumps} if any(
            b.what == "value" and not b.continuous for b in properties.boundaries) else set()
        for line in [d for d in failure_details(report) if d not in shown_jumps][:1]:
            out(f"  {line}")
        typed = typed_form_instability(r)
        if typed:
            out(f"  as typed, {r.name} is unstable: {typed[0]}")
        if (code_form := describe_stable_form(r.bind(r.expr))) is not None:
            out(f"  {code_form}")
        if report.unstable or typed or not report.passed:
            for match in registered_equivalents(r)[:1]:
                out(f"  {describe_equivalent(r, match)}")
    out(f"{'PASS' if passed else 'FAIL'}")
    return EXIT_OK if passed else EXIT_FAILED


def _check_derivative(r: Rule, args: argparse.Namespace) -> int:
    """``symdl check F --derivative EXPR``: EXPR − ∂F/∂wrt ≡ 0 proven, or refuted at an exact point."""
    from ..numbers import format_number
    from ..rulebook.claims import check_derivative, parse_derivative
    from ..symbolic.parse import FormulaError

    var = input_symbol(r, args.wrt)
    try:
        claimed = parse_derivative(r, args.derivative)
    except FormulaError as error:
        raise UsageError(f"--derivative {args.derivative!r}: {one_line(error)}") from None
    result = check_derivative(r, claimed, var)
    point = result.counterexample
    values = result.values_at_counterexample()
    if args.json:
        out(json.dumps({
            "name": r.name,
            "wrt": str(var),
            "claimed": str(result.claimed),
            "derivative": str(result.derivative),
            "proven": result.proof.holds,
            "method": result.proof.method,
            "kinks_excluded": [str(k) for k in result.kinks] or None,
            "counterexample": None if point is None else {str(k): str(v) for k, v in point.items()},
            "values_at_counterexample": None if values is None else {"claimed": str(values[0]), "derivative": str(values[1])},
            "passed": result.proof.holds,
        }, indent=2))
        return EXIT_OK if result else EXIT_FAILED
    out(f"d/d{var} {r.name} = {result.claimed} ?")
    if result:
        kinks = f" (kinks at {var} = {', '.join(map(str, result.kinks))} excluded: their value is a convention)" if result.kinks else ""
        out(f"  PROVEN: equal to symdl's {result.derivative} for every real {var}{kinks}; {result.proof.method}")
        return EXIT_OK
    if point is None or values is None:
        out(f"  NOT PROVEN, and no counterexample found ({result.proof.method}); symdl's derivative: {result.derivative}")
    else:
        at = ", ".join(f"{k} = {v}" for k, v in point.items())
        mine, true = (format_number(v if v.is_real is False or abs(v) > 1e300 else float(v), ".17g") for v in values)
        out(f"  REFUTED at {at}: yours gives {mine}, the derivative is {true} (confirmed with 50-digit arithmetic)")
        out(f"  symdl's derivative: {result.derivative}")
    out("FAIL")
    return EXIT_FAILED


def describe_equivalent(r: Rule, match: Equivalent) -> str:
    """One line: the registered rule that computes ``r``'s function, how its inputs map, and how to get its code."""
    stable = match.name
    flags = "".join(f" --param {k}={v:g}" for k, v in match.params)
    inputs = [s.name for s in r.inputs]
    arguments = [s.name for s in match.arguments]
    call = f"{stable}({', '.join(arguments)})"
    if match.through == "logit" and match.changed is not None:  # "logit" always names the changed input
        p = match.changed.name
        u = next(n for n in ("u", "t", "logit", "logit_") if n not in inputs)
        call = f"{stable}({', '.join(u if n == p else n for n in arguments)})"
        return (f"symdl's rule {stable!r} computes this from the logit: with {p} = sigmoid({u}) it is {call}, "
                f"printed stably (no log of 0): symdl derive {stable}{flags} --format python")
    same_order = "" if arguments == inputs else f" as {call}"
    at = f" at {', '.join(f'{k} = {v:g}' for k, v in match.params)}" if match.params else ""
    return (f"symdl's rule {stable!r}{at} is the same function{same_order}, printed stably: "
            f"symdl derive {stable}{flags} --format python")
