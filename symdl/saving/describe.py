"""A network as JSON and back: widths, attached layers, rules by registered name or formula text, exact parameters.

Rule parameters are exact SymPy numbers (0.1 is 1/10); they are written as
exact fractions (``"1/10"``) and read back with :class:`fractions.Fraction`,
so the rebuilt rule is the same rule. Formula rules are written as their text
and rebuilt by :func:`symdl.formula_rule` — the safe parser, never ``eval``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy as sp

from ..layers.batchnorm_layer import BatchNorm
from ..layers.dense import Dense
from ..layers.dropout_layer import Dropout
from ..network.model import Network
from ..rulebook.definition import check_convention
from ..rulebook.reductions import check_reduction
from ..rulebook.registry import rule, rules
from ..rulebook.rule import formula_rule
from .schema import SavedModelError, expect, fields, finite, integer, string

__all__ = ["describe_network", "describe_rule", "rebuild_network", "rebuild_rule"]

_ROLES = ("activation", "output_activation", "loss", "penalty")
_MAX_FORMULA = 2000


def _exact_text(value: sp.Expr) -> str:
    if not value.is_Rational:
        raise SavedModelError(f"cannot save the parameter value {value}: not an exact rational number")
    return str(sp.Rational(value))


def describe_rule(r: Any) -> dict[str, Any]:
    """``{"formula": text, "wrt", "symbols", "params", "kink_convention"}`` or ``{"name", "params", "kink_convention"}``."""
    params = {k: _exact_text(v) for k, v in getattr(r, "params", {}).items()}
    if r.kind == "formula":
        if r.symbolic_params:
            raise SavedModelError(f"cannot save {r!r}: parameters {', '.join(r.symbolic_params)} have no value")
        return {"formula": r.summary, "wrt": r.inputs[0].name, "symbols": [s.name for s in r.inputs[1:]],
                "params": params, "kink_convention": r.kink_convention}
    return {"name": r.name, "params": params, "kink_convention": r.kink_convention}


def _params(value: object, where: str) -> dict[str, Fraction]:
    out = {}
    for key, text in expect(value, dict, where).items():
        string(text, f"{where}.{key}", 100)
        try:
            out[key] = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise SavedModelError(f"{where}.{key}: {text!r} is not an exact number such as '1/10'") from None
    return out


def rebuild_rule(value: object, where: str) -> Any:
    """The rule described by ``value`` (a :func:`describe_rule` dict), or :class:`SavedModelError`."""
    try:
        return _rebuild_rule(value, where)
    except SavedModelError:
        raise
    except (ValueError, TypeError) as error:  # the parser's and the registry's refusals, on one line
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise SavedModelError(f"{where}: {' | '.join(lines)[:300]}") from None


def _rebuild_rule(value: object, where: str) -> Any:
    spec = expect(value, dict, where)
    if "formula" in spec:
        spec = fields(spec, where, ("formula", "wrt", "symbols", "params", "kink_convention"))
        symbols = [string(s, f"{where}.symbols", 100) for s in expect(spec["symbols"], list, f"{where}.symbols")]
        return formula_rule(string(spec["formula"], f"{where}.formula", _MAX_FORMULA), wrt=string(spec["wrt"], f"{where}.wrt", 100),
                            params=dict[str, Any](_params(spec["params"], f"{where}.params")), symbols=symbols,
                            kink_convention=check_convention(string(spec["kink_convention"], f"{where}.kink_convention", 20)))
    spec = fields(spec, where, ("name", "params", "kink_convention"))
    name = string(spec["name"], f"{where}.name", 100)
    if name not in rules():
        raise SavedModelError(f"{where}.name: unknown rule {name!r}")
    return rule(name, kink_convention=check_convention(string(spec["kink_convention"], f"{where}.kink_convention", 20)),
                **dict[str, Any](_params(spec["params"], f"{where}.params")))


def _describe_layer(item: object) -> Any:
    if isinstance(item, int):
        return item
    if isinstance(item, Dense):
        return {"type": "dense", "width": item.width}
    if isinstance(item, BatchNorm):
        return {"type": "batchnorm", "eps": item.eps, "momentum": item.momentum}
    if isinstance(item, Dropout):
        return {"type": "dropout", "p": item.p}
    raise SavedModelError(f"cannot save the layer {item!r}: saved models know dense, batchnorm and dropout")


def _rebuild_layer(value: object, k: int) -> Any:
    where = f"network.layers[{k}]"
    if k == 0:
        return integer(value, where, 1)
    spec = expect(value, dict, where)
    kind = spec.get("type")
    if kind == "dense":
        return Dense(integer(fields(spec, where, ("type", "width"))["width"], f"{where}.width", 1))
    if kind == "batchnorm":
        spec = fields(spec, where, ("type", "eps", "momentum"))
        return BatchNorm(finite(spec["eps"], f"{where}.eps"), finite(spec["momentum"], f"{where}.momentum"))
    if kind == "dropout":
        return Dropout(finite(fields(spec, where, ("type", "p"))["p"], f"{where}.p"))
    raise SavedModelError(f"{where}.type: expected 'dense', 'batchnorm' or 'dropout', got {kind!r}")


def describe_network(network: Network) -> dict[str, Any]:
    """The architecture: the layer list, each rule, and the loss's reduction unless it is the default ``"symdl"``."""
    out: dict[str, Any] = {"layers": [_describe_layer(x) for x in network.layer_list()]}
    for role in _ROLES:
        r = getattr(network, role)
        out[role] = None if r is None else describe_rule(r)
    if network.reduction != "symdl":  # files of default networks stay as they were (and readable by older symdl)
        out["reduction"] = network.reduction
    return out


def rebuild_network(value: object, **options: Any) -> Network:
    """The :class:`symdl.Network` described by ``value`` (``options``: further keywords, e.g. the optimizer)."""
    spec = dict(expect(value, dict, "network"))
    reduction = string(spec.pop("reduction", "symdl"), "network.reduction", 10)  # files before it: "symdl"
    fields(spec, "network", ("layers", *_ROLES))
    layers = expect(spec["layers"], list, "network.layers")
    if not 2 <= len(layers) <= 10_000:
        raise SavedModelError(f"network.layers: expected 2 to 10000 entries, got {len(layers)}")
    stack = [_rebuild_layer(x, k) for k, x in enumerate(layers)]
    roles: dict[str, Any] = {role: rebuild_rule(spec[role], f"network.{role}") for role in _ROLES if spec[role] is not None}
    if "activation" not in roles or "output_activation" not in roles or "loss" not in roles:
        raise SavedModelError("network: activation, output_activation and loss must be rules, not null")
    try:
        checked = check_reduction(roles["loss"], reduction)
    except ValueError as error:
        raise SavedModelError(f"network.{error}") from None
    return Network(stack, **roles, reduction=checked, **options)

