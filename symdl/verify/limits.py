"""Limits of ``symdl verify``'s settings, importable without SymPy or numpy.

The command line checks them while it parses its arguments, before it sets SymPy's cache size.
"""

from __future__ import annotations

__all__ = ["MAX_POINTS"]

#: Points per check: enough to be meaningful, few enough to finish (mpmath costs ~1 ms a point).
MAX_POINTS = 100_000
