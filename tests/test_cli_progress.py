"""The progress line of verify/check/report never goes silent: a ticker refreshes the time while a step runs."""

from __future__ import annotations

import io
import re
import sys
import threading
import time

import pytest

import symdl.verify.runner
from symdl.budget import run_within
from symdl.cli import main
from symdl.cli.common import Progress
from symdl.cli.ticker import Ticker
from symdl.verify.rules import RuleReport


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def progress_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "symdl-progress"]


@pytest.fixture
def fast_ticks(monkeypatch):
    monkeypatch.setattr(Progress, "REFRESH_SECONDS", 0.05)
    monkeypatch.setattr(Progress, "LOG_SECONDS", 0.1)


def slow_steps(monkeypatch, seconds: dict[str, float], default: float = 0.0) -> None:
    def run_task(task):
        time.sleep(seconds.get(task.label, default))
        return [RuleReport(task.label)], 0.0

    monkeypatch.setattr(symdl.verify.runner, "run_task", run_task)


def times_of(text: str, label: str) -> list[float]:
    return [float(t) for t in re.findall(rf"\] rules: {re.escape(label)}… (\d+\.\d) s", text)]


def test_the_terminal_line_advances_within_one_slow_step(capsys, monkeypatch, fast_ticks):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    slow_steps(monkeypatch, {"relu": 0.6})
    assert main(["verify", "relu", "-j", "1", "--no-cache"]) == 0
    shown = times_of(terminal.getvalue(), "relu")
    assert len(set(shown)) >= 3, terminal.getvalue()  # refreshed while the one step ran, not only between steps
    assert shown == sorted(shown) and shown[-1] - shown[0] >= 0.3
    assert terminal.getvalue().endswith("\r\x1b[K") and "\n" not in terminal.getvalue()
    assert progress_threads() == []


def test_with_progress_off_a_terminal_a_slow_step_writes_its_time(capsys, monkeypatch, fast_ticks):
    slow_steps(monkeypatch, {"relu": 0.6})
    assert main(["verify", "relu", "-j", "1", "--no-cache", "--progress"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "symdl verify: [1/1] rules: relu…"  # the item's own line, without the time, as before
    shown = times_of("\n".join(lines[1:]), "relu")
    assert len(shown) >= 2 and shown == sorted(shown) and shown[-1] > shown[0], lines
    assert progress_threads() == []


def test_without_a_terminal_or_progress_nothing_is_written(capsys, monkeypatch, fast_ticks):
    slow_steps(monkeypatch, {"relu": 0.4})
    assert main(["verify", "relu", "-j", "1", "--no-cache"]) == 0
    assert capsys.readouterr().err == ""
    assert progress_threads() == []
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["verify", "relu", "-j", "1", "--no-cache", "--quiet"]) == 0
    assert terminal.getvalue() == "" and progress_threads() == []


def test_an_estimate_of_the_time_left_after_the_first_steps(capsys, monkeypatch, fast_ticks):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    names = ["relu", "tanh", "sigmoid", "softplus", "abs", "identity"]
    slow_steps(monkeypatch, {}, default=0.12)
    assert main(["verify", *names, "-j", "1", "--no-cache"]) == 0
    frames = terminal.getvalue().split("\r\x1b[K")
    for index, name in enumerate(names):
        mine = [f for f in frames if f"[{index + 1}/{len(names)}] rules: {name}…" in f]
        assert mine, (name, frames)
        if index < Progress.ETA_AFTER:
            assert not any("left" in f for f in mine)
        else:
            estimates = [re.search(r"about (\d+) s left \(estimate\)$", f) for f in mine]
            assert all(estimates), mine
            mean = 0.12
            for found in estimates:  # (remaining items) × (mean seconds per item so far), within the sleep's slack
                assert abs(int(found.group(1)) - (len(names) - index) * mean) <= 1
    assert progress_threads() == []


def test_the_ticker_stops_on_ctrl_c_and_on_errors(capsys, monkeypatch, fast_ticks):
    def interrupted(task):
        time.sleep(0.2)
        raise KeyboardInterrupt

    monkeypatch.setattr(symdl.verify.runner, "run_task", interrupted)
    assert main(["verify", "relu", "--no-cache", "--progress", "-j", "1"]) == 130
    assert progress_threads() == []

    def broken(task):
        time.sleep(0.2)
        raise RuntimeError("boom")

    monkeypatch.setattr(symdl.verify.runner, "run_task", broken)
    assert main(["verify", "relu", "--no-cache", "--progress", "-j", "1"]) == 3
    assert progress_threads() == []
    capsys.readouterr()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no os.fork here")
def test_a_ticker_is_paused_around_a_fork_and_resumed_in_the_parent():
    ticks: list[float] = []
    ticker = Ticker(0.02, lambda: ticks.append(time.monotonic()), name="symdl-test-ticker")
    ticker.start()
    try:
        before = ticker._thread
        child = run_within(30, _ticker_threads)  # the --time-limit worker: os.fork while the ticker runs
        assert child == []
        after = ticker._thread
        assert after is not None and after is not before and after.is_alive() and not before.is_alive()
        count = len(ticks)
        time.sleep(0.1)
        assert len(ticks) > count  # still ticking in the parent
    finally:
        ticker.stop()
    assert not any(t.name == "symdl-test-ticker" for t in threading.enumerate())


def _ticker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("symdl-")]


def test_a_ticker_refuses_a_bad_interval():
    with pytest.raises(ValueError, match="interval"):
        Ticker(0, lambda: None)


def test_the_estimate_is_the_items_left_times_the_mean_item(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("symdl.cli.common.time.monotonic", lambda: clock[0])
    terminal = _Terminal()
    progress = Progress(terminal, True, "verify")
    try:
        for index in range(Progress.ETA_AFTER):  # items of 10 s each: no estimate yet
            progress(f"item{index}", index, 10)
            assert "left" not in terminal.getvalue()
            clock[0] += 10.0
        progress("item3", 3, 10)  # 7 items left (this one included), 10 s each so far
        assert terminal.getvalue().endswith("item3… 30.0 s, about 70 s left (estimate)")
        clock[0] += 4.0
        progress.tick()  # 4 s into this item: 6 more items and the 6 s left of this one
        assert terminal.getvalue().endswith("item3… 34.0 s, about 66 s left (estimate)")
        clock[0] += 26.0
        progress.tick()  # this item past the mean: the other 6 items' 60 s
        assert terminal.getvalue().endswith("item3… 60.0 s, about 60 s left (estimate)")
    finally:
        progress.close()
    assert progress_threads() == []
