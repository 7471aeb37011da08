"""Generated modules in tests: a source loaded as a module of its own (the way a user would import the file), the
top-level packages it imports, and ruff's verdict on a folder of them."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

__all__ = ["assert_ruff_clean", "imported_packages", "load_module"]


def load_module(source: str, folder: Path, name: str) -> ModuleType:
    """``source`` written to ``folder/name.py`` and imported from there (not through ``sys.modules``)."""
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def imported_packages(tree: ast.AST) -> set[str]:
    """The top-level package of every ``import`` and ``from … import`` anywhere in ``tree``."""
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    return imported


def assert_ruff_clean(folder: Path) -> None:
    """``ruff check`` with its default rules passes on every file in ``folder`` (skipped without ruff)."""
    pytest.importorskip("ruff")
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--output-format", "concise", str(folder)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
