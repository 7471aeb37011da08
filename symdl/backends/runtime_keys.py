"""missing = K ∖ G, unexpected = G ∖ K: the keys G of a dict (params, an optimizer state) checked against the keys K it needs.

:func:`check_keys` serves the library's checks (:func:`symdl.network.checks.params_error`,
:func:`symdl.network.checks.check_state`) and is copied into the generated numpy, PyTorch and JAX modules as
``_check_keys``, so that every backend names the wrong keys in the same words. Importing this module imports nothing.
"""

from __future__ import annotations

__all__ = ["check_keys"]


def check_keys(label, keys, given, expected):
    """Nothing when the keys of ``given`` are ``keys``, else the ValueError ``label: missing […], unexpected […]; expected …``."""
    missing = [k for k in keys if k not in given]
    known = set(keys)
    extra = sorted(str(k) for k in given if k not in known)
    if missing or extra:
        raise ValueError(f"{label}: missing {missing or 'none'}, unexpected {extra or 'none'}; expected {expected}")
