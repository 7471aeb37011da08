"""Loading a generated export: its source as a module registered under ``symdl.export.generated`` (pickle finds it by name)."""

from __future__ import annotations

import hashlib
import importlib.machinery
import linecache
import sys
from types import ModuleType

__all__ = ["GENERATED_PACKAGE", "load_generated"]


#: The package the generated modules are registered under: ``symdl.export.generated.<backend>_<name>_<digest>``.
GENERATED_PACKAGE = "symdl.export.generated"


def load_generated(source: str, name: str, backend: str) -> ModuleType:
    """The generated ``source`` as a module registered in :data:`sys.modules` (found by pickle and torch.compile).

    The module's name ends in a digest of its text, so the same export in another process has the same name:
    calling ``to_torch``/``to_jax`` with the same arguments there makes pickled functions loadable.
    """
    from . import generated

    short = f"{backend}_{name}_{hashlib.sha256(source.encode()).hexdigest()[:12]}"
    qualified = f"{GENERATED_PACKAGE}.{short}"
    module = sys.modules.get(qualified)
    if module is not None and getattr(module, "__source__", None) == source:
        return module
    filename = f"<symdl export {qualified}>"
    module = ModuleType(qualified)
    module.__spec__ = importlib.machinery.ModuleSpec(qualified, None, origin=filename)
    module.__file__ = filename
    setattr(module, "__source__", source)  # read back above: the same text reuses the module
    # inspect.getsource and tracebacks (and torch.compile's error messages) read the text from linecache.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # Generated code only: printed from SymPy trees with identifier-checked names, never user text.
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102
    sys.modules[qualified] = module
    setattr(generated, short, module)
    return module
