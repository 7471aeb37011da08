"""Parameters to and from PyTorch ``nn.Sequential`` state dicts and flax ``Dense`` params: the same numbers, renamed.

symdl's dense layer l computes zˡ = aˡ⁻¹ Wˡᵀ + bˡ with Wˡ of shape (nₗ, nₗ₋₁)
(see :mod:`symdl.network.model`). ``torch.nn.Linear`` holds its weight as
(out, in) and computes x Wᵀ + b, so Wˡ is its weight as it is; flax's
``nn.Dense`` holds a kernel of shape (in, out) and computes x K + b, so its
kernel is Wˡᵀ.

* PyTorch: ``nn.Sequential(Linear, act, Linear, act, …, Linear[, out_act])``
  numbers its modules 0, 1, 2, …: layer l is module ``stride·(l − 1)``, its keys
  ``"{i}.weight"`` and ``"{i}.bias"`` (stride 2: one activation module between
  Linears; stride 3 for ``Linear, act, Dropout``, …). Tensors keep the dtype of
  ``params`` (float64 by default).
* flax: ``{"params": {"Dense_0": {"kernel": W1.T, "bias": b1}, "Dense_1": …}}``,
  the names ``nn.Dense`` gets in a ``@nn.compact`` module; plain dicts of
  numpy arrays, so flax need not be installed (``jax.numpy.asarray`` or
  ``flax.core.freeze`` take them as they are).

Only dense networks convert (keys ``W1…WL``, ``b1…bL``): batch norm, dropout
layers and learned activation inputs (PReLU's α) have no one layout in the
other frameworks and are refused. Loss reductions differ too: ``docs/interop.md``.

>>> import numpy as np, symdl
>>> net = symdl.Network([3, 4, 2], activation="tanh")
>>> params = {"W1": np.ones((4, 3)), "b1": np.zeros(4), "W2": np.ones((2, 4)), "b2": np.zeros(2)}
>>> flax = to_flax_params(params, net)
>>> flax["params"]["Dense_0"]["kernel"].shape
(3, 4)
>>> sorted(from_flax_params(flax, net)) == sorted(params)
True
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .excerpt import excerpt
from .network.compiled import CompiledNetwork
from .network.model import Network
from .optional import require

if TYPE_CHECKING:
    import torch

__all__ = ["from_flax_params", "from_torch_state_dict", "to_flax_params", "to_torch_state_dict"]


def to_torch_state_dict(
    params: Mapping[str, object], network: Network | CompiledNetwork, *, stride: int = 2
) -> dict[str, torch.Tensor]:
    """``{"0.weight": W1, "0.bias": b1, "2.weight": W2, …}``: ``params`` as the state dict of ``nn.Sequential``.

    Layer l is module ``stride·(l − 1)`` (``Linear, act, Linear, …`` for stride 2);
    the weight is Wˡ as it is (torch's (out, in)), copied into a tensor of the
    params' dtype, ready for ``model.load_state_dict``.

    Raises:
        ValueError: A key missing or extra, or an array of the wrong shape or not finite.
    """
    torch = require("torch", "symdl.interop.to_torch_state_dict")
    widths = _widths(network, stride)
    arrays = _checked(params, network, "params")
    return {
        f"{stride * (l - 1)}.{part}": torch.tensor(arrays[f"{key}{l}"])
        for l in range(1, len(widths))
        for part, key in (("weight", "W"), ("bias", "b"))
    }


def from_torch_state_dict(
    state_dict: Mapping[str, object], network: Network | CompiledNetwork, *, stride: int = 2
) -> dict[str, np.ndarray]:
    """symdl params from the state dict of ``nn.Sequential(Linear, act, Linear, …)``: Wˡ is ``"{stride·(l − 1)}.weight"``.

    Tensors (any device) and arrays are accepted and copied to numpy arrays of
    the network's dtype (float64 for a :class:`~symdl.network.model.Network`).

    Raises:
        ValueError: A key missing or extra (names the keys expected), or a shape that differs.
    """
    widths = _widths(network, stride)
    names = {f"{stride * (l - 1)}.{part}": f"{key}{l}" for l in range(1, len(widths)) for part, key in (("weight", "W"), ("bias", "b"))}
    _same_keys(state_dict, names, "state_dict")
    return _checked({names[k]: v for k, v in state_dict.items()}, network, "state_dict", {v: k for k, v in names.items()})


def to_flax_params(params: Mapping[str, object], network: Network | CompiledNetwork) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """``{"params": {"Dense_0": {"kernel": W1ᵀ, "bias": b1}, …}}``: ``params`` as flax ``nn.Dense`` variables (numpy copies)."""
    arrays = _checked(params, network, "params")
    layers = range(1, len(_widths(network)))
    return {"params": {f"Dense_{l - 1}": {"kernel": arrays[f"W{l}"].T.copy(), "bias": arrays[f"b{l}"]} for l in layers}}


def from_flax_params(variables: Mapping[str, object], network: Network | CompiledNetwork) -> dict[str, np.ndarray]:
    """symdl params from flax ``{"params": {"Dense_0": {"kernel": K, "bias": b}, …}}`` (or the inner dict): Wˡ = Kᵀ.

    Raises:
        ValueError: A layer or key missing or extra, or a shape that differs.
    """
    if not isinstance(variables, Mapping):
        raise TypeError(f"variables: expected a mapping like {{'params': {{'Dense_0': ...}}}}, got {type(variables).__name__}")
    inner = variables["params"] if set(variables) == {"params"} else variables
    if not isinstance(inner, Mapping):
        raise TypeError(f"variables['params']: expected a mapping of layers, got {type(inner).__name__}")
    layers = range(1, len(_widths(network)))
    _same_keys(inner, {f"Dense_{l - 1}": "" for l in layers}, "flax params")
    flat: dict[str, object] = {}
    names: dict[str, str] = {}
    for l in layers:
        dense = inner[f"Dense_{l - 1}"]
        if not isinstance(dense, Mapping):
            raise TypeError(f"flax params['Dense_{l - 1}']: expected a mapping with 'kernel' and 'bias', got {type(dense).__name__}")
        _same_keys(dense, {"kernel": "", "bias": ""}, f"flax params['Dense_{l - 1}']")
        kernel = _array(dense["kernel"], f"flax params['Dense_{l - 1}']['kernel']")
        flat[f"W{l}"], flat[f"b{l}"] = (kernel.T if kernel.ndim == 2 else kernel), dense["bias"]
        names[f"W{l}"] = f"Dense_{l - 1}.kernel (transposed)"
        names[f"b{l}"] = f"Dense_{l - 1}.bias"
    return _checked(flat, network, "flax params", names)


# -- checks ------------------------------------------------------------------------------------------


def _widths(network: object, stride: int = 2) -> tuple[int, ...]:
    """[n₀, …, n_L] of a dense network; ValueError for other layers, TypeError for anything but a network."""
    if isinstance(stride, bool) or not isinstance(stride, numbers.Integral) or stride < 1:
        raise ValueError(f"stride: expected a positive integer (modules per layer in nn.Sequential), got {excerpt(stride)}")
    stride = int(stride)
    if isinstance(network, CompiledNetwork):
        dense = [f"{k}{l}" for l in range(1, len(network.network.layers)) for k in "Wb"]
        extra = [name for name in (*network.param_names, *network.buffer_names) if name not in dense]
        net = network.network
    elif isinstance(network, Network):
        net = network
        extra = [type(layer).__name__ for layer in network.attached_layers()]
        extra += [f"{rule.name} ({', '.join(map(str, rule.inputs[1:]))})"
                  for rule in (network.activation, network.output_activation)
                  if getattr(rule, "element_wise", False) and len(rule.inputs) > 1]
    else:
        raise TypeError(f"network: expected a symdl Network or its compiled form, got {type(network).__name__}")
    if extra:
        raise ValueError(
            f"network: only dense layers (W1…WL, b1…bL) convert; this network also has {', '.join(extra)}"
        )
    return tuple(net.layers)


def _same_keys(given: Mapping[str, object], expected: Mapping[str, str], what: str) -> None:
    if not isinstance(given, Mapping):
        raise TypeError(f"{what}: expected a mapping of names to arrays, got {type(given).__name__}")
    missing = [k for k in expected if k not in given]
    extra = [str(k) for k in given if k not in expected]
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unexpected {', '.join(extra[:8])}"] if extra else [])
        raise ValueError(f"{what}: {'; '.join(parts)}; expected exactly {', '.join(expected)}")


def _array(value: object, what: str) -> np.ndarray:
    """A numpy view of an array, a torch tensor (detached, on the CPU; bfloat16 widened to float32, exactly) or a jax array."""
    if hasattr(value, "detach"):
        if getattr(value, "is_meta", False):
            raise TypeError(f"{what}: a tensor on the meta device holds no numbers")
        tensor: Any = value.detach().cpu()
        value = (tensor.float() if str(tensor.dtype) == "torch.bfloat16" else tensor).numpy()  # numpy has no bfloat16
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as why:
        raise TypeError(f"{what}: expected an array, got {type(value).__name__} ({why})") from None


def _checked(arrays: Mapping[str, object], network: Network | CompiledNetwork, what: str,
             shown: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Copies of ``arrays`` (keys W1…, b1…) in the network's dtype, after key, shape and finiteness checks."""
    widths = _widths(network)
    shapes: dict[str, tuple[int, ...]] = {}
    for l in range(1, len(widths)):
        shapes[f"W{l}"], shapes[f"b{l}"] = (widths[l], widths[l - 1]), (widths[l],)
    _same_keys(arrays, {k: k for k in shapes}, what)
    dtype = network.dtype if isinstance(network, CompiledNetwork) else np.dtype(np.float64)
    out: dict[str, np.ndarray] = {}
    for key, shape in shapes.items():
        name = (shown or {}).get(key, key)
        array = _array(arrays[key], f"{what}[{name!r}]")
        if array.shape != shape:
            raise ValueError(f"{what}[{name!r}]: shape {array.shape}, expected {shape} for layers {list(widths)}")
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
            raise TypeError(f"{what}[{name!r}]: dtype {array.dtype}, expected real numbers")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{what}[{name!r}]: holds nan or inf; parameters must be finite")
        out[key] = np.array(array, dtype=dtype, copy=True)
    return out
