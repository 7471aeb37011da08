"""Writing a file (or a directory of files) so that it is either complete or untouched.

:func:`write_atomically` writes ``data`` to a temporary file
``.symdl-<pid>-<random>.tmp`` in the target's directory, flushes it to disk
and renames it over the target, so a reader (or a crash) sees the old file or
the new one, never a mix. :func:`write_directory` does the same for a set of
files: they are written into a temporary sibling directory that is renamed into
place (exchanged with an existing directory where Linux's ``renameat2`` allows).

What the target may be (:func:`check_target`):

- missing, or a regular file: written;
- a symlink: followed to the file it names, and that file is replaced (the
  link stays a link). A dangling symlink creates the file it names, as a shell
  redirection does, when that file's directory exists; a loop is refused;
- a directory (for :func:`write_atomically`), a character or block device, a
  FIFO or a socket: refused with :class:`CannotWrite` (``stage="refuse"``),
  before anything is opened, so a FIFO never blocks.

No temporary file is left behind: on an error it is removed, and while a write
is in flight SIGINT and SIGTERM first remove it, then act as they would have
(KeyboardInterrupt, or death by the signal). SIGKILL (or a power cut) cannot be
caught and can leave one: the next write into the same directory removes
``.symdl-<pid>-*.tmp`` entries owned by this user that are older than
:data:`STALE_SECONDS` and whose process is gone, so a write in flight in
another process is never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["STALE_SECONDS", "CannotWrite", "check_target", "remove_stale", "write_atomically", "write_directory"]

#: A temporary entry older than this (seconds) whose process is gone is stale.
STALE_SECONDS = 600.0
_TEMPORARY = re.compile(r"^\.symdl-(?P<pid>\d+)-[^/]*\.tmp$")
_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"))


class CannotWrite(OSError):
    """A write that failed or was refused: ``stage`` is "refuse" (the target's kind), "create" or "write"."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


def check_target(path: str | os.PathLike[str], directory: bool = False) -> Path:
    """The path to replace for ``path``: itself, or the file its symlinks lead to; CannotWrite("refuse") if unsafe.

    With ``directory`` the target must be a directory (or missing) instead of
    a regular file.
    """
    text = os.fspath(path)
    if not text:
        raise CannotWrite("refuse", "the path is empty")
    if "\0" in text:  # os calls would say only "embedded null byte"
        raise CannotWrite("refuse", f"{text[:200]!r} holds a NUL byte, which no file name can")
    if not directory and text.endswith(tuple(filter(None, (os.sep, os.altsep)))):
        # a shell refuses `> name/` too: Path() would drop the slash and write a file named as the directory
        raise CannotWrite("refuse", f"{text} ends in {os.sep}: it names a directory, not a file")
    given = Path(os.path.abspath(path))
    target = Path(os.path.realpath(given))
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        if not target.parent.is_dir():
            via = f" (the symlink {given} points to {target})" if target != given else ""
            raise CannotWrite("create", f"the directory {target.parent} does not exist{via}") from None
        return target
    except OSError as error:
        raise CannotWrite("refuse", f"cannot inspect {target} ({error.strerror or error})") from None
    if stat.S_ISLNK(info.st_mode):
        raise CannotWrite("refuse", f"{given} is a symlink loop")
    if stat.S_ISDIR(info.st_mode) and not directory:
        raise CannotWrite("refuse", f"{target} is a directory")
    if stat.S_ISREG(info.st_mode) and directory:
        raise CannotWrite("refuse", f"{target} exists and is not a directory")
    for test, kind in _KINDS:
        if test(info.st_mode):
            raise CannotWrite("refuse", f"{target} is {kind}; symdl writes only regular files")
    return target


def write_atomically(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """``data`` (text as UTF-8, line ends as given) in ``path``, mode 0o644, through a temporary file renamed over it.

    Returns ``path`` as a Path (a symlink's target is what changed). On any failure the temporary
    file is removed and the target keeps what it held; an ``OSError`` becomes
    :class:`CannotWrite` with the reason.
    """
    target = check_target(path)
    remove_stale(target.parent)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with _in_flight(target.parent, directory=False) as temporary:
        try:
            _write_file(temporary, payload)
            os.replace(temporary, target)
        except OSError as error:
            raise CannotWrite("write", error.strerror or str(error)) from None
    _sync_directory(target.parent)
    return Path(path)


def write_directory(path: str | os.PathLike[str], files: Mapping[str, str | bytes]) -> Path:
    """The directory ``path`` holding exactly ``files`` (relative name → data), built beside it and renamed into place.

    An existing directory is replaced as a whole (its other entries go); a
    symlink to a directory replaces the directory it names. Names are relative
    POSIX paths without ``..``; subdirectories are created.
    """
    entries = {_relative(name): data for name, data in files.items()}
    target = check_target(path, directory=True)
    remove_stale(target.parent)
    with _in_flight(target.parent, directory=True) as temporary:
        try:
            os.chmod(temporary, 0o755)
            for name, data in entries.items():
                file = temporary.joinpath(*name.parts)
                file.parent.mkdir(parents=True, exist_ok=True)
                _write_file(file, data.encode("utf-8") if isinstance(data, str) else bytes(data))
            _sync_directory(temporary)
            _swap_in(temporary, target)
        except OSError as error:
            raise CannotWrite("write", error.strerror or str(error)) from None
    _sync_directory(target.parent)
    return Path(path)


def remove_stale(directory: str | os.PathLike[str], older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove the temporaries a killed symdl left in ``directory``: ours, older than ``older_than`` s, process gone."""
    removed: list[Path] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None:
            continue
        entry = Path(directory, name)
        try:
            info = os.lstat(entry)
        except OSError:
            continue
        if info.st_uid != os.getuid() or now - info.st_mtime < older_than or _running(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(entry)
            else:
                os.unlink(entry)
            removed.append(entry)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's process is running with that id
        return True
    return True


def _relative(name: str) -> PurePosixPath:
    relative = PurePosixPath(name)
    if relative.is_absolute() or not relative.parts or ".." in relative.parts:
        raise ValueError(f"write_directory: {name!r} is not a relative path inside the directory")
    return relative


def _write_file(path: Path, payload: bytes) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(handle, "wb") as stream:
        stream.write(payload)
        stream.flush()
        os.fsync(stream.fileno())
    os.chmod(path, 0o644)


def _sync_directory(directory: Path) -> None:
    """Flush a directory's entries (the rename) to disk; best effort."""
    with contextlib.suppress(OSError):
        handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: the kernel or file system cannot exchange
        return False
    raise OSError(code, os.strerror(code))


def _swap_in(temporary: Path, target: Path) -> None:
    """Put the directory ``temporary`` at ``target``; the old directory (if any) ends at ``temporary`` and is removed."""
    try:
        os.rename(temporary, target)
        return
    except OSError as error:
        if not target.is_dir() or error.errno not in (39, 66, 17):  # ENOTEMPTY, ENOTEMPTY (BSD), EEXIST
            raise
    if not _exchange(temporary, target):
        old = temporary.with_name(temporary.name[:-4] + "-old.tmp")
        os.rename(target, old)
        os.rename(temporary, target)
        os.rename(old, temporary)
    shutil.rmtree(temporary)


# Temporaries in flight in this process, removed by the signal handlers below.
_FLIGHT: set[Path] = set()
_LOCK = threading.RLock()
_SAVED: dict[int, Any] = {}


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            os.unlink(path)


def _on_signal(signum: int, frame: Any) -> None:
    """Remove every temporary in flight, then do what the signal did before (raise, die, or nothing)."""
    for path in list(_FLIGHT):
        _discard(path)
    _FLIGHT.clear()
    previous = _SAVED.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            _SAVED[signum] = signal.signal(signum, _on_signal)


def _uninstall() -> None:
    for signum, previous in list(_SAVED.items()):
        with contextlib.suppress(ValueError, OSError, TypeError):
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    _SAVED.clear()


@contextlib.contextmanager
def _in_flight(parent: Path, directory: bool) -> Iterator[Path]:
    """A fresh temporary file (or directory) in ``parent``, removed unless renamed away; SIGINT/SIGTERM remove it too."""
    blocked = {signal.SIGINT, signal.SIGTERM}
    main = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask")
    # Signals wait while the temporary is created and registered: none can arrive between the two.
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked) if main else None
    try:
        with _LOCK:
            try:
                if directory:
                    temporary = Path(tempfile.mkdtemp(prefix=f".symdl-{os.getpid()}-", suffix=".tmp", dir=parent))
                else:
                    handle, name = tempfile.mkstemp(prefix=f".symdl-{os.getpid()}-", suffix=".tmp", dir=parent)
                    os.close(handle)
                    temporary = Path(name)
            except OSError as error:
                raise CannotWrite("create", error.strerror or str(error)) from None
            if not _FLIGHT:
                _install()
            _FLIGHT.add(temporary)
    finally:
        if previous_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    try:
        yield temporary
    finally:
        with _LOCK:
            _FLIGHT.discard(temporary)
            if not _FLIGHT:
                _uninstall()
        if os.path.lexists(temporary):
            _discard(temporary)
