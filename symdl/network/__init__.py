"""Networks: the spec, BP1–BP4 as SymPy equations, their index form and proofs, the compiled network.

``Network``, ``CompiledNetwork`` and ``accepted_rules`` are loaded on first use
(PEP 562): :mod:`symdl.codegen.network` reads :mod:`symdl.network.equations`,
and :mod:`symdl.network.model` prints through :mod:`symdl.codegen.network`, so
importing this package must not import the model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import CompiledNetwork, Network, accepted_rules

__all__ = ["CompiledNetwork", "Network", "accepted_rules"]


def __getattr__(name: str) -> Any:
    """``Network``, ``CompiledNetwork`` or ``accepted_rules`` from :mod:`symdl.network.model`, on first use."""
    if name not in __all__:
        raise AttributeError(f"module 'symdl.network' has no attribute {name!r}")
    value = getattr(importlib.import_module(".model", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
