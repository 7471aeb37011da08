"""One naming scheme for every identifier symdl prints: Wˡ → ``W1``, bˡ → ``b1``, ∂C/∂Wˡ → ``gW1``, buffers, temporaries.

A parameter name is its kind followed by its layer number (``W1``, ``b1``,
``gamma2``); its gradient is ``g`` + the name (``gW1``); batch norm's running
statistics are ``running_mean1`` / ``running_var1``; the pre-activations and
activations of layer l are ``Z{l}`` / ``A{l}``. :func:`parameter_kind` reads a
kind back from a name (``"W3"`` → ``"W"``) instead of each caller stripping
digits by hand.
"""

from __future__ import annotations

import re

__all__ = [
    "PARAMETER_KINDS",
    "activation_name",
    "bias_name",
    "class_name",
    "grad_name",
    "layer_of",
    "parameter_kind",
    "parameter_name",
    "preactivation_name",
    "running_name",
    "temporaries",
    "weight_name",
]

#: The parameter kinds a network holds: weights, biases, batch norm's scale and shift.
PARAMETER_KINDS: tuple[str, ...] = ("W", "b", "gamma", "beta")

_NAME = re.compile(r"(\D.*?)(\d+)")


def parameter_name(kind: str, layer: int) -> str:
    """``kind`` + ``layer``: the parameter of that kind in layer ``layer`` (``("W", 1)`` → ``"W1"``)."""
    return f"{kind}{int(layer)}"


def weight_name(layer: int) -> str:
    """Wˡ → ``W{layer}``."""
    return parameter_name("W", layer)


def bias_name(layer: int) -> str:
    """bˡ → ``b{layer}``."""
    return parameter_name("b", layer)


def grad_name(param: str) -> str:
    """∂C/∂param → ``g{param}`` (``"W1"`` → ``"gW1"``)."""
    return f"g{param}"


def running_name(statistic: str, layer: int) -> str:
    """Batch norm's running ``statistic`` ("mean" or "var") of layer ``layer`` → ``running_{statistic}{layer}``."""
    return f"running_{statistic}{int(layer)}"


def preactivation_name(layer: int) -> str:
    """zˡ for a batch in rows → ``Z{layer}``."""
    return f"Z{int(layer)}"


def activation_name(layer: int) -> str:
    """aˡ for a batch in rows → ``A{layer}``."""
    return f"A{int(layer)}"


def temporaries(prefix: str = "_e"):
    """Fresh temporaries ``{prefix}0``, ``{prefix}1``, … as SymPy symbols (the names CSE and the printers use)."""
    import sympy as sp

    return sp.numbered_symbols(prefix)


def parameter_kind(name: str) -> str:
    """The kind of a parameter name: ``"W3"`` → ``"W"``, ``"gamma2"`` → ``"gamma"``; else a ValueError."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"{name!r} is not a parameter name (a kind followed by a layer number, e.g. 'W1')")
    return match.group(1)


def layer_of(name: str) -> int:
    """The layer number of a parameter name: ``"W3"`` → 3; else a ValueError."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"{name!r} is not a parameter name (a kind followed by a layer number, e.g. 'W1')")
    return int(match.group(2))


def class_name(name: str) -> str:
    """A snake_case function name as a CamelCase class name (``"log_cosh"`` → ``"LogCosh"``; empty → ``"F"``)."""
    return "".join(part.capitalize() for part in name.split("_")) or "F"
