"""bench/bench_gpu.py runs on the CPU: one tiny configuration, every candidate checked against float64 autograd before timing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
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


def test_the_smoke_run_times_every_candidate_that_runs_on_the_cpu(bench, capsys, tmp_path):
    jsonl, markdown = tmp_path / "rows.jsonl", tmp_path / "table.md"
    rows = {row["candidate"]: row for row in bench.main([*SMOKE, "--jsonl", str(jsonl), "--markdown", str(markdown)])}
    assert set(rows) == set(bench.CANDIDATES)
    for name in ("PyTorch eager autograd", "jax.jit(value_and_grad)", "symdl torch checked", "symdl JAX checked", "symdl JAX unchecked"):
        assert rows[name]["status"].startswith("error ") and rows[name]["us"] > 0, rows[name]
    assert rows["symdl torch unchecked, CUDA graph"]["status"] == "skipped: CUDA graphs need a CUDA device"
    assert all(rows[name]["status"] == "skipped: --no-compile" for name in bench.COMPILED)
    assert not any(row["status"].startswith(("MISMATCH", "failed")) for row in rows.values())
    printed = capsys.readouterr().out
    assert "| [8, 16, 16, 1] | 256 | float32 | loss_and_grad | symdl JAX unchecked |" in printed and "device: CPU" in printed
    # the rows written as they were measured give the printed header and table again; --markdown holds both
    header, table = printed.split("\n", 1)[0], printed.split("\n", 1)[1].rsplit("\nload average after", 1)[0]
    assert markdown.read_text() == f"{header}\n\n{table}\n"
    assert [row["candidate"] for row in bench.main(["--render", str(jsonl)])] == list(bench.CANDIDATES)
    assert capsys.readouterr().out == f"{header}\n{table}\n"


def test_a_spent_budget_starts_no_candidate_and_says_so(bench, tmp_path, capsys):
    jsonl = tmp_path / "rows.jsonl"
    rows = bench.main([*SMOKE, "--budget", "1e-9", "--jsonl", str(jsonl)])
    assert {row["status"] for row in rows} == {"skipped: --budget spent", "skipped: --no-compile"}
    assert sum(row["status"] == "skipped: --budget spent" for row in rows) == len(bench.CANDIDATES) - len(bench.COMPILED)
    with jsonl.open("a") as cut:  # a run killed mid-line leaves half a row: the rows before it still render
        cut.write('{"network": "[8, 16')
    assert len(bench.main(["--render", str(jsonl)])) == len(rows)
    capsys.readouterr()
    bench.main(["--render", str(jsonl), "--summary"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"rows: {len(rows)} skipped" and lines[-1].endswith("bfloat16 train_step, TFLOP/s through the products: not measured")


def test_each_compiled_candidate_is_compiled_for_its_own_network(bench, monkeypatch):
    """Dynamo caches per code object: without a fresh start, torch.compile of ``torch_loss`` on a second network
    would compile it with dynamic shapes (and a third not at all) — timed as compiled for neither."""
    import torch

    candidates = sys.modules["_gpu_candidates"]
    graphs = []

    def symbolic(node) -> bool:
        value = node.meta.get("example_value")
        return isinstance(value, torch.SymInt) or isinstance(value, torch.Tensor) and any(isinstance(d, torch.SymInt) for d in value.shape)

    def backend(gm, example_inputs):
        graphs.append(any(symbolic(n) for n in gm.graph.nodes if n.op == "placeholder"))
        return gm.forward

    monkeypatch.setattr(candidates, "COMPILE_BACKEND", backend)
    try:
        for layers in ([3, 5, 5, 2], [4, 6, 6, 1], [8, 16, 16, 1]):
            s = bench.make_setup(layers, 16, "float32", "cpu", None, 0.1)
            for name in bench.COMPILED:
                run, result = bench.CANDIDATES[name](s, "loss_and_grad")
                assert bench.relative_error(result, bench.truth(s)) <= 1e-5, (layers, name)
                run()
    finally:
        torch._dynamo.reset()
    assert len(graphs) == 3 * len(bench.COMPILED) and not any(graphs), graphs


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_every_uncompiled_candidate_matches_float64_autograd_and_is_timed(bench):
    """Both dtypes and step kinds on the GPU: the CUDA graph (captured with static inputs) and JAX on the GPU included."""
    rows = bench.main(["--device", "cuda", "--smoke", "--repeats", "3", "--floor-all"])
    jax_gpu = bench.full_precision("cuda") is not None
    assert len(rows) == 2 * 2 * (len(bench.CANDIDATES) + 1)
    for row in rows:
        if row["candidate"] in bench.COMPILED:
            assert row["status"] == "skipped: --no-compile"
        elif not jax_gpu and ("JAX" in row["candidate"] or "jax" in row["candidate"]):
            assert row["status"].startswith("skipped: JAX has no device"), row
        else:
            assert row["us"] > 0 and row["tflops"] > 0, row
            assert row["candidate"] == "matmul floor" or row["status"].startswith("error "), row


SCRIPT = BENCH / "gpu_session.sh"


@pytest.mark.slow
def test_the_session_script_runs_its_stages_on_the_cpu_and_writes_the_table(tmp_path):
    """bench/gpu_session.sh with GPU_SESSION_DEVICE=cpu: the stages of the GPU session (a one-test selection and the
    smallest benchmark here), each under its time limit, and the files the session brings back."""
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), GPU_SESSION_DEVICE="cpu", GPU_SESSION_BUDGET="150", PYTHON=sys.executable,
               GPU_SESSION_TESTS="tests/test_bench_gpu.py::test_a_spent_budget_starts_no_candidate_and_says_so",
               GPU_SESSION_BENCH="--smoke --dtypes float32 --kinds loss_and_grad --repeats 3")
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["bench.jsonl", "bench.log", "bench_gpu.md", "env.txt", "summary.md", "tests.log"]
    summary = (out / "summary.md").read_text()
    for stage in ("env", "tests", "bench"):
        assert f"| {stage} | 0 |" in summary, summary
    assert "tests: 1 passed" in summary and "rows: 3 skipped, 6 timed" in summary, summary
    assert "torch " in (out / "env.txt").read_text() and "symdl " in (out / "env.txt").read_text()
    table = (out / "bench_gpu.md").read_text()
    assert "device: CPU" in table and "| [8, 16, 16, 1] | 256 | float32 | loss_and_grad | symdl JAX unchecked |" in table


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


def test_tf32_goes_off_through_the_new_api_where_torch_has_it(bench, monkeypatch):
    """From PyTorch 2.9 setting ``torch.backends.cuda.matmul.allow_tf32`` warns (an error under this suite's
    filterwarnings, as on the GPU machine's torch 2.11), and mixing it with ``fp32_precision`` raises."""
    import torch

    class Matmul:
        fp32_precision = "tf32"

        def __setattr__(self, name, value):
            if name != "fp32_precision":
                raise AssertionError(f"set the deprecated {name}")
            object.__setattr__(self, name, value)

    fake = Matmul()
    monkeypatch.setattr(torch.backends.cuda, "matmul", fake)
    bench.full_precision("cpu")
    assert fake.fp32_precision == "ieee"


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None and __import__("torch").cuda.is_available(), reason="a GPU is here")
def test_cuda_without_a_gpu_is_one_clear_line(bench):
    with pytest.raises(SystemExit, match="no CUDA device here .*run with --device cpu"):
        bench.main(["--device", "cuda", "--smoke"])


def test_the_summary_judges_issue_21s_goals_from_the_rows(bench):
    def row(network, dtype, kind, candidate, us, **extra):
        return {"network": network, "batch": 256, "dtype": dtype, "kind": kind, "candidate": candidate, "us": us,
                "status": "products only" if candidate == "matmul floor" else "error 1e-07", **extra}

    medium, big = "[784, 512, 512, 10]", "[4096]*4"
    rows = [row(medium, "float32", "train_step", *pair) for pair in (
        ("jax.jit(value_and_grad)", 100.0), ("PyTorch eager autograd", 500.0), ("symdl torch checked", 510.0),
        ("symdl torch unchecked, CUDA graph", 120.0), ("symdl torch unchecked, torch.compile", 105.0), ("symdl JAX unchecked", 110.0))]
    rows += [row(big, "float32", "train_step", "matmul floor", 1000.0), row(big, "float32", "train_step", "symdl torch unchecked", 1020.0),
             row(big, "bfloat16", "train_step", "symdl torch unchecked", 50.0, tflops=336.0),
             row(big, "bfloat16", "train_step", "symdl torch unchecked, CUDA graph", 40.0, tflops=420.0)]
    rows.append(dict(row(medium, "float32", "loss_and_grad", "symdl JAX checked", None), status="MISMATCH: error 1e-02 > 1e-04, not timed"))
    lines = bench.summary(rows)
    assert lines[0] == "rows: 1 MISMATCH, 10 timed"
    train = [line for line in lines if "train_step" in line]
    assert train == [
        "- [784, 512, 512, 10] float32 train_step, torch unchecked ÷ jax.jit(v&g): symdl torch unchecked, torch.compile 1.05 (goal ≤ 1.1): met",
        "- [784, 512, 512, 10] float32 train_step, JAX unchecked ÷ jax.jit(v&g): symdl JAX unchecked 1.1 (goal ≤ 1.1): met",
        "- [784, 512, 512, 10] float32 train_step, torch checked ÷ eager autograd: symdl torch checked 1.02 (goal ≤ 1): NOT met",
        "- [4096]*4 float32 train_step, torch unchecked ÷ matmul floor: symdl torch unchecked 1.02 (goal ≤ 1.03): met",
        "- [4096]*4 bfloat16 train_step, TFLOP/s through the products: symdl torch unchecked, CUDA graph 420 (goal ≥ 400): met",
    ]
    assert sum(line.endswith("not measured") for line in lines if "loss_and_grad," in line) == 5
    assert lines[-2:] == ["Failed or mismatched:", "- [784, 512, 512, 10] float32 loss_and_grad symdl JAX checked: MISMATCH: error 1e-02 > 1e-04, not timed"]
