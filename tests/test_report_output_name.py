"""``symdl report -o ''``: an empty directory name is a usage error (exit 2, one line), as ``codegen -o ''`` is."""

import os

from symdl.cli.main import main


def test_an_empty_output_name_is_refused_and_nothing_is_written(capsys, tmp_path, monkeypatch):
    """It wrote report.md (and the other formats) into the working directory."""
    monkeypatch.chdir(tmp_path)
    code = main(["report", "relu", "-o", "", "--no-plots", "--no-verify", "--format", "md"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == "symdl: error: -o '': an empty directory name; give the directory to write into, e.g. -o report\n"
    assert os.listdir(tmp_path) == []
