"""Load a generated module's source as a module of its own, the way a user would import the file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

__all__ = ["load_module"]


def load_module(source: str, folder: Path, name: str) -> ModuleType:
    """``source`` written to ``folder/name.py`` and imported from there (not through ``sys.modules``)."""
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
