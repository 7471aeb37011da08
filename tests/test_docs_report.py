"""docs/report is the current output of `symdl report -o docs/report --format md` (the command docs/index.md gives)."""

import re
from pathlib import Path

import pytest

from symdl.cli import main

DOCS_REPORT = Path(__file__).resolve().parent.parent / "docs" / "report"


#: The measured worst error against mpmath depends on the machine's libm (numpy's expm1 on one x86-64 CPU gives
#: ELU's float64 error 0, on another 7.5e-17): the rest of the report must match byte for byte, the measurement not.
_MEASURED = re.compile(rb"worst relative error [-+.0-9e]+ ")


def _portable(text: bytes) -> bytes:
    return _MEASURED.sub(b"worst relative error (measured) ", text)


def test_the_checked_in_report_of_the_built_in_rules_is_current(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["report", "-o", str(tmp_path), "--format", "md"]) == 0
    capsys.readouterr()
    fresh = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    stored = {p.relative_to(DOCS_REPORT).as_posix(): p.read_bytes() for p in DOCS_REPORT.rglob("*") if p.is_file()}
    assert sorted(fresh) == sorted(stored), "regenerate with: symdl report -o docs/report --format md"
    stale = [name for name in fresh if _portable(fresh[name]) != _portable(stored[name])]
    assert not stale, f"stale: {stale[:5]}; regenerate with: symdl report -o docs/report --format md"
    text = fresh["report.md"].decode()
    assert "## Contents" in text and "relu" in text and "BP1" in text and "figures/relu.svg" in text
