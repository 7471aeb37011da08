"""Mutation testing of symdl's core, one module at a time with the test files that concern it.

    python tools/mutation.py                  # every module in MODULES
    python tools/mutation.py parse proof      # some of them
    python tools/mutation.py --jobs 2 parse   # mutmut's worker count (default: all cores)

Each module is mutated by mutmut 3 (``pip install -e .[mutation]``) in its own
copy of the repository under ``.mutation/<module>/`` (git-ignored), with
``[tool.mutmut]`` rewritten to mutate that one file and to run only its test
files, and with ``CI=1`` (the derandomized hypothesis profile: a mutant is
killed or not, never by chance). It prints, per module, the count of each
status, the score (killed + timeout) / (all checked), and the names of the
mutants not detected; ``mutmut show NAME`` inside ``.mutation/<module>/`` shows one.
The scores and the justified equivalent mutants are in ``docs/testing.md``.
Too slow for CI; ``tests/test_mutation_sample.py`` keeps a fixed sample there.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: module key → (file to mutate, the test files that concern it).
MODULES: dict[str, tuple[str, list[str]]] = {
    "parse": ("symdl/symbolic/parse.py", ["tests/test_parse.py", "tests/test_parse_errors.py"]),
    "proof": ("symdl/symbolic/proof.py", ["tests/test_proof.py", "tests/test_proof_regimes.py", "tests/test_proof_points.py"]),
    "regimes": ("symdl/symbolic/regimes.py", ["tests/test_proof.py", "tests/test_proof_regimes.py", "tests/test_regimes.py"]),
    # resolve_branches, moved out of proof.py (its tests are proof's).
    "branch_at": ("symdl/symbolic/branch_at.py",
                  ["tests/test_proof.py", "tests/test_proof_regimes.py", "tests/test_branch_at.py"]),
    "gradcheck": (
        "symdl/testing/gradcheck.py",
        ["tests/test_gradcheck.py", "tests/test_gradcheck_floor.py", "tests/test_gradcheck_report.py",
         "tests/test_testing_messages.py", "tests/test_gradcheck_steps.py", "tests/test_gradcheck_edges.py"],
    ),
    # assert_subgradient and one_sided_differences, moved out of gradcheck.py (its tests are gradcheck's).
    "subgradient": (
        "symdl/testing/subgradient.py",
        ["tests/test_gradcheck.py", "tests/test_gradcheck_steps.py", "tests/test_gradcheck_edges.py",
         "tests/test_testing_messages.py", "tests/test_bad_input_names_paths.py"],
    ),
    "measures": ("symdl/verify/measures.py", ["tests/test_measures.py", "tests/test_mutations.py"]),
    # Fast unit tests only: tests/test_codegen.py and tests/test_backends.py take about 12 s a run (every rule, networks).
    "kernel": ("symdl/codegen/kernel.py", ["tests/test_kernel_unit.py", "tests/test_kernel_listing.py"]),
    "printers": ("symdl/backends/printers.py", ["tests/test_printers_unit.py"]),
    # check_network_grad, assert_network_grad_close, flatten_params: the checks a user runs on a whole network.
    "network_check": (
        "symdl/testing/network_check.py",
        ["tests/test_network_check.py", "tests/test_network.py", "tests/test_testing_messages.py", "tests/test_flatten_params.py",
         "tests/test_stop_gradient.py"],
    ),
    # central_difference, mpmath_reference, relative_error, the stability grid: what verify_rule measures with.
    "numeric": (
        "symdl/testing/__init__.py",
        ["tests/test_testing.py", "tests/test_testing_stability.py", "tests/test_accuracy_measure.py", "tests/test_stop_gradient.py",
         "tests/test_gradcheck_edges.py"],
    ),
    # central_difference, fd_step, held_central_difference (moved out of symdl/testing/__init__.py; the same tests).
    "differences": (
        "symdl/testing/differences.py",
        ["tests/test_testing.py", "tests/test_testing_stability.py", "tests/test_accuracy_measure.py", "tests/test_stop_gradient.py",
         "tests/test_gradcheck_edges.py"],
    ),
    # finite_real, behind every hyperparameter and learning-rate check. In-process tests only: the generated
    # modules copy its source (inspect.getsource), which under mutmut is the trampoline, not the function.
    "finite_real": ("symdl/backends/runtime_numbers.py", ["tests/test_finite_real.py"]),
}

#: Tests that inspect a function's code object, which mutmut replaces by its trampoline: they fail on every mutant.
DESELECT: dict[str, list[str]] = {
    "gradcheck": ["tests/test_testing_messages.py::test_internal_frames_are_hidden_from_pytest"],
    "subgradient": ["tests/test_testing_messages.py::test_internal_frames_are_hidden_from_pytest"],
    "network_check": ["tests/test_testing_messages.py::test_internal_frames_are_hidden_from_pytest"],
}

_STATUS = re.compile(r"^\s*(\S+): (.+)$")


def _config(source: str, tests: list[str], deselect: list[str]) -> str:
    """The ``[tool.mutmut]`` table for one module."""
    quoted = ", ".join(f'"{t}"' for t in tests)
    deselected = "".join(f', "--deselect", "{t}"' for t in deselect)
    return (
        "[tool.mutmut]\n"
        'source_paths = ["symdl"]\n'
        'also_copy = ["docs", "README.md"]\n'
        f'only_mutate = ["{source}"]\n'
        f'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q"{deselected}]\n'
        f"pytest_add_cli_args_test_selection = [{quoted}]\n"
    )


def pyproject_disagreements(pyproject: str) -> list[str]:
    """What pyproject.toml's own ``[tool.mutmut]`` table (a run of mutmut over all of MODULES at once) lacks.

    Its ``only_mutate`` must list the files of MODULES, in order; its test selection must hold every test file
    of a module, and its ``--deselect`` arguments every test of DESELECT. Empty when they agree.
    """
    table = re.search(r"\[tool\.mutmut\]\n((?:(?!\n\[)[\s\S])*)", pyproject)
    if table is None:
        return ["pyproject.toml has no [tool.mutmut] table"]

    def strings(key: str) -> list[str]:
        found = re.search(rf"^{key} = \[([^\]]*)\]", table[1], re.MULTILINE)
        return re.findall(r'"([^"]*)"', found[1]) if found else []

    problems = []
    sources = [source for source, _ in MODULES.values()]
    if strings("only_mutate") != sources:
        problems.append(f"only_mutate is {strings('only_mutate')}, not the files of MODULES: {sources}")
    selected = set(strings("pytest_add_cli_args_test_selection"))
    tests = dict.fromkeys(t for _, files in MODULES.values() for t in files)
    problems += [f"{t} is not in pytest_add_cli_args_test_selection" for t in tests if t not in selected]
    arguments = strings("pytest_add_cli_args")
    deselected = {arguments[i + 1] for i, a in enumerate(arguments[:-1]) if a == "--deselect"}
    wanted = dict.fromkeys(t for tests in DESELECT.values() for t in tests)
    problems += [f"{t} is not deselected in pytest_add_cli_args" for t in wanted if t not in deselected]
    return problems


def _workspace(key: str) -> Path:
    """A fresh copy of the package, the tests and pyproject.toml with this module's mutmut table."""
    source, tests = MODULES[key]
    tests = [t for t in tests if (ROOT / t).exists()]
    work = ROOT / ".mutation" / key
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis")
    shutil.copytree(ROOT / "symdl", work / "symdl", ignore=ignore)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    shutil.copytree(ROOT / "docs", work / "docs", ignore=ignore)  # tests run the documented examples
    shutil.copy2(ROOT / "README.md", work / "README.md")
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"\[tool\.mutmut\]\n(?:(?!\n\[)[\s\S])*", _config(source, tests, DESELECT.get(key, [])), pyproject, count=1)
    (work / "pyproject.toml").write_text(pyproject)
    return work


def run(key: str, jobs: int | None) -> Counter:
    """Run mutmut on one module; return the count of each status and print the survivors."""
    work = _workspace(key)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the mutated copy, never the checkout
    env["CI"] = "1"
    command = [sys.executable, "-m", "mutmut", "run"] + ([f"--max-children={jobs}"] if jobs else [])
    done = subprocess.run(command, cwd=work, env=env, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{key}: mutmut failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=work, env=env, check=True, capture_output=True, text=True,
    ).stdout
    statuses = {m[1]: m[2].strip() for line in out.splitlines() if (m := _STATUS.match(line))}
    counts = Counter(statuses.values())
    # A timeout is a detected mutant (the tests did not pass); "no tests" is a mutant no selected test reached.
    detected = counts["killed"] + counts["timeout"]
    missed = counts["survived"] + counts["no tests"]
    score = 100 * detected / (detected + missed) if detected + missed else float("nan")
    print(f"{key} ({MODULES[key][0]}): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
          + f"; score {score:.1f} % (killed + timeout over all checked)")
    for name, status in sorted(statuses.items()):
        if status != "killed":
            print(f"    {status}: {name}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"some of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--jobs", type=int, default=None, help="mutmut worker processes (default: all cores)")
    args = parser.parse_args(argv)
    problems = pyproject_disagreements((ROOT / "pyproject.toml").read_text())
    if problems:  # the two lists of what is mutated, kept as one
        parser.error("pyproject.toml's [tool.mutmut] disagrees with MODULES: " + "; ".join(problems))
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; accepted: {', '.join(MODULES)}")
    for key in args.modules or MODULES:
        run(key, args.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
