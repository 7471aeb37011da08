"""A network's stack: widths, the layers attached to each dense block, and what every key of params is.

``[n₀, Dense(n₁), BatchNorm(), Dropout(0.2), Dense(n₂)]`` → widths (n₀, n₁, n₂)
and, per block, its attached layers; the keyword form of :class:`symdl.Network`
(``batchnorm=True, dropout=0.2``) builds the same layers.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..backprop.equations import BackpropEquations
from ..excerpt import excerpt
from ..layers.base import Buffer, Layer, Parameter
from ..layers.batchnorm_layer import BatchNorm
from ..layers.dense import Dense, check_width
from ..layers.dropout_layer import Dropout

__all__ = ["LayerLike", "layer_specs", "shortcut_layers", "shortcut_view", "stack_layers", "widths"]

LayerLike = int | Dense | Layer


def widths(layers: object) -> tuple[int, ...]:
    """(n₀, …, n_L) from a list of widths, each an integer from 1 to 2³¹ − 1, else a ValueError."""
    if isinstance(layers, np.ndarray) and layers.ndim == 1:
        layers = layers.tolist()
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise ValueError(f"layers: expected a list of widths [n0, n1, ..., nL], got {excerpt(layers)}")
    if len(layers) < 2:
        raise ValueError(f"layers: need at least an input and an output width, got {list(layers)}")
    return tuple(check_width(n, f"layers[{k}]") for k, n in enumerate(layers))


def stack_layers(layers: Sequence[LayerLike]) -> tuple[tuple[int, ...], tuple[tuple[Layer, ...], ...]]:
    """(widths, the layers attached to each block) from ``[n₀, Dense(n₁), Layer…, Dense(n₂), …]``."""
    if not isinstance(layers[0], numbers.Integral) or isinstance(layers[0], bool):
        raise ValueError(f"layers[0]: a layer list starts with the input width n0, got {layers[0]!r}")
    widths, parts = [check_width(layers[0], "layers[0]")], list[list[Layer]]()
    for k, item in enumerate(layers[1:], 1):
        if isinstance(item, Dense):
            widths.append(item.width)
            parts.append([])
        elif isinstance(item, Layer):
            if not parts:
                raise ValueError(f"layers[{k}]: {item!r} follows no Dense block; attach it after one")
            parts[-1].append(item)
        else:
            raise ValueError(f"layers[{k}]: expected Dense(width) or a symdl.layers.base.Layer, got {excerpt(item)}")
    if len(widths) < 2:
        raise ValueError("layers: need the input width and at least one Dense block")
    if parts[-1]:
        raise ValueError(f"layers: {parts[-1][0]!r} acts on hidden layers only, not on the output block")
    hidden = parts[:-1]
    # One setting per layer type on every hidden block: the masks and kernels of a type are drawn and bound once.
    for layer in {type(p): p for block in hidden for p in block}.values():
        if not all(sum(type(p) is type(layer) for p in block) == 1 and layer in block for block in hidden):
            raise ValueError(f"layers: {type(layer).__name__} must follow every hidden block alike, with one setting")
    return tuple(widths), tuple(tuple(sorted(block, key=lambda p: p.position != "pre")) for block in parts)


def shortcut_layers(
    widths: tuple[int, ...], batchnorm: bool, dropout: float | None, bn_eps: float, bn_momentum: float
) -> tuple[tuple[Layer, ...], ...]:
    """The layers the keyword form builds: batch norm, then dropout, on every hidden block."""
    if not isinstance(batchnorm, bool):
        raise ValueError(f"batchnorm: expected True or False, got {excerpt(batchnorm)}")
    norm = BatchNorm(bn_eps, bn_momentum)  # checks eps and momentum even without batch norm, as always
    default = BatchNorm()
    given = [f"{name}={excerpt(value)}" for name, value, kept in (("bn_eps", bn_eps, norm.eps == default.eps),
                                                                    ("bn_momentum", bn_momentum, norm.momentum == default.momentum)) if not kept]
    if given and not batchnorm:  # a setting of nothing, as penalty_params without a penalty
        raise ValueError(f"{' and '.join(given)} given without batchnorm=True; batch norm's settings do nothing in a network without it")
    if (batchnorm or dropout is not None) and len(widths) < 3:
        raise ValueError("batchnorm and dropout act on hidden layers; this network has none (give 3 or more widths)")
    hidden = (*([norm] if batchnorm else []), *([Dropout(dropout)] if dropout is not None else []))
    return tuple(hidden if l < len(widths) - 1 else () for l in range(1, len(widths)))


def shortcut_view(attached: Iterable[Layer]) -> dict[str, Any]:
    """The keyword form's settings read back from the layers: batchnorm, dropout (p), keep_probability, bn_eps, bn_momentum."""
    attached = list(attached)
    norm = next((p for p in attached if isinstance(p, BatchNorm)), None)
    drop = next((p for p in attached if isinstance(p, Dropout)), None)
    return {
        "batchnorm": norm is not None,
        "dropout": None if drop is None else drop.p,
        "keep_probability": None if drop is None else drop.keep,
        "bn_eps": 1e-5 if norm is None else norm.eps,
        "bn_momentum": 0.1 if norm is None else norm.momentum,
    }


def layer_specs(eqs: BackpropEquations) -> dict[str, Parameter | Buffer]:
    """Every key of params with what it is: each block's W (and b), learned activation inputs, its layers' parameters, then buffers."""
    specs: dict[str, Parameter | Buffer] = {}
    for layer in eqs.layers:
        l = layer.index
        specs.update({f"{p.name}{l}": p for p in Dense.parameters(layer.has_bias)})
        # PReLU's α starts at 0.25 (He et al.); a learned activation input is an "activation" parameter.
        specs.update({f"{n}{l}": Parameter(n, "activation", init=0.25) for n in (e.name.split("^")[0].lstrip("\\") for e in layer.extra)})
        specs.update({f"{p.name}{l}": p for part in layer.parts for p in part.parameters()})
    for layer in eqs.layers:
        specs.update({f"{b.name}{layer.index}": b for part in layer.parts for b in part.buffers()})
    return specs
