"""Generated modules in tests: a source loaded as a module of its own (the way a user would import the file), the
top-level packages it imports, and ruff's verdict on a folder of them."""

from __future__ import annotations

import ast
import atexit
import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

__all__ = ["assert_ruff_clean", "imported_packages", "load_module", "network_module"]


def load_module(source: str, folder: Path, name: str) -> ModuleType:
    """``source`` written to ``folder/name.py`` and imported from there (not through ``sys.modules``)."""
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_NETWORK_MODULES: dict[tuple, ModuleType] = {}
_FOLDER: list[Path] = []


def network_module(layers: Sequence[int], backend: str, dtype: str, **options: object) -> ModuleType:
    """The module ``network_module_source(symdl.Network(layers, **options), backend, dtype)`` loaded once per process.

    Test files that print the same network share the module (the printing and, for JAX, the jitted functions' compiles).
    ``options`` are keyword values whose ``repr`` determines them (names, numbers, dicts of them, and built-in optimizers,
    whose repr lists every hyperparameter): they and ``layers``, ``backend`` and ``dtype`` are the key.
    """
    import symdl
    from symdl.export.network_modules import network_module_source

    key = (tuple(layers), backend, dtype, repr(sorted(options.items())))
    if key not in _NETWORK_MODULES:
        if not _FOLDER:
            _FOLDER.append(Path(tempfile.mkdtemp(prefix="symdl-test-modules-")))
            atexit.register(shutil.rmtree, _FOLDER[0], ignore_errors=True)
        name = f"net_{backend}_{dtype}_{hashlib.sha256(repr(key).encode()).hexdigest()[:16]}"
        source = network_module_source(symdl.Network(list(layers), **options), backend, dtype)
        _NETWORK_MODULES[key] = load_module(source, _FOLDER[0], name)
    return _NETWORK_MODULES[key]


def imported_packages(tree: ast.AST) -> set[str]:
    """The top-level package of every ``import`` and ``from … import`` anywhere in ``tree``."""
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    return imported


def assert_ruff_clean(folder: Path, extend_select: Sequence[str] = ()) -> None:
    """``ruff check`` with its default rules (and the rules ``extend_select`` names, such as ``RUF059``) passes on every
    file in ``folder`` (skipped without ruff)."""
    pytest.importorskip("ruff")
    extra = ["--extend-select", ",".join(extend_select)] if extend_select else []
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--output-format", "concise", *extra, str(folder)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
