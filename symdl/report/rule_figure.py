"""A matplotlib Figure that shows itself in a notebook: ``rule.plot()`` in a fresh kernel displays as a PNG image.

:func:`symdl.report.plots.plot_rule` draws without pyplot (no global
state), so IPython's matplotlib hooks never see the figure and a fresh
kernel would print ``<Figure size 600x480 with 2 Axes>``; and
``Figure.show()`` raises for a figure that pyplot does not manage.
:class:`RuleFigure` is a plain :class:`~matplotlib.figure.Figure` (every
method, ``savefig`` included, as usual) that adds ``_repr_png_`` — what
IPython and Jupyter display — and a ``show()`` that displays it in a
notebook and warns, instead of raising, where there is no notebook.

Imported only when a figure is drawn: it needs matplotlib (``symdl[plot]``;
without it, one line naming that extra).
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

from ..optional import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure
else:
    Figure = require("matplotlib.figure", "plotting").Figure

__all__ = ["RuleFigure"]


class RuleFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that Jupyter displays as a PNG image (``_repr_png_``), with a safe ``show()``."""

    def _repr_png_(self) -> bytes:
        """The figure as PNG bytes at 100 dpi: what a notebook shows for ``rule.plot()``."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()

    def show(self, warn: bool = True) -> None:
        """Display the figure: in a notebook (IPython kernel) as its PNG; elsewhere warn and point to ``savefig``.

        A figure pyplot manages (``plt.figure(FigureClass=RuleFigure)``) opens
        its window as matplotlib's own ``Figure.show`` would.
        """
        manager = getattr(self.canvas, "manager", None)
        if manager is not None:
            super().show(warn=warn)
            return
        if _in_a_kernel():
            from IPython.display import display

            display(self)
        elif warn:
            warnings.warn("no notebook to show the figure in (it is drawn without pyplot); "
                          "save it with fig.savefig('plot.png')", UserWarning, stacklevel=2)


def _in_a_kernel() -> bool:
    """Running in a Jupyter kernel (an IPython shell with a kernel; a terminal IPython cannot show an image)."""
    import sys

    if "IPython" not in sys.modules:  # never import IPython just to find there is none
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None
