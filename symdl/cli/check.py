"""``symdl check``: a rule's or formula's boundary continuity (exact), kinks and numeric checks; exit 1 if one fails."""

from __future__ import annotations

import argparse
import json

from ..report.display import failure_details, report_row
from .bounded import bounded, describe
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    build_rule,
    input_symbol,
    out,
    report_json,
)

__all__ = ["cmd_check"]


def cmd_check(args: argparse.Namespace) -> int:
    """``symdl check``: boundary continuity exactly, then the numeric checks when parameters have values, within ``--time-limit``."""
    return bounded(args, describe("checking", args.target), _check, args)


def _check(args: argparse.Namespace) -> int:
    from ..rulebook.continuity import boundary_properties
    from ..rulebook.registry import registered_equivalent
    from ..symbolic.rewrite import describe_stable_form
    from ..verify.rules import typed_form_instability, verify_rule
    from .check_layer import check_formula_layer, is_layer_equation

    if is_layer_equation(args.target):
        return check_formula_layer(args)
    r = build_rule(args)
    if not r.element_wise:
        raise UsageError(f"check applies to element-wise rules and formulas; {args.target!r} is a vector rule")
    if args.wrt is not None and input_symbol(r, args.wrt) != r.wrt:  # an unknown input: one line naming the inputs
        raise UsageError(
            f"check examines {r.name!r} by its input {r.wrt} (continuity and kinks in {r.wrt}, the checks of "
            f"d/d{r.wrt}); --wrt {args.wrt} is not supported here: 'symdl derive {r.name} --wrt {args.wrt}' derives by it"
        )
    properties = boundary_properties(r)
    symbolic = list(r.derivation().symbolic_params)
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
        out(f"  {b.what} JUMPS at {r.wrt} = {b.at}: {b.left} -> {b.right}, jump {b.jump}"
             + (f" (zero only for {where})" if where else ""))
    if properties.undecided:
        out(f"  boundaries undecided: {properties.undecided}")
    for k in r.kinks:
        out(f"  kink at {r.wrt} = {k.at}: one-sided {k.left}, {k.right}; returned {k.value}")
    if report is None:
        out(f"  numeric checks skipped: give values to {', '.join(symbolic)} (--param NAME=VALUE)")
    else:
        out(f"  numeric: {' '.join(report_row(report)[1:])}")
        for line in failure_details(report)[:1]:
            out(f"  {line}")
        typed = typed_form_instability(r)
        if typed:
            out(f"  as typed, {r.name} is unstable: {typed[0]}")
        if (code_form := describe_stable_form(r.bind(r.expr))) is not None:
            out(f"  {code_form}")
        if report.unstable or typed:
            stable = registered_equivalent(r)
            if stable:
                out(f"  symdl's rule {stable!r} is the same function, printed stably: symdl derive {stable} --format python")
    out(f"{'PASS' if passed else 'FAIL'}")
    return EXIT_OK if passed else EXIT_FAILED
