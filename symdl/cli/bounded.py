"""The CLI's work budget: ``--time-limit SECONDS`` and running a subcommand's work within it (:mod:`symdl.budget`).

The work (parse, derive, prove, check, print code) runs in a forked worker that
is killed at the limit; its standard output comes back whole and is written
here, and files are written here only after the work succeeded, so a command
stopped by the limit prints one error line and writes nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from ..budget import DEFAULT_SECONDS, TimeLimitExceeded, run_captured
from ..excerpt import excerpt
from .common import UsageError

__all__ = ["add_time_limit_argument", "bounded", "describe", "time_limit"]

T = TypeVar("T")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {excerpt(text)}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds ≥ 0 (0 for no limit), got {excerpt(text)}")
    return value


def add_time_limit_argument(command: argparse.ArgumentParser,
                            what: str = "stop the work on one formula or rule after this long, exit 2") -> None:
    """``--time-limit SECONDS`` (default :data:`symdl.budget.DEFAULT_SECONDS`; 0 for none); ``what`` it stops, for --help."""
    command.add_argument(
        "--time-limit", type=_seconds, default=DEFAULT_SECONDS, metavar="SECONDS",
        help=f"{what} (default: {DEFAULT_SECONDS:g}; 0: no limit)",
    )


def time_limit(args: argparse.Namespace) -> float:
    return float(getattr(args, "time_limit", DEFAULT_SECONDS))


def describe(doing: str, target: str | None) -> str:
    """``doing 'target'``, the target shortened to one line of at most 60 characters."""
    if target is None:
        return doing
    return f"{doing} {excerpt(' '.join(target.split()))}"


def bounded(args: argparse.Namespace, what: str, fn: Callable[..., T], *fn_args: Any,
            advice: str = ", or simplify the formula", **fn_kwargs: Any) -> T:
    """``fn(*fn_args, **fn_kwargs)`` within ``--time-limit``; what it printed is printed here; past the limit, one
    UsageError ending in ``advice``."""
    seconds = time_limit(args)
    try:
        value, printed = run_captured(seconds, fn, *fn_args, what=what, **fn_kwargs)
    except TimeLimitExceeded as error:
        raise UsageError(
            f"{error.what} took longer than the time limit of {error.seconds:g} s and was stopped; nothing was written. "
            f"Give --time-limit SECONDS for more time (0 for no limit){advice}"
        ) from None
    _print(printed)
    return value


def _print(text: str) -> None:
    """Write captured output as it was, escaping what the terminal's encoding cannot show."""
    if not text:
        return
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        encoding = getattr(sys.stdout, "encoding", None) or "ascii"
        sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))
    sys.stdout.flush()
