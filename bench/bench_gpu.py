"""One training step of a tanh MLP with squared error on a GPU: symdl's generated modules against PyTorch and JAX.

    python bench/bench_gpu.py [--device cuda] [--quick] [--no-compile] [--dtypes float32,bfloat16]
    python bench/bench_gpu.py --device cpu --quick      # runs anywhere, on one thread (a smoke result, not GPU figures)
    python bench/bench_gpu.py --device cpu --smoke      # [8, 16, 16, 1] only, 3 repeats, no torch.compile
    python bench/bench_gpu.py --networks 784-512-512-10,4096x4 --budget 300 --jsonl rows.jsonl --markdown table.md
    python bench/bench_gpu.py --render rows.jsonl       # the table of a run's rows (one that was stopped too)

Networks [8, 16, 16, 1] and [784, 512, 512, 10] at batch 256, and [4096]*4 at batch 4096 (not with --quick);
float32 at full precision (TF32 off in PyTorch, ``jax_default_matmul_precision="highest"``) and bfloat16 (JAX's
default precision: "highest" is about float32 operands, and bfloat16 operands gain nothing from it).
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

Order: every network's uncompiled candidates first, then the ``torch.compile`` ones (each compile takes seconds on a
fresh machine), so that ``--budget`` (no candidate is started after that many seconds) cuts the compiled rows, not
the rest; ``--jsonl`` writes each row as soon as it is measured, so a run stopped from outside keeps its rows.
"""

from __future__ import annotations

import argparse
import json
import math
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
#: --networks names (no spaces or commas) of CONFIGS' labels
NETWORKS = {"8-16-16-1": "[8, 16, 16, 1]", "784-512-512-10": "[784, 512, 512, 10]", "4096x4": "[4096]*4"}
QUICK = ("[8, 16, 16, 1]", "[784, 512, 512, 10]")
TOLERANCE = {"float32": 1e-4, "bfloat16": 5e-2}
KINDS = ("loss_and_grad", "train_step")
JAX_REFERENCE, EAGER, FLOOR = "jax.jit(value_and_grad)", "PyTorch eager autograd", "matmul floor"


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

    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):  # PyTorch >= 2.7; from 2.9 setting allow_tf32 warns, and mixing the two raises
        matmul.fp32_precision = "ieee"
    else:
        matmul.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
    # cuDNN's TF32 flag is left alone: an MLP step has no convolution
    jax.config.update("jax_default_matmul_precision", "highest")
    # JAX names its NVIDIA platform "cuda" ("gpu" is the older alias); one index: cuda:1 is JAX's second GPU too
    index = int(device.split(":")[1]) if ":" in device else 0
    for platform_name in ("cuda", "gpu") if device.startswith("cuda") else ("cpu",):
        try:
            devices = jax.devices(platform_name)
        except RuntimeError:
            continue
        return devices[index] if index < len(devices) else None
    return None


def jax_precision(dtype: str) -> None:
    """'highest' for float32 (no TF32 in the products, like PyTorch's); JAX's default for bfloat16, whose operands
    have nothing to gain from more (and XLA might run the products in float32 for it)."""
    import jax

    jax.config.update("jax_default_matmul_precision", "highest" if dtype == "float32" else None)


def _wait(name: str, device: str):
    if "JAX" in name or "jax" in name:
        import jax

        return jax.block_until_ready
    return torch_sync(device)


def measure_setup(s: Setup, args, label: str, names=None, state: dict | None = None, emit=lambda row: None) -> list[dict]:
    """The candidates ``names`` (default all) of every step kind for one configuration: checked against float64 autograd,
    then timed. ``state`` keeps the reference and the matmul floor between calls on one setup; ``emit`` gets each
    finished row."""
    state = {} if state is None else state
    deadline = getattr(args, "deadline", math.inf)
    if "reference" not in state:
        state["reference"] = truth(s)
    reference = state["reference"]
    wait = torch_sync(s.device)
    big = args.floor_all or s.layers[0] >= 4096
    if big and "floor" not in state:
        state["floor"] = time_per_step(matmul_floor(s), wait, args.repeats, args.target)
    floor_us = state.get("floor")
    flops = matmul_flops(s.layers, s.batch)
    rows = []
    for kind in args.kinds:
        for name, factory in CANDIDATES.items():
            if names is not None and name not in names:
                continue
            row = {"network": label, "batch": s.batch, "dtype": s.dtype, "kind": kind, "candidate": name, "us": None}
            rows.append(row)
            if name in COMPILED and not args.compile:
                row["status"] = "skipped: --no-compile"
                emit(row)
                continue
            if time.monotonic() >= deadline:
                row["status"] = "skipped: --budget spent"
                emit(row)
                continue
            try:
                run, result = factory(s, kind)
            except Skip as why:
                row["status"] = f"skipped: {why}"
                emit(row)
                continue
            except Exception as why:  # noqa: BLE001  (a benchmark reports every candidate's failure and goes on)
                row["status"] = f"failed: {type(why).__name__}: {str(why).splitlines()[0][:100] if str(why) else ''}"
                emit(row)
                continue
            error = relative_error(result, reference)
            tolerance = TOLERANCE[s.dtype]
            if not error <= tolerance:
                row["status"] = f"MISMATCH: error {error:.1e} > {tolerance:.0e}, not timed"
                emit(row)
                continue
            row["status"] = f"error {error:.0e}"
            try:
                row["us"] = time_per_step(run, _wait(name, s.device), args.repeats, args.target)
            except Exception as why:  # noqa: BLE001  (a replay or compiled call can fail after its first step)
                row["status"] = f"failed while timed: {type(why).__name__}: {str(why).splitlines()[0][:100] if str(why) else ''}"
            del run  # a CUDA graph's memory pool and a compiled function go with it, before the next candidate
            if big and row["us"]:
                row["tflops"] = flops / (row["us"] * 1e-6) / 1e12
                row["floor"] = row["us"] / floor_us
            emit(row)
        if big and (names is None or FLOOR in names):
            floor = {"network": label, "batch": s.batch, "dtype": s.dtype, "kind": kind, "candidate": FLOOR,
                     "us": floor_us, "tflops": flops / (floor_us * 1e-6) / 1e12, "floor": 1.0, "status": "products only"}
            rows.append(floor)
            emit(floor)
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


def _best(rows: list[dict], network: str, dtype: str, kind: str, names) -> dict | None:
    timed = [r for r in rows if (r["network"], r["dtype"], r["kind"]) == (network, dtype, kind) and r["candidate"] in names and r["us"]]
    return min(timed, key=lambda r: r["us"]) if timed else None


def summary(rows: list[dict]) -> list[str]:
    """Markdown lines: how many rows were timed, skipped, failed or mismatched, then issue 21's goals against the rows
    (each goal's best candidate; "not measured" where its rows are missing)."""
    count: dict[str, int] = {}
    for row in rows:
        word = "timed" if row["us"] else row["status"].split(":")[0].split(" ")[0]
        count[word] = count.get(word, 0) + 1
    lines = ["rows: " + ", ".join(f"{n} {word}" for word, n in sorted(count.items())), "", "Issue 21's goals:"]
    problems = [f"{r['network']} {r['dtype']} {r['kind']} {r['candidate']}: {r['status']}" for r in rows
                if r["status"].startswith(("failed", "MISMATCH"))]
    medium, big = "[784, 512, 512, 10]", "[4096]*4"
    torch_fast = ("symdl torch unchecked, CUDA graph", "symdl torch unchecked, torch.compile")

    def goal(what: str, row: dict | None, base: dict | None, value, limit: float, above: bool = False) -> str:
        if row is None or base is None:
            return f"- {what}: not measured"
        got = value(row, base)
        met = got >= limit if above else got <= limit
        return f"- {what}: {row['candidate']} {got:.3g} (goal {'≥' if above else '≤'} {limit:g}): {'met' if met else 'NOT met'}"

    ratio = lambda r, b: r["us"] / b["us"]  # noqa: E731
    for kind in KINDS:
        jit = _best(rows, medium, "float32", kind, (JAX_REFERENCE,))
        eager = _best(rows, medium, "float32", kind, (EAGER,))
        lines.append(goal(f"{medium} float32 {kind}, torch unchecked ÷ jax.jit(v&g)", _best(rows, medium, "float32", kind, torch_fast), jit, ratio, 1.1))
        lines.append(goal(f"{medium} float32 {kind}, JAX unchecked ÷ jax.jit(v&g)", _best(rows, medium, "float32", kind, ("symdl JAX unchecked",)), jit, ratio, 1.1))
        lines.append(goal(f"{medium} float32 {kind}, torch checked ÷ eager autograd", _best(rows, medium, "float32", kind, ("symdl torch checked",)), eager, ratio, 1.0))
        floor = _best(rows, big, "float32", kind, (FLOOR,))
        symdl_torch = [n for n in CANDIDATES if n.startswith("symdl torch unchecked")]
        lines.append(goal(f"{big} float32 {kind}, torch unchecked ÷ matmul floor", _best(rows, big, "float32", kind, symdl_torch), floor, ratio, 1.03))
        best16 = _best(rows, big, "bfloat16", kind, symdl_torch)
        lines.append(goal(f"{big} bfloat16 {kind}, TFLOP/s through the products", best16, best16, lambda r, b: r["tflops"], 400, above=True))
    return lines + ([""] + ["Failed or mismatched:"] + [f"- {p}" for p in problems] if problems else [])


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--quick", action="store_true", help="[8, 16, 16, 1] and [784, 512, 512, 10] only, 7 repeats")
    parser.add_argument("--smoke", action="store_true", help="[8, 16, 16, 1] only, 3 repeats, no torch.compile")
    parser.add_argument("--networks", default="", help=f"comma-separated, run in the order given, of: {', '.join(NETWORKS)} (default: all, --quick the first two)")
    parser.add_argument("--repeats", type=int, default=0, help="repeats per candidate (default: 15, --quick 7, --smoke 3)")
    parser.add_argument("--target", type=float, default=0.0, help="seconds of steps per repeat (default: 0.1, --quick 0.02, --smoke 0.002)")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile candidates")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="comma-separated: float32, bfloat16")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated: loss_and_grad, train_step")
    parser.add_argument("--lr", type=float, default=0.1, help="η of train_step")
    parser.add_argument("--floor-all", action="store_true", help="TFLOP/s and the matmul floor for every network, not only [4096]*4")
    parser.add_argument("--budget", type=float, default=0.0, help="start no candidate after this many seconds (its row says so); 0: no limit")
    parser.add_argument("--jsonl", default="", help="append the header and each row, as measured, to this file (JSON lines)")
    parser.add_argument("--markdown", default="", help="also write the header line and the table to this file")
    parser.add_argument("--render", default="", metavar="JSONL", help="print the table of the rows in a --jsonl file and exit")
    parser.add_argument("--summary", action="store_true", help="with --render: the row counts and issue 21's goals instead of the table")
    args = parser.parse_args(argv)
    args.dtypes = [d for d in args.dtypes.split(",") if d]
    args.kinds = [k for k in args.kinds.split(",") if k]
    networks = [n for n in args.networks.split(",") if n]
    unknown = sorted(set(args.dtypes) - set(TOLERANCE)) + sorted(set(args.kinds) - set(KINDS)) + sorted(set(networks) - set(NETWORKS))
    if unknown:
        parser.error(f"unknown --networks/--dtypes/--kinds {', '.join(unknown)}")
    if args.repeats < 0 or args.target < 0 or args.budget < 0:
        parser.error("--repeats, --target and --budget: expected >= 0")
    if networks:
        args.configs = [NETWORKS[n] for n in networks]
    else:
        args.configs = ["[8, 16, 16, 1]"] if args.smoke else list(QUICK) if args.quick else list(CONFIGS)
    args.repeats = args.repeats or (3 if args.smoke else 7 if args.quick else 15)
    args.target = args.target or (0.002 if args.smoke else 0.02 if args.quick else 0.1)  # seconds of steps per repeat
    if args.smoke:
        args.compile = False
    return args


def canonical(rows: list[dict]) -> list[dict]:
    """The rows in the table's order: network, dtype, step kind, then candidate (the matmul floor last)."""
    networks, dtypes = list(CONFIGS), list(TOLERANCE)
    names = [*CANDIDATES, FLOOR]

    def key(row):
        return (networks.index(row["network"]), dtypes.index(row["dtype"]), KINDS.index(row["kind"]),
                names.index(row["candidate"]) if row["candidate"] in names else len(names))

    return sorted(rows, key=key)


def read_jsonl(path: str) -> tuple[str, list[dict]]:
    """(the header line, the rows) of a --jsonl file; a line cut off by a stopped run is left out."""
    header, rows = "", []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if "header" in record:
                header = record["header"]
            else:
                rows.append(record)
    return header, rows


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the benchmark; print the header and the Markdown table; return the rows."""
    args = parse(argv)
    if args.render:
        header, rows = read_jsonl(args.render)
        if args.summary:
            print("\n".join(summary(rows)))
        else:
            print(header or "(no header: the run stopped before it measured anything)")
            print(render(canonical(rows)))
        return rows
    start = time.monotonic()
    args.deadline = start + args.budget if args.budget else math.inf
    if args.device == "cpu":  # one thread: on a shared machine more threads only measure the contention
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    else:  # JAX would take 75% of the GPU's memory at its first use, leaving PyTorch the rest
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    import jax
    import torch

    if args.device == "cpu":
        torch.set_num_threads(1)

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(f"bench_gpu: no CUDA device here (torch {torch.__version__}); run with --device cpu")
    jax_device = full_precision(args.device)
    cuda = f", CUDA {torch.version.cuda}" if args.device.startswith("cuda") else ""
    header = (f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; device: {device_name(args.device)}; torch {torch.__version__}{cuda}, "
              f"JAX {jax.__version__} on {jax_device}{', one thread' if args.device == 'cpu' else ''}; load average {os.getloadavg()[0]:.1f}; "
              f"TF32 off (torch float32 matmul precision {torch.get_float32_matmul_precision()}), JAX precision highest for float32; "
              f"median of {args.repeats} repeats of {args.target:g} s, wall-clock per step")
    print(header, flush=True)
    jsonl = open(args.jsonl, "a", encoding="utf-8") if args.jsonl else None

    def emit(row: dict) -> None:
        us = f"{row['us']:.1f} µs" if row["us"] else "–"
        print(f"  {row['network']} {row['dtype']} {row['kind']} | {row['candidate']}: {us} ({row['status']}) "
              f"at {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
        if jsonl:
            jsonl.write(json.dumps(row) + "\n")
            jsonl.flush()

    if jsonl:
        jsonl.write(json.dumps({"header": header}) + "\n")
        jsonl.flush()
    setups = []
    for label in args.configs:
        layers, batch = CONFIGS[label]
        for dtype in args.dtypes:
            setups.append((label, make_setup(layers, batch, dtype, args.device, jax_device, args.lr), {}))
    # the uncompiled candidates of every network first: a --budget cuts the compiles, the slow part on a fresh machine
    first = [n for n in CANDIDATES if n not in COMPILED or not args.compile]  # --no-compile: their rows say so
    passes = [[*first, FLOOR]] + ([list(COMPILED)] if args.compile else [])
    rows = []
    for names in passes:
        for label, s, state in setups:
            jax_precision(s.dtype)
            rows += measure_setup(s, args, label, names, state, emit)
    rows = canonical(rows)
    table = render(rows)
    print(table)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if jsonl:
        jsonl.close()
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(f"{header}\n\n{table}\n")
    return rows


if __name__ == "__main__":
    main()
