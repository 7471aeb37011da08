"""The first NaN or infinity of a model's params or optimizer state, named by array and element, as one error line.

``symdl train --from`` and ``symdl evaluate`` check a saved model with :func:`finite_saved` (symdl.load reads
such a model as saved); ``symdl train`` checks what it trained with :func:`finite_trained` before writing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .common import UsageError

__all__ = ["finite_saved", "finite_trained", "first_non_finite"]


def first_non_finite(arrays: Mapping[str, Any] | None) -> str | None:
    """``"W1[0, 2] is nan"``: the first NaN or infinity of ``arrays`` (params or optimizer state), named by its array
    and element; None when every float array is finite."""
    for key, value in (arrays or {}).items():
        values = np.asarray(value)
        if values.dtype.kind != "f":  # a step count
            continue
        bad = np.argwhere(~np.isfinite(values))
        if len(bad):
            where = f"[{', '.join(str(int(k)) for k in bad[0])}]" if values.ndim else ""
            return f"{key}{where} is {float(values[tuple(bad[0])])}"
    return None


def finite_saved(path: str, arrays: Mapping[str, Any] | None, part: str, needs: str) -> None:
    """The saved model's ``part`` (its params or optimizer state) finite: the first NaN or infinity is one line naming
    its array and element. symdl.load reads such a model as saved, as Keras' load_model and torch.load do; a command
    that computes with it says where it is, not that the loss it gave is NaN."""
    bad = first_non_finite(arrays)
    if bad is not None:
        raise UsageError(f"{path}: {part} {bad}; {needs} (symdl.load reads it as saved)")


def finite_trained(output: str, params: Mapping[str, Any], state: Any, last_epoch: int) -> None:
    """The trained params and optimizer state finite, else one line and nothing saved, as a diverged loss is: fit
    checks the loss of each step, which is computed before the step's update, so the last update can overflow the
    weights (a learning rate near the dtype's largest number) while every loss logged was finite (so can a weight
    that a ReLU's zero hides from the loss)."""
    for part, arrays in (("params", params), ("state", state)):
        bad = first_non_finite(arrays)
        if bad is not None:
            raise UsageError(f"fit: {part} {bad} after training (epoch {last_epoch + 1}), though every loss logged was "
                             f"finite: training diverged (a smaller learning rate?); {output} not written")
