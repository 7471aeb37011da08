"""mypy over symdl/ at the strictness of pyproject's ``[tool.mypy]``, and over the code users copy from us.

One mypy run checks both (a cold run costs about 30 s of one core, nearly all of it symdl itself, which the
examples import anyway, so two runs would pay it twice): the package itself with zero errors; examples/, every
doctest of README.md and docs/*.md (as one file per page) and a probe of what the typed API promises, with zero
errors; and that the checker is awake: a probe of wrong calls must give exactly its errors, and they must be the
only errors of the run. The mypy cache lives in .mypy_cache/ at the repository root, so a second run is
incremental (seconds)."""

from __future__ import annotations

import ast
import doctest
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# api.md is generated from docstrings, whose doctests are internal modules' own; the guide pages are what users copy.
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "api.md")]
ERROR = re.compile(r"^(?P<path>[^:\n]+):(?P<line>\d+): error: (?P<message>.*)$", re.MULTILINE)

# Doctests rebind names as a session would (loss = lambda …, then loss = 0.5): allowed in the extracted pages only.
PAGE_HEADER = "# mypy: allow-redefinition-new, local-partial-types\n"

TYPED_USE = '''\
import numpy as np

import symdl


def typed_use() -> None:
    element: symdl.RuleLike = symdl.rule("softplus")  # every rule satisfies the common protocol
    vector: symdl.RuleLike = symdl.rule("softmax")
    derivative = element.derivative()
    kinks: tuple[object, ...] = vector.kinks
    net = symdl.Network([4, 8, 3], activation="tanh", loss="mse").compile()
    params: dict[str, np.ndarray] = net.init(seed=0)
    X, Y = np.ones((2, 4)), np.zeros((2, 3))
    out: np.ndarray = net.forward(params, X)
    cost: float = net.loss(params, X, Y)
    value, grads = net.loss_and_grad(params, X, Y)
    by_key: dict[str, np.ndarray] = grads
    before: float = net.train_step(params, X, Y, 0.1)
    print(derivative, kinks, out, cost, value, by_key, before)
'''

# Each line that must be refused, with a piece of mypy's message for it.
WRONG_USE = {
    "net.loss_and_grad(net.init(seed=0))": 'Missing positional arguments "X", "Y"',
    'symdl.rule("relu").no_such_method()': "no_such_method",
    'symdl.rule("relu", kink_convention="sideways")': "kink_convention",
    "net.forward(net.init(seed=0), X, Y)": "Too many arguments",
}


def _mypy(paths: list[str], cache: str) -> tuple[int, str]:
    """``python -m mypy`` at the repository root (so pyproject's [tool.mypy] applies): exit status and output."""
    command = [sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache" / cache), "--no-color-output", *paths]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


def _installed(source: str) -> bool:
    """Whether every module the code imports is installed (docs/export.md's examples need the jax and torch extras)."""
    tree = ast.parse(source)
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    names += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module and not node.level]
    return all(importlib.util.find_spec(name.split(".")[0]) is not None for name in names)


def _errors(output: str) -> list[tuple[str, int, str]]:
    return [(Path(m["path"]).name, int(m["line"]), m["message"]) for m in ERROR.finditer(output)]


@pytest.mark.slow
def test_symdl_and_the_examples_typecheck_and_only_the_wrong_calls_are_refused(tmp_path):
    pages = []
    for page in PAGES:
        examples = doctest.DocTestParser().get_examples(page.read_text(encoding="utf-8"))
        if examples and _installed("".join(e.source for e in examples)):
            path = tmp_path / f"page_{page.stem}.py"
            path.write_text(PAGE_HEADER + "".join(e.source for e in examples), encoding="utf-8")
            pages.append(path)
    assert len(pages) >= 10  # README and the guide pages with examples
    (tmp_path / "typed_use.py").write_text(TYPED_USE, encoding="utf-8")
    wrong = "import numpy as np\n\nimport symdl\n\nnet = symdl.Network([4, 8, 3]).compile()\nX = np.ones((2, 4))\nY = X\n"
    first_wrong = wrong.count("\n") + 1
    (tmp_path / "wrong_use.py").write_text(wrong + "\n".join(WRONG_USE) + "\n", encoding="utf-8")
    examples = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.py"))
    assert examples

    status, output = _mypy(["symdl", *examples, *map(str, pages), str(tmp_path / "typed_use.py"),
                            str(tmp_path / "wrong_use.py")], "all")

    errors = _errors(output)
    # symdl/ itself: zero errors.
    assert [m[0] for m in ERROR.finditer(output) if Path(m["path"]).parts[0] == "symdl"] == [], output
    # the examples, the pages and the typed probe: zero errors.
    assert [e for e in errors if e[0] != "wrong_use.py"] == [], output
    refused = {line: message for name, line, message in errors if name == "wrong_use.py"}
    for offset, (call, expected) in enumerate(WRONG_USE.items()):
        assert expected in refused.get(first_wrong + offset, ""), (call, output)
    assert set(refused) == {first_wrong + k for k in range(len(WRONG_USE))}, output
    # Nothing else went wrong (a crash, a config error, an error the pattern missed): mypy counted only these.
    assert f"Found {len(errors)} errors in 1 file " in output and status == 1, output
