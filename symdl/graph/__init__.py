"""Graphs of layers (Keras' functional API): skips, merges, shared layers, several inputs, outputs and losses.

>>> from symdl.graph import Input, Dense, Add, Model
>>> x = Input(3)
>>> h = Dense(4, activation="tanh")(x)
>>> model = Model(x, Dense(2)(Add()([h, Dense(4)(h)])), losses="mse")
>>> sorted(model.parameter_shapes)
['W1', 'W2', 'W3', 'b1', 'b2', 'b3']
"""

from __future__ import annotations

from .batchnorm import BatchNorm
from .config import from_config, to_config
from .constraints import max_norm, min_max_norm, non_neg, unit_norm
from .files import load_graph, save_graph
from .formula import Formula
from .glu import GLU
from .layernorm import LayerNorm
from .layers import (
    Activation,
    Add,
    Concatenate,
    Dense,
    Divide,
    Dropout,
    GaussianNoise,
    Lambda,
    Multiply,
    StopGradient,
)
from .model import Model
from .nodes import GraphLayer, Input, Node
from .prelu import PReLU
from .slicing import Slice
from .training_formula import TrainingFormula

__all__ = [
    "Activation",
    "Add",
    "BatchNorm",
    "Concatenate",
    "Dense",
    "Divide",
    "Dropout",
    "Formula",
    "GLU",
    "GaussianNoise",
    "GraphLayer",
    "Input",
    "Lambda",
    "LayerNorm",
    "Model",
    "Multiply",
    "Node",
    "PReLU",
    "Slice",
    "StopGradient",
    "TrainingFormula",
    "from_config",
    "load_graph",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "save_graph",
    "to_config",
    "unit_norm",
]
