"""A compiled network's ``fit``: :func:`symdl.training.fit` on the network, or on a copy compiled with another optimizer."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..training.callbacks import History
    from .compiled import CompiledNetwork

__all__ = ["fit_network", "with_optimizer"]


def with_optimizer(compiled: CompiledNetwork, optimizer: Any) -> CompiledNetwork:
    """The same network (layers, rules, dtype) compiled with ``optimizer`` (an Optimizer or a registered name).

    Compiled once per optimizer config and kept on ``compiled``: calling
    ``fit(..., optimizer=...)`` again costs nothing.
    """
    from ..optim.registry import optimizer as resolve

    opt = resolve(optimizer)
    key = json.dumps(opt.config(), sort_keys=True)
    cache: dict[str, CompiledNetwork] = compiled.__dict__.setdefault("_with_optimizer", {})
    if key not in cache:
        net = compiled.network
        rebuilt = type(net)(net.layer_list(), activation=net.activation, output_activation=net.output_activation,
                            loss=net.loss, penalty=net.penalty, optimizer=opt, reduction=net.reduction)
        cache[key] = rebuilt.compile(compiled.dtype, validate_targets=compiled.validate_targets)
    return cache[key]


def fit_network(compiled: CompiledNetwork, params: dict[str, Any], X: Any, Y: Any, optimizer: Any,
                options: dict[str, Any]) -> History:
    """:func:`symdl.training.fit` with ``compiled`` as the model (recompiled with ``optimizer`` when one is given)."""
    from ..training import fit

    if optimizer is not None:
        compiled = with_optimizer(compiled, optimizer)
    elif getattr(compiled.network, "optimizer", None) is None:
        raise ValueError("fit: this network was compiled without an optimizer; give fit(..., optimizer='adam') "
                         "or build it with Network(..., optimizer=...)")
    return fit(compiled, params, X, Y, **options)
