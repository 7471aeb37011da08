"""One training step of a tanh MLP with squared error on a GPU: symdl's generated modules against PyTorch and JAX.

    python bench/bench_gpu.py [--device cuda] [--quick] [--no-compile] [--dtypes float32,bfloat16]
    python bench/bench_gpu.py --device cpu --quick      # runs anywhere, on one thread (a smoke result, not GPU figures)
    python bench/bench_gpu.py --device cpu --smoke      # [8, 16, 16, 1] only, 3 repeats, no torch.compile

Networks [8, 16, 16, 1] and [784, 512, 512, 10] at batch 256, and [4096]*4 at batch 4096 (not with --quick);
float32 at full precision (TF32 off in PyTorch, ``jax_default_matmul_precision="highest"``) and bfloat16.
A step is ``loss_and_grad`` (C and every gradient) or ``train_step`` (the same and W ← W − η ∂C/∂W).
Candidates (bench/_gpu_candidates.py): PyTorch eager autograd, ``torch.compile`` of it, ``jax.jit(value_and_grad)``,
symdl's torch module (checked, unchecked, ``torch.compile(fullgraph=True)`` of the unchecked step, the unchecked
step in a CUDA graph — CUDA only) and symdl's JAX module (checked, unchecked). A candidate that cannot run here is
listed with the reason.

Before timing, each candidate's C and gradients (for train_step: read back from the update) are compared with
PyTorch autograd in float64: max |a − b| / max |b| per array must stay within 1e-4 (float32) or 5e-2 (bfloat16:
8-bit significands, products accumulated over up to 4096 terms); a mismatch is reported and not timed.
Timing: 3 warm-up steps, then per repeat ``number`` steps and one wait (``torch.cuda.synchronize()`` /
``jax.block_until_ready``), wall-clock; the median repeat per step. Ratios are to ``jax.jit(value_and_grad)`` and
to eager autograd of the same step; for [4096]*4, TFLOP/s through the matrix products and the ratio to those
products timed alone (the matmul floor).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gpu_candidates import (  # noqa: E402
    CANDIDATES,
    COMPILED,
    Setup,
    Skip,
    make_setup,
    matmul_floor,
    matmul_flops,
    torch_sync,
    truth,
)

CONFIGS = {"[8, 16, 16, 1]": ([8, 16, 16, 1], 256), "[784, 512, 512, 10]": ([784, 512, 512, 10], 256),
           "[4096]*4": ([4096] * 4, 4096)}
QUICK = ("[8, 16, 16, 1]", "[784, 512, 512, 10]")
TOLERANCE = {"float32": 1e-4, "bfloat16": 5e-2}
KINDS = ("loss_and_grad", "train_step")
JAX_REFERENCE, EAGER = "jax.jit(value_and_grad)", "PyTorch eager autograd"


def relative_error(result: tuple, reference: tuple) -> float:
    """The largest of |C − C*| / |C*| and, per array, max |g − g*| / max |g*| (g* from float64 autograd)."""
    import numpy as np

    (loss, grads), (loss_ref, grads_ref) = result, reference
    if set(grads) != set(grads_ref):
        return float("inf")
    errors = [abs(loss - loss_ref) / max(abs(loss_ref), 1e-30)]
    for k, g in grads_ref.items():
        errors.append(float(np.max(np.abs(grads[k] - g)) / max(float(np.max(np.abs(g))), 1e-30)))
    return max(errors) if all(np.isfinite(errors)) else float("inf")


def time_per_step(run, wait, repeats: int, target_s: float) -> float:
    """The median over ``repeats`` of (wall-clock of ``number`` steps and one wait) / number, in µs."""
    for _ in range(3):
        wait(run())
    start = time.perf_counter()
    wait(run())
    number = max(1, int(target_s / max(time.perf_counter() - start, 1e-7)))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            out = run()
        wait(out)
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples) * 1e6


def device_name(device: str) -> str:
    """``torch.cuda.get_device_name()``, or the CPU model with its core count."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU: {model}, {os.cpu_count()} cores"


def full_precision(device: str):
    """TF32 off in PyTorch, 'highest' matmul precision in JAX; the JAX device of ``device`` (None if JAX has none)."""
    import jax
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    jax.config.update("jax_default_matmul_precision", "highest")
    try:
        return jax.devices("gpu" if device.startswith("cuda") else "cpu")[0]
    except RuntimeError:
        return None


def _wait(name: str, device: str):
    if "JAX" in name or "jax" in name:
        import jax

        return jax.block_until_ready
    return torch_sync(device)


def measure_setup(s: Setup, args, label: str) -> list[dict]:
    """Every candidate and step kind for one configuration: checked against float64 autograd, then timed."""
    reference = truth(s)
    wait = torch_sync(s.device)
    big = args.floor_all or s.layers[0] >= 4096
    floor_us = time_per_step(matmul_floor(s), wait, args.repeats, args.target) if big else None
    flops = matmul_flops(s.layers, s.batch)
    rows = []
    for kind in args.kinds:
        for name, factory in CANDIDATES.items():
            row = {"network": label, "batch": s.batch, "dtype": s.dtype, "kind": kind, "candidate": name, "us": None}
            rows.append(row)
            if name in COMPILED and not args.compile:
                row["status"] = "skipped: --no-compile"
                continue
            try:
                run, result = factory(s, kind)
            except Skip as why:
                row["status"] = f"skipped: {why}"
                continue
            except Exception as why:  # noqa: BLE001  (a benchmark reports every candidate's failure and goes on)
                row["status"] = f"failed: {type(why).__name__}: {str(why).splitlines()[0][:100] if str(why) else ''}"
                continue
            error = relative_error(result, reference)
            tolerance = TOLERANCE[s.dtype]
            if not error <= tolerance:
                row["status"] = f"MISMATCH: error {error:.1e} > {tolerance:.0e}, not timed"
                continue
            row["status"] = f"error {error:.0e}"
            row["us"] = time_per_step(run, _wait(name, s.device), args.repeats, args.target)
            if big:
                row["tflops"] = flops / (row["us"] * 1e-6) / 1e12
                row["floor"] = row["us"] / floor_us
        if big:
            rows.append({"network": label, "batch": s.batch, "dtype": s.dtype, "kind": kind, "candidate": "matmul floor",
                         "us": floor_us, "tflops": flops / (floor_us * 1e-6) / 1e12, "floor": 1.0, "status": "products only"})
    return rows


def render(rows: list[dict]) -> str:
    """The Markdown table: µs per step, the ratios, TFLOP/s and the floor ratio where measured, the check's result."""
    lines = ["| network | batch | dtype | step | candidate | µs/step | × jax.jit(v&g) | × eager | TFLOP/s | × floor | check |",
             "| --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    base = {}
    for row in rows:
        if row["candidate"] in (JAX_REFERENCE, EAGER) and row["us"]:
            base[(row["network"], row["dtype"], row["kind"], row["candidate"])] = row["us"]

    def ratio(row, reference):
        b = base.get((row["network"], row["dtype"], row["kind"], reference))
        return f"{row['us'] / b:.3g}" if b and row["us"] else "–"

    for row in rows:
        us = f"{row['us']:.1f}" if row["us"] else "–"
        tflops = f"{row['tflops']:.1f}" if "tflops" in row else "–"
        floor = f"{row['floor']:.2f}" if "floor" in row else "–"
        lines.append(f"| {row['network']} | {row['batch']} | {row['dtype']} | {row['kind']} | {row['candidate']} | {us} | "
                     f"{ratio(row, JAX_REFERENCE)} | {ratio(row, EAGER)} | {tflops} | {floor} | {row['status']} |")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--quick", action="store_true", help="[8, 16, 16, 1] and [784, 512, 512, 10] only, 7 repeats")
    parser.add_argument("--smoke", action="store_true", help="[8, 16, 16, 1] only, 3 repeats, no torch.compile")
    parser.add_argument("--repeats", type=int, default=0, help="repeats per candidate (default: 15, --quick 7, --smoke 3)")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile candidates")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="comma-separated: float32, bfloat16")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated: loss_and_grad, train_step")
    parser.add_argument("--lr", type=float, default=0.1, help="η of train_step")
    parser.add_argument("--floor-all", action="store_true", help="TFLOP/s and the matmul floor for every network, not only [4096]*4")
    args = parser.parse_args(argv)
    args.dtypes = [d for d in args.dtypes.split(",") if d]
    args.kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(args.dtypes) - set(TOLERANCE)) + sorted(set(args.kinds) - set(KINDS))
    if unknown or args.repeats < 0:
        parser.error(f"unknown --dtypes/--kinds {', '.join(unknown)}" if unknown else "--repeats: expected >= 0")
    args.configs = ["[8, 16, 16, 1]"] if args.smoke else list(QUICK) if args.quick else list(CONFIGS)
    args.repeats = args.repeats or (3 if args.smoke else 7 if args.quick else 15)
    args.target = 0.002 if args.smoke else 0.02 if args.quick else 0.1  # seconds of steps per repeat
    if args.smoke:
        args.compile = False
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the benchmark; print the header and the Markdown table; return the rows."""
    args = parse(argv)
    if args.device == "cpu":  # one thread: on a shared machine more threads only measure the contention
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    import jax
    import torch

    if args.device == "cpu":
        torch.set_num_threads(1)

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(f"bench_gpu: no CUDA device here (torch {torch.__version__}); run with --device cpu")
    jax_device = full_precision(args.device)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; device: {device_name(args.device)}; torch {torch.__version__}, "
          f"JAX {jax.__version__} on {jax_device}{', one thread' if args.device == 'cpu' else ''}; load average {os.getloadavg()[0]:.1f}; TF32 off, JAX precision highest; "
          f"median of {args.repeats} repeats, wall-clock per step")
    rows = []
    for label in args.configs:
        layers, batch = CONFIGS[label]
        for dtype in args.dtypes:
            rows += measure_setup(make_setup(layers, batch, dtype, args.device, jax_device, args.lr), args, label)
    print(render(rows))
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return rows


if __name__ == "__main__":
    main()
