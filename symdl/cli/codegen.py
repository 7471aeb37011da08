"""``symdl codegen``: a standalone module for a rule, a formula, a network or a saved graph, written atomically to -o (or stdout)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, cast

from .bounded import bounded, describe
from .common import (
    EXIT_OK,
    UsageError,
    build_rule,
    input_symbol,
    network_from_args,
    parse_layers,
)
from .formula_input import NAMED_GRADIENT
from .optimizer_flags import optimizer_params

if TYPE_CHECKING:
    from ..graph.compiled import CompiledGraph

__all__ = ["cmd_codegen"]

_NETWORK_FLAGS = ("activation_param", "output_activation_param", "loss_param", "penalty", "penalty_param", "batchnorm", "dropout",
                  "optimizer", "optimizer_param", "loss_scale", "metrics")
_RULE_FLAGS = ("wrt", "param", "symbol", "gradient")


def _network(args: argparse.Namespace) -> Any:
    if args.target is not None:
        raise UsageError(f"give either NAME|FORMULA or --layers, not both (got {args.target!r} and --layers)")
    given = [f"--{f.replace('_', '-')}" for f in _RULE_FLAGS if getattr(args, f)]
    if given:
        raise UsageError(f"{given[0]} applies to rules and formulas, not to networks (--layers)")
    return network_from_args(args, parse_layers(args.layers), optimizer=_optimizer(args))


def _optimizer(args: argparse.Namespace) -> Any:
    """``--optimizer NAME`` with its ``--optimizer-param K=V`` (numbers; true/false for options), or None."""
    from ..optim.registry import optimizer

    if args.optimizer is None:
        if args.optimizer_param:
            raise UsageError("--optimizer-param given without --optimizer")
        return None
    values = optimizer_params(args.optimizer_param)
    try:
        return optimizer(args.optimizer, **values)
    except (TypeError, ValueError) as error:
        raise UsageError(f"--optimizer {args.optimizer}: {error}".splitlines()[0]) from None


def _metrics(args: argparse.Namespace) -> list[Any]:
    """``--metrics LIST``: the metric objects a network or graph module prints, or one usage error line."""
    from ..training.tracked import metric_objects

    try:
        return metric_objects(args.metrics)
    except ValueError as error:
        raise UsageError(f"--metrics: {str(error).removeprefix('metrics: ')}".splitlines()[0]) from None


def _graph(args: argparse.Namespace) -> str:
    """``--graph DIR``: the saved graph model's module for --backend (its own dtype, or mixed precision with --dtype
    bfloat16|float16 [--loss-scale S]), with --optimizer or else its saved optimizer, --metrics or else its saved metrics."""
    from ..export.graph_modules import graph_module_source
    from ..graph.files import load_graph
    from ..saving.schema import SavedModelError

    if args.target is not None or args.layers is not None:
        raise UsageError("give one of NAME|FORMULA, --layers or --graph")
    from ..export.mixed_precision import LOW_PRECISION, MIXED_BACKENDS

    # mixed precision is how the module computes, not what the graph is: --dtype bfloat16|float16 and --loss-scale apply
    mixed = args.dtype in LOW_PRECISION
    own = ("optimizer", "optimizer_param", "metrics", *(["loss_scale"] if mixed else []))
    given = [f"--{f.replace('_', '-')}" for f in (*_RULE_FLAGS, *_NETWORK_FLAGS) if f not in own
             and getattr(args, f) not in (None, False, [])]
    defaults = {"activation": "tanh", "output_activation": "identity", "loss": "mse", "reduction": "symdl",
                **({} if mixed else {"dtype": "float64"})}
    given += [f"--{f.replace('_', '-')}" for f, default in defaults.items() if getattr(args, f) != default]
    if given:
        if given[0] == "--loss-scale":
            raise UsageError(f"--loss-scale applies to --dtype {' or '.join(LOW_PRECISION)} (mixed precision), not to a graph "
                             "in its saved dtype")
        raise UsageError(f"{given[0]} does not apply to --graph (a saved graph holds its layers, losses and dtype; "
                         f"--dtype {'|'.join(LOW_PRECISION)} gives a mixed-precision module)")
    if mixed and args.backend not in MIXED_BACKENDS:
        raise UsageError(f"--dtype {args.dtype} (mixed precision) needs --backend {' or '.join(MIXED_BACKENDS)}; the "
                         f"{args.backend} module computes in float32 or float64")
    optimizer = _optimizer(args)
    try:
        saved = load_graph(args.graph)
    except SavedModelError as error:
        raise UsageError(f"--graph: {error}".splitlines()[0]) from None
    compiled = cast("CompiledGraph", saved.network)  # load_graph builds graphs only
    metrics = _metrics(args) or saved.metrics  # else the metrics the graph was saved with, as its optimizer
    if optimizer is None:
        optimizer = compiled.optimizer  # the optimizer the graph was saved with, if any
    try:
        return graph_module_source(compiled.model, args.backend, args.dtype if mixed else compiled.dtype, optimizer,
                                   metrics=metrics, loss_scale=args.loss_scale)
    except ValueError as error:
        raise UsageError(str(error).splitlines()[0]) from None


def _codegen_source(args: argparse.Namespace) -> str:
    from ..export import standalone

    if args.graph is not None:
        return _graph(args)
    if args.layers is not None:
        network = _network(args)
        from ..export.mixed_precision import LOW_PRECISION, MIXED_BACKENDS

        if args.backend not in MIXED_BACKENDS and args.dtype in LOW_PRECISION:
            raise UsageError(f"--dtype {args.dtype} (mixed precision) needs --backend {' or '.join(MIXED_BACKENDS)}; the "
                             f"{args.backend} module and the compiled network compute in float32 or float64")
        if args.loss_scale is not None and args.dtype not in LOW_PRECISION:
            raise UsageError(f"--loss-scale applies to --dtype {' or '.join(LOW_PRECISION)}, not to {args.dtype}")
        metrics = _metrics(args)
        if args.backend == "numpy":
            return standalone.network_module(network, args.dtype, metrics=metrics)
        from ..export.network_modules import network_module_source

        return network_module_source(network, args.backend, args.dtype, loss_scale=args.loss_scale, metrics=metrics)
    if args.target is None:
        raise UsageError("give NAME|FORMULA (a rule or formula) or --layers (a network)")
    defaults = {"activation": "tanh", "output_activation": "identity", "loss": "mse", "dtype": "float64", "reduction": "symdl"}
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
    gradient = _gradient(args)
    if args.backend == "numpy":
        return standalone.rule_module(r, wrt=args.wrt)
    from ..export.custom_gradient import rule_module_source

    if gradient is None:
        return rule_module_source(r, args.backend)
    return rule_module_source(r, args.backend, gradient=gradient)


def _gradient(args: argparse.Namespace) -> str | dict[str, str] | None:
    """``--gradient TEXT`` (a one-input rule) or ``--gradient NAME=TEXT`` per input: the declared backward, or None."""
    if not args.gradient:
        return None
    if args.backend == "numpy":
        raise UsageError("--gradient applies to --backend jax or torch (a custom-gradient export); the numpy module prints "
                         "the derivative")
    named = [NAMED_GRADIENT.fullmatch(text) for text in args.gradient]
    if len(args.gradient) == 1 and named[0] is None:
        return cast(str, args.gradient[0]).strip()
    texts: dict[str, str] = {}
    for text, match in zip(args.gradient, named):
        if match is None:
            raise UsageError(f"--gradient {text!r}: with several --gradient give each as INPUT=FORMULA")
        if match.group(1) in texts:
            raise UsageError(f"--gradient {match.group(1)!r} given twice")
        texts[match.group(1)] = match.group(2).strip()
    return texts


def _write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` with :func:`symdl.atomic.write_atomically`; a refused or failed write is one line."""
    if not path:
        raise UsageError("-o: expected a file name, or '-' for stdout; got ''")
    if os.path.isdir(path):
        raise UsageError(f"-o {path}: is a directory; give a file name such as {os.path.join(path, 'generated.py')}")
    from ..atomic import CannotWrite, write_atomically

    try:
        write_atomically(path, text)
    except CannotWrite as error:
        if error.stage == "write":
            raise UsageError(f"-o {path}: cannot write the file ({error.reason})") from None
        if error.stage == "create" and "does not exist" not in error.reason:
            directory = os.path.dirname(os.path.realpath(path))
            raise UsageError(f"-o {path}: cannot write in {directory} ({error.reason})") from None
        raise UsageError(f"-o {path}: {error.reason}") from None


def cmd_codegen(args: argparse.Namespace) -> int:
    """``symdl codegen``: a standalone module for a rule, a formula or a network, written to -o."""
    what = describe("generating code for", args.target) if args.layers is None else f"generating code for --layers {args.layers}"
    if args.graph is not None:
        what = "generating code for --graph"
    source = bounded(args, what, _codegen_source, args)
    if args.output == "-":
        sys.stdout.write(source)
    else:
        _write_atomically(args.output, source)
    return EXIT_OK
