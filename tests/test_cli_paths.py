"""Every path the command line takes (DATA.npz, MODEL, -o, --graph, @FILE): a directory, an empty name or file, a
name too long, a file that cannot be read is one ``symdl: error:`` line saying which (exit 2) that writes nothing."""

from __future__ import annotations

import numpy as np
import pytest

import symdl
from symdl.cli import main
from symdl.cli.common import one_line
from symdl.saving.schema import SavedModelError

TOO_LONG = "a" * 300  # past every file system's 255-byte name


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", X=rng.normal(size=(8, 2)), Y=rng.normal(size=(8, 1)))
    (tmp_path / "folder").mkdir()
    (tmp_path / "empty.npz").touch()
    (tmp_path / "plain.txt").write_text("relu\n")
    return tmp_path


def _model(capsys, files):
    assert run(capsys, "train", "2,3,1", files / "data.npz", "-o", files / "model", "--epochs", 1, "--quiet")[0] == 0
    return files / "model"


def _one_line(code, out, err, message):
    """One line: ``message`` whole, or past 300 characters its start and its end (the reason after a long name)."""
    assert (code, out) == (2, "") and err.count("\n") == 1 and "Traceback" not in err, err
    if len(message) <= 300:
        assert err == f"symdl: error: {message}\n"
    else:
        assert err.startswith(f"symdl: error: {message[:150]}") and err.endswith(f"{message[-80:]}\n") and len(err) < 330


@pytest.mark.parametrize(("name", "message"), [
    ("folder", "{p}: is a directory; give a file in it"),
    ("empty.npz", "{p}: the file is empty"),
    ("plain.txt/data.npz", "{p}: cannot read the file (Not a directory)"),
    ("missing.npz", "{p}: no such file"),
    (TOO_LONG, "{p}: cannot read the file (File name too long)"),
])
def test_a_data_file_that_is_no_file_is_named_in_one_line(capsys, files, name, message):
    path = files / name
    _one_line(*run(capsys, "train", "2,3,1", path, "-o", files / "new", "--quiet"), message.format(p=path))
    assert not (files / "new").exists()
    model = _model(capsys, files)
    _one_line(*run(capsys, "evaluate", model, path), message.format(p=path))


def test_an_empty_data_file_name_is_not_the_working_directory(capsys, files):
    _one_line(*run(capsys, "evaluate", _model(capsys, files), ""), "'': an empty file name; give the file to read")


def test_a_data_file_this_user_may_not_read_is_one_line(capsys, files, monkeypatch):
    """chmod 000 does not stop root, so the refusal is the operating system's, raised where the file is opened."""
    def refuse(path, mode="r"):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("symdl.cli.paths.open", refuse, raising=False)
    path = files / "data.npz"
    _one_line(*run(capsys, "train", "2,3,1", path, "-o", files / "new", "--quiet"),
              f"{path}: cannot read the file (Permission denied)")


@pytest.mark.parametrize(("name", "message"), [
    ("folder", "NAME|FORMULA @{p}: is a directory; give a file in it"),
    ("empty.npz", "NAME|FORMULA @{p}: the file is empty"),
    (TOO_LONG, "NAME|FORMULA @{p}: cannot read the file (File name too long)"),
])
def test_a_formula_file_that_is_no_file_is_named_in_one_line(capsys, files, name, message):
    path = files / name
    _one_line(*run(capsys, "derive", f"@{path}"), message.format(p=path))


def test_names_too_long_for_the_file_system_are_one_line_everywhere(capsys, files):
    long = files / TOO_LONG
    code, out, err = run(capsys, "train", "2,3,1", files / "data.npz", "-o", long, "--epochs", 1, "--quiet")
    _one_line(code, out, err, f"{long}: cannot save a model there (File name too long)")
    code, out, err = run(capsys, "evaluate", long, files / "data.npz")
    _one_line(code, out, err, f"{long}: cannot read the saved model (File name too long)")
    code, out, err = run(capsys, "codegen", "--graph", long, "-o", files / "m.py")
    _one_line(code, out, err, f"--graph: {long}: cannot read the saved model (File name too long)")
    code, out, err = run(capsys, "train", TOO_LONG, files / "data.npz", "-o", files / "new", "--quiet")
    assert (code, out) == (2, "") and err.startswith(f"symdl: error: LAYERS '{TOO_LONG[:40]}") and err.count("\n") == 1
    assert err.endswith(": expected positive integer widths such as 784,512,10\n")
    assert sorted(p.name for p in files.iterdir()) == ["data.npz", "empty.npz", "folder", "plain.txt"]


def test_a_nul_byte_in_a_path_is_named_in_one_line(capsys, files):
    """Python's os calls refuse such a name with "embedded null byte", which named no path."""
    model, data = _model(capsys, files), str(files / "data.npz")
    bad_data, bad_model = str(files / "da\0ta.npz"), str(files / "mo\0del")
    for argv, message in [
        (["train", "2,3,1", bad_data, "-o", files / "new"], f"{bad_data!r}: a file name with a NUL byte, which no file can have"),
        (["train", "2,3,1", data, "-o", bad_model], f"path {bad_model!r}: a NUL byte in the name, which no file or "
                                                     "directory can have"),
        (["train", "--from", bad_model, data, "-o", files / "new"], f"path {bad_model!r}: a NUL byte in the name, which "
                                                                     "no file or directory can have"),
        (["train", "--from", model, data, "-o", bad_model], f"path {bad_model!r}: a NUL byte in the name, which no file "
                                                             "or directory can have"),
        (["evaluate", model, bad_data], f"{bad_data!r}: a file name with a NUL byte, which no file can have"),
    ]:
        _one_line(*run(capsys, *argv, *(["--quiet"] if argv[0] == "train" else [])), message)
    bad_file = str(files / "m\0.py")
    code, out, err = run(capsys, "codegen", "relu", "-o", bad_file)  # symdl.atomic's check of every file written
    assert (code, out) == (2, "") and err.endswith(f": {bad_file!r} holds a NUL byte, which no file name can\n")
    assert sorted(p.name for p in files.iterdir()) == ["data.npz", "empty.npz", "folder", "model", "plain.txt"]
    with pytest.raises(SavedModelError, match=r"^path 'mo\\x00del': a NUL byte in the name"):
        symdl.load("mo\0del")


def test_a_model_inside_a_file_says_the_file_is_not_a_directory(capsys, files):
    target = files / "plain.txt" / "model"
    code, out, err = run(capsys, "train", "2,3,1", files / "data.npz", "-o", target, "--epochs", 1, "--quiet")
    _one_line(code, out, err, f"{target}: {files / 'plain.txt'} is not a directory")


def test_the_library_refuses_names_too_long_as_a_saved_model_error(capsys, files):
    model = symdl.load(_model(capsys, files))
    with pytest.raises(SavedModelError, match=r"cannot read the saved model \(File name too long\)$"):
        symdl.load(files / TOO_LONG)
    with pytest.raises(SavedModelError, match=r"cannot save a model there \(File name too long\)$"):
        symdl.save(files / TOO_LONG, model.network, model.params)


def test_a_long_error_line_keeps_its_end_and_cuts_between_words():
    """The reason is at the end of a line (after a long name): the middle goes, between words where there are any."""
    text = " ".join(f"w{k}" for k in range(200)) + " the reason"
    line = one_line(text)
    assert len(line) <= 300 and line.endswith(" the reason") and " ... " in line
    assert set(line.split()) <= set(text.split()) | {"..."}  # no word cut in two
    assert one_line("x" * 1000) == "x" * 200 + " ... " + "x" * 95
