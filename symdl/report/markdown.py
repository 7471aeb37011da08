"""A :class:`~symdl.report.model.Report` as GitHub-flavoured Markdown with ``$$`` display math.

The LaTeX inside ``$$`` comes from the same safe printer as the TeX document.
Plots are separate SVG files, ``figures/<key>.svg`` next to the Markdown,
linked as images (GitHub shows them). Plain text is backslash-escaped wherever
Markdown would read it as markup, raw HTML or math.
"""

from __future__ import annotations

import re

from .derivative_notation import section_partial
from .inline_math import prose
from .latex_printer import latex_math
from .model import Check, Math, Report, Section, Step
from .text import FIGURES, heading, md_code, section_anchor, visible

__all__ = ["FIGURES", "render_markdown"]

# Characters that start markup anywhere in a line (a bracket escaped, "(" and "!" cannot form a link or image).
_SPECIAL = re.compile(r"([\\`*_{}\[\]#|<>$~&])")
# What starts a list, a heading underline or a quote only at the beginning of a paragraph.
_LINE_START = re.compile(r"^(?:([-+=])|(\d+)([.)]))")


def md_text(text: str) -> str:
    """Plain text as Markdown inline text: one line, every character that could start markup escaped; ``$…$`` math."""
    text = " ".join(visible(text).split())
    escaped = prose(text, lambda part: _SPECIAL.sub(r"\\\1", part), lambda tree, latex: f"${latex}$")
    return _LINE_START.sub(lambda m: f"\\{m.group(1)}" if m.group(1) else f"{m.group(2)}\\{m.group(3)}", escaped)


def render_markdown(report: Report) -> tuple[str, dict[str, str]]:
    """The Markdown of ``report`` and its figures, ``{relative path: SVG text}``; deterministic."""
    lines = [f"# {md_text(report.title)}", ""]
    if report.introduction:
        lines += [md_text(report.introduction), ""]
    if report.sections:
        lines += ["## Contents", ""]
        lines += [f"{i}. [{md_text(heading(s.title)[0])}](#{section_anchor(s.key)})" for i, s in enumerate(report.sections, 1)]
        lines.append("")
    figures: dict[str, str] = {}
    for section in report.sections:
        lines += _section(section, figures)
    return "\n".join(lines).rstrip("\n") + "\n", figures


def _section(section: Section, figures: dict[str, str]) -> list[str]:
    key = section_anchor(section.key)
    # An explicit anchor: GitHub's own heading slugs depend on the title text.
    shown, full = heading(section.title)
    lines = [f'<a id="{key}"></a>', "", f"## {md_text(shown)}", ""]
    partial = section_partial(section)
    if full is not None:
        lines += [f"Full name: {md_text(full)}", ""]
    if section.summary:
        lines += [md_text(section.summary), ""]
    if section.definition:
        lines += ["### Definition", "", *_equations(section.definition, partial)]
    if section.steps:
        lines += ["### Derivation", ""]
        for step in section.steps:
            lines += _step(step, partial)
    if section.kinks:
        lines += ["### Kinks", ""]
        for step in section.kinks:
            lines += _step(step, partial)
    if section.checks:
        lines += ["### Checks", "", *_checks(section.checks), ""]
    if section.plot is not None:
        path = f"{FIGURES}/{key}.svg"
        figures[path] = section.plot.svg
        caption = md_text(section.plot.caption)
        lines += ["### Plot", "", f"![{caption}]({path})", "", f"*{caption}*", ""]
    return lines


def _step(step: Step, partial: bool) -> list[str]:
    lines = [f"**{md_text(step.title)}**", "", *_equations(step.math, partial)]
    if step.note:
        lines += [md_text(step.note), ""]
    if step.code:
        lines += ["```python", *md_code(step.code).splitlines(), "```", ""]
    return lines


def _equations(math: tuple[Math, ...], partial: bool) -> list[str]:
    lines = []
    for m in math:
        lines += ["$$", latex_math(m, partial), "$$", ""]
    return lines


def _checks(checks: tuple[Check, ...]) -> list[str]:
    rows = ["| | check | detail |", "| --- | --- | --- |"]
    for check in checks:
        rows.append(f"| {'✓' if check.passed else '✗'} | {md_text(check.what)} | {md_text(check.detail)} |")
    return rows
