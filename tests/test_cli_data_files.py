"""``symdl train`` / ``evaluate`` given a .npy file (one array) instead of an .npz: the file's own one-line error."""

import warnings

import numpy as np

from symdl.cli.main import main


def test_an_npy_file_is_named_as_not_an_npz(capsys, tmp_path):
    """It said "'numpy.ndarray' object does not support the context manager protocol", naming no file."""
    np.save(tmp_path / "X.npy", np.zeros((10, 3)))
    code = main(["train", "3,4,1", str(tmp_path / "X.npy"), "-o", str(tmp_path / "m"), "--quiet"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f"symdl: error: {tmp_path / 'X.npy'}: not an .npz file (np.savez(path, X=..., Y=...))\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.npy"]


def _data(tmp_path, **change):
    rng = np.random.default_rng(0)
    arrays = {"X": rng.normal(size=(10, 3)), "Y": rng.normal(size=(10, 1)), **change}
    np.savez(tmp_path / "d.npz", **arrays)
    return tmp_path / "d.npz"


def _train_error(capsys, tmp_path, data, *extra):
    code = main(["train", "3,4,1", str(data), "-o", str(tmp_path / "m"), "--quiet", *extra])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "") and err.count("\n") == 1 and not (tmp_path / "m").exists()
    return err.removeprefix("symdl: error: ").rstrip("\n")


def test_a_text_file_is_not_an_npz_file_and_not_a_pickle(capsys, tmp_path):
    """numpy reads a file without a zip's magic as a pickle: "This file contains pickled (object) data. If you trust"."""
    (tmp_path / "d.npz").write_text("X,Y\n1,2\n")
    message = _train_error(capsys, tmp_path, tmp_path / "d.npz")
    assert message == f"{tmp_path / 'd.npz'}: not an .npz file (np.savez(path, X=..., Y=...))"


def test_a_nan_or_an_infinity_is_named_by_its_array_and_element(capsys, tmp_path):
    X = np.random.default_rng(1).normal(size=(10, 3))
    X[4, 2] = np.nan
    assert _train_error(capsys, tmp_path, _data(tmp_path, X=X)) == f"{tmp_path / 'd.npz'}: X[4, 2] is nan; expected finite numbers"
    Y = np.zeros((10, 1))
    Y[7, 0] = -np.inf
    assert _train_error(capsys, tmp_path, _data(tmp_path, Y=Y)) == f"{tmp_path / 'd.npz'}: Y[7, 0] is -inf; expected finite numbers"


def test_a_value_past_float32_is_named_not_called_infinite(capsys, tmp_path):
    """1e300 is finite in the file; as float32 it would be inf: the line says it does not fit, and no numpy warning."""
    X = np.zeros((10, 3))
    X[2, 1] = 1e300
    data = _data(tmp_path, X=X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        message = _train_error(capsys, tmp_path, data, "--dtype", "float32")
    assert message == f"{data}: X[2, 1] = 1e+300 does not fit float32"
