"""Plain-text tables for the terminal: left-aligned columns under a header and a dashed rule (no SymPy, no numpy)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["text_table"]


def text_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    """``rows`` under ``header`` as left-aligned columns (a dashed rule below the header); the last column is not padded."""
    all_rows = [list(header), *map(list, rows)]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(header) - 1)]
    lines = []
    for row in all_rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in [*widths, len(header[-1])]))
    return lines
