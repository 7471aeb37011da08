"""The ``symdl`` command: list the rules, derive one (or a formula), verify them all.

``main(argv)`` returns the exit status instead of exiting, so it can be called
from Python: 0 success, 1 a verified rule failed, 2 bad input (one line
``symdl: error: …`` on stderr, never a traceback), 130 interrupted.
User formula text goes only to :func:`symdl.formula_rule` (the safe parser),
never to ``eval``/``sympify``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

import numpy as np
import sympy as sp

__all__ = ["main"]

from ..report.display import REPORT_HEADER, failure_details, report_row, text_table
from ..verify.rules import MAX_POINTS

PROG = "symdl"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FORMATS = ("text", "latex", "python", "json")


class UsageError(Exception):
    """Bad input from the command line: reported as one ``symdl: error:`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; see '{self.prog} --help'")


# --- output helpers -----------------------------------------------------------


def _write(stream: TextIO, text: str) -> None:
    """Write ``text`` and a newline, escaping what the stream's encoding cannot show (σ on an ASCII terminal)."""
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write((text + "\n").encode(encoding, "backslashreplace").decode(encoding))


def _out(text: str = "") -> None:
    _write(sys.stdout, text)


def _one_line(message: object) -> str:
    """A message on one line: library errors may span several (a formula with a caret under it)."""
    lines = [line.strip() for line in str(message).splitlines()]
    text = " | ".join(line for line in lines if line) or "unknown error"
    return text if len(text) <= 300 else text[:297] + "..."


def _json_number(value: float) -> float | None:
    """``value`` as a JSON-safe float: NaN and ±inf (not JSON) become null."""
    value = float(value)
    return value if math.isfinite(value) else None


# --- argument parsing ---------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= value <= MAX_POINTS:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to {MAX_POINTS}, got {text[:40]!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``symdl`` argument parser with its subcommands."""
    from ..version import __version__

    parser = _Parser(
        prog=PROG,
        description="Derive, prove, compile and verify the mathematics of neural networks.",
        epilog="Exit status: 0 success, 1 a verified rule failed, 2 bad input, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="every rule with its kind, parameters and formula")
    listing.add_argument("--json", action="store_true", help="print a JSON list instead of a table")

    derive = commands.add_parser(
        "derive",
        help="derive a rule or a formula",
        description="Derive a registered rule (see 'symdl list') or, if NAME is not one, a formula in it.",
    )
    _add_target_arguments(derive)
    derive.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")

    check = commands.add_parser(
        "check",
        help="continuity, kinks and numeric checks of a rule or a formula",
        description="Jumps of the value and of the derivative at every piecewise boundary (exact, with the "
        "parameter values that remove them), the kinks, and — when every parameter has a value — the "
        "finite-difference, accuracy and stability checks of the generated code. Exit 1 if one fails.",
    )
    _add_target_arguments(check)
    check.add_argument("--json", action="store_true", help="print JSON instead of text")

    codegen = commands.add_parser(
        "codegen",
        help="write a standalone numpy module for a rule, a formula or a network",
        description="Write a Python module that needs only numpy (never sympy or symdl): a rule or formula "
        "with its derivatives, or, with --layers, a network with init_params, forward, loss, loss_and_grad "
        "and train_step. The output is deterministic and passes 'ruff check'.",
    )
    _add_codegen_arguments(codegen)

    verify = commands.add_parser(
        "verify",
        help="prove every rule and BP1-BP4, and check the generated code numerically",
        description="Prove the rules (all, or those named) and check the generated numpy code "
        "against finite differences and a 50-digit mpmath reference, for accuracy and stability; "
        "then prove BP1-BP4 and check compiled networks' gradients (the name 'networks' selects these rows).",
    )
    verify.add_argument(
        "names", nargs="*", metavar="NAME",
        help="rules to verify, or 'networks' or 'codegen' (default: all rules, networks and generated code)",
    )
    verify.add_argument("--points", type=_positive_int, default=200, metavar="N", help="sample points (default: 200)")
    verify.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    verify.add_argument("--quiet", action="store_true", help="no progress on stderr")

    report = commands.add_parser(
        "report",
        help="write the derivations as documents: LaTeX, HTML, Markdown (and PDF)",
        description="Write a document deriving the chosen items step by step, with their conventions at kinks, "
        "their proofs and numeric checks, and plots (default: every rule, backprop, batchnorm, dropout and init, "
        "then each --formula). Files: DIR/report.tex (amsmath only), report.html (one offline page: MathML, "
        "inline SVG, no script), report.md (GitHub Markdown, figures in DIR/figures/) and, when asked, "
        "report.pdf (latexmk -pdf -no-shell-escape). Asking for pdf without a TeX installation is an error "
        "(exit 2) before anything is written; a failed PDF build keeps the other files (exit 1).",
    )
    _add_report_arguments(report)
    return parser


def _add_target_arguments(command: argparse.ArgumentParser) -> None:
    """NAME|FORMULA, --wrt, --param, --symbol and --kink-convention: how derive and check name what they work on."""
    from ..rulebook.definition import KINK_CONVENTIONS

    command.add_argument("target", metavar="NAME|FORMULA", help="a rule name, or formula text such as 'log(1+exp(z))'")
    command.add_argument(
        "--wrt", metavar="VAR", help="variable to differentiate by (formulas: default z; rules: default first input)"
    )
    command.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="parameter value (repeatable); for formulas a bare K declares a symbolic parameter",
    )
    command.add_argument(
        "--symbol",
        action="append",
        default=[],
        metavar="NAME",
        help="a further input variable of a formula (repeatable)",
    )
    command.add_argument(
        "--kink-convention",
        choices=KINK_CONVENTIONS,
        default="pytorch",
        help="value of the derivative at kinks (default: pytorch)",
    )


BACKENDS = ("numpy", "jax", "torch")


def _add_codegen_arguments(command: argparse.ArgumentParser) -> None:
    """``symdl codegen``: NAME|FORMULA with --wrt/--param/--symbol, or a network with --layers and its flags."""
    from ..rulebook.definition import KINK_CONVENTIONS

    command.add_argument("target", nargs="?", metavar="NAME|FORMULA", help="a rule name or formula text (not with --layers)")
    command.add_argument("-o", "--output", required=True, metavar="FILE.py", help="file to write ('-' for stdout)")
    command.add_argument("--backend", choices=BACKENDS, default="numpy", help="array library (default: numpy)")
    rule_flags = command.add_argument_group("rules and formulas")
    rule_flags.add_argument("--wrt", metavar="VAR", help="only the derivative by VAR (default: by every input)")
    rule_flags.add_argument("--param", action="append", default=[], metavar="K=V", help="parameter value (repeatable)")
    rule_flags.add_argument("--symbol", action="append", default=[], metavar="NAME", help="a further input of a formula")
    rule_flags.add_argument(
        "--kink-convention", choices=KINK_CONVENTIONS, default="pytorch", help="derivative at kinks (default: pytorch)"
    )
    net = command.add_argument_group("networks")
    net.add_argument("--layers", metavar="N0,N1,...,NL", help="widths of a network, e.g. 784,512,10")
    net.add_argument("--activation", default="tanh", metavar="RULE", help="hidden activation (default: tanh)")
    net.add_argument("--activation-param", action="append", default=[], metavar="K=V", help="its parameters")
    net.add_argument("--output-activation", default="identity", metavar="RULE", help="output activation (default: identity)")
    net.add_argument("--output-activation-param", action="append", default=[], metavar="K=V", help="its parameters")
    net.add_argument("--loss", default="mse", metavar="RULE", help="loss (default: mse)")
    net.add_argument("--loss-param", action="append", default=[], metavar="K=V", help="its parameters")
    net.add_argument("--penalty", metavar="RULE", help="penalty on the weights (default: none)")
    net.add_argument("--penalty-param", action="append", default=[], metavar="K=V", help="its parameters")
    net.add_argument("--batchnorm", action="store_true", help="batch norm before each hidden activation")
    net.add_argument("--dropout", type=float, metavar="P", help="inverted dropout with keep probability P on hidden layers")
    net.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="dtype (default: float64)")


def _parse_params(items: Sequence[str], allow_symbolic: bool) -> dict[str, float | None]:
    """``--param`` items ``k=v`` as {k: float v}; a bare ``k`` is {k: None} when ``allow_symbolic``."""
    params: dict[str, float | None] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not key:
            raise UsageError(f"--param {item!r}: expected NAME=VALUE")
        if key in params:
            raise UsageError(f"--param {key!r} given twice")
        if not sep:
            if not allow_symbolic:
                raise UsageError(f"--param {key!r} needs a value for a registered rule: --param {key}=VALUE")
            params[key] = None
            continue
        params[key] = _parse_value(key, text)
    return params


def _parse_value(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--param {key}={text}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"--param {key}={text}: expected a finite number")
    return value


# --- list ---------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from ..rulebook.registry import rule_params, rule_summary, rules

    entries = []
    for name, kind in rules().items():
        params = [
            {"name": p.name, "default": p.default, "description": p.description, "positive": p.positive}
            for p in rule_params(name)
        ]
        entries.append({"name": name, "kind": kind, "params": params, "summary": rule_summary(name)})
    if args.json:
        _out(json.dumps(entries, indent=2, ensure_ascii=False))
        return EXIT_OK
    rows = [
        [e["name"], e["kind"], ", ".join(f"{p['name']}={p['default']:g}" for p in e["params"]) or "-", e["summary"]]
        for e in entries
    ]
    for line in text_table(rows, ["rule", "kind", "parameters", "formula"]):
        _out(line)
    return EXIT_OK


# --- derive -------------------------------------------------------------------


def _build_rule(args: argparse.Namespace) -> Any:
    """The rule named by ``args.target``, or a formula rule of that text."""
    from ..rulebook.registry import rule, rules
    from ..rulebook.rule import formula_rule
    from ..symbolic.parse import FormulaError

    known = rules()
    if args.target in known:
        if args.symbol:
            raise UsageError(f"--symbol applies to formulas only; {args.target!r} is a registered rule")
        params = _parse_params(args.param, allow_symbolic=False)
        return rule(args.target, kink_convention=args.kink_convention, **params)
    params = _parse_params(args.param, allow_symbolic=True)
    try:
        return formula_rule(
            args.target,
            wrt=args.wrt or "z",
            params=params,
            symbols=tuple(args.symbol),
            kink_convention=args.kink_convention,
        )
    except FormulaError as error:
        declared = {args.wrt or "z", *args.symbol, *params}
        if args.target.isidentifier() and args.target not in declared:
            close = difflib.get_close_matches(args.target, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(
                f"{args.target!r} is neither a rule ({hint}see 'symdl list') nor a formula: {_one_line(error)}"
            ) from None
        raise


def _input_symbol(r: Any, wrt: str | None) -> sp.Symbol:
    if wrt is None:
        return r.wrt
    for s in r.inputs:
        if s.name == wrt:
            return s
    raise UsageError(f"{r.name!r} has no input {wrt!r}; its inputs: {', '.join(s.name for s in r.inputs)}")


def _textbook(r: Any, var: sp.Symbol, derivative: sp.Expr) -> sp.Expr | None:
    """The textbook form of the derivative, or None when the rule has none (it would repeat the derivative)."""
    form = r.textbook(var, in_output=True)
    return None if form == derivative else form


def _output_symbol(r: Any) -> sp.Symbol | None:
    """The symbol standing for the rule's value in its textbook form (g in σ' = g(1 − g)), if any."""
    output = getattr(getattr(r, "definition", None), "output", None)
    return output if isinstance(output, sp.Symbol) else None


def _kinks(r: Any, var: sp.Symbol) -> tuple[Any, ...]:
    # Kinks are located in the first input only (the library's convention).
    return tuple(getattr(r, "kinks", ()) or ()) if var == r.wrt else ()


def _params(r: Any) -> dict[str, str | None]:
    """Parameter values as text; symbolic parameters (formulas) as None."""
    values = {name: str(value) for name, value in r.params.items()}
    for name in getattr(r, "param_symbols", {}):
        values.setdefault(name, None)
    return values


def _latex(r: Any, var: sp.Symbol, derivative: sp.Expr, textbook: sp.Expr | None) -> dict[str, str]:
    latex = dict(r.latex())
    if var != r.wrt:
        # Rule.latex() differentiates by the first input; another input needs its own lines.
        name = {"activation": "g", "loss": "L", "penalty": "\\Omega"}.get(r.kind, "f")
        head = rf"\frac{{\partial {name}}}{{\partial {sp.latex(var)}}}"
        latex["derivative"] = f"{head} = {sp.latex(derivative)}"
        latex["textbook"] = f"{head} = {sp.latex(textbook if textbook is not None else derivative)}"
    return latex


def _derivation(r: Any, var: sp.Symbol) -> dict[str, Any]:
    """Everything ``derive`` prints, as JSON-ready values (SymPy objects as ``str``)."""
    derivative = r.derivative(var)
    textbook = _textbook(r, var, derivative)
    proofs = r.prove()
    return {
        "name": r.name,
        "kind": r.kind,
        "inputs": [str(s) for s in r.inputs],
        "wrt": str(var),
        "params": _params(r),
        "expr": str(r.expr),
        "derivative": str(derivative),
        "textbook": None if textbook is None else str(textbook),
        "output": None if textbook is None or _output_symbol(r) is None else str(_output_symbol(r)),
        "latex": _latex(r, var, derivative, textbook),
        "kinks": [
            {"at": str(k.at), "left": str(k.left), "right": str(k.right), "value": str(k.value)} for k in _kinks(r, var)
        ],
        "code_form": _code_form(r, var),
        "proven": all(bool(p) for p in proofs.values()) if proofs else None,
        "proofs": {label: bool(p) for label, p in proofs.items()},
        "methods": {label: getattr(p, "method", "") for label, p in proofs.items()},
    }


def _code_form(r: Any, var: sp.Symbol) -> dict[str, Any] | None:
    """The rewrite pass's stable form the generated code prints, when it differs from the text as typed."""
    from ..symbolic.rewrite import applied_rewrites

    if getattr(r.definition, "stable_expr", None) is None or r.kind != "formula":
        return None
    return {
        "expr": str(r.numeric_forward_expr()),
        "derivative": str(r.numeric_derivative_expr(var)),
        "rewrites": list(applied_rewrites(r.bind(r.expr))),
    }


def _print_text(d: dict[str, Any]) -> None:
    args = ", ".join(d["inputs"])
    rows = [
        ("rule", f"{d['name']} ({d['kind']})"),
        ("params", ", ".join(f"{k} = {'symbolic' if v is None else v}" for k, v in d["params"].items()) or "-"),
        (f"f({args})", d["expr"]),
        (f"d/d{d['wrt']}", d["derivative"]),
    ]
    if d["textbook"] is not None:
        where = f"   ({d['output']} = f({args}))" if d["output"] and d["output"] in d["textbook"] else ""
        rows.append(("textbook", d["textbook"] + where))
    if d["code_form"] is not None:
        rewrites = ", ".join(d["code_form"]["rewrites"])
        rows.append(("code", f"{d['code_form']['expr']}   (rewrite pass: {rewrites}; proven equal)"))
        rows.append((f"code d/d{d['wrt']}", d["code_form"]["derivative"]))
    for kink in d["kinks"]:
        rows.append(
            ("kink", f"{d['wrt']} = {kink['at']}: left {kink['left']}, right {kink['right']}, returned {kink['value']}")
        )
    for label, holds in d["proofs"].items():
        method = f" ({d['methods'][label]})" if d["methods"].get(label) else ""
        rows.append(("proof", f"{label}: {'proven' if holds else 'NOT PROVEN'}{method}"))
    if d["proven"] is None:
        rows.append(("proof", "nothing to prove (no textbook or stable form given)"))
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        _out(f"{key.ljust(width)}  {value}")


def _print_python(r: Any, var: sp.Symbol) -> None:
    symbolic = [name for name, value in _params(r).items() if value is None]
    if symbolic:
        names = ", ".join(symbolic)
        raise UsageError(f"cannot generate code with symbolic parameters ({names}); give values: --param NAME=VALUE")
    forward, derivative = _kernels(r, var)
    _out("# numpy kernels generated by symdl: the forward pass and the derivative.")
    _out("# They call symdl's code-generation helpers (_as_float, _finish, ...); to run them from Python")
    _out("# use symdl.rule(name).numeric() and .numeric_derivative(), which return them ready to call.")
    _out()
    _out(forward.source.rstrip())
    _out()
    _out()
    _out(derivative.source.rstrip())


def _kernels(r: Any, var: sp.Symbol) -> tuple[Any, Any]:
    """The forward and derivative kernels (a formula's are named ``f`` and ``f_d_<var>``)."""
    return r.numeric(), r.numeric_derivative(var)


def cmd_derive(args: argparse.Namespace) -> int:
    r = _build_rule(args)
    var = _input_symbol(r, args.wrt)
    if args.format == "python":
        _print_python(r, var)
        return EXIT_OK
    d = _derivation(r, var)
    if args.format == "json":
        d.pop("methods")
        _out(json.dumps(d, indent=2, ensure_ascii=False))
    elif args.format == "latex":
        for key, line in d["latex"].items():
            _out(f"% {key}")
            _out(line)
    else:
        _print_text(d)
    return EXIT_OK


# --- codegen ------------------------------------------------------------------

_NETWORK_FLAGS = ("activation_param", "output_activation_param", "loss_param", "penalty", "penalty_param", "batchnorm", "dropout")
_RULE_FLAGS = ("wrt", "param", "symbol")


def _layers(text: str) -> list[int]:
    widths = []
    for item in text.split(","):
        try:
            widths.append(int(item.strip()))
        except ValueError:
            raise UsageError(f"--layers {text!r}: expected positive integer widths such as 784,512,10") from None
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise UsageError(f"--layers {text!r}: expected at least two positive integer widths such as 784,512,10")
    return widths


def _network(args: argparse.Namespace) -> Any:
    from ..network.model import Network

    if args.target is not None:
        raise UsageError(f"give either NAME|FORMULA or --layers, not both (got {args.target!r} and --layers)")
    given = [f"--{f.replace('_', '-')}" for f in _RULE_FLAGS if getattr(args, f)]
    if given:
        raise UsageError(f"{given[0]} applies to rules and formulas, not to networks (--layers)")
    penalty_params = _parse_params(args.penalty_param, allow_symbolic=False)
    if penalty_params and args.penalty is None:
        raise UsageError("--penalty-param given without --penalty")
    return Network(
        _layers(args.layers),
        activation=args.activation,
        output_activation=args.output_activation,
        loss=args.loss,
        loss_params=_parse_params(args.loss_param, allow_symbolic=False),
        penalty=args.penalty,
        penalty_params=penalty_params or None,
        activation_params=_parse_params(args.activation_param, allow_symbolic=False),
        output_activation_params=_parse_params(args.output_activation_param, allow_symbolic=False),
        batchnorm=args.batchnorm,
        dropout=args.dropout,
    )


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
    r = _build_rule(args)
    if args.wrt is not None and hasattr(r, "bind"):
        _input_symbol(r, args.wrt)  # one error line naming the inputs
    symbolic = [name for name, value in _params(r).items() if value is None]
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


# --- verify -------------------------------------------------------------------


class _Progress:
    """``[i/n] verifying name…`` on stderr: one overwritten line on a terminal, one line per item otherwise."""

    def __init__(self, stream: TextIO, enabled: bool, doing: str = "verifying ") -> None:
        self.stream = stream
        self.doing = doing
        self.enabled = enabled
        self.tty = enabled and stream.isatty()
        self.open = False

    def __call__(self, name: str, index: int, total: int) -> None:
        if not self.enabled:
            return
        message = f"[{index + 1}/{total}] {self.doing}{name}…"
        if self.tty:
            self.stream.write(f"\r\x1b[K{message}")
            self.open = True
        else:
            _write(self.stream, message)
        self.stream.flush()

    def close(self) -> None:
        """Clear the overwritten line, so the next output starts on a clean line."""
        if self.open:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.open = False


#: Names `symdl verify` takes besides rules: the backprop proofs and compiled-network rows, and the generated-code rows.
NETWORK_ROWS = "networks"
CODEGEN_ROWS = "codegen"


def _check_names(names: Sequence[str]) -> list[str] | None:
    from ..rulebook.registry import rules

    known = [*rules(), NETWORK_ROWS, CODEGEN_ROWS]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"unknown rule {name!r}; {hint}see 'symdl list'")
    return list(dict.fromkeys(names)) or None


def _report_json(report: Any) -> dict[str, Any]:
    return {
        "name": report.name,
        "passed": bool(report.passed),
        "proven": bool(report.proven),
        "proofs": {label: bool(holds) for label, holds in report.proofs.items()},
        "kinks_ok": bool(report.kinks_ok),
        "fd_error": _json_number(report.fd_error),
        "accuracy64": _json_number(report.accuracy64),
        "accuracy32": _json_number(report.accuracy32),
        "stable": bool(report.stable),
        "unstable": list(report.unstable),
        "mutants_killed": report.mutants_killed,
        "mutants_total": report.mutants_total,
        "kind": report.kind,
    }


def _print_verify_table(reports: Sequence[Any]) -> None:
    from ..testing import ACCURACY_RTOL
    from ..verify.rules import FD_TOLERANCE

    for line in text_table([report_row(r) for r in reports], REPORT_HEADER):
        _out(line)
    details = [line for r in reports if not r.passed for line in failure_details(r)]
    if details:
        _out()
        for line in details:
            _out(line)
    f64, f32 = ACCURACY_RTOL[np.dtype(np.float64)], ACCURACY_RTOL[np.dtype(np.float32)]
    _out()
    _out(f"tolerances: FD <= {FD_TOLERANCE:g}, vs mpmath <= {f64:g} (f64) / {f32:g} (f32)")


def cmd_verify(args: argparse.Namespace) -> int:
    from ..verify.network import verify_networks
    from ..verify.rules import verify_rules

    names = _check_names(args.names)
    from ..verify.codegen import verify_codegen

    rule_names = None if names is None else [n for n in names if n not in (NETWORK_ROWS, CODEGEN_ROWS)]
    progress = _Progress(sys.stderr, enabled=not args.quiet)
    try:
        reports = verify_rules(rule_names, progress=progress, points=args.points) if rule_names != [] else []
        if names is None or NETWORK_ROWS in names:
            reports += verify_networks(progress=progress)
        if names is None or CODEGEN_ROWS in names:
            progress("generated code: standalone modules and exports", 0, 1)
            reports += verify_codegen()
    finally:
        progress.close()
    passed = sum(1 for r in reports if r.passed)
    if args.json:
        _out(json.dumps([_report_json(r) for r in reports], indent=2))
    else:
        _print_verify_table(reports)
        others = sum(1 for r in reports if r.kind != "rule")
        counted = f"{len(reports) - others} rules" + (f", {others} other rows" if others else "")
        _out(f"{counted}: {passed} passed, {len(reports) - passed} failed")
    return EXIT_OK if passed == len(reports) else EXIT_FAILED


# --- report -------------------------------------------------------------------

REPORT_DEFAULT_FORMATS = "tex,html,md"


def _add_report_arguments(command: argparse.ArgumentParser) -> None:
    """``symdl report``: the items, the output directory and formats, the network of the backprop section."""
    command.add_argument(
        "names", nargs="*", metavar="NAME", help="items to include: rules (see 'symdl list'), backprop, batchnorm, "
        "dropout, init (default: all of them)",
    )
    command.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write into (created)")
    command.add_argument(
        "--format", default=REPORT_DEFAULT_FORMATS, metavar="LIST",
        help=f"comma-separated formats from tex, pdf, html, md (default: {REPORT_DEFAULT_FORMATS})",
    )
    command.add_argument("--only", action="append", default=[], metavar="NAME", help="an item to include (repeatable)")
    command.add_argument(
        "--formula", action="append", default=[], metavar="TEXT", help="a formula in z to derive too (repeatable)"
    )
    net = command.add_argument_group("the backprop section's network")
    net.add_argument("--layers", default="2,3,1", metavar="N0,N1,...,NL", help="widths (default: 2,3,1)")
    net.add_argument("--activation", default="tanh", metavar="RULE", help="hidden activation (default: tanh)")
    net.add_argument("--loss", default="mse", metavar="RULE", help="loss (default: mse)")
    command.add_argument("--no-plots", action="store_true", help="leave out the plots")
    command.add_argument("--no-verify", action="store_true", help="leave out the numeric checks (faster)")
    command.add_argument(
        "--progress", action="store_true", help="show progress on stderr even when it is not a terminal"
    )


def _report_names(args: argparse.Namespace) -> list[str] | None:
    """The items asked for (NAMES and --only), checked against the accepted ones; None for all of them."""
    from ..report.sections import report_item_names

    known = report_item_names()
    names = [*args.names, *args.only]
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"unknown report item {name!r}; {hint}accepted: rules (see 'symdl list'), "
                             "backprop, batchnorm, dropout, init")
    return list(dict.fromkeys(names)) or None


def _report_directory(path: str) -> None:
    """Create ``path`` and make sure a file can be written in it, before the (slow) report is built."""
    import tempfile

    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"-o {path}: exists and is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise UsageError(f"-o {path}: cannot write in this directory ({error.strerror or error})") from None


def _plots_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


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
    layers = _layers(args.layers)
    if names is None or "backprop" in names:
        from ..network.model import Network

        Network(layers, activation=args.activation, loss=args.loss)  # a bad network: one error line, now
    from ..rulebook.rule import formula_rule

    for text in args.formula:  # a bad formula too, before any work and before the directory is made
        formula_rule(text)
    _report_directory(args.output)
    plots = not args.no_plots
    if plots and not _plots_available():
        _write(sys.stderr, f"{PROG}: matplotlib is not installed: plots left out (pip install 'symdl[plot]')")
        plots = False
    from ..report.sections import build_report

    progress = _Progress(sys.stderr, enabled=args.progress or sys.stderr.isatty(), doing="")
    try:
        report = build_report(
            names, formulas=tuple(args.formula), layers=tuple(layers), activation=args.activation, loss=args.loss,
            verify=not args.no_verify, plots=plots, progress=progress,
        )
        written = write_report(report, args.output, formats, progress=progress)
    except PdfBuildError as error:
        progress.close()
        _write(sys.stderr, f"{PROG}: error: {_one_line(error)}")
        for path in error.written.values():
            _out(str(path))
        return EXIT_FAILED
    except ReportError as error:
        raise UsageError(str(error)) from None
    finally:
        progress.close()
    for path in written.values():
        _out(str(path))
    return EXIT_OK


# --- entry point --------------------------------------------------------------

def _stable_equivalent(r: Any) -> str | None:
    """The registered one-input rule, if any, whose expression is provably the same function as ``r``'s."""
    from ..rulebook.registry import rule, rules
    from ..rulebook.rule import Rule
    from ..symbolic.proof import prove_zero

    if len(r.inputs) != 1:
        return None
    for name in rules():
        candidate = rule(name)
        if isinstance(candidate, Rule) and len(candidate.inputs) == 1 and not candidate.params:
            same = candidate.expr.subs(candidate.wrt, r.wrt) - r.bind(r.expr)
            if prove_zero(same, r.wrt):
                return name
    return None


def cmd_check(args: argparse.Namespace) -> int:
    """``symdl check``: boundary continuity exactly, then the numeric checks when parameters have values."""
    from ..rulebook.continuity import boundary_properties
    from ..symbolic.rewrite import describe_stable_form
    from ..verify.rules import typed_form_instability, verify_rule

    r = _build_rule(args)
    if not hasattr(r, "bind"):
        raise UsageError(f"check applies to element-wise rules and formulas; {args.target!r} is a vector rule")
    properties = boundary_properties(r)
    symbolic = [name for name, value in _params(r).items() if value is None]
    report = None if symbolic else verify_rule(r, points=100)
    result = {
        "name": r.name,
        "wrt": str(r.wrt),
        "continuous": properties.continuous,
        "derivative_continuous": properties.derivative_continuous,
        "boundaries": [
            {
                "of": b.what,
                "at": str(b.at),
                "left": str(b.left),
                "right": str(b.right),
                "jump": str(b.jump),
                "vanishes_for": {k: [str(v) for v in vs] for k, vs in b.vanishes_for.items()},
            }
            for b in properties.boundaries
        ],
        "undecided": properties.undecided or None,
        "kinks": [{"at": str(k.at), "left": str(k.left), "right": str(k.right), "value": str(k.value)} for k in r.kinks],
        "numeric": None if report is None else _report_json(report),
        "numeric_skipped_for": symbolic or None,
    }
    passed = properties.continuous and (report is None or report.passed)
    if args.json:
        _out(json.dumps({**result, "passed": passed}, indent=2))
        return EXIT_OK if passed else EXIT_FAILED
    _out(f"{r.name}  (by {r.wrt})")
    for b in properties.boundaries:
        if b.continuous:
            _out(f"  {b.what} continuous at {r.wrt} = {b.at}")
            continue
        where = "; ".join(f"{k} = {', '.join(map(str, vs))}" for k, vs in b.vanishes_for.items())
        _out(f"  {b.what} JUMPS at {r.wrt} = {b.at}: {b.left} -> {b.right}, jump {b.jump}"
             + (f" (zero only for {where})" if where else ""))
    if properties.undecided:
        _out(f"  boundaries undecided: {properties.undecided}")
    for k in r.kinks:
        _out(f"  kink at {r.wrt} = {k.at}: one-sided {k.left}, {k.right}; returned {k.value}")
    if report is None:
        _out(f"  numeric checks skipped: give values to {', '.join(symbolic)} (--param NAME=VALUE)")
    else:
        _out(f"  numeric: {' '.join(report_row(report)[1:])}")
        for line in failure_details(report)[:1]:
            _out(f"  {line}")
        typed = typed_form_instability(r)
        if typed:
            _out(f"  as typed, {r.name} is unstable: {typed[0]}")
        if (code_form := describe_stable_form(r.bind(r.expr))) is not None:
            _out(f"  {code_form}")
        if report.unstable or typed:
            stable = _stable_equivalent(r)
            if stable:
                _out(f"  symdl's rule {stable!r} is the same function, printed stably: symdl derive {stable} --format python")
    _out(f"{'PASS' if passed else 'FAIL'}")
    return EXIT_OK if passed else EXIT_FAILED


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": cmd_list,
    "derive": cmd_derive,
    "check": cmd_check,
    "codegen": cmd_codegen,
    "verify": cmd_verify,
    "report": cmd_report,
}


def _error(message: object) -> int:
    _write(sys.stderr, f"{PROG}: error: {_one_line(message)}")
    return EXIT_USAGE


def _silence_stdout() -> None:
    """After a broken pipe (``symdl list | head``), point stdout at devnull so exit does not complain again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``symdl`` command with ``argv`` (default ``sys.argv[1:]``) and return its exit status."""
    try:
        try:
            args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        except SystemExit as exit_:  # --help and --version
            return exit_.code if isinstance(exit_.code, int) else EXIT_OK
        return COMMANDS[args.command](args)
    except UsageError as error:
        return _error(error)
    # Every library error is the user's input (names, parameters, formulas), reported on one line.
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        return _error(error)
    except MemoryError as error:  # e.g. widths whose weight matrices do not fit: the input, too
        return _error(f"not enough memory for this input ({_one_line(error) or 'MemoryError'}); try smaller widths")
    except KeyboardInterrupt:
        _write(sys.stderr, f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILED
