"""``arrays.npz`` read with every array's header checked before its data: names, shapes and dtypes as expected, no pickle.

A hostile file cannot make :func:`read_arrays` allocate more than the model
implies, run code (``allow_pickle=False``; object dtypes refused from the
header) or slip in an array the model does not name.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from ..excerpt import excerpt
from .schema import SavedModelError

__all__ = ["read_arrays"]

Layout = dict[str, tuple[tuple[int, ...], np.dtype]]


def _header(stream: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(stream)
    raise ValueError(f"npy format version {version} is not supported")


def read_arrays(path: Path, expected: Layout) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` at ``path``: exactly the keys of ``expected``, each of its shape and dtype."""
    where = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name[: -len(".npy")]: name for name in archive.namelist() if name.endswith(".npy")}
            if len(members) != len(archive.namelist()):
                raise SavedModelError(f"{where}: holds files that are not arrays")
            missing = sorted(set(expected) - set(members))
            extra = sorted(set(members) - set(expected))
            if missing or extra:
                raise SavedModelError(f"{where}: {'missing' if missing else 'unexpected'} array {excerpt((missing or extra)[0])}")
            out = {}
            for key, (shape, dtype) in expected.items():
                with archive.open(members[key]) as stream:
                    found_shape, _, found_dtype = _header(stream)
                if found_dtype.hasobject or (found_shape, found_dtype) != (shape, dtype):
                    raise SavedModelError(f"{where}: {key} is {found_dtype} of shape {found_shape}; "
                                          f"the model needs {dtype} of shape {shape}")
                with archive.open(members[key]) as stream:
                    out[key] = np.lib.format.read_array(stream, allow_pickle=False)
            return out
    except SavedModelError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise SavedModelError(f"{where}: unreadable ({str(error).splitlines()[0][:120] if str(error) else type(error).__name__})") from None
