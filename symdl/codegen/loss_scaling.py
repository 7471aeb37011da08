"""The printed pieces of a loss-scaled step that network and graph modules share: s·Ω'(θ) and the finite-step guard.

A mixed-precision module with a static loss scale s (:mod:`symdl.export.mixed_precision`) multiplies the
gradient seeds by s, so a penalty's term Ω'(θ) that joins a parameter's gradient is multiplied by s too
(:func:`scale_penalty_term`), and an optimizer's step is kept only where its gradients were finite
(:func:`keep_finite_line`). The network printer (:mod:`symdl.codegen.network`) defines them; graph modules
(:mod:`symdl.graph.printing`) print the same lines through these names.
"""

from __future__ import annotations

from .network import _keep_finite_line as keep_finite_line
from .network import _scale_penalty_term as scale_penalty_term

__all__ = ["keep_finite_line", "scale_penalty_term"]
