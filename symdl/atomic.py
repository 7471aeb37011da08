"""Writing a file so that it is either complete or untouched: a temporary file beside it, renamed over it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["CannotWrite", "write_atomically"]


class CannotWrite(OSError):
    """A write that failed: ``stage`` is "create" (no temporary file could be made in the directory) or "write"."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


def write_atomically(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """``data`` (text as UTF-8, line ends as given) in ``path``, mode 0o644, through a temporary file renamed over it.

    On any failure the temporary file is removed and ``path`` keeps what it
    held; an ``OSError`` becomes :class:`CannotWrite` with the reason.
    """
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=".symdl-", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise CannotWrite("create", error.strerror or str(error)) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise CannotWrite("write", error.strerror or str(error)) from None
        raise
    return path
