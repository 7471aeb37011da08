"""Notebook display as hooks: a value shows itself through a renderer that :mod:`symdl.report.display` registers.

Rules, check reports and the BP1–BP4 equations live low on the data path
(``rulebook/``, ``verify/``, ``network/``, ``testing/``) and may not import
:mod:`symdl.report`, which reads them. Their classes derive from
:class:`Displayed`, whose ``_repr_*_`` methods look up the renderer registered
for the class (or a base class); ``symdl.report.display`` registers one per
class when it is imported, which happens on the first lookup (``import symdl``
registers that import as a loader, so no module below ``report/`` imports it). Nothing here imports
IPython or matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

__all__ = ["Displayed", "mimebundle", "register_loader", "register_plotter", "register_renderer"]

#: A renderer: the value → ``{MIME type: text}`` (``text/plain`` and any of ``text/latex``, ``text/html``).
Renderer = Callable[[Any], dict[str, str]]  # Any: each renderer takes the class it is registered for

_Found = TypeVar("_Found")

_RENDERERS: dict[type, Renderer] = {}
_PLOTTERS: dict[type, Callable[..., object]] = {}
_LOADERS: list[Callable[[], object]] = []


def register_renderer(cls: type, renderer: Renderer) -> None:
    """Show instances of ``cls`` (and of its subclasses) in notebooks with ``renderer``."""
    _RENDERERS[cls] = renderer


def register_plotter(cls: type, plotter: Callable[..., object]) -> None:
    """``obj.plot(**kwargs)`` of an instance of ``cls`` calls ``plotter(obj, **kwargs)``."""
    _PLOTTERS[cls] = plotter


def register_loader(loader: Callable[[], object]) -> None:
    """Call ``loader()`` (once) the first time a renderer or plotter is looked up and none is registered yet.

    ``import symdl`` registers the import of :mod:`symdl.report.display` this
    way, so the renderers cost nothing until a value is first shown.
    """
    _LOADERS.append(loader)


def _lookup(table: Mapping[type, _Found], obj: object, what: str) -> _Found:
    while True:
        for cls in type(obj).__mro__:
            if cls in table:
                return table[cls]
        if not _LOADERS:
            break
        _LOADERS.pop(0)()
    raise TypeError(f"no {what} is registered for {type(obj).__name__}; import symdl first")


def mimebundle(obj: object, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> dict[str, str]:
    """``obj``'s registered MIME bundle, restricted to the types in ``include`` (all if None) and not in ``exclude``."""
    bundle = _lookup(_RENDERERS, obj, "renderer")(obj)
    keep = set(bundle) if include is None else set(include)
    drop = set(exclude or ())
    return {k: v for k, v in bundle.items() if k in keep and k not in drop}


class Displayed:
    """Jupyter display through the registered renderer: MIME bundle, LaTeX and HTML; ``str()`` is its plain text."""

    def __str__(self) -> str:
        return mimebundle(self, include=("text/plain",)).get("text/plain") or repr(self)

    def _repr_mimebundle_(self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> dict[str, str]:
        return mimebundle(self, include, exclude)

    def _repr_latex_(self) -> str | None:
        return mimebundle(self).get("text/latex")

    def _repr_html_(self) -> str | None:
        return mimebundle(self).get("text/html")


class Plottable:
    """``plot(**kwargs)`` through the registered plotter."""

    def plot(self, **kwargs: object) -> object:
        """A matplotlib Figure of this value that a notebook shows as an image (:func:`symdl.report.plots.plot_rule`; needs ``symdl[plot]``).

        ``plot(ax=axes)`` draws into the given matplotlib ``Axes`` (or pair) and returns it.
        """
        return _lookup(_PLOTTERS, self, "plotter")(self, **kwargs)
