"""Mathematics inside prose: ``$…$`` segments of a report's text, typeset in every format.

A report's prose (titles, step notes, check details) may hold ``$…$``
segments, each a name in the closed LaTeX subset of
:func:`symdl.report.names.parse_name` — letters, digits, Greek, ``^``/``_``
scripts, ``\\frac``, ``\\partial``, operators and spaces — such as
``$z^{l}_{j} = \\Sigma_{k} w^{l}_{jk} a^{l-1}_{k} + b^{l}_{j}$``. Each format
prints the parse again: LaTeX for TeX and Markdown, MathML for HTML, Unicode
for a terminal (zˡⱼ = Σₖ …). A segment outside the subset is shown as its
characters, as plain text: nothing in it can become markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .names import _name_latex, parse_name
from .unicode_math import tree_text

__all__ = ["INLINE_MATH", "prose", "prose_text"]

#: One ``$…$`` segment: no ``$`` or newline inside, at most 200 characters, no space just inside either ``$`` and
#: no digit just after the closing one (Pandoc's rule: "costs $5 and $6" is not mathematics).
INLINE_MATH = re.compile(r"\$(?=\S)([^$\n]{1,200}?)(?<=\S)\$(?!\d)")


def prose(text: str, plain: Callable[[str], str], math: Callable[[Any, str], str]) -> str:
    """``text`` with its plain parts through ``plain`` and each parsed ``$…$`` segment through ``math(tree, latex)``."""
    out, start = [], 0
    for match in INLINE_MATH.finditer(text):
        tree = parse_name(match.group(1))
        if tree is None:
            continue  # not mathematics symdl can typeset: left in the plain text around it
        out.append(plain(text[start:match.start()]))
        out.append(math(tree, _name_latex(tree)))
        start = match.end()
    out.append(plain(text[start:]))
    return "".join(out)


def prose_text(text: str) -> str:
    """``text`` for a terminal: each ``$…$`` segment as Unicode mathematics (``$\\delta^{l}_{j}$`` → δˡⱼ)."""
    return prose(text, lambda part: part, lambda tree, latex: tree_text(tree))
