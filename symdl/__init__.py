"""symdl: derive, prove, compile and verify the mathematics of neural networks.

>>> import symdl
>>> r = symdl.rule("sigmoid")
>>> r.textbook(in_output=True)
g*(1 - g)
>>> all(r.prove().values())
True

``import symdl`` is cheap: each public name below is imported on first use
(PEP 562 module ``__getattr__``), so ``symdl --help`` or a script that needs
one rule does not pay for networks, reports and batch norm's tables.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import display_hooks
from .version import __version__

if TYPE_CHECKING:
    from . import graph, metrics, testing
    from .codegen.kernel import Kernel, compile_kernel
    from .formula_layers import FormulaLayer, formula_layer
    from .layers import batchnorm, dropout, init_schemes
    from .metrics import metric
    from .network.model import CompiledNetwork, Network
    from .optim.registry import optimizer
    from .report import display
    from .rulebook import (
        KINK_CONVENTIONS,
        Definition,
        Jumps,
        Kink,
        Param,
        Rule,
        formula_rule,
        register,
        rule,
        rule_params,
        rules,
    )
    from .rulebook.derivation import RuleLike
    from .rulebook.vector_rule import VectorRule
    from .saving import SavedModel
    from .saving.models import load, save
    from .symbolic.parse import FormulaError, parse
    from .symbolic.proof import Proof, prove_zero
    from .training import EarlyStopping, History, fit
    from .verify.rules import RuleReport, verify_rule, verify_rules

# public name → (module, attribute in it; None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "KINK_CONVENTIONS": ("symdl.rulebook", "KINK_CONVENTIONS"),
    "CompiledNetwork": ("symdl.network.model", "CompiledNetwork"),
    "Definition": ("symdl.rulebook", "Definition"),
    "EarlyStopping": ("symdl.training", "EarlyStopping"),
    "FormulaError": ("symdl.symbolic.parse", "FormulaError"),
    "FormulaLayer": ("symdl.formula_layers", "FormulaLayer"),
    "History": ("symdl.training", "History"),
    "Jumps": ("symdl.rulebook", "Jumps"),
    "Kernel": ("symdl.codegen.kernel", "Kernel"),
    "Kink": ("symdl.rulebook", "Kink"),
    "Network": ("symdl.network.model", "Network"),
    "Param": ("symdl.rulebook", "Param"),
    "Proof": ("symdl.symbolic.proof", "Proof"),
    "Rule": ("symdl.rulebook", "Rule"),
    "RuleLike": ("symdl.rulebook.derivation", "RuleLike"),
    "RuleReport": ("symdl.verify.rules", "RuleReport"),
    "SavedModel": ("symdl.saving.container", "SavedModel"),
    "VectorRule": ("symdl.rulebook.vector_rule", "VectorRule"),
    "batchnorm": ("symdl.layers.batchnorm", None),
    "compile_kernel": ("symdl.codegen.kernel", "compile_kernel"),
    "display": ("symdl.report.display", None),
    "dropout": ("symdl.layers.dropout", None),
    "fit": ("symdl.training", "fit"),
    "formula_layer": ("symdl.formula_layers", "formula_layer"),
    "formula_rule": ("symdl.rulebook", "formula_rule"),
    "graph": ("symdl.graph", None),
    "init_schemes": ("symdl.layers.init_schemes", None),
    "load": ("symdl.saving.models", "load"),
    "metric": ("symdl.metrics", "metric"),
    "metrics": ("symdl.metrics", None),
    "optimizer": ("symdl.optim.registry", "optimizer"),
    "parse": ("symdl.symbolic.parse", "parse"),
    "prove_zero": ("symdl.symbolic.proof", "prove_zero"),
    "register": ("symdl.rulebook", "register"),
    "rule": ("symdl.rulebook", "rule"),
    "rule_params": ("symdl.rulebook", "rule_params"),
    "rules": ("symdl.rulebook", "rules"),
    "save": ("symdl.saving.models", "save"),
    "testing": ("symdl.testing", None),
    "verify_rule": ("symdl.verify.rules", "verify_rule"),
    "verify_rules": ("symdl.verify.rules", "verify_rules"),
}

# Subpackages reachable as attributes (``symdl.export.to_jax`` after ``import symdl``), also on first use.
_SUBPACKAGES = frozenset(
    {"arguments", "atomic", "backends", "backprop", "budget", "cli", "codegen", "export", "formula_layers", "interop", "layers",
     "network", "numbers", "optim",
     "report", "rulebook", "saving", "symbolic", "training", "verify"}
)

__all__ = [
    "KINK_CONVENTIONS",
    "CompiledNetwork",
    "Definition",
    "EarlyStopping",
    "FormulaError",
    "FormulaLayer",
    "History",
    "Jumps",
    "Kernel",
    "Kink",
    "Network",
    "Param",
    "Proof",
    "Rule",
    "RuleLike",
    "RuleReport",
    "SavedModel",
    "VectorRule",
    "batchnorm",
    "compile_kernel",
    "display",
    "dropout",
    "fit",
    "formula_layer",
    "formula_rule",
    "graph",
    "init_schemes",
    "load",
    "metric",
    "metrics",
    "optimizer",
    "parse",
    "prove_zero",
    "register",
    "rule",
    "rule_params",
    "rules",
    "save",
    "testing",
    "verify_rule",
    "verify_rules",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported on first use and then kept as an ordinary attribute."""
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = importlib.import_module(module)
        if attribute is not None:
            value = getattr(value, attribute)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'symdl' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBPACKAGES)


def _load_renderers() -> None:
    """Rules, reports and equations show themselves once :mod:`symdl.report.display` has registered them."""
    from .report import display  # noqa: F401


display_hooks.register_loader(_load_renderers)
