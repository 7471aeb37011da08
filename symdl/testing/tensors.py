"""PyTorch tensors in the gradient checks: x as a numpy point, f and grad called with tensors of x's dtype and device.

The checks difference in numpy (x ± h·u); a torch user's f is written for
tensors, so when x is a ``torch.Tensor`` each evaluation point goes back to f
as a tensor of x's dtype and on x's device, and whatever f or grad returns (a
tensor that requires grad included) comes back as a numpy array. torch is never
imported here: a tensor can only exist once the caller has imported it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias, Union

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["Point", "PointFunction", "as_array", "tensor_point"]

Point: TypeAlias = Union[np.ndarray, "torch.Tensor"]
"""A point of the checks: a numpy array, or a torch tensor (then f and grad take and return tensors)."""

PointFunction: TypeAlias = Union[Callable[[np.ndarray], "float | np.ndarray"], Callable[["torch.Tensor"], "float | torch.Tensor"]]
"""f or grad of the checks: numpy arrays in and out, or torch tensors in and out."""


def _is_tensor(value: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def as_array(value: object) -> np.ndarray:
    """``value`` as a numpy array; a torch tensor detached and copied to the host first (bfloat16 widened exactly to float32)."""
    if _is_tensor(value):
        tensor = value.detach().cpu()  # type: ignore[attr-defined]
        if str(tensor.dtype) == "torch.bfloat16":  # numpy has no bfloat16; every bfloat16 is a float32
            tensor = tensor.float()
        return np.asarray(tensor.numpy())
    return np.asarray(value)


def tensor_point(caller: str, x: object, *functions: object) -> tuple[object, list[object]]:
    """(x, functions) unchanged unless x is a torch tensor; then (x as numpy, each callable taking numpy points).

    Each callable of ``functions`` is wrapped to receive a tensor of x's dtype on
    x's device and to return a numpy array; non-callables (a gradient given as
    a tensor) become arrays. A bfloat16 x is refused: numpy cannot step in it.
    """
    if not _is_tensor(x):
        return x, list(functions)
    torch = sys.modules["torch"]
    if x.dtype == torch.bfloat16:  # type: ignore[attr-defined]
        raise TypeError(f"{caller}: x is a torch.bfloat16 tensor; finite differences need float32 or float64 "
                        "(pass x.double(), as torch.autograd.gradcheck wants)")
    dtype, device = x.dtype, x.device  # type: ignore[attr-defined]

    def wrapped(function: Callable[[object], object]) -> Callable[[np.ndarray], np.ndarray]:
        return lambda point: as_array(function(torch.as_tensor(point, dtype=dtype, device=device)))

    return as_array(x), [wrapped(fn) if callable(fn) else as_array(fn) for fn in functions]
