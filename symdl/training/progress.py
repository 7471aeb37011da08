"""The training status bar: ``epoch 3/5 - 120/120 - loss: 0.123 - mean_absolute_error: 0.1`` on stderr.

On a terminal the line is rewritten after every batch and kept when the epoch
ends (the notebook's status bar, section 12.3.9); elsewhere, one line per epoch
(``verbose=2``) or nothing (``verbose="auto"`` off a terminal, ``verbose=0``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from ..excerpt import excerpt

__all__ = ["ProgressBar", "check_stream", "format_logs", "progress_mode"]


def format_logs(logs: Mapping[str, float]) -> str:
    """``loss: 0.123 - mae: 0.1``: each value with 4 significant digits, in the order given."""
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


def check_stream(stream: object) -> TextIO:
    """``stream`` as the status line's text stream (None: sys.stderr); anything without write() and flush() is one
    ValueError line."""
    if stream is None:
        return sys.stderr
    if not (callable(getattr(stream, "write", None)) and callable(getattr(stream, "flush", None))):
        # every bad argument of fit is one ValueError, a wrong type too (TRY004 does not apply)
        raise ValueError(f"stream: expected None (stderr) or a text stream with write() and flush(), such as sys.stdout "  # noqa: TRY004
                         f"or io.StringIO(), got {excerpt(stream)}")
    return stream  # type: ignore[return-value]  # a file-like object: what the status line calls


def progress_mode(verbose: object, stream: TextIO) -> int:
    """0 quiet, 1 a bar rewritten per batch, 2 one line per epoch; ``"auto"`` is 1 on a terminal, else 0."""
    if verbose == "auto":
        isatty = getattr(stream, "isatty", None)
        return 1 if isatty is not None and isatty() else 0
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose: expected 'auto', 0, 1 or 2, got {excerpt(verbose)}")
    return int(verbose)


class ProgressBar:
    """Writes the status line of the running epoch to ``stream`` (default stderr)."""

    #: Seconds between two rewrites of the line (Keras' 0.05): thousands of tiny batches cost no terminal time.
    interval = 0.05

    def __init__(self, epochs: int, steps: int, mode: int, stream: TextIO | None = None) -> None:
        self.epochs, self.steps, self.mode = epochs, steps, mode
        self.stream = sys.stderr if stream is None else stream
        self.last = -float("inf")

    def _line(self, epoch: int, step: int, logs: Mapping[str, float]) -> str:
        shown = format_logs(logs)
        return f"epoch {epoch + 1}/{self.epochs} - {step}/{self.steps}" + (f" - {shown}" if shown else "")

    def batch(self, epoch: int, step: int, logs: Callable[[], Mapping[str, float]]) -> None:
        """After batch ``step`` (1-based) of epoch ``epoch`` (0-based): rewrite the line (mode 1) with ``logs()``.

        ``logs`` is called only when the line is written: the metrics' results are not read for nothing.
        """
        if self.mode == 1 and (step == 1 or time.monotonic() - self.last >= self.interval):
            self.last = time.monotonic()
            self.stream.write("\r\x1b[K" + self._line(epoch, step, logs()))
            self.stream.flush()

    def epoch(self, epoch: int, logs: Mapping[str, float]) -> None:
        """At the end of an epoch: its final line, validation included, kept on screen."""
        if self.mode == 0:
            return
        prefix = "\r\x1b[K" if self.mode == 1 else ""
        self.stream.write(prefix + self._line(epoch, self.steps, logs) + "\n")
        self.stream.flush()
