"""The ``symdl`` argument parser: one subparser per subcommand, errors raised as :class:`~symdl.cli.common.UsageError`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn, cast

# not ..verify.rules: importing SymPy here would come before `symdl verify` sets its cache size
from ..verify.limits import MAX_POINTS
from .bounded import add_time_limit_argument
from .common import (
    PROG,
    UsageError,
    add_json_argument,
    add_network_arguments,
    add_progress_arguments,
    integer_in,
    metric_list,
)

__all__ = ["FORMATS", "REPORT_DEFAULT_FORMATS", "backend_choices", "build_parser"]

FORMATS = ("text", "latex", "python", "json")

REPORT_DEFAULT_FORMATS = "tex,html,md"

#: How every formula argument says it can be read (symdl.cli.formula_input).
FROM_INPUT = " ('-': read it from standard input, '@FILE': from a file)"


def backend_choices() -> tuple[str, ...]:
    """The ``--backend`` choices: every registered backend (:func:`symdl.backends.backend_names`); in a fresh
    process, where none but the built-in ones can be registered, those of :mod:`~symdl.cli.rule_table` (no SymPy)."""
    if "symdl.backends.registry" not in sys.modules:
        from .rule_table import BACKENDS

        return BACKENDS
    from ..backends import backend_names

    return backend_names()


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; see '{self.prog} --help'")


_jobs = integer_in(1, 1024)


class _SubCommands(argparse._SubParsersAction):
    """Subparsers whose arguments are added by a ``fill`` function: at once, or (``lazy``) when that subcommand is
    the one being parsed, so that ``symdl --help`` never imports what another subcommand's flags need."""

    lazy = False

    def add_parser(self, name: str, fill: Callable[[argparse.ArgumentParser], None] | None = None,
                   **kwargs: Any) -> argparse.ArgumentParser:
        command = super().add_parser(name, **kwargs)
        if fill is not None:
            if self.lazy:
                self.__dict__.setdefault("fillers", {})[name] = fill
            else:
                fill(command)
        return command

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        fill = self.__dict__.get("fillers", {}).pop(values[0], None) if values else None
        if fill is not None:
            fill(self._name_parser_map[values[0]])
        super().__call__(parser, namespace, values, option_string)


def build_parser(lazy: bool = False) -> argparse.ArgumentParser:
    """The ``symdl`` argument parser with its subcommands.

    ``lazy``: each subcommand's arguments are added only when that subcommand
    is parsed (what :func:`symdl.cli.main.main` does), so ``symdl --help``,
    ``--version`` and ``list`` import no SymPy.
    """
    from ..version import __version__

    parser = _Parser(
        prog=PROG,
        description="Derive, prove, compile and verify the mathematics of neural networks.",
        epilog="Exit status: 0 success, 1 a verified rule failed, 2 bad input or --time-limit reached, "
        "3 internal error (--debug shows it), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.register("action", "parsers", _SubCommands)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (anywhere on the line)")
    commands = cast(_SubCommands, parser.add_subparsers(dest="command", metavar="COMMAND", required=True))  # registered above
    commands.lazy = lazy

    commands.add_parser("list", fill=_add_list_arguments, help="every rule with its kind, parameters and formula")
    commands.add_parser(
        "derive", fill=_add_derive_arguments,
        help="derive a rule or a formula",
        description="Derive a registered rule (see 'symdl list') or, if NAME is not one, a formula in it.",
    )
    commands.add_parser(
        "check", fill=_add_check_arguments,
        help="continuity, kinks and numeric checks of a rule or a formula",
        description="Jumps of the value and of the derivative at every piecewise boundary (exact, with the "
        "parameter values that remove them), the kinks, and — when every parameter has a value — the "
        "finite-difference, accuracy and stability checks of the generated code. Exit 1 if one fails. "
        "A layer's equations ('y[i] = sum(W[i, j] * x[j], j)') get their VJPs proven and their singularities listed.",
    )
    commands.add_parser(
        "codegen", fill=_add_codegen_arguments,
        help="write a standalone numpy module for a rule, a formula or a network",
        description="Write a Python module that needs only numpy (never sympy or symdl): a rule or formula "
        "with its derivatives, or, with --layers, a network with init_params, forward, loss, inference_loss, "
        "loss_and_grad and train_step. The output is deterministic and passes 'ruff check'.",
    )
    commands.add_parser(
        "verify", fill=_add_verify_arguments,
        help="prove every rule and BP1-BP4, and check the generated code numerically",
        description="Prove the rules (all, or those named) and check the generated numpy code "
        "against finite differences and a 50-digit mpmath reference, for accuracy and stability; "
        "then prove BP1-BP4 and check compiled networks' gradients (the name 'networks' selects these rows).",
    )
    commands.add_parser(
        "report", fill=_add_report_arguments,
        help="write the derivations as documents: LaTeX, HTML, Markdown (and PDF)",
        description="Write a document deriving the chosen items step by step, with their conventions at kinks, "
        "their proofs and numeric checks, and plots (default: every rule, backprop, batchnorm, dropout and init, "
        "then each --formula). Files: DIR/report.tex (TeX base packages only; plots as "
        "DIR/figures/KEY.pdf), report.html (one offline page: MathML, inline SVG, no script), report.md (GitHub "
        "Markdown, figures in DIR/figures/) and, when asked, "
        "report.pdf (latexmk -pdf -no-shell-escape). Asking for pdf without a TeX installation is an error "
        "(exit 2) before anything is written; a failed PDF build keeps the other files (exit 1).",
    )
    commands.add_parser(
        "train", fill=_add_train_arguments, help="train a network on an .npz file (X, Y) and save the model",
        description="Train the network LAYERS (widths such as 784,128,10, with the network flags of "
        "'symdl codegen --layers') on DATA.npz (arrays X and Y, one row per sample) with an optimizer; "
        "progress on stderr when it is a terminal. Writes the model directory -o (model.json, arrays.npz, "
        "history.json) only when training completes. With --from MODEL (no LAYERS, no network or optimizer flags) "
        "a saved network or graph trains --epochs more epochs with its optimizer and optimizer state, numbered on "
        "from its history.json; -o may name MODEL itself, replaced whole only when training completes.")
    commands.add_parser(
        "evaluate", fill=_add_evaluate_arguments, help="the loss and metrics of a saved model on an .npz file",
        description="Load the model directory MODEL (written by 'symdl train' or symdl.save) and print its "
        "loss and metrics on DATA.npz (arrays X and Y).")
    commands.add_parser(
        "completion", fill=_add_completion_arguments, help="print a completion script for bash, zsh or fish",
        description="Print the shell completion script of symdl (subcommands, options, their choices and the rule "
        "names). Install: eval \"$(symdl completion bash)\" in ~/.bashrc, eval \"$(symdl completion zsh)\" in "
        "~/.zshrc (after compinit), symdl completion fish > ~/.config/fish/completions/symdl.fish.")
    return parser


def _add_completion_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("shell", choices=("bash", "zsh", "fish"), metavar="SHELL", help="bash, zsh or fish")


def _add_list_arguments(listing: argparse.ArgumentParser) -> None:
    add_json_argument(listing)


#: Where the cache of verify rows and derive proofs lives (symdl.verify.cache.cache_dir), for --help.
CACHE_PLACES = "$SYMDL_CACHE_DIR, else $XDG_CACHE_HOME/symdl, else ~/.cache/symdl"


def _add_derive_arguments(derive: argparse.ArgumentParser) -> None:
    _add_target_arguments(derive)
    add_json_argument(derive)
    derive.add_argument("--format", choices=FORMATS, default="text",
                        help="output format (default: text); '--format json' is a deprecated spelling of --json")
    derive.add_argument("--no-cache", action="store_true",
                        help=f"prove again, neither reading nor writing the proofs in the cache ({CACHE_PLACES})")
    add_time_limit_argument(derive)


def _add_check_arguments(check: argparse.ArgumentParser) -> None:
    _add_target_arguments(check)
    add_json_argument(check)
    check.add_argument(
        "--derivative",
        metavar="EXPR",
        help="only prove or refute EXPR as the derivative by --wrt (exit 0 proven, 1 refuted or unproven)"
        f"{FROM_INPUT}",
    )
    add_progress_arguments(check)
    add_time_limit_argument(check)


def _add_verify_arguments(verify: argparse.ArgumentParser) -> None:
    verify.add_argument(
        "names", nargs="*", metavar="NAME",
        help="rules to verify, or 'networks' or 'codegen' (default: all rules, networks and generated code)",
    )
    verify.add_argument("--points", type=integer_in(1, MAX_POINTS), default=200, metavar="N", help="sample points (default: 200)")
    add_json_argument(verify)
    add_progress_arguments(verify)
    verify.add_argument("-j", "--jobs", type=_jobs, metavar="N",
                        help="rows computed in parallel, each in its own process (default: the number of CPUs)")
    verify.add_argument("--no-cache", action="store_true",
                        help=f"compute every row, neither reading nor writing the cache ({CACHE_PLACES})")


def _add_train_arguments(command: argparse.ArgumentParser) -> None:
    from .training import add_train_arguments

    add_train_arguments(command)


def _add_evaluate_arguments(command: argparse.ArgumentParser) -> None:
    from .training import add_evaluate_arguments

    add_evaluate_arguments(command)


def _add_target_arguments(command: argparse.ArgumentParser) -> None:
    """NAME|FORMULA, --wrt, --param, --symbol and --kink-convention: how derive and check name what they work on."""
    # symdl.rulebook.definition's KINK_CONVENTIONS, without SymPy
    from .rule_table import KINK_CONVENTIONS

    command.add_argument("target", metavar="NAME|FORMULA", help="a rule name, or formula text such as 'log(1+exp(z))'"
                         f"{FROM_INPUT}")
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


def _add_codegen_arguments(command: argparse.ArgumentParser) -> None:
    """``symdl codegen``: NAME|FORMULA with --wrt/--param/--symbol, or a network with --layers and its flags."""
    # symdl.rulebook.definition's KINK_CONVENTIONS, without SymPy
    from .rule_table import KINK_CONVENTIONS

    command.add_argument("target", nargs="?", metavar="NAME|FORMULA", help="a rule name or formula text (not with --layers)"
                         f"{FROM_INPUT}")
    command.add_argument("-o", "--output", required=True, metavar="FILE.py", help="file to write ('-' for stdout)")
    command.add_argument("--backend", choices=backend_choices(), default="numpy", help="array library (default: numpy)")
    rule_flags = command.add_argument_group("rules and formulas")
    rule_flags.add_argument("--wrt", metavar="VAR", help="only the derivative by VAR (default: by every input)")
    rule_flags.add_argument("--param", action="append", default=[], metavar="K=V", help="parameter value (repeatable)")
    rule_flags.add_argument("--symbol", action="append", default=[], metavar="NAME", help="a further input of a formula")
    rule_flags.add_argument("--gradient", action="append", default=[], metavar="[INPUT=]FORMULA",
                            help="a backward pass of your own for --backend jax or torch (tf.custom_gradient, e.g. '1' "
                            "for sign's straight-through estimator), compared with the derivative and reported as "
                            "declared unless proven equal; INPUT=FORMULA for each input of a rule of several (repeatable)"
                            f"{FROM_INPUT}")
    rule_flags.add_argument(
        "--kink-convention", choices=KINK_CONVENTIONS, default="pytorch", help="derivative at kinks (default: pytorch)"
    )
    net = command.add_argument_group("networks")
    net.add_argument("--layers", metavar="N0,N1,...,NL", help="widths of a network, e.g. 784,512,10")
    add_network_arguments(net, ("float64", "float32", "bfloat16", "float16"),
                          "; bfloat16, float16: mixed precision with float32 parameters, --backend torch or jax")
    net.add_argument("--loss-scale", type=float, metavar="S", help="float16's static loss scale, a power of two "
                     "(default: 1024; bfloat16: 1); also with --graph")
    net.add_argument("--optimizer", metavar="NAME", help="train_step applies this optimizer with a state dict "
                     "(init_state(params)); default: plain gradient descent, train_step(params, X, Y, lr)")
    net.add_argument("--optimizer-param", action="append", default=[], metavar="K=V",
                     help="a hyperparameter of --optimizer, e.g. lr=0.01 (repeatable; true/false for options)")
    command.add_argument("--metrics", type=metric_list, default=[], metavar="LIST",
                         help="metrics printed into a network or graph module, logged by its fit and evaluate, e.g. mae,mse")
    command.add_argument("--graph", metavar="DIR", help="a saved graph model (symdl.save), generated in its "
                         "own dtype (--dtype bfloat16|float16: mixed precision, --backend torch or jax) with its saved optimizer "
                         "and metrics (--optimizer, --metrics override them); with --backend (not with NAME|FORMULA or --layers)")
    add_time_limit_argument(command)


def _add_report_arguments(command: argparse.ArgumentParser) -> None:
    """``symdl report``: the items, the output directory and formats, the network of the backprop section."""
    command.add_argument(
        "names", nargs="*", metavar="NAME", help="items to include: rules (see 'symdl list'), backprop, batchnorm, "
        "dropout, init (default: all of them, or none when --formula is given)",
    )
    command.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write into (created)")
    command.add_argument(
        "--format", default=REPORT_DEFAULT_FORMATS, metavar="LIST",
        help=f"comma-separated formats from tex, pdf, html, md (default: {REPORT_DEFAULT_FORMATS})",
    )
    command.add_argument("--only", action="append", default=[], metavar="NAME", help="an item to include (repeatable)")
    command.add_argument(
        "--formula", action="append", default=[], metavar="[NAME=]TEXT",
        help="a formula to derive (repeatable), titled NAME if given; with no NAME and no --only, the report holds "
        f"only the formulas{FROM_INPUT}",
    )
    command.add_argument(
        "--graph", action="append", default=[], metavar="DIR",
        help="a saved graph model (symdl.save): a section with its equations, generalised backprop, "
        "proofs and refuted planted mistakes (repeatable); with no NAME and no --only, the report holds only the "
        "formulas and graphs",
    )
    formulas = command.add_argument_group("the formulas' variables (with --formula)")
    formulas.add_argument("--wrt", metavar="VAR", help="the formulas' variable (default: z)")
    formulas.add_argument("--symbol", action="append", default=[], metavar="NAME",
                          help="a further input variable of the formulas (repeatable)")
    formulas.add_argument("--param", action="append", default=[], metavar="K=V",
                          help="a parameter of the formulas (repeatable); a bare K declares a symbolic one")
    net = command.add_argument_group("the backprop section's network")
    # default None: given without the backprop item, they are refused (symdl.cli.report.REPORT_NETWORK_DEFAULTS)
    net.add_argument("--layers", metavar="N0,N1,...,NL", help="widths (default: 2,3,1)")
    net.add_argument("--activation", metavar="RULE", help="hidden activation (default: tanh)")
    net.add_argument("--loss", metavar="RULE", help="loss (default: mse)")
    net.add_argument("--output-activation", metavar="RULE", help="the output layer's activation (default: --activation)")
    net.add_argument("--penalty", metavar="RULE", help="a weight penalty such as l2 (default: none)")
    net.add_argument("--batchnorm", action="store_true", default=None, help="batch norm on every hidden layer")
    net.add_argument("--dropout", type=float, metavar="P", help="dropout with drop probability P on every hidden layer")
    command.add_argument("--no-plots", action="store_true", help="leave out the plots")
    command.add_argument("--no-verify", action="store_true", help="leave out the numeric checks (faster)")
    add_json_argument(command)
    add_progress_arguments(command)
    add_time_limit_argument(command)
