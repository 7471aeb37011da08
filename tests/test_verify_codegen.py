"""symdl.verify_codegen: the generated-code rows of `symdl verify` pass, and fail when a module is wrong."""

import symdl.standalone
from symdl.cli import main
from symdl.verify_codegen import verify_codegen


def test_the_generated_code_rows_pass():
    reports = verify_codegen()
    assert reports[0].name == "codegen: numpy modules without sympy"
    assert all(r.passed and r.proofs for r in reports), [(r.name, [k for k, v in r.proofs.items() if not v]) for r in reports]
    assert len(reports[0].proofs) >= 2 * 19  # every element-wise rule: its function and each derivative


def test_a_wrong_module_fails_the_row(monkeypatch):
    real = symdl.standalone.rule_module

    def shifted(rule, **kwargs):
        return real(rule, **kwargs).replace("return _finish(", "return 1 + _finish(").replace("return _t(", "return 1 + _t(")

    monkeypatch.setattr(symdl.standalone, "rule_module", shifted)
    row = verify_codegen()[0]
    assert not row.passed and not any(row.proofs.values())


def test_cli_verify_codegen(capsys):
    assert main(["verify", "codegen", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "codegen: numpy modules without sympy" in out
