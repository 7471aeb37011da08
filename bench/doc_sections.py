"""Rewrite the generated part of a docs page: the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``."""

from __future__ import annotations

from pathlib import Path


def replace_section(doc: Path, name: str, text: str) -> None:
    """Put ``text`` between the ``name`` markers of ``doc``; everything outside them stays as it is."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    page = doc.read_text(encoding="utf-8") if doc.exists() else ""
    if start not in page or end not in page:
        raise SystemExit(f"{doc}: markers {start} / {end} not found; add them where the table goes")
    head, rest = page.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{start}\n{text.rstrip()}\n{end}{tail}", encoding="utf-8")
