"""``symdl train`` and ``symdl evaluate``: a network (or, ``--from``, a saved model) trained and saved; a saved model measured.

``--from`` reads the saved run with :mod:`symdl.cli.continuing`.

Formatting and argument checks only: the loop is :func:`symdl.training.fit`,
the files :mod:`symdl.saving`. Every check runs before training starts, and
the model directory is written only when training completes.
"""

from __future__ import annotations

import argparse
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..budget import DEFAULT_SECONDS
from ..excerpt import excerpt
from .bounded import add_time_limit_argument, bounded, describe
from .common import (
    EXIT_OK,
    UsageError,
    add_json_argument,
    add_network_arguments,
    integer_in,
    json_number,
    metric_list,
    network_from_args,
    out,
    parse_layers,
)
from .finite_arrays import finite_saved, finite_trained
from .optimizer_flags import optimizer_params
from .paths import input_file

__all__ = ["add_evaluate_arguments", "add_train_arguments", "cmd_evaluate", "cmd_train", "load_data"]


_count = integer_in(1, 10**9)
_seed = integer_in(0, 2**63 - 1, "2**63 - 1")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {excerpt(text)}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {excerpt(text)}")
    return value


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a finite number ≥ 0, got {excerpt(text)}") from None
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a finite number ≥ 0, got {excerpt(text)}")
    return value


def add_train_arguments(command: argparse.ArgumentParser) -> None:
    """``symdl train LAYERS DATA.npz -o MODEL`` with the network, optimizer and training flags, or
    ``symdl train --from MODEL DATA.npz -o MODEL`` (a saved model trained on)."""
    command.add_argument("layers", nargs="?", metavar="LAYERS", help="widths of a new network, e.g. 784,128,10 "
                         "(not with --from)")
    command.add_argument("data", metavar="DATA.npz", help="training data: arrays X (samples, n0) and Y (samples, nL); "
                         "for a graph one per input and target, named as its input_names and target_names")
    command.add_argument("-o", "--output", required=True, metavar="MODEL", help="model directory to write (it may "
                         "be the --from directory: then replaced whole when training completes)")
    command.add_argument("--from", dest="source", metavar="MODEL", help="continue training a saved network or graph "
                         "(from 'symdl train' or symdl.save) with its optimizer and optimizer state; --epochs more "
                         "epochs, numbered on from its history.json, whose seed, batch size and validation split are the defaults")
    add_network_arguments(command.add_argument_group("the network (as 'symdl codegen --layers'; not with --from)"))
    train = command.add_argument_group("training")
    train.add_argument("--optimizer", default="adam", metavar="NAME", help="optimizer (default: adam; not with --from)")
    train.add_argument("--optimizer-param", action="append", default=[], metavar="K=V",
                       help="a hyperparameter, e.g. lr=1e-3 (repeatable; not with --from)")
    train.add_argument("--lr", type=_learning_rate, metavar="LR", help="with --from: the learning rate to train on "
                       "with (default: the saved optimizer's; required for one saved with lr=None)")
    train.add_argument("--epochs", type=_count, default=10, metavar="N", help="epochs (default: 10; with --from: more epochs)")
    train.add_argument("--batch-size", type=_count, metavar="N", help="samples per step (default: 32, or the saved run's)")
    train.add_argument("--validation-split", type=_fraction, metavar="F",
                       help="hold out the last fraction F of the samples for validation, as Keras (default: 0, or "
                       "with --from the saved run's)")
    train.add_argument("--metrics", type=metric_list, metavar="LIST", help="metrics, e.g. mae,mse (default: none, or "
                       "the saved model's)")
    train.add_argument("--seed", type=_seed, metavar="N", help="seed of the weights and the shuffling (default: 0, or "
                       "the saved run's)")
    train.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_json_argument(command)
    add_time_limit_argument(command, "with --from: stop loading the saved model (its formulas parsed, derived and "
                            "compiled) after this long, exit 2, as 'symdl evaluate' does; training has no limit")
    command.set_defaults(time_limit=None)  # given or not is known: a new network has no formulas to bound
    dests = ["activation", "activation_param", "output_activation", "output_activation_param", "loss", "loss_param",
             "reduction", "penalty", "penalty_param", "batchnorm", "dropout", "dtype", "optimizer", "optimizer_param"]
    # The flags of a new network and its optimizer, which --from's saved model fixes: their parser default is None
    # (given or not is then known, even for a value equal to the default), and cmd_train fills in new_model_defaults.
    command.set_defaults(**dict.fromkeys(dests), new_model_defaults={dest: command.get_default(dest) for dest in dests})


def add_evaluate_arguments(command: argparse.ArgumentParser) -> None:
    """``symdl evaluate MODEL DATA.npz [--metrics LIST] [--json]``."""
    command.add_argument("model", metavar="MODEL", help="a saved network or graph (from 'symdl train' or symdl.save)")
    command.add_argument("data", metavar="DATA.npz", help="arrays X and Y; for a graph one per input and target, named as "
                         "its input_names and target_names (X1, X2, Y1, …)")
    command.add_argument("--metrics", type=metric_list, default=None, metavar="LIST", help="metrics (default: the model's)")
    command.add_argument("--batch-size", type=_count, default=1024, metavar="N", help="samples per batch (default: 1024)")
    add_json_argument(command)
    add_time_limit_argument(command, "stop loading the model (its formulas parsed, derived and compiled) and "
                            "evaluating it after this long, exit 2")


def _read_arrays(path: str, names: list[str], widths: list[int], dtype: np.dtype, model: str) -> list[np.ndarray]:
    """The arrays ``names`` of an ``.npz`` file, each 2-D of its width and numbers (or bools: 0 and 1), the same rows,
    finite, as ``dtype``."""
    source = input_file(path)
    not_npz = f"{path}: not an .npz file (np.savez(path, {', '.join(f'{n}=...' for n in names)}))"
    try:
        with open(source, "rb") as stream:
            if stream.read(2) != b"PK":  # a zip's magic: numpy would try anything else as a pickle ("contains pickled data")
                raise UsageError(not_npz)
        found = np.load(source, allow_pickle=False)
        if not isinstance(found, np.lib.npyio.NpzFile):  # a .npy file loads as one array, not a context manager
            raise UsageError(not_npz)
        with found:
            missing = [k for k in names if k not in found.files]
            if missing:
                raise UsageError(f"{path}: no array {missing[0]!r}; it has {', '.join(found.files) or 'none'} "
                                 f"(expected {', '.join(names[:-1])} and {names[-1]})")
            arrays = [found[k] for k in names]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise UsageError(f"{path}: not a readable .npz file ({str(error).splitlines()[0][:100]})") from None
    for name, array, width in zip(names, arrays, widths):
        if array.dtype.kind not in "fiub":  # bools are 0 and 1, as the library's checks convert them (Keras' labels)
            raise UsageError(f"{path}: {name} holds {array.dtype.name}; expected numbers or booleans")
        if array.ndim != 2 or array.shape[1] != width:
            raise UsageError(f"{path}: {name} has shape {array.shape}; the {model} needs (samples, {width})")
    rows = [a.shape[0] for a in arrays]
    if len(set(rows)) > 1 or rows[0] == 0:
        others = ", ".join(f"{n} {r}" for n, r in zip(names[1:], rows[1:]))
        raise UsageError(f"{path}: {names[0]} has {rows[0]} samples and {others}; expected the same number, at least 1")
    return [_as_dtype(path, name, array, dtype) for name, array in zip(names, arrays)]


def _as_dtype(path: str, name: str, array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``array`` as ``dtype``; a NaN, an infinity or a value past the dtype's range is one line naming its element."""
    with np.errstate(over="ignore"):  # 1e300 as float32 is inf: said below, naming the element
        cast = array.astype(dtype)
    for values, what in ((array, "is {}; expected finite numbers"), (cast, "= {} does not fit " + dtype.name)):
        bad = np.argwhere(~np.isfinite(values))
        if len(bad):
            i, j = (int(k) for k in bad[0])
            raise UsageError(f"{path}: {name}[{i}, {j}] {what.format(array[i, j])}")
    return cast


def _saved_model(text: str) -> bool:
    """Whether ``text`` names a saved model's directory (a name the file system refuses names none)."""
    try:
        return (Path(text) / "model.json").is_file()
    except OSError:  # a name too long: parse_layers says what LAYERS expects
        return False


def load_data(path: str, network: Any) -> tuple[Any, Any]:
    """(X, Y) from an ``.npz`` file, checked against ``network``'s widths and its loss's target domain, cast to its dtype.

    A compiled graph reads one array per input and data target, named as its ``input_names`` / ``target_names``
    (``X`` and ``Y`` for one each; ``X1``, ``X2``, ``Y1``, … for several): tuples where it has several.
    """
    if hasattr(network, "arrange_data"):  # a compiled graph
        inputs, targets = list(network.input_names), list(network.target_names)
        arrays = _read_arrays(path, inputs + targets, [*network.input_widths, *network.target_widths], network.dtype, "graph")
        xs, ys = arrays[:len(inputs)], arrays[len(inputs):]
        X, Y = (xs[0] if len(xs) == 1 else tuple(xs)), (ys[0] if len(ys) == 1 else tuple(ys))
        try:
            network.check_targets(Y, allow="")  # every row, as a network's targets below; no Python-only hint
        except ValueError as error:
            raise UsageError(f"{path}: {error}") from None
        return X, Y
    widths = network.network.layers
    X, Y = _read_arrays(path, ["X", "Y"], [widths[0], widths[-1]], network.dtype, "network")
    domain = getattr(network, "target_domain", None)
    if domain is not None:  # every row of the file, before training starts (the validation split's rows too)
        from ..network.checks import check_targets

        try:
            loss, low, high, simplex = domain.as_tuple()
            check_targets(Y, "Y", loss, low, high, simplex, allow="")
        except ValueError as error:
            raise UsageError(f"{path}: {error}") from None
    return X, Y


def _split(X: Any, Y: Any, fraction: float) -> tuple[Any, Any, Any]:
    """(X, Y, validation): the last ``fraction`` of the rows held out, as Keras' validation_split (arrays or tuples)."""
    if not fraction:
        return X, Y, None
    rows = (X[0] if isinstance(X, tuple) else X).shape[0]
    split = math.floor(rows * (1 - fraction))
    if split == 0 or split == rows:
        raise UsageError(f"--validation-split {fraction}: leaves no training or no validation sample of {rows}")

    def cut(data: Any, part: slice) -> Any:
        return tuple(a[part] for a in data) if isinstance(data, tuple) else data[part]
    return cut(X, slice(split)), cut(Y, slice(split)), (cut(X, slice(split, None)), cut(Y, slice(split, None)))


def cmd_train(args: argparse.Namespace) -> int:
    """``symdl train``: build (or with ``--from`` load), train, save; one ``wrote`` line on stdout (with ``--json``:
    the path, the epochs and the last value of each history entry)."""
    from ..optim.registry import optimizer
    from ..saving import check_target
    from ..training.loop import metric_objects

    if not args.output:  # Path('') is the working directory: a slip, as `report -o ''` is
        raise UsageError("-o '': an empty model directory name; give the directory to write, e.g. -o model")
    if args.source is not None:
        return _continue(args)
    if args.time_limit is not None:
        raise UsageError("--time-limit without --from: a new network uses registered rules only and trains for the "
                         "epochs asked for; the limit bounds loading a saved model (--from MODEL)")
    if args.lr is not None:
        raise UsageError("--lr without --from: a new network's learning rate is --optimizer-param lr=…; --lr sets the "
                         "learning rate of a saved model trained on (--from MODEL)")
    check_target(args.output)
    if args.layers is None:
        raise UsageError("LAYERS: missing; give the widths of a new network, e.g. 784,128,10, or continue a saved model "
                         "with --from MODEL")
    if _saved_model(args.layers):
        raise UsageError(f"LAYERS {args.layers!r}: a saved model; symdl train builds a new network from widths such as "
                         f"784,128,10 (to train a saved network or graph on: symdl train --from {args.layers} …)")
    for dest, default in args.new_model_defaults.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)
    opt = optimizer(args.optimizer, **optimizer_params(args.optimizer_param))
    net = network_from_args(args, parse_layers(args.layers, "LAYERS"), optimizer=opt).compile(args.dtype)
    X, Y = load_data(args.data, net)
    args.validation_split = args.validation_split or 0.0
    X, Y, validation = _split(X, Y, args.validation_split)
    metrics = metric_objects(args.metrics or [])
    seed = 0 if args.seed is None else args.seed
    return _train(args, net, net.init(seed), None, X, Y, validation, metrics, seed, args.batch_size or 32, None)


def _loads(path: str) -> None:
    """Nothing once the model at ``path`` loads (the model itself does not pickle back from the worker)."""
    from ..saving import load

    load(path)


def _load_within_limit(args: argparse.Namespace) -> Any:
    """The saved model of ``--from``, whose formulas were parsed, derived and compiled within ``--time-limit``.

    As ``symdl evaluate``: the loading runs first in the budget's worker, which is killed at the limit; the compiled
    model does not pickle, so it is loaded here again once the worker's load succeeded (rules and formulas derived
    once more, well within the limit the first load kept). Training itself runs for the epochs asked for.
    """
    from ..saving import load

    if args.time_limit is None:
        args.time_limit = DEFAULT_SECONDS
    bounded(args, describe("loading the model", args.source), _loads, args.source,
            advice=" for a model whose formulas are slow to derive")
    return load(args.source)


def _continue(args: argparse.Namespace) -> int:
    """``symdl train --from MODEL``: the saved model, its optimizer and state trained ``--epochs`` more epochs."""
    from ..saving import check_target
    from ..saving.state import model_optimizer
    from ..training.loop import metric_objects
    from .continuing import earlier_history, with_learning_rate

    if args.layers is not None:
        raise UsageError(f"LAYERS {excerpt(args.layers)} and --from: the network is the saved model's; leave out LAYERS")
    given = next((dest for dest in args.new_model_defaults if getattr(args, dest) is not None), None)
    if given is not None:
        flag = "--" + given.replace("_", "-")
        raise UsageError(f"{flag} and --from: the saved model fixes its network, dtype and optimizer; leave out {flag}"
                         + (" (its learning rate is --lr)" if given == "optimizer_param" else ""))
    saved = _load_within_limit(args)
    finite_saved(args.source, saved.params, "params", "training needs finite parameters")
    finite_saved(args.source, saved.state, "state", "training needs a finite optimizer state")
    if model_optimizer(saved.network) is None:
        raise UsageError(f"--from {args.source}: saved without an optimizer; symdl train continues with the saved "
                         "optimizer (save the model compiled with one)")
    model = with_learning_rate(saved.network, args.lr, args.source)
    earlier = earlier_history(Path(args.source))
    check_target(args.output)
    X, Y = load_data(args.data, model)
    if args.validation_split is None:  # as seed and batch size: the saved run's rows stay held out
        args.validation_split = earlier.validation_split or 0.0
    X, Y, validation = _split(X, Y, args.validation_split)
    metrics = saved.metrics if args.metrics is None else metric_objects(args.metrics)
    seed = args.seed if args.seed is not None else earlier.seed if earlier.seed is not None else 0
    batch_size = args.batch_size or earlier.batch_size or 32
    return _train(args, model, saved.params, saved.state, X, Y, validation, metrics, seed, batch_size, earlier)


def _train(args: argparse.Namespace, model: Any, params: dict[str, Any], state: Any, X: Any, Y: Any, validation: Any,
           metrics: Any, seed: int, batch_size: int, earlier: Any) -> int:
    """``--epochs`` epochs of :func:`symdl.training.fit` (numbered on from ``earlier``, a saved run), then the model
    saved to ``-o`` (replaced whole, atomically) with the history of every run."""
    from ..saving import save
    from ..training import fit
    from .continuing import joined_history

    initial = 0 if earlier is None else earlier.initial_epoch
    # a diverging run overflows before its loss is inf: fit's one line names the step, numpy's warnings would precede it
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        history = fit(model, params, X, Y, epochs=initial + args.epochs, initial_epoch=initial, state=state,
                      batch_size=batch_size, metrics=metrics, validation=validation, seed=seed,
                      verbose=0 if args.quiet else "auto")
    finite_trained(str(args.output), history.weights, history.state, history.epoch[-1])
    settings = {**history.params, "validation_split": args.validation_split}  # the defaults of a run that continues it
    if earlier is None:
        record = {"epoch": history.epoch, "history": history.history, "params": settings}
    else:
        record = joined_history(earlier, history.epoch, history.history, settings)
    save(args.output, model, history.weights, history.state, metrics, history=record)
    if args.json:
        out(json.dumps({"wrote": str(args.output), "epochs": len(history.epoch), "initial_epoch": initial,
                        "last": {k: json_number(v[-1]) for k, v in history.history.items()}}, indent=2))
        return EXIT_OK
    last = ", ".join(f"{k} {v[-1]:.6g}" for k, v in history.history.items())
    first, final = initial + 1, history.epoch[-1] + 1  # counted from 1, as Keras' progress shows them
    numbers = f"epoch {first}" if first == final else f"epochs {first}–{final}"
    after = f" ({numbers}, after {args.source})" if earlier is not None else ""
    count = f"{len(history.epoch)} epoch" + ("s" if len(history.epoch) != 1 else "")
    out(f"wrote {args.output}: {count}{after}, {last}")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``symdl evaluate``: the loss and metrics of a saved model on DATA.npz, within ``--time-limit``.

    A saved model can hold formulas (activations written as text), parsed, derived and compiled again on loading:
    the whole command runs in the budget's worker, as ``derive`` does.
    """
    return bounded(args, describe("loading and evaluating the model", str(args.model)), _evaluate, args,
                   advice=" for a large data file or a model whose formulas are slow to derive")


def _evaluate(args: argparse.Namespace) -> int:
    from ..saving import load
    from ..training import evaluate
    from ..training.loop import metric_objects

    model = load(args.model)
    finite_saved(args.model, model.params, "params", "evaluate needs finite parameters")
    X, Y = load_data(args.data, model.network)
    metrics = model.metrics if args.metrics is None else metric_objects(args.metrics)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # an overflow is evaluate's one line, as fit's
        logs = evaluate(model.network, model.params, X, Y, metrics, batch_size=args.batch_size)
    if args.json:
        out(json.dumps({k: json_number(v) for k, v in logs.items()}, indent=2))
    else:
        for k, v in logs.items():
            out(f"{k}: {v:.6g}")
    return EXIT_OK
