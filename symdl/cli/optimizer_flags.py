"""``--optimizer-param K=V`` of ``symdl train`` and ``symdl codegen``: numbers, and true/false for an optimizer's options."""

from __future__ import annotations

from collections.abc import Sequence

from ..excerpt import excerpt
from .common import UsageError, parse_value

__all__ = ["optimizer_params"]


def optimizer_params(items: Sequence[str]) -> dict[str, float | bool]:
    """``--optimizer-param`` items ``k=v``: numbers, and true/false for an option (``nesterov=true``)."""
    values: dict[str, float | bool] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not key or not sep:
            raise UsageError(f"--optimizer-param {excerpt(item)}: expected NAME=VALUE (a number, or true/false for an option)")
        if key in values:
            raise UsageError(f"--optimizer-param {excerpt(key)} given twice")
        flag = text.strip().lower()
        if flag in ("true", "false"):
            values[key] = flag == "true"
            continue
        values[key] = parse_value(key, text, "--optimizer-param", nor="true/false for an option")
    return values
