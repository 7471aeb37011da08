"""The backends symdl knows by name: ``register_backend(MyBackend())``, ``get_backend("jax")``, ``backend_names()``."""

from __future__ import annotations

from .base import Backend

__all__ = ["backend_names", "get_backend", "register_backend", "unregister_backend"]

_BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend, *, replace: bool = False) -> Backend:
    """Add ``backend`` under ``backend.name``; a missing required hook or a taken name is a TypeError / ValueError."""
    if not isinstance(backend, Backend):
        raise TypeError(f"register_backend: expected a symdl.backends.Backend instance, got {type(backend).__name__}")
    missing = backend.missing_hooks()
    if missing:
        raise TypeError(f"backend {type(backend).__name__} is missing required hooks: {', '.join(missing)}")
    if not backend.name.isidentifier():
        raise ValueError(f"backend name {backend.name!r} must be a Python identifier")
    if backend.name in _BACKENDS and not replace:
        raise ValueError(f"a backend named {backend.name!r} is already registered (pass replace=True to replace it)")
    _BACKENDS[backend.name] = backend
    return backend


def unregister_backend(name: str) -> Backend:
    """Remove the backend registered as ``name`` and return it; an unknown name is a ValueError."""
    backend = get_backend(name)
    del _BACKENDS[name]
    return backend


def get_backend(name: str | Backend) -> Backend:
    """The backend registered as ``name`` (a Backend is returned as it is); an unknown name lists the known ones."""
    if isinstance(name, Backend):
        return name
    if not isinstance(name, str) or name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; accepted: {', '.join(backend_names())}")
    return _BACKENDS[name]


def backend_names() -> tuple[str, ...]:
    """The registered backends' names, in registration order (numpy, jax, torch first)."""
    return tuple(_BACKENDS)
