"""Formula text from standard input (``-``) or a file (``@FILE``), wherever the command line takes a formula.

The text is read as UTF-8 and handed to the same safe parser as text typed on
the command line (:func:`symdl.formula_rule`); nothing read is run. A file that
cannot be read is one :class:`~symdl.cli.common.UsageError` line (exit 2).
"""

from __future__ import annotations

import argparse
import re
import sys

from .common import UsageError
from .paths import input_file

__all__ = ["MAX_READ", "NAMED_GRADIENT", "read_formula_arguments", "read_formula_text"]

#: At most this many characters are read: past the parser's own limit, so a longer text gets the parser's message.
MAX_READ = 1_000_000

#: ``codegen --gradient INPUT=FORMULA``: an input's name, then its backward formula (``==`` is no name).
NAMED_GRADIENT = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9]*)\s*=(?!=)(.*)", re.DOTALL)


def read_formula_text(text: str, flag: str, stdin_used: list[str]) -> str:
    """``text`` itself, or for ``-`` standard input, for ``@FILE`` that file's text, trailing blank space stripped.

    ``stdin_used`` names the flag that already read standard input: it can be read once.
    """
    if text == "-":
        if stdin_used:
            raise UsageError(f"{flag} -: standard input was already read by {stdin_used[0]}; use @FILE for one of them")
        stdin_used.append(flag)
        return _limited(sys.stdin.read(MAX_READ + 1), flag, "standard input")
    if not text.startswith("@"):
        return text
    path = text[1:]
    if not path:
        raise UsageError(f"{flag} @: expected a file name after @, such as @formula.txt")
    input_file(path, f"{flag} @{path}")
    try:
        with open(path, encoding="utf-8") as file:
            read = file.read(MAX_READ + 1)
    except UnicodeDecodeError:
        raise UsageError(f"{flag} @{path}: the file is not UTF-8 text") from None
    except OSError as error:
        raise UsageError(f"{flag} @{path}: cannot read the file ({error.strerror or error})") from None
    return _limited(read, flag, f"@{path}")


def _limited(text: str, flag: str, source: str) -> str:
    if len(text) > MAX_READ:
        raise UsageError(f"{flag} {source}: more than {MAX_READ} characters; a formula is far shorter")
    return text.rstrip()


def read_formula_arguments(args: argparse.Namespace) -> None:
    """Replace every formula argument given as ``-`` or ``@FILE`` by the text read: NAME|FORMULA, ``--derivative``,
    each ``--formula [NAME=]TEXT`` and each ``--gradient [INPUT=]FORMULA``."""
    stdin_used: list[str] = []
    if isinstance(getattr(args, "target", None), str):
        args.target = read_formula_text(args.target, "NAME|FORMULA", stdin_used)
    if isinstance(getattr(args, "derivative", None), str):
        args.derivative = read_formula_text(args.derivative, "--derivative", stdin_used)
    if isinstance(getattr(args, "formula", None), list):
        args.formula = [_named(item, stdin_used) for item in args.formula]
    if isinstance(getattr(args, "gradient", None), list):
        args.gradient = [_gradient(item, stdin_used) for item in args.gradient]


def _named(item: str, stdin_used: list[str]) -> str:
    """``--formula TEXT`` or ``--formula NAME=TEXT`` (the report's titled form) with TEXT read from ``-`` or ``@FILE``."""
    from .report import NAMED_FORMULA

    if _is_reference(item):
        return read_formula_text(item.strip(), "--formula", stdin_used)
    match = NAMED_FORMULA.fullmatch(item)
    if match and _is_reference(match.group(2)):
        return f"{match.group(1)}={read_formula_text(match.group(2).strip(), '--formula', stdin_used)}"
    return item


def _is_reference(text: str) -> bool:
    text = text.strip()
    return text == "-" or text.startswith("@")


def _gradient(item: str, stdin_used: list[str]) -> str:
    """``--gradient FORMULA`` or ``--gradient INPUT=FORMULA`` with FORMULA read from ``-`` or ``@FILE``."""
    if _is_reference(item):
        return read_formula_text(item.strip(), "--gradient", stdin_used)
    match = NAMED_GRADIENT.fullmatch(item)
    if match and _is_reference(match.group(2)):
        return f"{match.group(1)}={read_formula_text(match.group(2).strip(), '--gradient', stdin_used)}"
    return item
