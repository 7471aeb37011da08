"""``symdl report``: build the report's sections and write each format atomically into -o; print the paths written."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..excerpt import excerpt
from .bounded import bounded, describe
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    Progress,
    UsageError,
    one_line,
    out,
    parse_layers,
    parse_params,
    progress_wanted,
    write,
)

__all__ = ["NAMED_FORMULA", "REPORT_NETWORK_DEFAULTS", "cmd_report"]


def _report_names(args: argparse.Namespace) -> list[str] | None:
    """The items asked for (NAMES and --only), checked against the accepted ones; None for all of them.

    With --formula or --graph and no item named, the report holds the formulas and graphs only (an empty list).
    """
    from ..report.sections import report_item_names

    known = report_item_names()
    names = [*args.names, *args.only]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"unknown report item {name!r}; {hint}accepted: rules (see 'symdl list'), "
                             "backprop, batchnorm, dropout, init")
    if not names and (args.formula or args.graph):
        return []
    return list(dict.fromkeys(names)) or None


#: ``NAME=TEXT``: a formula's title before its text (``==`` is never a title's end).
NAMED_FORMULA = re.compile(r"\s*([A-Za-z][A-Za-z0-9_ -]{0,59}?)\s*=(?!=)(.*)", re.DOTALL)


def _formulas(args: argparse.Namespace) -> list[tuple[str | None, str]]:
    """Each --formula as (name or None, text); --wrt, --symbol and --param only with a formula."""
    for flag in ("wrt", "symbol", "param"):
        if getattr(args, flag) and not args.formula:
            raise UsageError(f"--{flag} describes the variables of --formula, and no --formula was given")
    out = []
    for item in args.formula:
        match = NAMED_FORMULA.fullmatch(item)
        out.append((match.group(1), match.group(2)) if match else (None, item))
    return out


def _formula_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"wrt": args.wrt or "z", "params": parse_params(args.param, allow_symbolic=True),
            "symbols": tuple(args.symbol)}


def _report_directory(path: str) -> None:
    """Make sure the report can be written at ``path`` before the (slow) report is built; nothing is created yet.

    A missing directory is made whole at the end (:func:`symdl.atomic.write_directory`), so a failed run leaves
    nothing; here the nearest existing directory above it must take a new file.
    """
    import tempfile

    if not path:  # Path('') is the working directory: a slip, as `codegen -o ''` is
        raise UsageError("-o '': an empty directory name; give the directory to write into, e.g. -o report")
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"-o {path}: exists and is not a directory")
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    try:
        if not os.path.isdir(probe):
            raise NotADirectoryError(20, f"{probe} is not a directory")
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as error:
        raise UsageError(f"-o {path}: cannot write in this directory ({error.strerror or error})") from None


#: The backprop section's network when --layers, --activation and --loss are not given.
REPORT_NETWORK_DEFAULTS = {"layers": "2,3,1", "activation": "tanh", "loss": "mse"}
#: Its further options, None when not given (the section's own defaults: no penalty, batch norm or dropout).
REPORT_NETWORK_OPTIONS = ("output_activation", "penalty", "batchnorm", "dropout")


def _network_flags(args: argparse.Namespace, names: list[str] | None) -> None:
    """Refuse the network flags when the backprop section is not asked for; else fill in their defaults."""
    given = [flag.replace("_", "-") for flag in (*REPORT_NETWORK_DEFAULTS, *REPORT_NETWORK_OPTIONS)
             if getattr(args, flag) is not None]
    if given and names is not None and "backprop" not in names:
        raise UsageError(f"--{given[0]} describes the network of the backprop section, which was not asked for; "
                         "add the item 'backprop' or leave the flag out")
    for flag, default in REPORT_NETWORK_DEFAULTS.items():
        if getattr(args, flag) is None:
            setattr(args, flag, default)


def _network_options(args: argparse.Namespace) -> dict[str, Any]:
    """The backprop section's further network options, as :func:`symdl.report.sections.build_report` takes them."""
    return {"output_activation": args.output_activation, "penalty": args.penalty,
            "batchnorm": bool(args.batchnorm), "dropout": args.dropout}


def _plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _read_formula(text: str, options: dict[str, Any]) -> dict[str, float | None]:
    """Parse a --formula and print its forward form: a bad one is one line before any slow work.

    Returns the --param values it uses: the --param flags are shared by every --formula, each takes its own.
    """
    from ..codegen.kernel import printable
    from ..rulebook.rule import formula_rule
    from ..symbolic.parse import parse

    names = [options["wrt"], *[s for s in options["symbols"] if s != options["wrt"]]]
    used = {s.name for s in parse(text, symbols=names, params=list(options["params"])).free_symbols}
    params = {k: v for k, v in options["params"].items() if k in used}
    r = formula_rule(text, options["wrt"], params, symbols=options["symbols"])
    printable(r.numeric_forward_expr(), r.kernel_name)  # a constant no float64 holds: one line now, not after the proofs
    return params


def _write_steps(formats: tuple[str, ...]) -> int:
    """How many files :func:`symdl.report.files.write_report` reports progress for: the formats, and the .tex a PDF
    is built from."""
    return len(formats) + ("pdf" in formats and "tex" not in formats)


def _graphs(args: argparse.Namespace) -> list[Any]:
    """Each --graph's model (a graph saved by :func:`symdl.save`), or one usage error line."""
    if not args.graph:
        return []
    from ..graph.files import load_compiled_graph
    from ..saving.schema import SavedModelError

    models = []
    for path in args.graph:
        try:
            models.append(load_compiled_graph(path).model)
        except SavedModelError as error:
            raise UsageError(f"--graph: {error}".splitlines()[0]) from None
    return models


def _build(args: argparse.Namespace, names: list[str] | None, layers: list[int], plots: bool, progress: Progress,
           writes: int, graphs: Sequence[Any] = ()) -> Any:
    """The report: the items in this process, then each --formula's section in a worker within --time-limit.

    ``progress`` counts every step of the command, the ``writes`` files written after these sections included.
    """
    import dataclasses

    from ..report.graph_sections import graph_section
    from ..report.rule_sections import formula_section
    from ..report.sections import build_report, report_item_names

    formulas = len(args.formula)
    items = len(names if names is not None else report_item_names())
    total = items + formulas + len(graphs) + writes
    options = _formula_options(args)
    report = build_report(
        names, layers=tuple(layers), activation=args.activation, loss=args.loss, verify=not args.no_verify,
        **_network_options(args),
        plots=plots, progress=lambda key, index, _: progress(key, index, total, "sections"),
    )
    sections = list(report.sections)
    for n, (name, text) in enumerate(_formulas(args), start=1):
        progress(f"formula-{n}", items + n - 1, total, "formulas")
        sections.append(bounded(
            args, describe("building the report section of --formula", text), formula_section, text,
            options["wrt"], args.formula_params[n - 1], symbols=options["symbols"], index=n, verify=not args.no_verify,
            plot=plots, name=name,
        ))
    for n, (path, model) in enumerate(zip(args.graph, graphs), start=1):
        progress(f"graph-{n}", items + formulas + n - 1, total, "graphs")
        try:
            sections.append(graph_section(model, title=f"Graph {n}: {Path(path).name}", key=f"graph-{n}",
                                          verify=not args.no_verify))
        except ValueError as error:  # a graph too large to prove at concrete sizes
            raise UsageError(f"--graph {path}: {error}".splitlines()[0]) from None
    return dataclasses.replace(report, sections=tuple(sections))


def _print_written(args: argparse.Namespace, written: dict[str, Any], failed: list[str]) -> None:
    """The paths written, one a line, or with ``--json`` ``{"written": {format: path}, "failed": [check, ...]}``."""
    if args.json:
        out(json.dumps({"written": {fmt: str(path) for fmt, path in written.items()}, "failed": failed}, indent=2,
                       ensure_ascii=False))
        return
    for path in written.values():
        out(str(path))


def cmd_report(args: argparse.Namespace) -> int:
    """``symdl report``: build the report's sections, write each format atomically, print the paths written."""
    from ..report.files import (
        PdfBuildError,
        ReportError,
        check_formats,
        pdf_available,
        write_report,
    )

    try:
        formats = check_formats([f.strip() for f in args.format.split(",") if f.strip()])
    except ReportError as error:
        raise UsageError(f"--format {args.format!r}: {error}") from None
    if "pdf" in formats and (problem := pdf_available()):
        raise UsageError(problem)
    names = _report_names(args)
    _network_flags(args, names)
    layers = parse_layers(args.layers)
    if names is None or "backprop" in names:
        from ..network.model import Network

        network = {**_network_options(args), "output_activation": args.output_activation or args.activation}
        Network(layers, activation=args.activation, loss=args.loss, **network)  # a bad network: one error line, now
    options = _formula_options(args)
    # a bad formula too, before any work and before the directory is made
    args.formula_params = [bounded(args, describe("reading --formula", text), _read_formula, text, options)
                           for _, text in _formulas(args)]
    unused = [k for k in options["params"] if not any(k in used for used in args.formula_params)]
    if unused:  # a misspelt --param would silently do nothing
        raise UsageError(f"--param {excerpt(unused[0])}: no --formula uses it (give only parameters the formulas use)")
    graphs = _graphs(args)
    _report_directory(args.output)
    plots = not args.no_plots
    if plots and not _plots_available():
        write(sys.stderr, f"{PROG}: figures skipped: matplotlib is not installed (pip install 'symdl[plot]')")
        plots = False
    progress = Progress(sys.stderr, progress_wanted(args, sys.stderr), "report")
    writes = _write_steps(formats)
    try:
        report = _build(args, names, layers, plots, progress, writes, graphs)
        done = len(report.sections)
        written = write_report(report, args.output, formats,
                               progress=lambda name, index, _: progress(name, done + index, done + writes, "writing"))
    except PdfBuildError as error:
        progress.close()
        write(sys.stderr, f"{PROG}: error: {one_line(error)}")
        _print_written(args, error.written, [])
        return EXIT_FAILED
    except ReportError as error:
        raise UsageError(str(error)) from None
    finally:
        progress.close()
    failed = [f"{section.title}: {check.what}" for section in report.sections for check in section.checks if not check.passed]
    _print_written(args, written, failed)
    if failed:
        # Written all the same (the report shows what failed), but the exit status says so, as verify and check do.
        shown = "; ".join(failed[:3]) + (f"; and {len(failed) - 3} more" if len(failed) > 3 else "")
        write(sys.stderr, f"{PROG}: {len(failed)} check{'s' if len(failed) > 1 else ''} failed: {shown}")
        return EXIT_FAILED
    return EXIT_OK
