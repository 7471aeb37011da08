"""bench/bench_gpu.py runs on the CPU: one tiny configuration, every candidate checked against float64 autograd before timing."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")

BENCH = Path(__file__).resolve().parent.parent / "bench"
SMOKE = ["--device", "cpu", "--smoke", "--dtypes", "float32", "--kinds", "loss_and_grad", "--repeats", "3"]


@pytest.fixture(scope="module")
def bench():
    import jax
    import torch

    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH / "bench_gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    precision, threads, flags = jax.config.jax_default_matmul_precision, torch.get_num_threads(), os.environ.get("XLA_FLAGS")
    yield module
    jax.config.update("jax_default_matmul_precision", precision)  # the bench sets these for its whole process
    torch.set_num_threads(threads)
    if flags is None:
        os.environ.pop("XLA_FLAGS", None)
    else:
        os.environ["XLA_FLAGS"] = flags


def test_the_smoke_run_times_every_candidate_that_runs_on_the_cpu(bench, capsys):
    rows = {row["candidate"]: row for row in bench.main(SMOKE)}
    assert set(rows) == set(bench.CANDIDATES)
    for name in ("PyTorch eager autograd", "jax.jit(value_and_grad)", "symdl torch checked", "symdl JAX checked", "symdl JAX unchecked"):
        assert rows[name]["status"].startswith("error ") and rows[name]["us"] > 0, rows[name]
    assert rows["symdl torch unchecked, CUDA graph"]["status"] == "skipped: CUDA graphs need a CUDA device"
    assert not any(row["status"].startswith(("MISMATCH", "failed")) for row in rows.values())
    table = capsys.readouterr().out
    assert "| [8, 16, 16, 1] | 256 | float32 | loss_and_grad | symdl JAX unchecked |" in table and "device: CPU" in table


def test_a_wrong_gradient_is_reported_and_not_timed(bench, monkeypatch):
    def wrong(s, kind):
        loss, grads = bench.truth(s)
        grads["W1"] = grads["W1"] * (1 + 1e-3)  # off by 1e-3 relative: ten times float32's tolerance

        def run():
            raise AssertionError("a mismatching candidate must not be timed")

        return run, (loss, grads)

    monkeypatch.setattr(bench, "CANDIDATES", {"wrong": wrong})
    (row,) = bench.main(SMOKE)
    assert row["us"] is None and row["status"].startswith("MISMATCH: error 1.0e-03 > 1e-04")


def test_tflops_count_the_products_autograd_runs(bench):
    from torch.utils.flop_counter import FlopCounterMode

    s = bench.make_setup([8, 16, 16, 1], 32, "float32", "cpu", None, 0.1)
    run, _ = bench.CANDIDATES[bench.EAGER](s, "loss_and_grad")
    with FlopCounterMode(display=False) as counter:
        run()
    assert counter.get_total_flops() == bench.matmul_flops(s.layers, s.batch)
    rows = bench.main([*SMOKE, "--floor-all"])
    floor = [row for row in rows if row["candidate"] == "matmul floor"]
    assert len(floor) == 1 and floor[0]["floor"] == 1.0 and floor[0]["tflops"] > 0
    timed = [row for row in rows if row["us"]]
    assert len(timed) >= 4 and all(row["tflops"] > 0 and row["floor"] > 0 for row in timed)


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None and __import__("torch").cuda.is_available(), reason="a GPU is here")
def test_cuda_without_a_gpu_is_one_clear_line(bench):
    with pytest.raises(SystemExit, match="no CUDA device here .*run with --device cpu"):
        bench.main(["--device", "cuda", "--smoke"])
