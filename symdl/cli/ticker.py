"""A daemon thread that calls a function about every ``interval`` seconds until stopped, and is paused around forks.

A thread alive when the process forks can leave a lock held in the child (the
stderr buffer's, if the fork came mid-write), and ``symdl`` forks: the
``--time-limit`` worker (:mod:`symdl.budget`) and ``verify -j N``'s pool
(:mod:`symdl.verify.runner`, which forks only while the process holds no other
thread). So every running :class:`Ticker` is stopped and joined before any
``os.fork`` (``os.register_at_fork``), restarted in the parent after it and left
stopped in the child: at the fork this process holds no ticker thread.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable

__all__ = ["Ticker"]

_LIVE: weakref.WeakSet[Ticker] = weakref.WeakSet()


class Ticker:
    """Calls ``callback()`` every ``interval`` seconds on a daemon thread between :meth:`start` and :meth:`stop`.

    An exception in ``callback`` ends the ticking silently (what it refreshes is cosmetic).
    """

    def __init__(self, interval: float, callback: Callable[[], None], name: str = "symdl-ticker") -> None:
        if not interval > 0:
            raise ValueError(f"a ticker's interval is a number of seconds > 0, got {interval!r}")
        self.interval = interval
        self.callback = callback
        self.name = name
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._paused = False
        _LIVE.add(self)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start ticking (nothing if already ticking)."""
        if self._thread is not None:
            return
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking and wait for the thread to end (a callback under way finishes first)."""
        thread, self._thread = self._thread, None
        self._stopped.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.callback()
            except Exception:
                return


def _before_fork() -> None:
    for ticker in list(_LIVE):
        if ticker.running:
            ticker.stop()
            ticker._paused = True


def _after_fork_in_parent() -> None:
    for ticker in list(_LIVE):
        if ticker._paused:
            ticker._paused = False
            ticker.start()


def _after_fork_in_child() -> None:
    for ticker in list(_LIVE):
        ticker._paused = False
        ticker._thread = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)
