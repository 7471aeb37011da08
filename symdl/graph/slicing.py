"""Slice: hˢ = hᵘ_{a:b}, the features start … stop − 1 of a vector node (``x[:, start:stop]``, Keras' ``ops.slice``).

The layer is one slicing node (:class:`~symdl.graph.blocks.Slice`, as GLU's
halves); what flows back is the slicing rule of :mod:`symdl.graph.block_rules`,
(∂hˢ/∂hᵘ)ᵀ gˢ = [0; gˢ; 0], gˢ placed into zeros (:func:`~symdl.graph.blocks.padded`).
``start`` and ``stop`` follow Python's slice (a negative index counts from the
end, None is an open end); an empty slice or an index past the width is one ValueError line.
"""

from __future__ import annotations

import operator

import sympy as sp

from ..excerpt import excerpt
from .blocks import Slice as SliceNode
from .blocks import padded
from .nodes import Backward, GraphLayer, Use

__all__ = ["Slice"]


def _index(value: object, what: str) -> int | None:
    """``value`` as a Python int (any integral, numpy's np.int64 too, through ``operator.index`` as slicing does);
    None stays None; a bool, a float or anything else is one ValueError line."""
    if value is None:
        return None
    if not isinstance(value, bool):
        try:
            return operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            pass
    raise ValueError(f"Slice: {what} must be an integer or None, got {excerpt(value)}")


class Slice(GraphLayer):
    """hˢ = hᵘ[start:stop] (Python's slice of the features, negative indices from the end); no weights."""

    def __init__(self, start: int | None, stop: int | None, name: str | None = None) -> None:
        super().__init__(name)
        self.start, self.stop = _index(start, "start"), _index(stop, "stop")

    def bounds(self, width: int) -> tuple[int, int]:
        """(a, b) with 0 ≤ a < b ≤ width: the rows a … b − 1 the slice keeps of an input of ``width``."""
        shown = f"[{'' if self.start is None else self.start}:{'' if self.stop is None else self.stop}]"
        for value in (self.start, self.stop):
            if value is not None and not -width <= value <= width:
                raise ValueError(f"Slice: {shown} is out of range for an input of width {width} (indices -{width} … {width})")
        a, b, _ = slice(self.start, self.stop).indices(width)
        if b <= a:
            raise ValueError(f"Slice: {shown} of an input of width {width} is empty")
        return a, b

    def output_width(self, widths: tuple[int, ...]) -> int:
        (width,) = widths
        a, b = self.bounds(width)
        return b - a

    def forward(self, use: Use) -> list[sp.Eq]:
        (x,) = use.inputs
        return [sp.Eq(use.output, SliceNode(x, *self.bounds(int(x.shape[0]))), evaluate=False)]

    def backward(self, use: Use, upstream: sp.MatrixSymbol) -> Backward:
        (x,) = use.inputs
        width = int(x.shape[0])
        return Backward((), (padded(upstream, *self.bounds(width), width),))

    def config(self) -> dict[str, object]:
        return {"start": self.start, "stop": self.stop}
