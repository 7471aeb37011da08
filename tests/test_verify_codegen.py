"""symdl.verify.codegen: the generated-code rows of `symdl verify` pass, and fail when a module is wrong."""

import symdl.export.network_modules
import symdl.export.standalone
from symdl.cli import main
from symdl.verify.codegen import verify_codegen, verify_codegen_part


def test_the_generated_code_rows_pass():
    reports = verify_codegen()
    assert reports[0].name == "codegen: numpy modules without sympy"
    assert all(r.passed and r.proofs for r in reports), [(r.name, [k for k, v in r.proofs.items() if not v]) for r in reports]
    assert len(reports[0].proofs) >= 2 * 19  # every element-wise rule: its function and each derivative


def test_a_wrong_module_fails_the_row(monkeypatch):
    real = symdl.export.standalone.rule_module

    def shifted(rule, **kwargs):
        return real(rule, **kwargs).replace("return _finish(", "return 1 + _finish(").replace("return _t(", "return 1 + _t(")

    monkeypatch.setattr(symdl.export.standalone, "rule_module", shifted)
    row = verify_codegen_part("standalone")
    assert row.name == "codegen: numpy modules without sympy"
    assert not row.passed and not any(row.proofs.values())


def test_cli_verify_codegen(capsys):
    assert main(["verify", "codegen", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "codegen: numpy modules without sympy" in out


def test_a_wrong_network_module_fails_its_row(monkeypatch):
    import importlib.util

    import numpy as np
    import pytest

    import symdl.export.custom_gradient
    from symdl.verify.codegen import _network_rows

    if importlib.util.find_spec("torch") is None and importlib.util.find_spec("jax") is None:
        pytest.skip("neither torch nor jax is installed")
    real = symdl.export.network_module_source

    def doubled(network, backend, dtype="float64"):  # BP4 of the first layer off by a factor 2
        text = real(network, backend, dtype)
        assert "    gW1 = d1.T @ X\n" in text
        return text.replace("    gW1 = d1.T @ X\n", "    gW1 = 2 * (d1.T @ X)\n")

    monkeypatch.setattr(symdl.export.network_modules, "network_module_source", doubled)
    rows = _network_rows(np.random.default_rng(0))
    networks = [{k: v for k, v in row.proofs.items() if k.endswith("the compiled network's")} for row in rows]
    assert rows and all(not row.passed for row in rows) and all(found and not any(found.values()) for found in networks)
    # the formula graph's modules, checked in the same rows, are not network modules: untouched, they pass
    graphs = [[v for k, v in row.proofs.items() if "compiled graph's" in k] for row in rows]
    assert all(found and all(found) for found in graphs)


def test_a_wrong_jax_export_fails_its_row(monkeypatch):
    """The export row checks the custom derivative itself (op by op under jax.disable_jit): doubled, every rule fails."""
    import pytest

    pytest.importorskip("jax")
    import symdl.export.custom_gradient as custom_gradient

    real = custom_gradient._generate

    def doubled(*args):
        plan, source = real(*args)
        assert "* t_" in source
        return plan, source.replace("* t_", "* 2 * t_")

    monkeypatch.setattr(custom_gradient, "_generate", doubled)
    row = verify_codegen_part("export jax")
    assert row.proofs and not any(row.proofs.values())
