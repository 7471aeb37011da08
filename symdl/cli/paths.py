"""A file the command line reads (``DATA.npz``, ``@FILE``): one ``symdl: error:`` line when it cannot be, saying why.

The name given is checked before anything is read: empty, missing, a
directory, an empty file or one this user may not read is each a
:class:`~symdl.cli.common.UsageError` naming the file, never a traceback
(a name too long for the file system included).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .common import UsageError

__all__ = ["input_file"]


def input_file(path: str, label: str | None = None) -> Path:
    """``path`` as a Path if it names a file with something to read, else one UsageError line.

    ``label`` is how the message names the file (default: ``path``; ``--derivative @f.txt`` for a flag's file).
    A pipe or a device (``@/dev/stdin``, a shell's ``<(…)``) is left to its reader.
    """
    shown = path if label is None else label
    if not path:  # Path('') is the working directory
        raise UsageError(f"{shown or repr('')}: an empty file name; give the file to read")
    if "\0" in path:  # os.stat would say only "embedded null byte"
        raise UsageError(f"{shown!r}: a file name with a NUL byte, which no file can have")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{shown}: no such file") from None
    except OSError as error:  # a name too long, a file where a directory should be, a symlink loop
        raise UsageError(f"{shown}: cannot read the file ({error.strerror or error})") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{shown}: is a directory; give a file in it")
    if stat.S_ISREG(info.st_mode):
        if info.st_size == 0:
            raise UsageError(f"{shown}: the file is empty")
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            raise UsageError(f"{shown}: cannot read the file ({error.strerror or error})") from None
    return Path(path)
