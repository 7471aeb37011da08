"""The rows of ``symdl verify``: proofs, finite differences, mpmath references, stability and planted mistakes.

The names below load on first use (PEP 562): ``symdl.verify.cache`` alone
(``symdl derive`` reads its proofs from it) needs no numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .rules import FD_TOLERANCE, CheckTable, RuleReport, verify_rule, verify_rules

__all__ = ["CheckTable", "FD_TOLERANCE", "RuleReport", "verify_rule", "verify_rules"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import rules

        return getattr(rules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
