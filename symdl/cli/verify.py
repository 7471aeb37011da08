"""``symdl verify``: prove the rules and BP1–BP4 and check the generated code numerically; a table or JSON."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..numbers import format_number
from ..report.display import REPORT_HEADER, failure_details, report_row, text_table
from ..verify.runner import CODEGEN_ROWS, NETWORK_ROWS
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    Progress,
    UsageError,
    out,
    progress_wanted,
    report_json,
)

__all__ = ["CODEGEN_ROWS", "NETWORK_ROWS", "VERIFY_STAGES", "cmd_verify"]

#: The stage a verify row belongs to, by its task kind (:class:`symdl.verify.runner.Task`), shown in the progress line.
VERIFY_STAGES = {"rule": "rules", "backprop": "networks", "layer": "networks", "optimizer": "networks",
                 "graph": "networks", "network": "networks", "codegen": "generated code"}

def _check_names(names: Sequence[str]) -> list[str] | None:
    from ..rulebook.registry import rules

    known = [*rules(), NETWORK_ROWS, CODEGEN_ROWS]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"unknown rule {name!r}; {hint}see 'symdl list'")
    return list(dict.fromkeys(names)) or None


def _print_verify_table(reports: Sequence[Any]) -> None:
    from ..testing import ACCURACY_RTOL
    from ..verify.rules import FD_TOLERANCE

    for line in text_table([report_row(r) for r in reports], REPORT_HEADER):
        out(line)
    details = [line for r in reports if not r.passed for line in failure_details(r)]
    if details:
        out()
        for line in details:
            out(line)
    f64, f32 = ACCURACY_RTOL[np.dtype(np.float64)], ACCURACY_RTOL[np.dtype(np.float32)]
    out()
    out(f"tolerances: FD <= {format_number(FD_TOLERANCE, 'g')}, vs mpmath <= {format_number(f64, 'g')} (f64) / {format_number(f32, 'g')} (f32)")


def cmd_verify(args: argparse.Namespace) -> int:
    from ..verify.cache import VerifyCache
    from ..verify.runner import default_jobs, plan, run

    names = _check_names(args.names)
    jobs = default_jobs() if args.jobs is None else args.jobs
    tasks = plan(names, points=args.points)
    stages = {task.label: VERIFY_STAGES.get(task.kind, task.kind) for task in tasks}
    progress = Progress(sys.stderr, progress_wanted(args, sys.stderr), "verify", stage_of=stages.get)
    try:
        reports = run(tasks, jobs=jobs, cache=None if args.no_cache else VerifyCache(), progress=progress)
    finally:
        progress.close()
    passed = sum(1 for r in reports if r.passed)
    if args.json:
        out(json.dumps([report_json(r) for r in reports], indent=2))
    else:
        _print_verify_table(reports)
        others = sum(1 for r in reports if r.kind != "rule")
        counted = f"{len(reports) - others} rules" + (f", {others} other rows" if others else "")
        out(f"{counted}: {passed} passed, {len(reports) - passed} failed")
    return EXIT_OK if passed == len(reports) else EXIT_FAILED
