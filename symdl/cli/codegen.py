"""``symdl codegen``: a standalone module for a rule, a formula or a network, written atomically to -o (or stdout)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .common import (
    EXIT_OK,
    UsageError,
    build_rule,
    input_symbol,
    network_from_args,
    parse_layers,
)

__all__ = ["cmd_codegen"]

_NETWORK_FLAGS = ("activation_param", "output_activation_param", "loss_param", "penalty", "penalty_param", "batchnorm", "dropout")
_RULE_FLAGS = ("wrt", "param", "symbol")


def _network(args: argparse.Namespace) -> Any:
    if args.target is not None:
        raise UsageError(f"give either NAME|FORMULA or --layers, not both (got {args.target!r} and --layers)")
    given = [f"--{f.replace('_', '-')}" for f in _RULE_FLAGS if getattr(args, f)]
    if given:
        raise UsageError(f"{given[0]} applies to rules and formulas, not to networks (--layers)")
    return network_from_args(args, parse_layers(args.layers))


def _codegen_source(args: argparse.Namespace) -> str:
    from ..export import standalone

    if args.layers is not None:
        network = _network(args)
        if args.backend == "numpy":
            return standalone.network_module(network, args.dtype)
        from ..export.network_modules import network_module_source

        return network_module_source(network, args.backend, args.dtype)
    if args.target is None:
        raise UsageError("give NAME|FORMULA (a rule or formula) or --layers (a network)")
    defaults = {"activation": "tanh", "output_activation": "identity", "loss": "mse", "dtype": "float64"}
    network_flags = [f for f in _NETWORK_FLAGS if getattr(args, f) not in (None, False, [])]
    network_flags += [f for f, default in defaults.items() if getattr(args, f) != default]
    if network_flags:
        raise UsageError(f"--{network_flags[0].replace('_', '-')} applies to networks; give --layers")
    r = build_rule(args)
    if args.wrt is not None and r.element_wise:
        input_symbol(r, args.wrt)  # one error line naming the inputs
    symbolic = r.derivation().symbolic_params
    if symbolic:
        raise UsageError(f"cannot generate code with symbolic parameters ({', '.join(symbolic)}); give values: --param NAME=VALUE")
    if args.backend == "numpy":
        return standalone.rule_module(r, wrt=args.wrt)
    from ..export.custom_gradient import rule_module_source

    return rule_module_source(r, args.backend)


def _write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, renamed over it when complete."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"-o {path}: is a directory; give a file name such as {os.path.join(path, 'generated.py')}")
    if not os.path.isdir(directory):
        raise UsageError(f"-o {path}: the directory {directory} does not exist")
    from ..atomic import CannotWrite, write_atomically

    try:
        write_atomically(path, text)
    except CannotWrite as error:
        where = f"cannot write in {directory}" if error.stage == "create" else "cannot write the file"
        raise UsageError(f"-o {path}: {where} ({error.reason})") from None


def cmd_codegen(args: argparse.Namespace) -> int:
    """``symdl codegen``: a standalone module for a rule, a formula or a network, written to -o."""
    source = _codegen_source(args)
    if args.output == "-":
        sys.stdout.write(source)
    else:
        _write_atomically(args.output, source)
    return EXIT_OK
