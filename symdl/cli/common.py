"""What every ``symdl`` subcommand shares: exit statuses, the usage error, output, parameter and target parsing, progress.

Output goes through :func:`out` / :func:`write` (escaping what the terminal's
encoding cannot show); user formula text goes only to :func:`symdl.formula_rule`
(the safe parser) through :func:`build_rule`.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ..excerpt import excerpt
from .ticker import Ticker

if TYPE_CHECKING:
    import sympy as sp

__all__ = [
    "add_network_arguments",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "Progress",
    "UsageError",
    "add_json_argument",
    "add_progress_arguments",
    "progress_wanted",
    "build_rule",
    "input_symbol",
    "integer_in",
    "json_number",
    "metric_list",
    "network_from_args",
    "one_line",
    "out",
    "parse_layers",
    "parse_params",
    "parse_value",
    "report_json",
    "write",
]

PROG = "symdl"


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_INTERNAL = 3  # a bug: one line saying so; --debug shows the traceback


class UsageError(Exception):
    """Bad input from the command line: reported as one ``symdl: error:`` line, exit status 2."""


# --- output helpers -----------------------------------------------------------


def write(stream: TextIO, text: str) -> None:
    """Write ``text`` and a newline, escaping what the stream's encoding cannot show (σ on an ASCII terminal)."""
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write((text + "\n").encode(encoding, "backslashreplace").decode(encoding))


def out(text: str = "") -> None:
    write(sys.stdout, text)


def one_line(message: object) -> str:
    """A message on one line: library errors may span several (a formula with a caret under it); past 300
    characters its middle is cut, so that the reason at its end (after a long file name) stays."""
    lines = [line.strip() for line in str(message).splitlines()]
    text = " | ".join(line for line in lines if line) or "unknown error"
    if len(text) <= 300:
        return text
    head, tail = text[:200], text[-95:]
    head = head[:head.rfind(" ")] if " " in head[120:] else head  # cut between words where one ends nearby
    tail = tail[tail.find(" ") + 1:] if " " in tail[:30] else tail
    return f"{head} ... {tail}"


def json_number(value: float) -> float | None:
    """``value`` as a JSON-safe float: NaN and ±inf (not JSON) become null."""
    value = float(value)
    return value if math.isfinite(value) else None


def progress_wanted(args: argparse.Namespace, stream: TextIO) -> bool:
    """Progress on ``stream`` when it is a terminal, or everywhere with ``--progress``; never with ``--quiet``."""
    if getattr(args, "quiet", False):
        return False
    return bool(getattr(args, "progress", False)) or stream.isatty()


def add_progress_arguments(command: argparse.ArgumentParser, quiet: bool = True) -> None:
    """``--progress`` (and ``--quiet``): the one progress switch of the long commands (verify, check, report)."""
    group = command.add_mutually_exclusive_group()
    group.add_argument("--progress", action="store_true",
                       help="show the progress line on stderr even when it is not a terminal (default: only on a terminal)")
    if quiet:
        group.add_argument("--quiet", action="store_true", help="no progress on stderr, even on a terminal")


def add_json_argument(command: argparse.ArgumentParser) -> None:
    """``--json``: the one machine-readable switch, spelled and described the same on every command that prints results."""
    command.add_argument("--json", action="store_true", help="print the results as JSON on stdout instead of text")


class Progress:
    """``symdl verify: [3/40] rules: relu… 12.3 s, about 40 s left (estimate)`` on stderr: the item's place in the
    whole command (one counter across its stages), the stage, the seconds since the command started and, once
    :attr:`ETA_AFTER` items are done, the remaining items × the mean seconds per item so far (less what the
    current item has run, up to its mean).

    On a terminal it is one overwritten line, refreshed every
    :attr:`REFRESH_SECONDS` while an item runs (a :class:`~symdl.cli.ticker.Ticker`
    thread, started by the first item and stopped by :meth:`close`); elsewhere
    (with ``--progress``) one line per item without the time, so that logs
    compare, and a line with the time every :attr:`LOG_SECONDS` that one item
    runs on. ``stage_of(name)`` names the stage of an item when the caller
    does not say it.
    """

    #: Seconds between refreshes of the terminal line while an item runs.
    REFRESH_SECONDS = 1.0
    #: Seconds an item runs on, off a terminal, before each line that says it still runs.
    LOG_SECONDS = 10.0
    #: Items done before the estimate of the time left is shown.
    ETA_AFTER = 3

    def __init__(self, stream: TextIO, enabled: bool, command: str = "", doing: str = "",
                 stage_of: Callable[[str], str | None] | None = None) -> None:
        self.stream = stream
        self.prefix = f"{PROG} {command}: " if command else ""
        self.doing = doing
        self.enabled = enabled
        self.tty = enabled and stream.isatty()
        self.open = False
        self.stage_of = stage_of
        self.start = time.monotonic()
        self.message = ""
        self._lock = threading.Lock()
        self._ticker: Ticker | None = None
        self._first: tuple[int, float] | None = None  # (index, time) of the first item shown
        self._estimate: tuple[int, float, float] | None = None  # items left, mean seconds per item, this item's start
        self._logged = self.start  # when the last line was written off a terminal

    def __call__(self, name: str, index: int, total: int, stage: str | None = None) -> None:
        if not self.enabled:
            return
        if stage is None and self.stage_of is not None:
            stage = self.stage_of(name)
        where = f"{stage}: " if stage else ""
        now = time.monotonic()
        with self._lock:
            if self._first is None or index < self._first[0]:
                self._first = (index, now)
            done = index - self._first[0]
            mean = (now - self._first[1]) / done if done else 0.0
            self._estimate = (total - index, mean, now) if done >= self.ETA_AFTER else None
            self.message = f"{self.prefix}[{index + 1}/{total}] {where}{self.doing}{name}…"
            if self.tty:
                self._show()
            else:
                write(self.stream, self.message)
                self.stream.flush()
                self._logged = now
        if self._ticker is None:
            self._ticker = Ticker(self.REFRESH_SECONDS, self.tick, name="symdl-progress")
            self._ticker.start()

    def tick(self) -> None:
        """Refresh the elapsed time on a terminal; off a terminal, a line every :attr:`LOG_SECONDS` an item runs."""
        with self._lock:
            if self.tty and self.open:
                self._show()
            elif self.enabled and not self.tty and self.message and time.monotonic() - self._logged >= self.LOG_SECONDS:
                write(self.stream, f"{self.message} {self._times()}")
                self.stream.flush()
                self._logged = time.monotonic()

    def _times(self) -> str:
        """``12.3 s``, and ``, about 40 s left (estimate)`` once there is an estimate: the items left × the mean
        seconds per item, less what this item has run (down to the rest of its mean, never below)."""
        now = time.monotonic()
        elapsed = f"{now - self.start:.1f} s"
        if self._estimate is None:
            return elapsed
        left, mean, started = self._estimate
        seconds = (left - 1) * mean + max(mean - (now - started), 0.0)
        return f"{elapsed}, about {seconds:.0f} s left (estimate)"

    def _show(self) -> None:
        self.stream.write(f"\r\x1b[K{self.message} {self._times()}")
        self.open = True
        self.stream.flush()

    def close(self) -> None:
        """Stop the refreshing and clear the overwritten line, so the next output starts on a clean line."""
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        with self._lock:
            if self.open:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.open = False


def report_json(report: Any) -> dict[str, Any]:
    return {
        "name": report.name,
        "passed": bool(report.passed),
        "proven": bool(report.proven),
        "proofs": {label: bool(holds) for label, holds in report.proofs.items()},
        "kinks_ok": bool(report.kinks_ok),
        "value_jumps": list(report.value_jumps),
        "fd_error": json_number(report.fd_error),
        "accuracy64": json_number(report.accuracy64),
        "accuracy32": json_number(report.accuracy32),
        "stable": bool(report.stable),
        "unstable": list(report.unstable),
        "mutants_killed": report.mutants_killed,
        "mutants_total": report.mutants_total,
        "kind": report.kind,
    }


# --- parameters and targets ---------------------------------------------------


def numeric_params(items: Sequence[str], flag: str = "--param") -> dict[str, float]:
    """``--param`` items ``k=v`` as {k: float v}: :func:`parse_params` without symbolic parameters (no None values)."""
    return {k: v for k, v in parse_params(items, allow_symbolic=False, flag=flag).items() if v is not None}


def parse_params(items: Sequence[str], allow_symbolic: bool, flag: str = "--param") -> dict[str, float | None]:
    """``--param`` items ``k=v`` as {k: float v}; a bare ``k`` is {k: None} when ``allow_symbolic``; ``flag`` names the
    option in the error line (``--loss-param``, …)."""
    params: dict[str, float | None] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not key:
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        if key in params:
            raise UsageError(f"{flag} {key!r} given twice")
        if not sep:
            if not allow_symbolic:
                raise UsageError(f"{flag} {key!r} needs a value for a registered rule: {flag} {key}=VALUE")
            params[key] = None
            continue
        params[key] = parse_value(key, text, flag)
    return params


def parse_value(key: str, text: str, flag: str = "--param", *, nor: str = "") -> float:
    """float(text) if finite, else a UsageError naming ``flag key=text``; ``nor`` words what else the flag accepts
    (``nor="true/false for an option"``: "'maybe' is not a number, nor true/false for an option")."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{flag} {key}={text}: {excerpt(text)} is not a number{f', nor {nor}' if nor else ''}") from None
    if not math.isfinite(value):
        raise UsageError(f"{flag} {key}={text}: expected a finite number")
    return value


def build_rule(args: argparse.Namespace) -> Any:
    """The rule named by ``args.target``, or a formula rule of that text."""
    from ..rulebook.registry import neither_rule_nor_formula, rule, rules
    from ..rulebook.rule import formula_rule
    from ..symbolic.parse import FormulaError

    known = rules()
    if args.target in known:
        if args.symbol:
            raise UsageError(f"--symbol applies to formulas only; {args.target!r} is a registered rule")
        params = parse_params(args.param, allow_symbolic=False)
        return rule(args.target, kink_convention=args.kink_convention, **dict[str, Any](params))
    params = parse_params(args.param, allow_symbolic=True)
    try:
        return formula_rule(
            args.target,
            wrt=args.wrt or "z",
            params=params,
            symbols=tuple(args.symbol),
            kink_convention=args.kink_convention,
        )
    except FormulaError as error:
        declared = {args.wrt or "z", *args.symbol, *params}
        if args.target.isidentifier() and args.target not in declared:
            raise UsageError(f"{neither_rule_nor_formula(args.target, repr('symdl list'))}: {one_line(error)}") from None
        raise


def input_symbol(r: Any, wrt: str | None) -> sp.Symbol:
    if wrt is None:
        return r.wrt
    for s in r.inputs:
        if s.name == wrt:
            return s
    raise UsageError(f"{r.name!r} has no input {wrt!r}; its inputs: {', '.join(s.name for s in r.inputs)}")


def integer_in(low: int, high: int, top: str = "") -> Callable[[str], int]:
    """An argparse type: int(text) with low ≤ value ≤ high (``top`` spells high in the error), else one ArgumentTypeError."""
    kind = "positive" if low > 0 else "non-negative"

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {excerpt(text)}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer from {low} to {top or high}, got {excerpt(text)}")
        return value

    return check


def metric_list(text: str) -> list[str]:
    """``--metrics mae,mse``: the comma-separated metric names (checked by symdl.metrics.metric where used)."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated metric names such as mae,mse, got {excerpt(text)}")
    return names


def parse_layers(text: str, flag: str = "--layers") -> list[int]:
    """Widths from ``784,512,10``; ``flag`` names the argument in the error line."""
    widths = []
    for item in text.split(","):
        try:
            widths.append(int(item.strip()))
        except ValueError:
            raise UsageError(f"{flag} {text!r}: expected positive integer widths such as 784,512,10") from None
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise UsageError(f"{flag} {text!r}: expected at least two positive integer widths such as 784,512,10")
    return widths


def network_from_args(args: argparse.Namespace, widths: list[int], **options: Any) -> Any:
    """The :class:`symdl.Network` of the widths and the network flags (``--activation``, ``--loss-param``, …)."""
    from ..network.model import Network

    penalty_params = numeric_params(args.penalty_param, "--penalty-param")
    if penalty_params and args.penalty is None:
        raise UsageError("--penalty-param given without --penalty")
    return Network(
        widths,
        activation=args.activation,
        output_activation=args.output_activation,
        loss=args.loss,
        loss_params=numeric_params(args.loss_param, "--loss-param"),
        penalty=args.penalty,
        penalty_params=penalty_params or None,
        activation_params=numeric_params(args.activation_param, "--activation-param"),
        output_activation_params=numeric_params(args.output_activation_param, "--output-activation-param"),
        batchnorm=args.batchnorm,
        dropout=args.dropout,
        reduction=args.reduction,
        **options,
    )


def add_network_arguments(net: Any, dtypes: tuple[str, ...] = ("float64", "float32"), dtype_help: str = "") -> None:
    """The flags that describe a network besides its widths (``codegen --layers`` and ``train``); ``dtypes``: --dtype's choices."""
    from .rule_table import REDUCTIONS  # the static copy: the parser imports no SymPy

    net.add_argument("--activation", default="tanh", metavar="RULE", help="hidden activation (default: tanh)")
    net.add_argument("--activation-param", action="append", default=[], metavar="K=V", help="its parameters")
    net.add_argument("--output-activation", default="identity", metavar="RULE", help="output activation (default: identity)")
    net.add_argument("--output-activation-param", action="append", default=[], metavar="K=V", help="its parameters")
    net.add_argument("--loss", default="mse", metavar="RULE", help="loss (default: mse)")
    net.add_argument("--loss-param", action="append", default=[], metavar="K=V", help="its parameters")
    net.add_argument("--reduction", choices=REDUCTIONS, default="symdl",
                     help="the loss's reduction: symdl (per-sample sum over outputs, batch mean; default), or mean/sum "
                     "exactly as torch.nn.functional's reduction= (losses with a torch counterpart)")
    net.add_argument("--penalty", metavar="RULE", help="penalty on the weights (default: none)")
    net.add_argument("--penalty-param", action="append", default=[], metavar="K=V", help="its parameters")
    net.add_argument("--batchnorm", action="store_true", help="batch norm before each hidden activation")
    net.add_argument("--dropout", type=float, metavar="P", help="inverted dropout on hidden layers, dropping each unit with probability P, 0 ≤ P < 1 (PyTorch's Dropout(p))")
    net.add_argument("--dtype", choices=dtypes, default="float64", help=f"dtype (default: float64{dtype_help})")
