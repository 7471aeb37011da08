"""Packaging: PEP 639 license metadata, one version source, extras as ranges (CI pins its own), install hints."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

import symdl
from symdl.optional import EXTRAS, install_hint, require

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
USER_EXTRAS = ("torch", "jax", "plot", "testing")


# --- metadata ----------------------------------------------------------------------------------------------


def test_license_is_a_pep639_expression_with_the_file_in_the_wheel():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])  # PEP 639: the expression only
    backend = PYPROJECT["build-system"]["requires"]
    assert backend == ["hatchling>=1.27"]  # the first hatchling that writes License-Expression / License-File


def test_metadata_for_an_index_page():
    assert PROJECT["authors"] and all(a.get("name") for a in PROJECT["authors"])
    assert len(PROJECT["keywords"]) >= 5 and "Typing :: Typed" in PROJECT["classifiers"]
    minor = int(PROJECT["requires-python"].removeprefix(">=3."))
    assert f"Programming Language :: Python :: 3.{minor}" in PROJECT["classifiers"]
    # URLs only where a real one exists: none is published, so none is written (no placeholders).
    for url in PROJECT.get("urls", {}).values():
        assert url.startswith("https://") and "example" not in url
    assert (ROOT / "symdl" / "py.typed").is_file()


def test_one_version_source():
    assert "version" not in PROJECT and PROJECT["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "symdl/version.py"
    written = [p for p in (ROOT / "symdl").rglob("*.py") if re.search(r"^__version__\s*=", p.read_text(), re.M)]
    assert written == [ROOT / "symdl" / "version.py"]
    assert symdl.__version__ == importlib.import_module("symdl.version").__version__


def test_extras_are_ranges_with_an_all_extra_and_ci_pins_torch():
    extras = PROJECT["optional-dependencies"]
    for name in USER_EXTRAS:
        assert extras[name] and not any("==" in req for req in extras[name]), (name, extras[name])
    assert extras["torch"] == ["torch>=2.1"]
    assert extras["all"] == [f"symdl[{','.join(USER_EXTRAS)}]"]
    assert set(EXTRAS.values()) == set(USER_EXTRAS)  # every install hint names an extra that exists
    constraints = (ROOT / ".ci" / "constraints.txt").read_text().split()
    assert "torch==2.13.0" in constraints
    run = (ROOT / ".ci" / "run").read_text().splitlines()
    exported = next(i for i, line in enumerate(run) if line.startswith("export PIP_CONSTRAINT="))
    assert ".ci/constraints.txt" in run[exported] and exported < len(run) - 1  # before the test command


def test_every_third_party_module_import_symdl_runs_is_declared():
    declared = {re.split(r"[<>=!~\[ ]", req)[0].lower() for req in PROJECT["dependencies"]}
    assert {"sympy", "numpy", "mpmath"} <= declared
    imported = set()
    for path in (ROOT / "symdl").rglob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module level: what importing symdl can run
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"symdl", "__future__"}
    assert third_party <= declared | {"hypothesis"}, third_party - declared
    # hypothesis at module level only in the strategies modules, which check for it first (below).


# --- install hints ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("module", "extra"), [("torch", "torch"), ("jax", "jax"), ("matplotlib", "plot"), ("hypothesis", "testing")])
def test_install_hint_names_the_extra(module, extra):
    assert install_hint(module) == f"pip install 'symdl[{extra}]'"
    assert install_hint(f"{module}.sub") == install_hint(module)
    with pytest.raises(ValueError, match="not one of symdl's optional dependencies"):
        install_hint("scipy")  # symdl imports no scipy (erf is printed as polynomials)


@pytest.mark.parametrize(
    ("module", "call", "message"),
    [
        ("torch", lambda: symdl.export.to_torch("relu"), "symdl.export.to_torch needs torch: pip install 'symdl[torch]'"),
        ("jax", lambda: symdl.export.to_jax("relu"), "symdl.export.to_jax needs jax: pip install 'symdl[jax]'"),
        ("matplotlib", lambda: importlib.import_module("symdl.report.plots").plot_rule(symdl.rule("relu")),
         "plotting needs matplotlib: pip install 'symdl[plot]'"),
    ],
)
def test_a_missing_framework_is_one_line_with_the_hint(monkeypatch, module, call, message):
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # what `import module` sees when it is not installed
    with pytest.raises(ModuleNotFoundError) as caught:
        call()
    assert str(caught.value) == message and caught.value.name == module


@pytest.mark.parametrize("name", ["symdl.testing.strategies", "symdl.testing.formula_strategies"])
def test_hypothesis_strategies_without_hypothesis(monkeypatch, name):
    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(ModuleNotFoundError, match=re.escape(f"{name} needs hypothesis: pip install 'symdl[testing]'")):
        importlib.import_module(name)


def test_require_returns_the_module_and_reraises_a_broken_install(monkeypatch):
    assert require("hypothesis", "x") is sys.modules["hypothesis"]

    def broken(name):
        raise ModuleNotFoundError("No module named 'libtorch_cpu'", name="libtorch_cpu")

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="libtorch_cpu"):  # not "install torch": it is installed, but broken
        require("torch", "x")


def test_the_wheel_carries_license_py_typed_and_metadata(tmp_path):
    import subprocess
    import zipfile

    pytest.importorskip("hatchling", reason="the build backend (in the test extra) is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("symdl-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "symdl/py.typed" in names and any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata and "License-File: LICENSE" in metadata
    assert f"Version: {symdl.__version__}" in metadata
    assert "Requires-Dist: mpmath>=1.3" in metadata and "Requires-Dist: torch>=2.1; extra == 'torch'" in metadata
