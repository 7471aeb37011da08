"""Rules: one piece of network math as a SymPy expression, its registry and the built-in catalogues.

:mod:`.definition` (what a rule is made of) → :mod:`.rule` (element-wise
rules) and :mod:`.vector_rule` (index-notation rules) → :mod:`.registry`
(names → builders) ← the catalogues :mod:`.activations`, :mod:`.modern_activations`, :mod:`.losses`,
:mod:`.penalties`, :mod:`.vector_rules`, registered by importing this package.
"""

# Registration order is the listing order within a kind (`symdl list`, reports): the vector rules first.
from . import vector_rules  # noqa: F401  (registration happens on import)

# isort: split
from . import (  # noqa: F401
    activations,
    keras_activations,
    losses,
    modern_activations,
    penalties,
    shrink_activations,
)
from .definition import KINK_CONVENTIONS, Definition, Jumps, Kink, Param
from .registry import register, register_vector, rule, rule_params, rule_summary, rules
from .rule import Rule, formula_rule
from .vector_rule import VectorRule

__all__ = [
    "KINK_CONVENTIONS",
    "Definition",
    "Jumps",
    "Kink",
    "Param",
    "Rule",
    "VectorRule",
    "formula_rule",
    "register",
    "register_vector",
    "rule",
    "rule_params",
    "rule_summary",
    "rules",
]
