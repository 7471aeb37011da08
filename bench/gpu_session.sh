#!/usr/bin/env bash
# Issue 21's GPU session in one device call: the environment, the CUDA-gated tests, then bench/bench_gpu.py.
#
#   bash bench/gpu_session.sh                                      # on the GPU machine (run it with timeout_s 540)
#   GPU_SESSION_DEVICE=cpu OUT=/tmp/session bash bench/gpu_session.sh   # the same stages on the CPU: a dry run
#
# Everything goes to $OUT (default ./gpu_session_out): env.txt, tests.log, bench.log, bench.jsonl (each row as it
# is measured), bench_gpu.md (the header line and the table, ready for docs/performance.md) and summary.md (each
# stage's exit status and seconds, the test count, the issue's goals). Six files: the device tool returns eight.
#
# GPU_SESSION_BUDGET (default 500) seconds in all. Each stage runs under `timeout` with the smaller of its cap and
# what is left: env 60 s, tests 150 s, and the benchmark the rest less 20 s for the table and the summary; the
# benchmark starts no candidate in its last 60 s (--budget), so a compile begun late still ends in time. Stage times
# are estimated in bench/README.md. A stage that fails or times out is recorded and the next one runs.
#
# Variables: GPU_SESSION_DEVICE (cuda, or cpu for the dry run), GPU_SESSION_TESTS (pytest arguments that replace the
# default selection), GPU_SESSION_BENCH (bench_gpu.py options that replace the default networks, repeats and
# target), PYTHON (default python3). Wheels in ./.whl (the device machine has no network: carry them) are installed
# to /tmp/site first and put ahead on PYTHONPATH, e.g. a sympy the machine lacks.
set -u
cd "$(dirname "$0")/.." || exit 2
OUT=${OUT:-$PWD/gpu_session_out}
mkdir -p "$OUT" || exit 2
rm -f "$OUT"/env.txt "$OUT"/tests.log "$OUT"/bench.log "$OUT"/bench.jsonl "$OUT"/bench_gpu.md  # --jsonl appends
BUDGET=${GPU_SESSION_BUDGET:-500}
DEVICE=${GPU_SESSION_DEVICE:-cuda}
PY=${PYTHON:-python3}
START=$(date +%s)
SUMMARY=$OUT/summary.md

export PYTHONUNBUFFERED=1 CI=true
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # JAX would take 75% of the GPU's memory at its first use
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=$PWD:/tmp/site${PYTHONPATH#"$PWD"}
fi

left() { echo $((BUDGET - ($(date +%s) - START))); }

# stage NAME CAP LOG COMMAND...: COMMAND under timeout (the smaller of CAP and what is left less 20 s), output to
# LOG; its exit status and seconds go to the summary (124: timed out).
stage() {
    local name=$1 cap=$2 log=$3 limit began rc
    shift 3
    limit=$(($(left) - 20))
    ((limit > cap)) && limit=$cap
    if ((limit < 5)); then
        echo "| $name | – | – | not run: the budget is spent |" >>"$SUMMARY"
        return
    fi
    began=$(date +%s)
    echo "== $name (limit ${limit} s, at $((began - START)) s)" | tee -a "$log"
    timeout -k 10 "$limit" "$@" >>"$log" 2>&1
    rc=$?
    echo "| $name | $rc | $(($(date +%s) - began)) | $({ [ $rc = 124 ] || [ $rc = 137 ]; } && echo "timed out at ${limit} s" || true) |" >>"$SUMMARY"
    echo "== $name: exit $rc after $(($(date +%s) - began)) s" | tee -a "$log"
}

{
    echo "# GPU session, $(date -u '+%Y-%m-%d %H:%M') UTC, device $DEVICE, budget $BUDGET s"
    echo
    echo "| stage | exit | seconds | note |"
    echo "| --- | ---: | ---: | --- |"
} >"$SUMMARY"

env_report() {
    uname -a
    nproc
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    else
        echo "no nvidia-smi"
    fi
    "$PY" - <<'EOF'
import importlib, sys
print("python", sys.version.split()[0], sys.executable)
for name in ("numpy", "sympy", "mpmath", "hypothesis", "pytest", "torch", "jax", "jaxlib", "optax", "triton"):
    try:
        module = importlib.import_module(name)
        print(name, module.__version__, "from", module.__file__)
    except Exception as why:  # noqa: BLE001
        print(name, "MISSING:", type(why).__name__, why)
import torch
print("torch.cuda.is_available()", torch.cuda.is_available(), "torch.version.cuda", torch.version.cuda)
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("torch device:", torch.cuda.get_device_name(0), p.total_memory // 2**20, "MiB,", p.multi_processor_count, "SMs")
    x = torch.ones(4, device="cuda")
    print("torch on cuda:", float(x.sum()))
import jax
print("jax.devices():", jax.devices(), "default backend:", jax.default_backend())
import symdl
print("symdl", symdl.__version__, "from", symdl.__file__)
EOF
}

TESTS_DEFAULT=(tests/test_torch_device.py tests/test_bench_gpu.py tests/test_jax_device.py tests/test_mixed_unchecked.py
    tests/test_mixed_penalty.py tests/test_graph_mixed.py -k "cuda or transfer or test_jax_device")
if [ -n "${GPU_SESSION_TESTS:-}" ]; then
    read -r -a TESTS <<<"$GPU_SESSION_TESTS"
else
    TESTS=("${TESTS_DEFAULT[@]}")
fi
if [ "$DEVICE" = cpu ]; then
    BENCH_DEFAULT="--smoke"
else
    BENCH_DEFAULT="--networks 784-512-512-10,4096x4,8-16-16-1 --repeats 11 --target 0.05"
fi
read -r -a BENCH <<<"${GPU_SESSION_BENCH:-$BENCH_DEFAULT}"

export -f env_report
export PY
stage env 60 "$OUT/env.txt" bash -c env_report  # timeout runs programs, not shell functions
# JAX's tests compare float32 results to 1e-5: on a GPU JAX's default precision multiplies float32 in TF32
# -v: one line per test as it ends, so a log cut off by the stage's limit still says which passed
PER_TEST=()
"$PY" -c "import pytest_timeout" 2>/dev/null && PER_TEST=(--timeout 90)  # one hung test does not take the stage
stage tests 150 "$OUT/tests.log" env JAX_DEFAULT_MATMUL_PRECISION=highest \
    "$PY" -m pytest -v --tb=short -rfEs -p no:cacheprovider ${PER_TEST[@]+"${PER_TEST[@]}"} "${TESTS[@]}"
bench_limit=$(($(left) - 20))
stage bench "$bench_limit" "$OUT/bench.log" "$PY" bench/bench_gpu.py --device "$DEVICE" "${BENCH[@]}" \
    --budget $((bench_limit > 120 ? bench_limit - 60 : bench_limit / 2)) --jsonl "$OUT/bench.jsonl" --markdown "$OUT/bench_gpu.md"
if [ ! -s "$OUT/bench_gpu.md" ] && [ -s "$OUT/bench.jsonl" ]; then  # stopped: the table of the rows it measured
    timeout 15 "$PY" bench/bench_gpu.py --render "$OUT/bench.jsonl" >"$OUT/bench_gpu.md" 2>>"$OUT/bench.log"
fi

{
    echo
    echo "tests: $(grep -E '^=+ .*(passed|failed|errors?|skipped|no tests ran).* in [0-9.]+s' "$OUT/tests.log" | tail -1 | sed 's/^=* *//; s/ *=*$//')"
    if [ -s "$OUT/bench.jsonl" ]; then
        timeout 15 "$PY" bench/bench_gpu.py --render "$OUT/bench.jsonl" --summary 2>&1
    else
        echo "bench: no rows"
    fi
    echo
    echo "total $(($(date +%s) - START)) s of $BUDGET"
} >>"$SUMMARY"
cat "$SUMMARY"
exit 0
