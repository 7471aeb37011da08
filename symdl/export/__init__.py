"""Generated code for users: standalone numpy modules and custom-gradient JAX / PyTorch functions and modules."""

from .custom_gradient import (
    SUPPORTED_VECTOR_RULES,
    rule_module_source,
    stabilise,
    to_jax,
    to_torch,
)
from .graph_modules import graph_module_source
from .network_modules import network_module_source

__all__ = ["SUPPORTED_VECTOR_RULES", "graph_module_source", "network_module_source", "rule_module_source", "stabilise", "to_jax", "to_torch"]
