"""symdl: derive, prove, compile and verify the mathematics of neural networks.

>>> import symdl
>>> r = symdl.rule("sigmoid")
>>> r.textbook(in_output=True)
g*(1 - g)
>>> all(r.prove().values())
True
"""

from . import batchnorm, display, dropout, init_schemes, testing
from .codegen import Kernel, compile_kernel
from .network import CompiledNetwork, Network
from .parse import FormulaError, parse
from .proof import Proof, prove_zero
from .rules import (
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
from .vector_rules import VectorRule
from .verify import RuleReport, verify_rule, verify_rules

__version__ = "0.1.0"

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
