"""The ``symdl`` command: list the rules, derive one (or a formula), check, generate code, verify, write reports.

``main(argv)`` returns the exit status instead of exiting, so it can be called
from Python: 0 success, 1 a verified rule failed, 2 bad input or work past
``--time-limit`` (one line ``symdl: error: …`` on stderr, never a traceback),
3 an internal error (one line; ``--debug`` shows the traceback), 130 interrupted.
User formula text goes only to :func:`symdl.formula_rule` (the safe parser),
never to ``eval``/``sympify``. Each subcommand lives in its own module
(:mod:`~symdl.cli.listing`, :mod:`~symdl.cli.derive`, :mod:`~symdl.cli.check`,
:mod:`~symdl.cli.codegen`, :mod:`~symdl.cli.verify`, :mod:`~symdl.cli.report`,
:mod:`~symdl.cli.training`, :mod:`~symdl.cli.completion`);
the parser is :mod:`~symdl.cli.parser`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from ..budget import WorkerDied
from .common import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    UsageError,
    one_line,
    write,
)
from .errors import MEMORY_HINT, explain
from .parser import build_parser

__all__ = ["COMMANDS", "build_parser", "main"]


# Each subcommand's module is imported when it runs: `symdl --help`, `--version` and `list` import no SymPy.
def _list(args: argparse.Namespace) -> int:
    from .listing import cmd_list

    return cmd_list(args)


def _derive(args: argparse.Namespace) -> int:
    from .derive import cmd_derive

    return cmd_derive(args)


def _check(args: argparse.Namespace) -> int:
    from .check import cmd_check

    return cmd_check(args)


def _codegen(args: argparse.Namespace) -> int:
    from .codegen import cmd_codegen

    return cmd_codegen(args)


#: SymPy's cache size for ``symdl verify`` (SymPy's default, 1000 entries, is read at import): its proofs and
#: kernels rebuild the same Min/Max nodes, whose construction compares their arguments, far more often than 1000
#: entries keep (gelu's row: 3.7 → 2.5 s of CPU, docs/performance.md). A SYMPY_CACHE_SIZE the user set wins.
VERIFY_SYMPY_CACHE_SIZE = "20000"


def _verify(args: argparse.Namespace) -> int:
    fresh = "sympy" not in sys.modules  # else symdl.cli.main was called from Python: its process is not ours to tune
    if fresh:  # too late once SymPy is imported
        os.environ.setdefault("SYMPY_CACHE_SIZE", VERIFY_SYMPY_CACHE_SIZE)
    from ..verify.runner import collecting_less
    from .verify import cmd_verify

    if not fresh:
        return cmd_verify(args)
    with collecting_less():  # the rows computed here (-j 1) as in the workers; the collector as it was after
        return cmd_verify(args)


def _report(args: argparse.Namespace) -> int:
    from .report import cmd_report

    return cmd_report(args)


def _train(args: argparse.Namespace) -> int:
    from .training import cmd_train

    return cmd_train(args)


def _evaluate(args: argparse.Namespace) -> int:
    from .training import cmd_evaluate

    return cmd_evaluate(args)


def _completion(args: argparse.Namespace) -> int:
    from .completion import cmd_completion

    return cmd_completion(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": _list,
    "derive": _derive,
    "check": _check,
    "codegen": _codegen,
    "verify": _verify,
    "report": _report,
    "train": _train,
    "evaluate": _evaluate,
    "completion": _completion,
}


def _error(message: object) -> int:
    write(sys.stderr, f"{PROG}: error: {one_line(message)}")
    return EXIT_USAGE


@contextlib.contextmanager
def _warning_lines() -> Iterator[None]:
    """symdl's own warnings (a logits loss after a softmax output) as one line ``symdl: warning: …`` each, once per
    message (a network checked and then built warns once), without the source line Python adds; others as Python shows them."""
    shown, said = warnings.showwarning, set[str]()

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None,
             line: str | None = None) -> None:
        if category.__module__.split(".")[0] != "symdl":
            shown(message, category, filename, lineno, file, line)
        elif (text := one_line(message)) not in said:
            said.add(text)
            write(sys.stderr, f"{PROG}: warning: {text}")

    with warnings.catch_warnings():
        # shown whatever -W says: an error there would end the command as an internal error, not a warning
        warnings.filterwarnings("always", category=UserWarning)
        warnings.showwarning = show
        yield


def _silence_stdout() -> None:
    """After a broken pipe (``symdl list | head``), point stdout at devnull so exit does not complain again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``symdl`` command with ``argv`` (default ``sys.argv[1:]``) and return its exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments  # anywhere on the line: tracebacks instead of one-line errors
    try:
        return _run([a for a in arguments if a != "--debug"], debug)
    except Exception as error:  # not the input's fault: a bug in symdl (or SymPy), said so on one line
        if debug:
            raise
        write(sys.stderr, f"{PROG}: internal error ({type(error).__name__}: {one_line(error)}); "
                          f"this is a bug in symdl: rerun with --debug for the traceback and report it")
        return EXIT_INTERNAL


def _run(arguments: list[str], debug: bool) -> int:
    try:
        parser = build_parser(lazy=True)
        if not arguments:  # bare `symdl`: no command is a usage error (exit 2, as argparse), shown with the whole help
            sys.stderr.write(parser.format_help())
            return EXIT_USAGE
        try:
            args = parser.parse_args(arguments)
        except SystemExit as exit_:  # --help and --version
            return exit_.code if isinstance(exit_.code, int) else EXIT_OK
        from .formula_input import read_formula_arguments

        read_formula_arguments(args)
        with _warning_lines():
            return COMMANDS[args.command](args)
    except UsageError as error:
        return _error(error)
    # Every library error is the user's input (names, parameters, formulas), reported on one line.
    except (ValueError, TypeError, ArithmeticError, RecursionError) as error:
        if debug:
            raise
        return _error(explain(error))
    except MemoryError:  # widths whose matrices do not fit, or SymPy/mpmath evaluating a constant such as exp(1e15)
        if debug:
            raise
        return _error(f"ran out of memory on this input: {MEMORY_HINT}")
    except WorkerDied as error:
        return _error(f"{one_line(error)}: {MEMORY_HINT}")
    except KeyboardInterrupt:
        write(sys.stderr, f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILED
