"""HTML pieces of notebook display: escaped text, tables, ✓/✗ verdicts, and restricting a MIME bundle.

Trust boundary: text (a rule's name, which for a formula rule is the user's
formula text; labels; messages) goes into HTML through :func:`html.escape`,
inside an element that MathJax is told to skip.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = ["select", "table_html", "text_html", "verdict_html"]

_PASS, _FAIL = "\N{CHECK MARK}", "\N{BALLOT X}"


def text_html(value: object) -> str:
    """``value`` as escaped HTML text that MathJax leaves alone (a formula rule's name is the user's text)."""
    return f'<span class="tex2jax_ignore mathjax_ignore">{html.escape(str(value))}</span>'


def table_html(header: Sequence[str], rows: Iterable[Sequence[str]], css: str, caption: str = "") -> str:
    """An HTML table; ``header`` is plain text (escaped here), the cells are HTML already."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="{css}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def verdict_html(passed: bool) -> str:
    """✓ or ✗ with a ``title`` saying passed or failed."""
    return f'<span title="{"passed" if passed else "failed"}">{_PASS if passed else _FAIL}</span>'


def select(bundle: dict[str, str], include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> dict[str, str]:
    """``bundle`` restricted to the MIME types in ``include`` (all if None) and not in ``exclude``."""
    keep = set(bundle) if include is None else set(include)
    drop = set(exclude or ())
    return {k: v for k, v in bundle.items() if k in keep and k not in drop}
