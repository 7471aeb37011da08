"""Array backends (numpy, JAX, PyTorch): one :class:`Backend` per library, registered by name.

``get_backend("jax")`` gives the object that says how JAX spells what symdl
prints; ``register_backend(MyBackend())`` adds one (see docs/architecture.md,
"Adding a backend"); ``backend_names()`` lists them (the CLI's ``--backend``).
"""

from __future__ import annotations

from .base import Backend
from .jax import JaxBackend
from .numpy import NumpyBackend
from .registry import backend_names, get_backend, register_backend, unregister_backend
from .torch import TorchBackend

__all__ = [
    "Backend",
    "JaxBackend",
    "NumpyBackend",
    "TorchBackend",
    "backend_names",
    "get_backend",
    "register_backend",
    "unregister_backend",
]

for _backend in (NumpyBackend(), JaxBackend(), TorchBackend()):
    register_backend(_backend, replace=True)
del _backend
