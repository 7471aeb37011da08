"""``excerpt(value)`` = ``repr(value)`` if it has at most 60 characters, else its first 57 and ``...``: a value in an error line.

An error line names the value it refuses but never echoes a whole one (``10**400`` has 401 digits, a key can be
a megabyte of text), and stays one line (a numpy array's repr has several). Every such cut in symdl is this
function: the library's checks call it, and the generated numpy, PyTorch and JAX modules carry it verbatim as
``_excerpt`` (:func:`symdl.codegen.module_text.module_source` adds it to a module whose copied checks call it,
the way :func:`symdl.network.checks.check_state` is copied). Importing this module imports nothing.
"""

from __future__ import annotations

__all__ = ["excerpt"]


def excerpt(value: object) -> str:
    """``repr(value)`` on one line if it has at most 60 characters, else its first 57 characters and ``...``."""
    text = repr(value)
    if len(text.splitlines()) > 1:  # a str's repr escapes its line breaks: only another object's repr is joined
        text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
