"""docs/report is the current output of `symdl report -o docs/report --format md` (the command docs/index.md gives)."""

from pathlib import Path

import pytest

from symdl.cli import main

DOCS_REPORT = Path(__file__).resolve().parent.parent / "docs" / "report"


def test_the_checked_in_report_of_the_built_in_rules_is_current(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["report", "-o", str(tmp_path), "--format", "md"]) == 0
    capsys.readouterr()
    fresh = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    stored = {p.relative_to(DOCS_REPORT).as_posix(): p.read_bytes() for p in DOCS_REPORT.rglob("*") if p.is_file()}
    assert sorted(fresh) == sorted(stored), "regenerate with: symdl report -o docs/report --format md"
    stale = [name for name in fresh if fresh[name] != stored[name]]
    assert not stale, f"stale: {stale[:5]}; regenerate with: symdl report -o docs/report --format md"
    text = fresh["report.md"].decode()
    assert "## Contents" in text and "relu" in text and "BP1" in text and "figures/relu.svg" in text
