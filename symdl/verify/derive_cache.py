"""``symdl derive``'s proofs in the disk cache of ``symdl verify``: each proof's verdict, method and case count, as JSON.

The key (:func:`proofs_key`) is built as a verify row's: SHA-256 of the task
(the variable differentiated by, as ``srepr``), the full text of the rule's
definition (:func:`~symdl.verify.cache.rule_text`: expression, parameters,
kink convention), symdl's version and source fingerprint (the rule catalogues
aside, as for rule rows) and the versions of Python, SymPy, numpy and mpmath.
A changed rule, formula, symdl or SymPy is proven again. The stored verdicts
are data read back with their shape checked, never code; a counterexample is
not stored (``derive`` does not print one).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sympy as sp

from ..rulebook.derivation import Derivation
from ..symbolic.proof import Proof
from .cache import VerifyCache, entry_key, rule_text

__all__ = ["cached_proofs", "proofs_key"]


def proofs_key(derivation: Derivation) -> str:
    """The cache key of ``derivation``'s proofs: the task, the rule's text, the versions and symdl's source."""
    task = {"kind": "derive proofs", "wrt": sp.srepr(derivation.wrt)}
    return entry_key(task, [rule_text(derivation.rule)], catalogues=False)


def _proofs_from_data(content: list[Any]) -> dict[str, Proof]:
    """``{label: Proof}`` from ``[[label, holds, method, cases], …]``; ValueError for anything of another shape."""
    proofs: dict[str, Proof] = {}
    for item in content:
        if not (isinstance(item, list) and len(item) == 4 and isinstance(item[0], str) and isinstance(item[1], bool)
                and isinstance(item[2], str) and type(item[3]) is int and item[0] not in proofs):
            raise ValueError("not a proof record")
        proofs[item[0]] = Proof(item[1], item[2], item[3])
    return proofs


def cached_proofs(derivation: Derivation, cache: VerifyCache | None) -> Mapping[str, Proof]:
    """``derivation.proofs``, read from ``cache`` when it holds them (and given to the derivation), else proven and stored."""
    if cache is None:
        return derivation.proofs
    key = proofs_key(derivation)
    found = cache.get_data(key, _proofs_from_data)
    if found is not None:
        derivation.use_proofs(found)
        return found
    start = time.perf_counter()
    proofs = derivation.proofs
    content = [[label, bool(p), str(p.method), int(p.cases)] for label, p in proofs.items()]
    cache.put_data(key, content, time.perf_counter() - start)
    return proofs
