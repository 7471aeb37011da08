"""Optional dependencies: import one, or fail with one line naming the extra that installs it.

``require("torch", "symdl.export.to_torch")`` returns the module, or raises
``ModuleNotFoundError: symdl.export.to_torch needs torch: pip install 'symdl[torch]'``.
The extras are those of pyproject.toml (``symdl[all]`` installs every one).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "install_hint", "require"]

#: Top-level module → the extra of ``pip install 'symdl[extra]'`` that provides it.
EXTRAS: dict[str, str] = {"torch": "torch", "jax": "jax", "matplotlib": "plot", "hypothesis": "testing"}


def install_hint(module: str) -> str:
    """``pip install 'symdl[extra]'`` for the optional ``module`` (a dotted name counts by its first part)."""
    top = module.split(".")[0]
    if top not in EXTRAS:
        raise ValueError(f"{module!r} is not one of symdl's optional dependencies ({', '.join(EXTRAS)})")
    return f"pip install 'symdl[{EXTRAS[top]}]'"


def require(module: str, purpose: str) -> ModuleType:
    """``importlib.import_module(module)``; when it is not installed, a ModuleNotFoundError with the install hint.

    A module missing *inside* an installed package (a broken install) is re-raised as it is.
    """
    hint = install_hint(module)
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as why:
        if why.name is not None and why.name.split(".")[0] != top:
            raise
        raise ModuleNotFoundError(f"{purpose} needs {top}: {hint}", name=top) from None
