"""The report's printers in one import: names, LaTeX, MathML and plain text (kept for existing imports).

Each job has its own module: :mod:`symdl.report.names` (the closed subset of
LaTeX a name may use), :mod:`symdl.report.latex_printer`,
:mod:`symdl.report.mathml_printer` and :mod:`symdl.report.text` (TeX text,
verbatim, Markdown code, anchors). This module re-exports their public names.
"""

from __future__ import annotations

from .latex_printer import ReportLatexPrinter, latex_math, latex_parts
from .mathml_printer import ReportMathMLPrinter, mathml_math
from .names import UNSAFE_NAME, UnsafeMathError, parse_name, safe_name_latex
from .text import md_code, section_anchor, tex_text, tex_verbatim

__all__ = [
    "UNSAFE_NAME",
    "ReportLatexPrinter",
    "ReportMathMLPrinter",
    "UnsafeMathError",
    "latex_math",
    "latex_parts",
    "mathml_math",
    "md_code",
    "parse_name",
    "safe_name_latex",
    "section_anchor",
    "tex_text",
    "tex_verbatim",
]
