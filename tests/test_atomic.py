"""symdl.atomic: a target is the old file or the new one, bit for bit; unsafe targets refused; no temporary left."""

from __future__ import annotations

import errno
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from symdl.atomic import (
    CannotWrite,
    check_target,
    remove_stale,
    write_atomically,
    write_directory,
)
from symdl.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def leftovers(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.startswith(".symdl-"))


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("symdl: error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


def python(script: str, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], env=env, **kwargs)


# --- what may be replaced ----------------------------------------------------------------------------------------


def test_a_new_file_and_a_replaced_file_hold_exactly_the_data(tmp_path):
    target = tmp_path / "out.py"
    assert write_atomically(target, "a\r\nb\n") == target
    assert target.read_bytes() == b"a\r\nb\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    write_atomically(str(target), b"\x00\xff")
    assert target.read_bytes() == b"\x00\xff"
    assert leftovers(tmp_path) == []


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "real.py"
    real.write_text("old")
    link = tmp_path / "link.py"
    link.symlink_to("real.py")
    write_atomically(link, "new")
    assert link.is_symlink() and os.readlink(link) == "real.py"
    assert real.read_text() == "new"
    # A chain of links ends at the same file.
    chain = tmp_path / "chain.py"
    chain.symlink_to(link)
    write_atomically(chain, "newer")
    assert real.read_text() == "newer" and chain.is_symlink() and link.is_symlink()
    assert leftovers(tmp_path) == []


def test_a_dangling_symlink_creates_the_file_it_names_and_refuses_a_missing_directory(tmp_path):
    link = tmp_path / "link.py"
    link.symlink_to(tmp_path / "made.py")
    write_atomically(link, "x")
    assert (tmp_path / "made.py").read_text() == "x" and link.is_symlink()
    nowhere = tmp_path / "nowhere.py"
    nowhere.symlink_to(tmp_path / "missing" / "f.py")
    with pytest.raises(CannotWrite, match="does not exist") as caught:
        write_atomically(nowhere, "x")
    assert caught.value.stage == "create" and not (tmp_path / "missing").exists()


def test_a_symlink_to_a_directory_a_directory_and_a_loop_are_refused(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "to_d").symlink_to("d")
    (tmp_path / "loop").symlink_to("loop")
    for name, words in (("d", "is a directory"), ("to_d", "is a directory"), ("loop", "symlink loop")):
        with pytest.raises(CannotWrite, match=words) as caught:
            write_atomically(tmp_path / name, "x")
        assert caught.value.stage == "refuse"
    assert os.listdir(tmp_path / "d") == [] and leftovers(tmp_path) == []


def test_a_name_ending_in_a_slash_or_an_empty_name_is_refused_and_nothing_is_written(tmp_path):
    """`name/` names a directory (a shell refuses `> name/`): no file called `name` appears; "" names nothing."""
    for path, words in ((f"{tmp_path / 'new'}{os.sep}", "names a directory"), ("", "empty")):
        with pytest.raises(CannotWrite, match=words) as caught:
            write_atomically(path, "x")
        assert caught.value.stage == "refuse"
    assert os.listdir(tmp_path) == []
    assert write_directory(f"{tmp_path / 'folder'}{os.sep}", {"a.txt": "x"}).joinpath("a.txt").read_text() == "x"


def _block_if_opened(target: Path) -> CannotWrite:
    """The refusal for ``target``, failing the test (not hanging it) if the write opens the FIFO."""
    result: list[BaseException] = []
    worker = threading.Thread(target=lambda: result.append(_refusal(target)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "writing to a FIFO blocked: it was opened"
    assert isinstance(result[0], CannotWrite)
    return result[0]


def _refusal(target: Path) -> BaseException:
    try:
        write_atomically(target, "x")
    except BaseException as error:  # noqa: BLE001 - handed back to the test
        return error
    raise AssertionError(f"{target} was written")


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    error = _block_if_opened(fifo)
    assert error.stage == "refuse" and "FIFO" in str(error)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and leftovers(tmp_path) == []
    link = tmp_path / "to_pipe"
    link.symlink_to(fifo)
    assert "FIFO" in str(_block_if_opened(link))


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        with pytest.raises(CannotWrite, match="socket"):
            write_atomically(path, "x")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        server.close()


@pytest.mark.skipif(not IS_ROOT, reason="mknod of a device needs root")
@pytest.mark.parametrize("kind, major_minor, words", [(stat.S_IFCHR, (1, 3), "character device"),
                                                     (stat.S_IFBLK, (7, 200), "block device")])
def test_a_device_node_is_refused_and_left_as_it_is(tmp_path, kind, major_minor, words):
    node = tmp_path / "dev"
    try:
        os.mknod(node, kind | 0o600, os.makedev(*major_minor))
    except PermissionError:
        pytest.skip("mknod not permitted here")
    before = os.lstat(node)
    with pytest.raises(CannotWrite, match=words):
        write_atomically(node, "x")
    after = os.lstat(node)
    assert (after.st_mode, after.st_rdev, after.st_ino) == (before.st_mode, before.st_rdev, before.st_ino)
    link = tmp_path / "to_dev"
    link.symlink_to(node)
    with pytest.raises(CannotWrite, match=words):
        write_atomically(link, "x")
    assert leftovers(tmp_path) == []


def test_dev_null_is_refused_by_the_library_and_the_cli(capsys, tmp_path):
    with pytest.raises(CannotWrite, match="character device"):
        check_target(os.devnull)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target, words in ((os.devnull, "character device"), (str(fifo), "FIFO"), (str(tmp_path), "is a directory")):
        code, out, err = run_cli(capsys, "codegen", "relu", "-o", target)
        assert_one_error_line(code, err, words)
        assert out == ""
    assert stat.S_ISCHR(os.lstat(os.devnull).st_mode) and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_the_cli_writes_codegen_through_a_symlink(capsys, tmp_path):
    real = tmp_path / "real.py"
    link = tmp_path / "link.py"
    link.symlink_to(real)
    code, out, err = run_cli(capsys, "codegen", "relu", "-o", str(link))
    assert (code, out, err) == (0, "", "")
    assert link.is_symlink() and "def relu" in real.read_text()


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only directories")
def test_a_read_only_directory_is_one_error_and_leaves_nothing(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "f.py").write_text("old")
    folder.chmod(0o555)
    try:
        with pytest.raises(CannotWrite) as caught:
            write_atomically(folder / "f.py", "new")
        assert caught.value.stage == "create"
        code, _, err = run_cli(capsys, "codegen", "relu", "-o", str(folder / "f.py"))
        assert_one_error_line(code, err, "cannot write")
        assert (folder / "f.py").read_text() == "old" and leftovers(folder) == []
    finally:
        folder.chmod(0o755)


# --- failures while writing ---------------------------------------------------------------------------------------


def test_no_space_left_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch, capsys):
    target = tmp_path / "f.py"
    target.write_text("old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CannotWrite, match="No space left") as caught:
        write_atomically(target, "new")
    assert caught.value.stage == "write"
    with pytest.raises(CannotWrite, match="No space left"):
        write_directory(tmp_path / "set", {"a": "1"})
    code, _, err = run_cli(capsys, "codegen", "relu", "-o", str(target))
    assert_one_error_line(code, err, "No space left")
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["f.py"]


@pytest.fixture
def small_tmpfs(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if not IS_ROOT or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                     capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_really_full_file_system(small_tmpfs):
    target = small_tmpfs / "f.bin"
    write_atomically(target, b"o" * 40_000)
    with pytest.raises(CannotWrite, match="No space left"):
        write_atomically(target, b"n" * 40_000)  # old and new do not fit together
    assert target.read_bytes() == b"o" * 40_000 and os.listdir(small_tmpfs) == ["f.bin"]
    with pytest.raises(CannotWrite, match="No space left"):
        write_directory(small_tmpfs / "set", {"a": b"x" * 40_000})
    assert os.listdir(small_tmpfs) == ["f.bin"]


# --- concurrency, kill -9, signals -------------------------------------------------------------------------------

WRITER = """
import sys
from symdl.atomic import write_atomically
target, byte, count = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
print("ready", flush=True)
for i in range(count):
    write_atomically(target, byte * 1_000_000)
"""


def test_two_processes_writing_one_target_leave_one_whole_file(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"o" * 1_000_000)
    writers = [python(WRITER, str(target), byte, "15", stdout=subprocess.DEVNULL) for byte in "ab"]
    while any(w.poll() is None for w in writers):
        data = target.read_bytes()
        assert len(data) == 1_000_000 and len(set(data)) == 1, "a torn file"
    assert all(w.wait() == 0 for w in writers)
    final = target.read_bytes()
    assert final in (b"a" * 1_000_000, b"b" * 1_000_000)
    assert leftovers(tmp_path) == []


def test_kill_9_at_random_moments_leaves_the_old_or_the_new_file(tmp_path):
    target = tmp_path / "f.bin"
    rng = random.Random(18)
    kills = torn_writes = 0
    for round_ in range(12):
        old = bytes([65 + round_ % 26]) * 1_000_000
        target.write_bytes(old)
        with python(WRITER, str(target), "z", "50", stdout=subprocess.PIPE) as writer:
            assert writer.stdout.readline().strip() == b"ready"
            time.sleep(rng.uniform(0.0, 0.05))
            writer.send_signal(signal.SIGKILL)
            kills += writer.wait() == -signal.SIGKILL
        assert target.read_bytes() in (old, b"z" * 1_000_000)
        # What a SIGKILL left is stale once old enough and its process is gone; the next write removes it.
        torn_writes += bool(leftovers(tmp_path))
        for name in leftovers(tmp_path):
            os.utime(tmp_path / name, (0, 0))
        write_atomically(target, b"next")
        assert leftovers(tmp_path) == []
    assert kills >= 1
    print(f"{kills} kills, {torn_writes} of them in the middle of a write")


def test_stale_temporaries_of_live_processes_or_young_ones_are_kept(tmp_path):
    live = tmp_path / f".symdl-{os.getpid()}-abc.tmp"
    young = tmp_path / ".symdl-999999999-abc.tmp"
    dead_old = tmp_path / ".symdl-999999999-def.tmp"
    dead_old_dir = tmp_path / ".symdl-999999999-ghi.tmp"
    unrelated = tmp_path / ".symdl-notes.tmp"
    for path in (live, young, dead_old, unrelated):
        path.write_text("x")
    dead_old_dir.mkdir()
    (dead_old_dir / "inner").write_text("x")
    for path in (live, dead_old, dead_old_dir, unrelated):
        os.utime(path, (0, 0))
    removed = remove_stale(tmp_path)
    assert sorted(removed) == sorted([dead_old, dead_old_dir])
    assert live.exists() and young.exists() and unrelated.exists()


SLOW_WRITER = """
import os, sys, time
from symdl.atomic import write_atomically
def slow(fd):
    print("in flight", flush=True)
    time.sleep(30)
os.fsync = slow
try:
    write_atomically(sys.argv[1], "new")
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_remove_the_temporary_in_flight(tmp_path, signum, code):
    target = tmp_path / "f.py"
    target.write_text("old")
    with python(SLOW_WRITER, str(target), stdout=subprocess.PIPE) as writer:
        assert writer.stdout.readline().strip() == b"in flight"
        assert len(leftovers(tmp_path)) == 1
        writer.send_signal(signum)
        assert writer.wait(10) == code
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_the_signal_handlers_are_restored_after_a_write(tmp_path):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    write_atomically(tmp_path / "f", "x")
    write_directory(tmp_path / "d", {"a": "x"})
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


# --- a directory as a set of files --------------------------------------------------------------------------------


def test_a_directory_is_written_whole_and_replaced_whole(tmp_path):
    target = tmp_path / "model"
    assert write_directory(target, {"a.txt": "1", "sub/b.bin": b"\x00"}) == target
    assert (target / "a.txt").read_text() == "1" and (target / "sub" / "b.bin").read_bytes() == b"\x00"
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    write_directory(target, {"c.txt": "3"})
    assert sorted(p.name for p in target.iterdir()) == ["c.txt"]
    link = tmp_path / "link"
    link.symlink_to("model")
    write_directory(link, {"d.txt": "4"})
    assert link.is_symlink() and sorted(p.name for p in target.iterdir()) == ["d.txt"]
    assert leftovers(tmp_path) == []


def test_a_directory_set_refuses_files_and_names_outside_it(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CannotWrite, match="not a directory"):
        write_directory(tmp_path / "file", {"a": "1"})
    for name in ("../escape", "/abs", ""):
        with pytest.raises(ValueError, match="relative path"):
            write_directory(tmp_path / "d", {name: "1"})
    assert sorted(os.listdir(tmp_path)) == ["file"]
