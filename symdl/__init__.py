"""symdl: derive, prove, compile and verify the mathematics of neural networks.

>>> import symdl
>>> r = symdl.rule("sigmoid")
>>> r.textbook(in_output=True)
g*(1 - g)
>>> all(r.prove().values())
True
"""

from . import testing
from .codegen.kernel import Kernel, compile_kernel
from .layers import batchnorm, dropout, init_schemes
from .network.model import CompiledNetwork, Network
from .report import display
from .rulebook import (
    KINK_CONVENTIONS,
    Definition,
    Kink,
    Param,
    Rule,
    formula_rule,
    register,
    rule,
    rule_params,
    rules,
)
from .rulebook.vector_rule import VectorRule
from .symbolic.parse import FormulaError, parse
from .symbolic.proof import Proof, prove_zero
from .verify.rules import RuleReport, verify_rule, verify_rules
from .version import __version__

__all__ = [
    "KINK_CONVENTIONS",
    "CompiledNetwork",
    "Definition",
    "FormulaError",
    "Kernel",
    "Kink",
    "Network",
    "Param",
    "Proof",
    "Rule",
    "RuleReport",
    "VectorRule",
    "batchnorm",
    "compile_kernel",
    "display",
    "dropout",
    "formula_rule",
    "init_schemes",
    "parse",
    "prove_zero",
    "register",
    "rule",
    "rule_params",
    "rules",
    "testing",
    "verify_rule",
    "verify_rules",
    "__version__",
]
