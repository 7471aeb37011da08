"""symdl verify's runner and disk cache: parallel rows in table order, cache hits, invalidation, corrupt entries."""

from __future__ import annotations

import ast
import gc
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import symdl.verify.cache as cache_module
import symdl.verify.runner as runner
from symdl.cli import main
from symdl.cli.common import report_json
from symdl.rulebook import registry
from symdl.rulebook.definition import Definition
from symdl.verify.cache import (
    VerifyCache,
    cache_dir,
    entry_key,
    report_data,
    report_from_data,
)
from symdl.verify.rules import RuleReport

NAMES = ["relu", "huber", "l2"]


def verify_output(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["verify", *argv])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the label of every task computed in this process."""
    computed: list[str] = []
    real = runner.run_task

    def run_task(task):
        computed.append(task.label)
        return real(task)

    monkeypatch.setattr(runner, "run_task", run_task)
    return computed


def test_parallel_output_equals_the_serial_output(capsys):
    serial = verify_output(capsys, *NAMES, "--points", "20", "-j", "1", "--no-cache", "--json")
    parallel = verify_output(capsys, *NAMES, "--points", "20", "-j", "2", "--no-cache", "--json")
    assert parallel == serial
    assert [r["name"] for r in json.loads(serial)] == ["relu", "huber", "huber(delta=2.5)", "l2", "l2(lam=0.025)"]


def test_a_warm_run_reads_every_row_from_the_cache_and_prints_the_same(capsys, monkeypatch, tmp_path):
    cold = verify_output(capsys, *NAMES, "--points", "20", "-j", "2")
    assert len(list(Path(cache_dir()).rglob("*.json"))) >= 5
    computed = counting(monkeypatch)
    warm = verify_output(capsys, *NAMES, "--points", "20", "-j", "2")
    assert warm == cold and computed == []
    other_points = verify_output(capsys, "relu", "--points", "21", "-j", "1")  # a setting is part of the key
    assert computed == ["relu"] and "relu" in other_points


def test_no_cache_neither_reads_nor_writes(capsys, monkeypatch):
    verify_output(capsys, "relu", "--points", "20", "--no-cache")
    assert not Path(cache_dir()).exists()


_SCALE = {"value": 1}


def _scaled_builder() -> Definition:
    """a rule whose definition the test changes"""
    z, g = sp.Symbol("z", real=True), sp.Symbol("g", real=True)
    return Definition(expr=_SCALE["value"] * z, inputs=(z,), textbook=sp.Integer(_SCALE["value"]), output=g)


def test_a_changed_rule_is_verified_again_and_only_its_rows(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the test's rule leaves with the test
    registry.register("scaled_for_cache_test", "activation")(_scaled_builder)
    tasks = runner.plan(["scaled_for_cache_test", "relu"], points=20)
    cache = VerifyCache()
    first = runner.run(tasks, cache=cache)
    computed = counting(monkeypatch)
    assert runner.run(tasks, cache=cache) == first and computed == []
    monkeypatch.setitem(_SCALE, "value", 3)
    changed = runner.run(tasks, cache=cache)
    assert computed == ["scaled_for_cache_test"]
    assert changed[0].passed and changed[1] == first[1]


def test_the_key_holds_the_versions_and_the_settings(monkeypatch):
    task = {"kind": "rule", "args": ["relu", [], 200]}
    key = entry_key(task)
    assert entry_key({**task, "args": ["relu", [], 201]}) != key
    real = cache_module.environment
    monkeypatch.setattr(cache_module, "environment", lambda extra=(): {**real(extra), "sympy": "0.0"})
    assert entry_key(task) != key


CORRUPTIONS = [
    lambda entry: "{not json",
    lambda entry: json.dumps({**entry, "checksum": "0" * 64}),
    lambda entry: json.dumps({**entry, "key": "f" * 64}),
    lambda entry: json.dumps({**entry, "format": 0}),
    lambda entry: json.dumps({**entry, "reports": [{"name": "relu"}], "checksum": cache_module._checksum([{"name": "relu"}])}),
    lambda entry: json.dumps([1, 2, 3]),
    lambda entry: "",
]


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_a_corrupt_or_foreign_entry_is_ignored_and_replaced(monkeypatch, corrupt):
    tasks = runner.plan(["relu"], points=20)
    cache = VerifyCache()
    first = runner.run(tasks, cache=cache)
    (path,) = (Path(cache.directory) / f"v{cache_module.FORMAT}").rglob("*.json")
    path.write_text(corrupt(json.loads(path.read_text())))
    computed = counting(monkeypatch)
    assert runner.run(tasks, cache=cache) == first and computed == ["relu"]
    assert VerifyCache(cache.directory).get(tasks[0].key()) == first  # rewritten


def test_reports_round_trip_through_json_bit_for_bit():
    report = RuleReport("x", proofs={"a": True, "b": False}, kinks_ok=False, fd_error=float("nan"),
                        accuracy64=float("inf"), accuracy32=1e-310, unstable=["x (float32): overflow"],
                        mutants_killed=2, mutants_total=3, mutant_survivors=["sign"], kind="proof")
    back = report_from_data(json.loads(json.dumps(report_data(report))))
    assert report_json(back) == report_json(report) and back.accuracy32 == 1e-310
    with pytest.raises(ValueError):
        report_from_data({**report_data(report), "mutants_total": "3"})


def test_the_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMDL_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("SYMDL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "symdl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "symdl"


@pytest.mark.parametrize("jobs", ["0", "-1", "x", "2000"])
def test_bad_jobs_is_a_usage_error(capsys, jobs):
    assert main(["verify", "relu", "-j", jobs]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symdl: error:") and len(err.splitlines()) == 1


def test_run_rejects_bad_jobs():
    with pytest.raises(ValueError, match="jobs"):
        runner.run([], jobs=0)


def test_the_generated_code_tasks_run_in_one_batch():
    tasks = [
        runner.Task("a", "rule", ()),
        runner.Task("export torch", "codegen", (), extra=("torch",)),
        runner.Task("standalone", "codegen", ()),
        runner.Task("b", "rule", ()),
        runner.Task("networks jax", "codegen", (), extra=("jax",)),
        runner.Task("c", "network", ()),
    ]
    assert runner._batches(range(6), tasks) == [[0], [1, 2, 4], [3], [5]]
    assert runner._batches([0, 2, 3], tasks) == [[0], [2], [3]]
    assert runner._batches([0, 3], tasks) == [[0], [3]]
    assert [t.kind for t in runner.plan(["relu", "codegen"])].count("codegen") >= 1


def test_run_tasks_runs_each_task_in_turn(monkeypatch):
    computed = counting(monkeypatch)
    tasks = runner.plan(["relu", "l2"], points=20)
    results = runner.run_tasks(tasks)
    assert computed == [t.label for t in tasks]
    assert [reports[0].name for reports, _ in results] == computed and all(s >= 0 for _, s in results)


def test_the_collector_is_tuned_in_the_workers_and_a_fresh_command_only(capsys):
    before = gc.get_threshold()
    verify_output(capsys, "relu", "--points", "20", "-j", "1", "--no-cache")
    assert gc.get_threshold() == before != runner.GC_THRESHOLDS  # main() called from this test process: not ours
    with multiprocessing.get_context("spawn").Pool(1, initializer=runner._start_worker) as pool:
        assert pool.apply(gc.get_threshold) == runner.GC_THRESHOLDS
    # A fresh process: tuned (imports frozen) while the command runs, the collector as it was afterwards.
    script = ("import gc; real = gc.set_threshold; calls = []; "
              "gc.set_threshold = lambda *t: (calls.append((t, gc.get_freeze_count() > 0)), real(*t))[1]; "
              "before = gc.get_threshold(); from symdl.cli.main import main; code = main(['verify', 'relu', '--points', "
              "'20', '-j', '1', '--no-cache', '--quiet']); "
              "print(repr((calls, gc.get_threshold() == before, gc.get_freeze_count(), code)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(runner.__file__).parents[2])})
    calls, restored, frozen, code = ast.literal_eval(done.stdout.splitlines()[-1])
    assert calls[0] == (runner.GC_THRESHOLDS, True) and (restored, frozen, code) == (True, 0, 0), done.stderr[-2000:]
