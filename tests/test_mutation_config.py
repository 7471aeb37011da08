"""pyproject.toml's ``[tool.mutmut]`` table and tools/mutation.py's MODULES name the same files to mutate and test."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mutation():
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pyproject_mutates_every_module_of_the_tool_with_its_tests(mutation):
    assert mutation.pyproject_disagreements((ROOT / "pyproject.toml").read_text()) == []
    assert "symdl/testing/subgradient.py" in [source for source, _ in mutation.MODULES.values()]


def test_a_module_or_test_missing_from_pyproject_is_named(mutation):
    text = (ROOT / "pyproject.toml").read_text()
    without = text.replace('    "symdl/testing/subgradient.py",\n', "", 1)
    assert without != text
    (problem,) = mutation.pyproject_disagreements(without)
    assert problem.startswith("only_mutate is [") and "'symdl/testing/subgradient.py']" not in problem.split(", not")[0]
    untested = text.replace('"tests/test_finite_real.py",', "", 1)
    assert mutation.pyproject_disagreements(untested) == ["tests/test_finite_real.py is not in pytest_add_cli_args_test_selection"]
    kept = text.replace('"--deselect", "tests/test_testing_messages.py::test_internal_frames_are_hidden_from_pytest",', "", 1)
    assert kept != text
    assert mutation.pyproject_disagreements(kept) == [
        "tests/test_testing_messages.py::test_internal_frames_are_hidden_from_pytest is not deselected in pytest_add_cli_args"]
    assert mutation.pyproject_disagreements("[project]\n") == ["pyproject.toml has no [tool.mutmut] table"]


def test_the_tool_refuses_to_run_while_pyproject_disagrees(mutation, monkeypatch, capsys):
    monkeypatch.setitem(mutation.MODULES, "extra", ("symdl/arguments.py", ["tests/test_arguments.py"]))
    with pytest.raises(SystemExit) as stopped:
        mutation.main(["parse"])
    assert stopped.value.code == 2
    assert "disagrees with MODULES" in capsys.readouterr().err
