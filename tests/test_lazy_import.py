"""``import symdl`` is lazy (PEP 562): every public name still imports, and nothing heavy loads up front."""

from __future__ import annotations

import functools
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import symdl

ROOT = Path(__file__).resolve().parent.parent

# today's public names (issue 12): each must stay importable as `from symdl import X`
PUBLIC = [
    "KINK_CONVENTIONS", "CompiledNetwork", "Definition", "EarlyStopping", "FormulaError", "FormulaLayer", "History", "Jumps", "Kernel",
    "Kink", "Network", "Param", "Proof", "Rule", "RuleLike", "RuleReport", "SavedModel", "VectorRule", "batchnorm", "compile_kernel",
    "display", "dropout", "fit", "formula_layer", "formula_rule", "graph", "init_schemes", "load", "metric", "metrics",
    "optimizer", "parse",
    "prove_zero", "register", "rule", "rule_params", "rules", "save", "testing", "verify_rule", "verify_rules",
    "__version__",
]

WHERE = {
    "CompiledNetwork": "symdl.network.model", "Network": "symdl.network.model", "Kernel": "symdl.codegen.kernel",
    "compile_kernel": "symdl.codegen.kernel", "FormulaError": "symdl.symbolic.parse", "parse": "symdl.symbolic.parse",
    "Proof": "symdl.symbolic.proof", "prove_zero": "symdl.symbolic.proof", "VectorRule": "symdl.rulebook.vector_rule",
    "RuleLike": "symdl.rulebook.derivation",
    "RuleReport": "symdl.verify.rules", "verify_rule": "symdl.verify.rules", "verify_rules": "symdl.verify.rules",
    "metric": "symdl.metrics",
    "formula_layer": "symdl.formula_layers", "FormulaLayer": "symdl.formula_layers",
    "optimizer": "symdl.optim.registry",
}


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, cwd=ROOT)
    return done.stdout


def test_all_is_todays_public_api():
    assert symdl.__all__ == PUBLIC
    assert set(PUBLIC) <= set(dir(symdl))


def test_the_type_rule_jumps_returns_is_public_as_its_siblings_are():
    import symdl.rulebook

    jumps = symdl.formula_rule("floor(z)*z").jumps
    assert type(jumps) is symdl.Jumps is symdl.rulebook.Jumps and "Jumps" in symdl.rulebook.__all__
    assert jumps and symdl.Kink is symdl.rulebook.Kink


# One interpreter imports symdl's third-party dependencies once, then forks a child per public name; each child
# imports symdl afresh (no symdl module is loaded before its `from symdl import NAME`), so each name still gets
# the fresh import it would get alone, without paying NumPy's and SymPy's import 42 times.
FORK_EACH = """
import json, os, sys, traceback
import numpy, sympy  # third-party only: nothing of symdl's is loaded here

def report(name, imports):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            assert not [m for m in sys.modules if m == "symdl" or m.startswith("symdl.")]
            got = {"type": imports()}
        except BaseException:
            got = {"error": traceback.format_exc()}
        with os.fdopen(write, "w") as out:
            json.dump(got, out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as out:
        text = out.read()
    _, status = os.waitpid(pid, 0)
    return json.loads(text) if status == 0 and text else {"error": f"the child exited with status {status}"}

results = {}
"""


def _import_one(name: str) -> str:
    return (f"def _import_{name}():\n    from symdl import {name}\n    return type({name}).__name__\n"
            f"results[{name!r}] = report({name!r}, _import_{name})\n")


@functools.cache
def _each_public_name_imported_in_its_own_fork() -> dict[str, dict[str, str]]:
    code = FORK_EACH + "".join(map(_import_one, PUBLIC)) + "print(json.dumps(results))\n"
    return json.loads(_fresh(code))


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_imports_in_a_fresh_process(name):
    got = _each_public_name_imported_in_its_own_fork()[name]
    assert got.get("type"), f"from symdl import {name}: {got.get('error')}"


@pytest.mark.parametrize("name", sorted(WHERE))
def test_a_lazy_name_is_the_object_from_its_module(name):
    assert getattr(symdl, name) is getattr(importlib.import_module(WHERE[name]), name)


def test_modules_are_the_modules():
    assert symdl.batchnorm is importlib.import_module("symdl.layers.batchnorm")
    assert symdl.display is importlib.import_module("symdl.report.display")
    assert symdl.testing is importlib.import_module("symdl.testing")
    assert symdl.export.to_jax is importlib.import_module("symdl.export").to_jax
    assert symdl.optim is importlib.import_module("symdl.optim")


def test_star_import_gives_every_public_name():
    out = _fresh("from symdl import *\nprint(__import__('json').dumps(sorted(k for k in dir() if not k.startswith('_'))))")
    assert set(json.loads(out)) == {n for n in PUBLIC if not n.startswith("_")}


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        symdl.nonexistent  # noqa: B018


def test_import_symdl_loads_nothing_heavy():
    out = _fresh("import sys, json, symdl\nprint(json.dumps(sorted(sys.modules)))")
    loaded = set(json.loads(out))
    assert {m for m in loaded if m.startswith("symdl.")} <= {"symdl.display_hooks", "symdl.version"}
    assert "sympy.stats" not in loaded and "matplotlib" not in loaded


def test_a_rule_shows_itself_without_importing_the_report_first():
    out = _fresh("import symdl\nr = symdl.rule('relu')\nprint(sorted(r._repr_mimebundle_()))")
    assert "text/html" in out and "text/latex" in out
