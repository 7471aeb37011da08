"""A wall-clock budget for work on user input: ``run_within(seconds, fn, *args)`` is ``fn(*args)``, or
:class:`TimeLimitExceeded` once ``seconds`` have passed.

SymPy and mpmath can spend minutes inside one C call (a huge integer power, a
Groebner basis), where neither a signal handler nor a thread can stop them. So
the work runs in a forked worker process that is killed (SIGKILL) at the limit:
the caller's process never holds a half-done state, and the worker's result
(or the exception it raised) comes back through a pipe, pickled. The fork
copies the caller's imported modules, so the worker starts at once (a few
milliseconds, measured in docs/cli.md) and pays for no import twice.

Without ``os.fork`` (Windows), or with ``seconds`` of 0 or None, the work runs in
this process with no limit. Whatever the worker writes to ``sys.stdout`` is
captured and returned beside the result (:func:`run_captured`), so a killed
worker has printed nothing.

Size is bounded too: :func:`check_size` refuses an intermediate expression (a
parsed formula, a derivative, a formula layer's VJP) of more than
:data:`MAX_NODES` nodes with :class:`ExpressionTooLarge`, before the steps
after it (simplifying, proving, printing code) spend the budget on it.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import select
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_SECONDS", "MAX_NODES", "ExpressionTooLarge", "TimeLimitExceeded", "WorkerDied", "check_size", "count_nodes",
    "forking", "shown", "run_captured", "run_within",
]

#: The default limit (seconds) of ``symdl derive``, ``check``, ``codegen`` and each ``report --formula``.
DEFAULT_SECONDS = 30.0

#: The most nodes (as ``sympy.preorder_traversal`` visits them) an intermediate expression may have; the
#: registered rules' largest derivative, rbf's VJP by sigma, has 295.
MAX_NODES = 20_000

T = TypeVar("T")


class TimeLimitExceeded(TimeoutError):
    """Work that ran past its budget: ``what`` took longer than ``seconds`` and was stopped."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what} took longer than {seconds:g} s and was stopped")
        self.what = what
        self.seconds = seconds


class WorkerDied(RuntimeError):
    """The worker process ended without a result (killed from outside, or out of memory): ``status`` as os.waitpid gives it."""

    def __init__(self, what: str, status: int) -> None:
        cause = f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit status {os.WEXITSTATUS(status)}"
        hint = " (the system may have run out of memory)" if os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9 else ""
        super().__init__(f"the worker process for {what} ended without a result ({cause}){hint}")
        self.status = status


class ExpressionTooLarge(ValueError):
    """An intermediate expression past the size limit: ``what`` has more than ``limit`` nodes."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(
            f"{what} has more than {limit} nodes (symdl.budget.MAX_NODES); simplify the formula or split it into parts"
        )
        self.what = what
        self.limit = limit

    def __reduce__(self) -> tuple:  # pickles with its arguments (it crosses the worker's pipe)
        return (type(self), (self.what, self.limit))


def count_nodes(expr: object, limit: int = MAX_NODES) -> int:
    """The nodes of the SymPy tree ``expr`` (shared subtrees counted each time, as printing writes them), or
    ``limit + 1`` as soon as there are more: at most ``limit + 1`` nodes are visited."""
    stack = [expr]
    count = 0
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            return count
        stack.extend(getattr(node, "args", ()))
    return count


def check_size(expr: T, what: str, limit: int | None = None) -> T:
    """``expr``, or :class:`ExpressionTooLarge` naming ``what`` when it has more than ``limit`` (default
    :data:`MAX_NODES`, read at the call) nodes."""
    limit = MAX_NODES if limit is None else limit
    if count_nodes(expr, limit) > limit:
        raise ExpressionTooLarge(what, limit)
    return expr


def shown(text: str, width: int = 40) -> str:
    """``'text'`` on one line, shortened to ``width`` characters: how a message names a formula."""
    one = " ".join(str(text).split())
    return repr(one if len(one) <= width else one[: width - 3] + "...")


def forking() -> bool:
    """Whether work can run in a forked, killable worker here (os.fork exists: Linux, macOS)."""
    return hasattr(os, "fork")


def run_within(seconds: float | None, fn: Callable[..., T], *args: Any, what: str = "the work", **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker process killed after ``seconds`` (0 or None: no limit, in this process).

    The result and any exception ``fn`` raises must pickle; the exception is
    raised here again. Past the limit: :class:`TimeLimitExceeded` naming ``what``.
    """
    result, captured = run_captured(seconds, fn, *args, what=what, capture=False, **kwargs)
    return result


def run_captured(
    seconds: float | None, fn: Callable[..., T], *args: Any, what: str = "the work", capture: bool = True, **kwargs: Any
) -> tuple[T, str]:
    """``(fn(*args, **kwargs), what it wrote to sys.stdout)``, within ``seconds`` as :func:`run_within`."""
    if seconds is not None and (seconds != seconds or seconds < 0):
        raise ValueError(f"a time limit is a number of seconds ≥ 0 (0 for none), got {seconds!r}")
    if not seconds or not forking():
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer) if capture else contextlib.nullcontext():
            value = fn(*args, **kwargs)
        return value, buffer.getvalue()
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    parent = os.getpid()
    with warnings.catch_warnings():
        # JAX warns at every fork once loaded (its threads do not survive one); the worker runs SymPy, not JAX's runtime.
        warnings.simplefilter("ignore", RuntimeWarning)
        pid = os.fork()
    if pid == 0:  # the worker: never returns into the caller's code
        os.close(read_end)
        _die_with(parent)
        _work(write_end, fn, args, kwargs, capture)
    os.close(write_end)
    try:
        payload = _receive(read_end, pid, time.monotonic() + seconds, what, seconds)
    finally:
        os.close(read_end)
        _reap(pid)
    ok, value, captured, relayed = pickle.loads(payload)
    for text, category, filename, lineno in relayed:  # the worker's warnings, through this process's filters
        warnings.warn_explicit(text, category, filename, lineno)
    if not ok:
        error, trace = value
        error.add_note(f"raised in the worker process:\n{trace.rstrip()}")
        raise error
    return value, captured


def _die_with(parent: int) -> None:
    """Linux: the worker is killed when the caller dies (SIGTERM, SIGKILL), so it never runs on alone."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the caller died before prctl took effect
        os._exit(1)


def _work(write_end: int, fn: Callable[..., Any], args: tuple, kwargs: dict, capture: bool) -> None:
    """Run ``fn`` in the worker, send ``(ok, value or exception, stdout)`` and leave with os._exit."""
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the caller, which ends the worker
        buffer = io.StringIO()
        with warnings.catch_warnings(record=True) as caught:  # shown by the caller, whose stderr may not be this one's
            try:
                with contextlib.redirect_stdout(buffer) if capture else contextlib.nullcontext():
                    message = (True, fn(*args, **kwargs), buffer.getvalue())
            except BaseException as error:  # everything goes back to the caller, to be raised there
                trace = "".join(traceback.format_exception(error))
                message = (False, (_portable(error), trace), buffer.getvalue())
        relayed = [(str(w.message), _portable_category(w.category), w.filename, w.lineno) for w in caught]
        try:
            data = pickle.dumps((*message, relayed), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # a result that does not pickle is the caller's bug, said plainly
            data = pickle.dumps((False, (TypeError(f"the result could not be passed back: {error}"), ""), "", relayed))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _portable_category(category: type[Warning]) -> type[Warning]:
    """``category`` if it survives pickling (an importable class), else the built-in warning class it derives from."""
    try:
        pickle.loads(pickle.dumps(category))
        return category
    except Exception:
        return next(c for c in category.__mro__ if c.__module__ == "builtins" and issubclass(c, Warning))


def _portable(error: BaseException) -> BaseException:
    """``error`` if it survives pickling, else a RuntimeError with its type and message."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")


def _receive(read_end: int, pid: int, deadline: float, what: str, seconds: float) -> bytes:
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            _kill(pid)
            raise TimeLimitExceeded(what, seconds)
        ready, _, _ = select.select([read_end], [], [], left)
        if not ready:
            continue
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    if not chunks:
        _, status = os.waitpid(pid, 0)
        raise WorkerDied(what, status)
    return b"".join(chunks)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    """Kill the worker if it still runs (an interrupt, an error here) and wait for it, so no zombie is left."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return
    if finished == 0:
        _kill(pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
