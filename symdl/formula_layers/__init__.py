"""Custom layers written as formulas: equations in index notation, their VJPs derived, proven, printed as numpy.

:mod:`.layer` holds :class:`~symdl.formula_layers.layer.FormulaLayer` and
:func:`~symdl.formula_layers.layer.formula_layer`; :mod:`.derivation` the VJPs in
index notation; :mod:`.proofs` their proofs at concrete sizes; :mod:`.codegen`
the numpy kernels and the singularity report. User reference: ``docs/custom_layers.md``.
"""

from .codegen import Singularity
from .derivation import FormulaDerivation
from .layer import FormulaLayer, formula_layer

__all__ = ["FormulaDerivation", "FormulaLayer", "Singularity", "formula_layer"]
