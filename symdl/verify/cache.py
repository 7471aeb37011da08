"""The disk cache of ``symdl verify``: each row's results, stored as JSON under a content hash of what it depends on.

An entry's key is the SHA-256 of everything the row's result depends on
(:func:`entry_key`): the row's task and settings (points, seed), symdl's
version and a fingerprint of its source code, the versions of Python, SymPy,
numpy and mpmath (and of torch or jax for the rows that use them) and, for a
rule's rows, the full text of its definition (:func:`rule_text`: every SymPy
expression of the builder's result as ``srepr``, the bound parameters and the
kink convention). The catalogue modules that only hold builders are left out
of the fingerprint of rule rows, so editing one rule re-verifies that rule's
rows (and the rows that use it), not all of them.

Entries are data: one JSON file per key with a format number, the key and a
SHA-256 checksum of its content; a file that fails to parse, carries another
key or format, fails its checksum or does not have the shape of a report is
ignored (and overwritten by the next run). Nothing read from the cache is
ever unpickled or evaluated.

Location (:func:`cache_dir`): ``$SYMDL_CACHE_DIR`` if set, else
``$XDG_CACHE_HOME/symdl``, else ``~/.cache/symdl``. The cache is never part of
the package; deleting the directory is always safe.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .rules import RuleReport

__all__ = ["CACHE_ENV", "FORMAT", "VerifyCache", "cache_dir", "entry_key", "rule_text", "source_fingerprint"]

#: The environment variable that overrides the cache directory.
CACHE_ENV = "SYMDL_CACHE_DIR"
#: The entry format; a change of layout bumps it, so old entries are ignored.
FORMAT = 1
#: Modules that only register rule builders: a rule row's key holds its definition's text instead of their source.
CATALOGUE_MODULES = frozenset(
    {"rulebook/activations.py", "rulebook/modern_activations.py", "rulebook/losses.py", "rulebook/penalties.py",
     "rulebook/vector_rules.py"}
)
_PACKAGE = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def cache_dir() -> Path:
    """``$SYMDL_CACHE_DIR``, else ``$XDG_CACHE_HOME/symdl``, else ``~/.cache/symdl``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "symdl"


_FINGERPRINTS: dict[bool, str] = {}


def source_fingerprint(with_catalogues: bool = True) -> str:
    """SHA-256 of symdl's own source files (path and content), optionally without the :data:`CATALOGUE_MODULES`."""
    if with_catalogues not in _FINGERPRINTS:
        digest = hashlib.sha256()
        for path in sorted(_PACKAGE.rglob("*.py")):
            relative = path.relative_to(_PACKAGE).as_posix()
            if not with_catalogues and relative in CATALOGUE_MODULES:
                continue
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
        _FINGERPRINTS[with_catalogues] = digest.hexdigest()
    return _FINGERPRINTS[with_catalogues]


@functools.lru_cache(maxsize=None)
def _version(distribution: str) -> str | None:
    # Once per process: reading a distribution's metadata took a third of computing the keys of a whole run.
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def environment(extra: Iterable[str] = ()) -> dict[str, str | None]:
    """The versions a row's result may depend on: Python, symdl, SymPy, numpy, mpmath and the ``extra`` distributions."""
    from ..version import __version__

    names = ("sympy", "numpy", "mpmath", *extra)
    return {"python": platform.python_version(), "symdl": __version__, **{n: _version(n) for n in names}}


def rule_text(r: Any) -> str:
    """The full text of a rule's definition: name, kind, kink convention, bound parameters and every field's ``srepr``."""
    import sympy as sp

    def text(value: Any) -> str:
        if isinstance(value, sp.Basic):
            return sp.srepr(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            inner = ", ".join(f"{f.name}={text(getattr(value, f.name))}" for f in dataclasses.fields(value))
            return f"{type(value).__name__}({inner})"
        if isinstance(value, Mapping):
            return "{" + ", ".join(sorted(f"{text(k)}: {text(v)}" for k, v in value.items())) + "}"
        if isinstance(value, (tuple, list)):
            return "(" + ", ".join(text(v) for v in value) + ")"
        return repr(value)

    params = {name: text(value) for name, value in sorted(r.params.items())}
    return f"{type(r).__name__} {r.name} {r.kind} {r.kink_convention} {params} {text(r.definition)}"


def entry_key(task: Mapping[str, Any], rules: Sequence[str] = (), extra: Iterable[str] = (), catalogues: bool = True) -> str:
    """SHA-256 of ``task`` (JSON), the :func:`environment`, the source fingerprint and the ``rules`` texts."""
    payload = {
        "format": FORMAT,
        "task": task,
        "environment": environment(extra),
        "source": source_fingerprint(with_catalogues=catalogues),
        "rules": list(rules),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# --- reports as JSON data -------------------------------------------------------

_FLOATS = ("fd_error", "accuracy64", "accuracy32")
_INTS = ("mutants_killed", "mutants_total")


def report_data(report: RuleReport) -> dict[str, Any]:
    """A report as JSON data; floats as ``float.hex`` so that they come back bit for bit (inf and NaN too)."""
    return {
        "name": report.name, "kind": report.kind, "kinks_ok": bool(report.kinks_ok),
        "proofs": [[str(label), bool(holds)] for label, holds in report.proofs.items()],
        **{f: float(getattr(report, f)).hex() for f in _FLOATS},
        **{f: int(getattr(report, f)) for f in _INTS},
        "unstable": [str(u) for u in report.unstable],
        "mutant_survivors": [str(s) for s in report.mutant_survivors],
        "value_jumps": [str(j) for j in report.value_jumps],
    }


def report_from_data(data: Any) -> RuleReport:
    """The report of :func:`report_data`'s output; ValueError for anything of another shape."""
    if not isinstance(data, dict) or set(data) != {"name", "kind", "kinks_ok", "proofs", *_FLOATS, *_INTS, "unstable", "mutant_survivors", "value_jumps"}:
        raise ValueError("not a report")
    strings = (data["name"], data["kind"], *data["unstable"], *data["mutant_survivors"], *data["value_jumps"])
    proofs = data["proofs"]
    if not all(isinstance(s, str) for s in strings) or not isinstance(data["kinks_ok"], bool):
        raise ValueError("not a report")
    if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], bool) for p in proofs):
        raise ValueError("not a report")
    if not all(type(data[f]) is int for f in _INTS):
        raise ValueError("not a report")
    from .rules import RuleReport  # here: the cache alone (symdl derive) needs no numpy

    return RuleReport(
        data["name"], proofs=dict(proofs), kinks_ok=data["kinks_ok"],
        **dict[str, Any]({f: float.fromhex(data[f]) for f in _FLOATS}), **{f: data[f] for f in _INTS},
        unstable=list(data["unstable"]), mutant_survivors=list(data["mutant_survivors"]), kind=data["kind"],
        value_jumps=list(data["value_jumps"]),
    )


def _checksum(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


class VerifyCache:
    """Rows of ``symdl verify`` on disk under ``directory`` (default :func:`cache_dir`), one JSON file per key."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else cache_dir()
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.directory / f"v{FORMAT}" / key[:2] / f"{key}.json"

    def get(self, key: str) -> list[RuleReport] | None:
        """The reports stored under ``key``, or None when there is no valid entry (missing, corrupt, foreign)."""
        return self.get_data(key, lambda content: [report_from_data(item) for item in content])

    def get_data(self, key: str, read: Callable[[list[Any]], T]) -> T | None:
        """``read(content)`` of the entry under ``key``; None when it is missing or invalid, or ``read`` raises ValueError.

        ``content`` is the checksummed JSON list that :meth:`put_data` stored;
        ``read`` checks its shape (it is data from disk).
        """
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
            if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != key:
                raise ValueError("foreign entry")
            content = entry.get("reports")
            if not isinstance(content, list) or entry.get("checksum") != _checksum(content):
                raise ValueError("bad checksum")
            value = read(content)
        except (OSError, ValueError, TypeError, AttributeError, OverflowError, RecursionError):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, reports: Sequence[RuleReport], seconds: float = 0.0) -> None:
        """Store ``reports`` under ``key`` (a temporary file renamed into place; a failed write is skipped)."""
        self.put_data(key, [report_data(r) for r in reports], seconds)

    def put_data(self, key: str, content: list[Any], seconds: float = 0.0) -> None:
        """Store the JSON list ``content`` under ``key`` with its checksum (atomically; a failed write is skipped)."""
        entry = {"format": FORMAT, "key": key, "seconds": round(float(seconds), 3), "reports": content,
                 "checksum": _checksum(content)}
        path = self._path(key)
        temporary = path.with_name(f".{key}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(entry), encoding="utf-8")
            os.replace(temporary, path)
        except OSError:
            try:
                temporary.unlink()
            except OSError:
                pass
