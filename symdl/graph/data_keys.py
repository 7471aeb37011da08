"""A graph's data as its entry points take it: one array, a sequence in the model's order, or a dict by name.

The arrays of ``specs`` (name, width) are read from ``data``: a dict keyed by each array's data key (``X1``, ``Y2``)
or by its alias (the ``Input``'s own name, the output layer's name for a target); else a sequence of as many arrays
(one array for a one-array side). The arrays are not checked here, only counted and matched to their names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["arrange"]


def arrange(data: object, specs: tuple[tuple[str, int], ...], aliases: tuple[str | None, ...], label: str) -> list[object]:
    """[array for each of ``specs``] from ``data``, or one ValueError line (``label`` names the side: inputs, X, Y)."""
    names = [name for name, _ in specs]
    if isinstance(data, Mapping):
        accepted = [{name, alias} - {None} for name, alias in zip(names, aliases)]
        # each array's data key, then its Input's (or output layer's) own name where it has another
        takes = ", ".join(name if alias in (None, name) else f"{name} (or {alias!r})" for name, alias in zip(names, aliases))
        unknown = [k for k in data if not any(k in keys for keys in accepted)]
        if unknown:
            raise ValueError(f"{label}: unexpected key {str(unknown[0])[:60]!r}; this model takes {takes}")
        for key in data:  # an Input named 'X2' beside the array whose key is X2: the key would feed both
            owners = [name for name, keys in zip(names, accepted) if key in keys]
            if len(owners) > 1:
                raise ValueError(f"{label}: the key {str(key)[:60]!r} names {len(owners)} arrays ({', '.join(owners)}); "
                                 "give a list in the model's order instead")
        out = []
        for name, keys in zip(names, accepted):
            found = [k for k in data if k in keys]
            if len(found) != 1:
                raise ValueError(f"{label}: {'no array for' if not found else 'two arrays for'} {name!r}; "
                                 f"this model takes {takes}")
            out.append(data[found[0]])
        return out
    arrays = [data] if isinstance(data, np.ndarray) or not isinstance(data, Sequence) else list(data)
    if len(arrays) != len(names):
        raise ValueError(f"{label}: this model takes {len(names)} array(s) ({', '.join(names)}), got {len(arrays)}")
    return arrays
