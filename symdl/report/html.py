"""A :class:`~symdl.report.model.Report` as one self-contained, offline HTML page.

Mathematics is MathML (:func:`~symdl.report.mathml_printer.mathml_math`), plots are
inline SVG, styles are inline CSS: the page loads nothing and runs no script.
Plain text is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import html
import re

from .derivative_notation import section_partial
from .inline_math import prose
from .mathml_printer import inline_mathml, mathml_math
from .model import Check, Math, Plot, Report, Section, Step
from .text import heading, section_anchor, visible

__all__ = ["clean_svg", "render_html"]

_STYLE = """
body { font-family: Georgia, "DejaVu Serif", serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1a1a1a; line-height: 1.5; }
h1, h2, h3 { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; }
nav ol { columns: 2; }
section { border-top: 1px solid #ccc; margin-top: 2rem; }
math[display="block"] { display: block math; margin: 0.6em 0; padding: 0.15em 0; overflow-x: auto; overflow-y: hidden; font-size: 1.1em; }
.step-title { font-style: italic; margin-bottom: 0; }
table.checks { border-collapse: collapse; margin: 0.5em 0; }
table.checks th, table.checks td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.pass { color: #176117; font-weight: bold; }
td.fail { color: #a11; font-weight: bold; }
pre { overflow-x: auto; background: #f6f6f6; padding: 0.5em; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #444; }
"""


def render_html(report: Report) -> str:
    """The HTML page of ``report``: title, contents with anchors, one section per item; deterministic."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(report.title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_text(report.title)}</h1>",
    ]
    if report.introduction:
        parts.append(f"<p>{_text(report.introduction)}</p>")
    if report.sections:
        parts.append('<nav><h2>Contents</h2><ol>')
        parts += [f'<li><a href="#{section_anchor(s.key)}">{_text(heading(s.title)[0])}</a></li>' for s in report.sections]
        parts.append("</ol></nav>")
    for section in report.sections:
        parts += _section(section)
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _text(text: str) -> str:
    """Prose as HTML: escaped text, each ``$…$`` segment inline MathML (:mod:`symdl.report.inline_math`)."""
    return prose(visible(text), lambda part: html.escape(part, quote=True), lambda tree, latex: inline_mathml(tree))


def _section(section: Section) -> list[str]:
    key = section_anchor(section.key)
    shown, full = heading(section.title)
    parts = [f'<section id="{key}">', f"<h2>{_text(shown)}</h2>"]
    partial = section_partial(section)
    if full is not None:
        parts.append(f"<p>Full name: {_text(full)}</p>")
    if section.summary:
        parts.append(f"<p>{_text(section.summary)}</p>")
    if section.definition:
        parts += ["<h3>Definition</h3>", *_equations(section.definition, partial)]
    if section.steps:
        parts.append("<h3>Derivation</h3>")
        for step in section.steps:
            parts += _step(step, partial)
    if section.kinks:
        parts.append("<h3>Kinks</h3>")
        for step in section.kinks:
            parts += _step(step, partial)
    if section.checks:
        parts += ["<h3>Checks</h3>", *_checks(section.checks)]
    if section.plot is not None:
        parts += _figure(section.plot, key)
    parts.append("</section>")
    return parts


def _step(step: Step, partial: bool) -> list[str]:
    parts = [f'<p class="step-title">{_text(step.title)}</p>', *_equations(step.math, partial)]
    if step.note:
        parts.append(f"<p>{_text(step.note)}</p>")
    if step.code:
        parts.append(f"<pre><code>{html.escape(step.code)}</code></pre>")
    return parts


def _equations(math: tuple[Math, ...], partial: bool) -> list[str]:
    return [mathml_math(m, partial=partial) for m in math]


def _checks(checks: tuple[Check, ...]) -> list[str]:
    rows = ['<table class="checks">', "<thead><tr><th></th><th>check</th><th>detail</th></tr></thead>", "<tbody>"]
    for check in checks:
        verdict = '<td class="pass" title="passed">✓</td>' if check.passed else '<td class="fail" title="failed">✗</td>'
        rows.append(f"<tr>{verdict}<td>{_text(check.what)}</td><td>{_text(check.detail)}</td></tr>")
    rows += ["</tbody>", "</table>"]
    return rows


def _figure(plot: Plot, key: str) -> list[str]:
    svg = clean_svg(plot.svg, prefix=f"{key}-")
    if svg is None:
        body = "<p>(The plot was left out: its SVG contained active content.)</p>"
    else:
        body = svg
    return ["<h3>Plot</h3>", "<figure>", body, f"<figcaption>{_text(plot.caption)}</figcaption>", "</figure>"]


_ACTIVE = re.compile(r"<\s*(script|foreignObject|iframe|object|embed|image|use[^>]*href\s*=\s*[\"'](?!#))|\son[a-z]+\s*=|"
                     r"javascript:|(?:xlink:)?href\s*=\s*[\"'](?!#)|url\(\s*[\"']?(?!#)", re.IGNORECASE)


def clean_svg(svg: str, prefix: str) -> str | None:
    """matplotlib's SVG ready to inline in HTML, with ids prefixed so several figures coexist; None if it has active content.

    The XML prologue, comments and metadata go (they hold matplotlib's URL
    and are not part of the picture), so the page contains no address at all.
    """
    text = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->|<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    text = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", text)
    if _ACTIVE.search(text) or "<svg" not in text:
        return None
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
    text = re.sub(r'(href=")#([^"]+)"', lambda m: f'{m.group(1)}#{prefix}{m.group(2)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", text)
    return text.strip()
