"""The README's Python example runs as written (doctest)."""

import doctest
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs_as_written():
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5
    assert result.failed == 0


def test_readme_has_exactly_the_two_setup_commands_and_ci_runs_the_second():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    assert "pip install . && symdl verify" in text
    test_command = "pip install '.[test,torch,jax,plot,docs]' && python -m pytest -q -n auto"
    assert test_command in text
    assert ci.rstrip("\n").splitlines()[-1] == test_command


def test_the_testing_guide_runs_as_written():
    guide = README.parent / "docs" / "testing.md"
    result = doctest.testfile(str(guide), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 6
    assert result.failed == 0


def test_the_networks_guide_runs_as_written():
    guide = README.parent / "docs" / "networks.md"
    result = doctest.testfile(str(guide), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8
    assert result.failed == 0
