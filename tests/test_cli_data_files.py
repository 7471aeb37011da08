"""``symdl train`` / ``evaluate`` given a .npy file (one array) instead of an .npz: the file's own one-line error."""

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
