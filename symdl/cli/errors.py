"""What an error raised while working on the user's input says on the CLI's one line: the message, made true.

Library errors (``ValueError``, ``TypeError``, ``symdl.FormulaError``) already
say what was wrong with the input; a few exceptions from Python, SymPy or
mpmath carry a message that would mislead (a digit limit, a bare
``MemoryError``), and :func:`explain` says what happened instead.
"""

from __future__ import annotations

__all__ = ["MEMORY_HINT", "explain"]

MEMORY_HINT = ("SymPy or mpmath evaluating an exact constant whose value has too many digits (such as "
               "sigmoid(1e15), which holds exp(-10**15); use a smaller constant) or, for networks, widths whose "
               "matrices do not fit")


def explain(error: BaseException) -> str:
    """The one line for ``error``: its own message, or what it means where that message would mislead."""
    text = str(error)
    if isinstance(error, ValueError) and "integer string conversion" in text:
        return ("a number in this work has more than Python's 4300 digits for turning integers into text; "
                "use smaller constants or floats")
    if isinstance(error, OverflowError) and "digits" in text:
        return f"an exact integer in this work grew beyond what Python can hold ({text}); use smaller constants or floats"
    if isinstance(error, OverflowError):
        return f"a number overflowed while working on this input ({text or 'OverflowError'}); use smaller constants"
    if isinstance(error, RecursionError):
        return "the expression is nested too deeply for SymPy to work on (RecursionError); split the formula into parts"
    if isinstance(error, ZeroDivisionError):
        return f"a division by zero while working on this input ({text or 'ZeroDivisionError'})"
    return text or type(error).__name__
