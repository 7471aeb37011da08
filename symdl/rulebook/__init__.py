"""Rules: one piece of network math as a SymPy expression, its registry and the built-in catalogues.

Importing the package registers the catalogues (:mod:`.activations`,
:mod:`.losses`, :mod:`.penalties`, :mod:`.vector_rules`); the registry in
:mod:`.rule` never imports them itself.
"""

# Registration order is the listing order within a kind (`symdl list`, reports): the vector rules first.
from . import vector_rules  # noqa: F401  (registration happens on import)

# isort: split
from . import activations, losses, penalties  # noqa: F401
from .rule import (
    KINK_CONVENTIONS,
    Definition,
    Kink,
    Param,
    Rule,
    formula_rule,
    register,
    register_vector,
    rule,
    rule_params,
    rules,
)
from .vector_rules import VectorRule

__all__ = [
    "KINK_CONVENTIONS",
    "Definition",
    "Kink",
    "Param",
    "Rule",
    "VectorRule",
    "formula_rule",
    "register",
    "register_vector",
    "rule",
    "rule_params",
    "rules",
]
