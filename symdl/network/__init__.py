"""Networks: the spec, BP1–BP4 as SymPy equations, their index form and proofs, the compiled network."""

from .model import CompiledNetwork, Network, accepted_rules

__all__ = ["CompiledNetwork", "Network", "accepted_rules"]
