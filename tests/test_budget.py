"""The work budget: symdl.budget's forked worker, the CLI's --time-limit, exit 3 and the issue's slow formulas."""

from __future__ import annotations

import importlib
import os
import signal
import time

import pytest
from cli_fuzz_driver import problems, run

from symdl.budget import TimeLimitExceeded, WorkerDied, run_captured, run_within
from symdl.cli import main

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the budget's worker needs os.fork")


def _busy_in_c() -> int:
    """A loop inside one C call (no bytecode boundary): a signal handler could not stop it."""
    return sum(range(10**12))


def _fail() -> None:
    raise ValueError("the worker's own message")


def _print_and_return() -> int:
    print("from the worker")
    return 42


def test_a_result_and_the_printed_text_come_back():
    assert run_within(5, divmod, 7, 2) == (3, 1)
    assert run_captured(5, _print_and_return) == (42, "from the worker\n")


def test_c_level_work_is_stopped_at_the_limit(monkeypatch):
    forked = []
    fork = os.fork

    def recording_fork():
        pid = fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recording_fork)
    start = time.monotonic()
    with pytest.raises(TimeLimitExceeded, match="summing took longer than 0.5 s") as caught:
        run_within(0.5, _busy_in_c, what="summing")
    assert 0.5 <= time.monotonic() - start < 3
    assert caught.value.seconds == 0.5 and caught.value.what == "summing"
    # The worker itself was reaped (no zombie). Asked of this pid, not of any child: other tests leave children
    # of their own (multiprocessing's resource tracker, started by a spawn Pool in symdl verify -j, lives on).
    (pid,) = forked
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_the_worker_exception_is_raised_here_with_its_traceback_as_a_note():
    with pytest.raises(ValueError, match="the worker's own message") as caught:
        run_within(5, _fail)
    assert "raised in the worker process" in "".join(caught.value.__notes__)


def test_a_worker_killed_from_outside_is_worker_died():
    with pytest.raises(WorkerDied, match="killed by signal 9"):
        run_within(5, lambda: os.kill(os.getpid(), signal.SIGKILL))


def test_zero_means_no_limit_and_runs_here():
    seen = []
    assert run_within(0, lambda: seen.append(1) or "done") == "done"
    assert seen == [1]  # a side effect in this process: no worker
    with pytest.raises(ValueError, match="time limit"):
        run_within(-1, abs, 1)


def test_the_overhead_is_milliseconds():
    run_within(5, abs, -1)
    start = time.perf_counter()
    for _ in range(5):
        run_within(5, abs, -1)
    assert (time.perf_counter() - start) / 5 < 0.25


# --- the CLI ------------------------------------------------------------------

#: The issue's formulas that ran for minutes (or inside C code); each must end within the limit.
SLOW = [
    ("derive", "where(z < 1e-8, z, 3) ** z"),
    ("derive", "where(z < -1e15, z, z**z)"),
    ("check", "softplus(10**30)*z"),
    ("derive", "cos(where(-1e15 > z/3, z, z**z))"),
    ("derive", "max(5 ** z, where(z < 1, z, 4503599627370496), 88.7)"),
    ("codegen", "where(z < -1e15, z, z**z)"),
]


@pytest.mark.parametrize(("command", "formula"), SLOW)
def test_the_slow_formulas_end_within_the_limit(command, formula):
    limit = 1.5
    outcome = run(command, formula, time_limit=limit)
    assert problems(outcome) == [], outcome
    assert outcome.seconds < limit + 4
    if outcome.code == 2 and "time limit" in outcome.err:
        assert "--time-limit SECONDS" in outcome.err and "nothing was written" in outcome.err
        assert outcome.out == "" and outcome.left == []


def test_past_the_limit_is_one_line_exit_2_and_no_file(tmp_path, capsys):
    target = tmp_path / "f.py"
    code = main(["codegen", "where(z < 1e-8, z, 3) ** z", "-o", str(target), "--time-limit", "1"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("symdl: error: generating code for 'where(z < 1e-8, z, 3) ** z' took longer than")
    assert not target.exists() and os.listdir(tmp_path) == []


def test_a_report_formula_past_the_limit_writes_no_directory(tmp_path, capsys):
    target = tmp_path / "report"
    start = time.monotonic()
    code = main(["report", "--only", "relu", "--formula", "where(z < -1e15, z, z**z)", "-o", str(target),
                 "--format", "md", "--no-plots", "--time-limit", "1.5"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "report section of --formula" in err
    assert time.monotonic() - start < 2 * 1.5 + 15  # reading the formula and its section: one limit each
    assert os.listdir(tmp_path) == []


def test_the_time_limit_flag_is_checked(capsys):
    for bad in ("-1", "abc", "inf", "nan"):
        assert main(["derive", "relu", "--time-limit", bad]) == 2
        assert "--time-limit" in capsys.readouterr().err
    assert main(["derive", "relu", "--time-limit", "0"]) == 0
    assert "d/dz" in capsys.readouterr().out


def test_an_internal_error_is_one_line_exit_3_and_debug_shows_it(monkeypatch, capsys):
    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setitem(importlib.import_module("symdl.cli.main").COMMANDS, "list", broken)
    assert main(["list"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symdl: internal error (KeyError: 'a bug')") and "--debug" in err
    with pytest.raises(KeyError):
        main(["list", "--debug"])


@pytest.mark.parametrize(("argv", "says", "never"), [
    (["derive", "sigmoid(1e15)*relu(z)"], "exact constant", "try smaller widths"),
    (["check", "z / (1.5 if E >= z else z)"], "800-digit", "Traceback"),
])
def test_honest_one_line_messages(argv, says, never, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and never not in err


def test_a_constant_piecewise_under_abs_is_checked_not_refused(capsys):
    # solveset finds no root of the inner Piecewise (EmptySet): no sign change, not "undecidable"
    assert main(["check", "Abs(where(0.01 >= z, 0.01, z))"]) == 0
    assert "EmptySet" not in capsys.readouterr().out


def test_errors_are_explained():
    from symdl.cli.errors import explain

    try:
        int("1" * 5000)
    except ValueError as error:
        assert "4300 digits" in explain(error) and "set_int_max_str_digits" not in explain(error)
    assert "too deeply" in explain(RecursionError("maximum recursion depth exceeded"))
    assert explain(ValueError("plain")) == "plain"


def test_the_worker_dies_with_its_caller(tmp_path):
    import subprocess
    import sys

    code = ("import os\nfrom symdl.budget import run_within\n"
            "run_within(60, lambda: (print(os.getpid(), flush=True), sum(range(10**13))))\n")
    caller = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    with caller:
        worker = int(caller.stdout.readline())
        caller.kill()  # SIGKILL: the caller cannot clean up; the kernel ends the worker (PR_SET_PDEATHSIG)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{worker}/status") as status:
                if any(line.startswith("State:") and "Z" in line for line in status):
                    break  # a zombie: dead, waiting for init to reap it
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived its caller")


def _warns_and_returns(category: type[Warning]) -> int:
    import warnings

    warnings.warn("said in the worker", category, stacklevel=1)
    return 7



class _ModuleWarning(UserWarning):
    """A warning class of symdl's kind: module-level, so pickled by name and found again in the caller."""


def test_a_warning_in_the_worker_reaches_the_caller_through_its_filters():
    # The worker's stderr is not the caller's (a test's capture, a notebook): what it warns comes back, as its result.
    with pytest.warns(_ModuleWarning, match="said in the worker") as caught:
        assert run_within(5, _warns_and_returns, _ModuleWarning) == 7
    assert len(caught) == 1 and caught[0].category is _ModuleWarning and caught[0].filename == __file__


def test_a_warning_class_that_does_not_pickle_comes_back_as_its_builtin_base():
    class Local(RuntimeWarning):
        pass

    with pytest.warns(RuntimeWarning, match="said in the worker") as caught:
        assert run_within(5, _warns_and_returns, Local) == 7
    assert [w.category for w in caught] == [RuntimeWarning]
