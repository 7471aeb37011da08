"""A :class:`~symdl.report.model.Report` as a complete LaTeX document that needs only the TeX base install.

Packages: amsmath, graphicx and alltt (all in texlive-latex-base).
Mathematics is printed by :class:`~symdl.report.latex_printer.ReportLatexPrinter`
(safe names only); plain text is escaped by
:func:`~symdl.report.text.tex_text`; code is wrapped to the page by
:func:`~symdl.report.text.tex_code_lines`. Plots are matplotlib's vector PDFs
(:attr:`~symdl.report.model.Plot.pdf`), ``figures/<key>.pdf`` next to the
``.tex`` (:func:`tex_figures`), drawn with ``\\includegraphics``.
"""

from __future__ import annotations

import re

from .derivative_notation import section_partial
from .latex_printer import latex_parts
from .model import Check, Math, Plot, Report, Section, Step
from .text import FIGURES, heading, section_anchor, tex_code_lines, tex_text

__all__ = ["render_tex", "tex_figures"]

_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage{amsmath}
\usepackage{graphicx}
\usepackage{alltt}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\addtolength{\textwidth}{3cm}
\addtolength{\oddsidemargin}{-1.5cm}
\addtolength{\evensidemargin}{-1.5cm}
\sloppy
% An equation wider than the line is scaled down to fit (graphicx): each right side to the room its block's widest
% left side (measured first with \symdlmeasure) leaves.
\newsavebox{\symdlbox}
\newlength{\symdllhs}
\newlength{\symdlroom}
\newcommand{\symdlmeasure}[1]{\sbox{\symdlbox}{$\displaystyle#1$}%
  \ifdim\wd\symdlbox>\symdllhs\setlength{\symdllhs}{\wd\symdlbox}\fi}
\newcommand{\symdlfit}[1]{\setlength{\symdlroom}{\linewidth}\addtolength{\symdlroom}{-\symdllhs}%
  \addtolength{\symdlroom}{-2em}\sbox{\symdlbox}{$\displaystyle#1$}%
  \ifdim\wd\symdlbox>\symdlroom\resizebox{\symdlroom}{!}{\usebox{\symdlbox}}\else\usebox{\symdlbox}\fi}
"""


def render_tex(report: Report) -> str:
    """The LaTeX source of ``report``: article class, amsmath, one section per item, deterministic."""
    lines = [_PREAMBLE.rstrip("\n"), rf"\title{{{tex_text(report.title)}}}", r"\date{}", r"\begin{document}", r"\maketitle"]
    if report.introduction:
        lines += [tex_text(report.introduction), ""]
    if len(report.sections) > 1:
        lines.append(r"\tableofcontents")
    for section in report.sections:
        lines += _section(section)
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


def _section(section: Section) -> list[str]:
    shown, full = heading(section.title)
    lines = ["", rf"\section{{{tex_text(shown)}}}\label{{sec:{section_anchor(section.key)}}}"]
    partial = section_partial(section)
    if full is not None:  # in pieces TeX may break between: one unbreakable word of 5,000 characters overflows the page
        lines.append("Full name: " + r"\allowbreak{}".join(tex_text(full[i:i + 40]) for i in range(0, len(full), 40)))
    if section.summary:
        lines.append(tex_text(section.summary))
    if section.definition:
        lines += [r"\subsection*{Definition}", *_equations(section.definition, partial)]
    if section.steps:
        lines.append(r"\subsection*{Derivation}")
        for step in section.steps:
            lines += _step(step, partial)
    if section.kinks:
        lines.append(r"\subsection*{Kinks}")
        for step in section.kinks:
            lines += _step(step, partial)
    if section.checks:
        lines += [r"\subsection*{Checks}", *_checks(section.checks)]
    if section.plot is not None:
        lines.append(r"\subsection*{Plot}")
        if _has_pdf(section.plot):
            lines += [r"\begin{center}",
                      rf"\includegraphics[width=0.8\linewidth,height=0.45\textheight,keepaspectratio]{{{_figure(section)}}}",
                      r"\end{center}", tex_text(section.plot.caption)]
        else:
            lines.append(rf"{tex_text(section.plot.caption)} (The figure is in the HTML and Markdown versions of this report.)")
    return lines


def _has_pdf(plot: Plot) -> bool:
    return plot.pdf.startswith(b"%PDF-")


def _figure(section: Section) -> str:
    return f"{FIGURES}/{section_anchor(section.key)}.pdf"


def tex_figures(report: Report) -> dict[str, bytes]:
    """The figures the LaTeX document includes, ``{path relative to the .tex: PDF bytes}`` (sections whose plot has a PDF)."""
    return {_figure(s): s.plot.pdf for s in report.sections if s.plot is not None and _has_pdf(s.plot)}


def _step(step: Step, partial: bool) -> list[str]:
    lines = [rf"\paragraph{{{tex_text(step.title)}}}"]
    lines += _equations(step.math, partial)
    if step.note:
        lines.append(tex_text(step.note))
    if step.code:  # \small: CODE_WIDTH typewriter characters fit the text width
        lines += [r"{\small", r"\begin{alltt}", *tex_code_lines(step.code), r"\end{alltt}", "}"]
    return lines


def _equations(math: tuple[Math, ...], partial: bool) -> list[str]:
    """The equations aligned at their relation (``align*``), one per line, each scaled down to fit the line if wider;
    lone expressions centred. A block with a long left side is centred row by row (``gather*``) instead."""
    if not math:
        return []
    parts = [latex_parts(m, partial) for m in math]
    measures = [r"\setlength{\symdllhs}{0pt}%"]
    if any(rest is not None and _display_length(lhs) > _LONG_LEFT_SIDE for lhs, rest in parts):
        rows = [f"  \\symdlfit{{{lhs}{rest or ''}}}" for lhs, rest in parts]
        block = [*measures, r"\begin{gather*}", " \\\\\n".join(rows), r"\end{gather*}"]
    else:
        rows = [f"  \\symdlfit{{{lhs}}}" if rest is None else f"  {lhs} &\\symdlfit{{{{}}{rest}}}" for lhs, rest in parts]
        measures += [f"\\symdlmeasure{{{lhs}}}%" for lhs, rest in parts if rest is not None]
        block = [*measures, r"\begin{align*}", " \\\\\n".join(rows), r"\end{align*}"]
    size = _font_size(max(_display_length(row) for row in rows))
    return block if size is None else [f"{{\\{size}", *block, "}"]


# Rough visible width of a line of LaTeX math, and the font size that lets it fit the text width.
_INVISIBLE = re.compile(r"\\(?:left|right|frac|operatorname|mathrm|limits|substack)|[{}^_&\s]")
_SIZES = ((170, "scriptsize"), (130, "footnotesize"), (100, "small"))
# Visible characters of a left side past which aligning at the relation would leave its right side no room.
_LONG_LEFT_SIDE = 40


def _display_length(tex: str) -> int:
    return len(_INVISIBLE.sub("", re.sub(r"\\[A-Za-z]+", "x", _INVISIBLE.sub("", tex))))


def _font_size(length: int) -> str | None:
    return next((size for limit, size in _SIZES if length > limit), None)


def _checks(checks: tuple[Check, ...]) -> list[str]:
    lines = [r"\begin{itemize}"]
    for check in checks:
        verdict = r"\textbf{passed}" if check.passed else r"\textbf{FAILED}"
        detail = f" --- {tex_text(check.detail)}" if check.detail else ""
        lines.append(rf"  \item {verdict}: {tex_text(check.what)}{detail}")
    lines.append(r"\end{itemize}")
    return lines
