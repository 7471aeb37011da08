"""Layers of a network: the dense block, and the layer types attached to it (batch norm, dropout), with their math.

:mod:`symdl.layers.base` is the seam (:class:`~symdl.layers.base.Layer` and
what a layer contributes); one module per layer type
(:mod:`~symdl.layers.dense`, :mod:`~symdl.layers.batchnorm_layer`,
:mod:`~symdl.layers.dropout_layer`); their proven SymPy forms and numpy
kernels (:mod:`~symdl.layers.batchnorm_symbolic`, :mod:`~symdl.layers.batchnorm`,
:mod:`~symdl.layers.dropout`) and the initialisation schemes.
"""

from .base import Buffer, Layer, Mask, Parameter, StateUpdate
from .batchnorm_layer import BatchNorm
from .dense import Dense
from .dropout_layer import Dropout

__all__ = ["BatchNorm", "Buffer", "Dense", "Dropout", "Layer", "Mask", "Parameter", "StateUpdate"]
