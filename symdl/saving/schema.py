"""Checks of a saved model's JSON: every value of the expected type and size, exact key sets, one clear error line."""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

from ..excerpt import excerpt

__all__ = ["SavedModelError", "expect", "fields", "finite", "integer", "parse_json", "string"]

MAX_JSON_BYTES = 1 << 20
_MAX_DEPTH = 20


class SavedModelError(ValueError):
    """A saved model that cannot be written or read: one line naming the file, the key and what is wrong."""


_TYPE_NAMES: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}


def expect(value: object, kind: type, where: str) -> Any:
    """``value`` if it is of ``kind`` (dict, list, str), else :class:`SavedModelError`."""
    if not isinstance(value, kind):
        raise SavedModelError(f"{where}: expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {type(value).__name__}")
    return value


def fields(value: dict[str, Any], where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """``value`` if its keys are exactly ``keys``; names the first missing or extra key otherwise."""
    missing = [k for k in keys if k not in value]
    extra = sorted(k for k in value if k not in keys)
    if missing:
        raise SavedModelError(f"{where}: missing key {missing[0]!r}")
    if extra:
        raise SavedModelError(f"{where}: unexpected key {excerpt(extra[0])}")
    return value


def string(value: object, where: str, limit: int) -> str:
    """A string of at most ``limit`` characters."""
    expect(value, str, where)
    if len(value) > limit:  # type: ignore[arg-type]
        raise SavedModelError(f"{where}: longer than {limit} characters")
    return value  # type: ignore[return-value]


def integer(value: object, where: str, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
    """An integer in [minimum, maximum] (JSON booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise SavedModelError(f"{where}: expected an integer from {minimum} to {maximum}, got {excerpt(value)}")
    return value


def finite(value: object, where: str) -> float:
    """A finite JSON number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise SavedModelError(f"{where}: expected a finite number, got {excerpt(value)}")
    return float(value)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise SavedModelError(f"model.json: the key {excerpt(key)} appears twice")
        out[key] = value
    return out


def _constant(name: str) -> None:
    raise SavedModelError(f"model.json: {name} is not a JSON number")


def _depth(value: object, level: int = 0) -> None:
    if level > _MAX_DEPTH:
        raise SavedModelError(f"model.json: nested deeper than {_MAX_DEPTH} levels")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _depth(child, level + 1)


def parse_json(data: bytes) -> dict[str, Any]:
    """model.json's bytes → a dict: UTF-8, at most 1 MiB, no duplicate keys, no NaN/Infinity, bounded nesting."""
    if len(data) > MAX_JSON_BYTES:
        raise SavedModelError(f"model.json: larger than {MAX_JSON_BYTES} bytes")
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_constant)
    except UnicodeDecodeError:
        raise SavedModelError("model.json: not UTF-8 text") from None
    except RecursionError:
        raise SavedModelError(f"model.json: nested deeper than {_MAX_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise SavedModelError(f"model.json: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    _depth(value)
    return expect(value, dict, "model.json")
