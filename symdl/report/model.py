"""The document model of a derivation report: what every renderer (TeX, HTML, Markdown, notebook) reads.

A :class:`Report` is a title and a tuple of :class:`Section` s, one per item
(a rule, a formula, BP1–BP4 of a network, batch norm). A section holds its
definition, the derivation *steps*, its conventions at kinks, its
verification results and an optional plot.

Trust boundary: all mathematics is carried as SymPy objects (:class:`Math`),
never as LaTeX text; the renderers print it (``sympy.latex`` /
``sympy.mathml``) and so no text a user typed reaches a document verbatim.
Every ``str`` field here is *plain text*: renderers escape it for their
format. The exceptions are :attr:`Plot.svg` and :attr:`Plot.pdf`, produced by
matplotlib from numbers, whose text labels the plotting code itself sets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, cast

from ..rulebook.step import Math, Step

__all__ = ["Check", "Math", "Plot", "Report", "Section", "SectionKind", "Step"]

#: A rule's kind, a layer type's report key (:attr:`symdl.layers.base.Layer.report_section`), or another item.
SectionKind = Literal["activation", "loss", "penalty", "formula", "backprop", "batchnorm", "dropout", "init"] | str


@dataclass(frozen=True)
class Check:
    """One verification result: what was checked, whether it held, and the measured detail (plain text)."""

    what: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True, init=False, eq=False)
class Plot:
    """A picture of the item: SVG text from matplotlib (Agg backend), its caption (plain text) and the same figure as PDF.

    ``pdf`` (a one-page PDF, empty when not made) is what the LaTeX document
    includes with ``\\includegraphics``; without it the TeX shows the caption only.
    It may be given as a function that makes the bytes: then they are made the
    first time :attr:`pdf` is read (only the LaTeX document reads it, so a
    Markdown or HTML report never draws a PDF), or when the plot is pickled.
    Two plots are equal when their SVG, caption and PDF bytes are.
    """

    svg: str
    caption: str
    _pdf: bytes | Callable[[], bytes] = field(repr=False)

    def __init__(self, svg: str, caption: str, pdf: bytes | Callable[[], bytes] = b"") -> None:
        object.__setattr__(self, "svg", svg)
        object.__setattr__(self, "caption", caption)
        object.__setattr__(self, "_pdf", pdf)

    @property
    def pdf(self) -> bytes:
        """The figure as a one-page PDF (``b""`` when not made), made now if it was left to be made on demand."""
        if callable(self._pdf):
            object.__setattr__(self, "_pdf", self._pdf())
        return cast(bytes, self._pdf)

    def _key(self) -> tuple[str, str, bytes]:
        return self.svg, self.caption, self.pdf

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Plot) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[type[Plot], tuple[str, str, bytes]]:
        return Plot, self._key()  # the PDF as bytes: the function that makes it need not pickle


@dataclass(frozen=True)
class Section:
    """One item of a report.

    ``key`` is a stable identifier usable as an anchor/file stem
    (``[a-z0-9_-]+``); ``title`` is plain text. ``kinks`` are steps that state
    the value taken at each kink and why (empty for smooth items).
    """

    key: str
    title: str
    kind: SectionKind
    summary: str = ""
    definition: tuple[Math, ...] = ()
    steps: tuple[Step, ...] = ()
    kinks: tuple[Step, ...] = ()
    checks: tuple[Check, ...] = ()
    plot: Plot | None = None


@dataclass(frozen=True)
class Report:
    """A whole document: a title, an introduction (plain text) and its sections, in order."""

    title: str
    sections: tuple[Section, ...] = field(default_factory=tuple)
    introduction: str = ""
