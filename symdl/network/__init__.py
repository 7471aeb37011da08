"""Networks: the spec (layers, rules, widths) and the compiled network, printed from the BP1–BP4 equations of :mod:`symdl.backprop`."""

from .model import CompiledNetwork, Network, accepted_rules

__all__ = ["CompiledNetwork", "Network", "accepted_rules"]
