r"""The letter of a generic element-wise activation in BP1–BP4: φ (``\varphi``), its derivative φ′; σ is the logistic sigmoid.

Nielsen writes σ for any activation; symdl's report also derives the logistic
sigmoid σ itself, so the generic activation has a letter of its own: aˡ = φ(zˡ),
δˡ = (Wˡ⁺¹)ᵀδˡ⁺¹ ⊙ φ′(zˡ), and φ_L for an output activation that differs.
"""

from __future__ import annotations

__all__ = ["ACTIVATION", "ACTIVATION_PRIME", "OUTPUT_ACTIVATION"]

#: The generic activation's LaTeX name (a name :func:`symdl.report.names.parse_name` reads).
ACTIVATION = r"\varphi"
#: Its derivative's.
ACTIVATION_PRIME = ACTIVATION + "'"
#: The output layer's activation where it is not the hidden layers' one.
OUTPUT_ACTIVATION = ACTIVATION + "_{L}"
