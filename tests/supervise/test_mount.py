"""``Mount``: secrets as 0400 files on a RAM-backed filesystem for the life of a ``with``
block, removed on exit and when the holding process is killed (``kill -9``); directories and
names that could be attacked are refused. Real files, real processes, real signals."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from secretsafe.errors import FileError, InsecurePermissions, UsageError
from secretsafe.supervise import mount as mount_mod
from secretsafe.supervise.mount import Mount, is_ram_backed

REPO = Path(__file__).resolve().parents[2]
VALUES = {"DB_PASSWORD": "pw-7f3a9c21", "API_TOKEN": "tok-\n-multi\nline", "UNUSED": "u-1"}
DEADLINE = 15.0  # seconds: a loaded 2-core box can be slow to schedule the cleaner


def _ram(path: str) -> bool:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return is_ram_backed(fd, path)
    finally:
        os.close(fd)


def _first(candidates: list[str], *, ram: bool) -> str | None:
    for c in candidates:
        if c and os.path.isdir(c) and os.access(c, os.W_OK) and _ram(c) == ram:
            return c
    return None


@pytest.fixture
def ram_dir() -> Iterator[Path]:
    """A fresh 0700 directory on tmpfs (/dev/shm, $XDG_RUNTIME_DIR): the base of the mounts."""
    base = _first(["/dev/shm", os.environ.get("XDG_RUNTIME_DIR", "")], ram=True)
    assert base is not None, "no tmpfs directory found (/dev/shm, $XDG_RUNTIME_DIR)"
    d = tempfile.mkdtemp(prefix="mount-test-", dir=base)
    yield Path(d)
    subprocess.run(["rm", "-rf", d], check=False)


@pytest.fixture
def disk_dir() -> Iterator[Path]:
    """A fresh directory on a disk-backed filesystem, found rather than assumed: the
    checkout, /var/tmp or the temp dir, whichever is not tmpfs."""
    base = _first([str(REPO), "/var/tmp", tempfile.gettempdir()], ram=False)
    assert base is not None, "no disk-backed directory found"
    d = tempfile.mkdtemp(prefix=".mount-test-", dir=base)
    yield Path(d)
    subprocess.run(["rm", "-rf", d], check=False)


def wait_until(cond: object, what: str) -> None:
    """Poll ``cond`` (bounded): the cleaner runs in another process."""
    end = time.monotonic() + DEADLINE
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, f"timed out waiting: {what}"
        time.sleep(0.02)


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


# --------------------------------------------------------------------------- life cycle
def test_files_are_0400_while_entered_and_gone_after(ram_dir: Path) -> None:
    d = ram_dir / "secrets"
    with Mount(d, VALUES, ["DB_PASSWORD", "API_TOKEN"]) as env:
        assert env == {
            "DB_PASSWORD_FILE": str(d / "DB_PASSWORD"),
            "API_TOKEN_FILE": str(d / "API_TOKEN"),
        }
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
        assert sorted(os.listdir(d)) == ["API_TOKEN", "DB_PASSWORD"]  # only the chosen
        for name in ("DB_PASSWORD", "API_TOKEN"):
            st = (d / name).lstat()
            assert stat.S_ISREG(st.st_mode)
            assert stat.S_IMODE(st.st_mode) == 0o400
            assert st.st_uid == os.geteuid()
            assert (d / name).read_bytes() == VALUES[name].encode()  # exact: no newline added
        # A real child reads them through the variables.
        out = subprocess.run(
            ["sh", "-c", 'cat "$DB_PASSWORD_FILE"'],
            env={**env, "PATH": os.environ["PATH"]},
            capture_output=True,
            check=True,
        ).stdout
        assert out == VALUES["DB_PASSWORD"].encode()
    assert not d.exists()


def test_all_values_when_names_is_none(ram_dir: Path) -> None:
    with Mount(ram_dir / "s", VALUES, None) as env:
        assert sorted(env) == sorted(f"{n}_FILE" for n in VALUES)


def test_files_are_0400_whatever_the_umask(ram_dir: Path) -> None:
    old = os.umask(0)
    try:
        with Mount(ram_dir / "s", VALUES, ["UNUSED"]) as env:
            assert stat.S_IMODE(os.stat(env["UNUSED_FILE"]).st_mode) == 0o400
            assert stat.S_IMODE((ram_dir / "s").stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_an_existing_empty_directory_is_kept(ram_dir: Path) -> None:
    d = ram_dir / "mine"
    d.mkdir(mode=0o700)
    with Mount(d, VALUES, ["DB_PASSWORD"]):
        assert os.listdir(d) == ["DB_PASSWORD"]
    assert d.is_dir()
    assert os.listdir(d) == []


def test_removed_when_the_block_raises(ram_dir: Path) -> None:
    d = ram_dir / "s"
    seen = []

    def child_fails() -> None:
        with Mount(d, VALUES, ["DB_PASSWORD"]):
            seen.append((d / "DB_PASSWORD").exists())
            raise RuntimeError("child failed")

    with pytest.raises(RuntimeError):
        child_fails()
    assert seen == [True]
    assert not d.exists()


def test_the_cleaner_is_reaped_and_a_later_mount_of_the_same_path_survives(
    ram_dir: Path,
) -> None:
    d = ram_dir / "s"
    m = Mount(d, VALUES, ["DB_PASSWORD"])
    with m:
        assert m._cleaner is not None
        pid = m._cleaner[0]
        assert not gone(pid)
    assert gone(pid)
    with Mount(d, VALUES, ["DB_PASSWORD"]) as env:
        time.sleep(0.05)  # give a stray cleaner (there is none) a chance to act
        assert Path(env["DB_PASSWORD_FILE"]).exists()


# --------------------------------------------------------------------------- disk refusal
def test_disk_backed_directory_is_refused(disk_dir: Path) -> None:
    d = disk_dir / "secrets"
    with pytest.raises(UsageError) as info:
        Mount(d, VALUES, ["DB_PASSWORD"]).__enter__()
    text = str(info.value)
    assert "not on a RAM-backed filesystem" in text
    assert "/dev/shm" in text
    assert "XDG_RUNTIME_DIR" in text
    assert "--allow-disk" in text
    assert "\n" not in text
    assert not d.exists()  # nothing created, nothing written
    # An existing empty directory there: refused, kept, still empty.
    d.mkdir(mode=0o700)
    with pytest.raises(UsageError):
        Mount(d, VALUES, ["DB_PASSWORD"]).__enter__()
    assert os.listdir(d) == []


def test_allow_disk(disk_dir: Path) -> None:
    d = disk_dir / "secrets"
    with Mount(d, VALUES, ["DB_PASSWORD"], allow_disk=True) as env:
        assert Path(env["DB_PASSWORD_FILE"]).read_text() == VALUES["DB_PASSWORD"]
    assert not d.exists()


def test_ram_detection_agrees_with_the_mount_table(ram_dir: Path, disk_dir: Path) -> None:
    """fstatfs' f_type and /proc/self/mounts (the fallback) give the same answer."""
    from secretsafe.files import _RAM_FILESYSTEMS, _fs_type

    for d in (ram_dir, disk_dir):
        assert _ram(str(d)) == (_fs_type(os.path.realpath(d)) in _RAM_FILESYSTEMS)
    assert mount_mod._fstatfs_type(-1) is None  # a bad descriptor: "cannot tell"


# --------------------------------------------------------------------------- kill -9
HOLDER = """
import os, signal, sys
# A job started in the background by a non-interactive shell (CI) inherits SIGINT ignored,
# and Python keeps it so: give the holder the handler a terminal's foreground job has.
signal.signal(signal.SIGINT, signal.default_int_handler)
from secretsafe.supervise.mount import Mount
m = Mount(sys.argv[1], {"DB_PASSWORD": "pw-7f3a9c21", "API_TOKEN": "t"}, None)
env = m.__enter__()
print(m._cleaner[0], flush=True)
sys.stdin.read()  # hold the mount until killed
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "term"])
@pytest.mark.parametrize("existing", [False, True], ids=["created", "existing-dir"])
def test_killed_holder_files_are_removed(
    ram_dir: Path, sig: signal.Signals, existing: bool
) -> None:
    """The holder dies without running any cleanup (SIGKILL; SIGTERM with no handler): the
    cleaner sees its pipe close and removes the files (and the directory it created)."""
    d = ram_dir / "s"
    if existing:
        d.mkdir(mode=0o700)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(d)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        cleaner = int(proc.stdout.readline())
        assert sorted(os.listdir(d)) == ["API_TOKEN", "DB_PASSWORD"]
        os.kill(proc.pid, sig)
        assert proc.wait(timeout=DEADLINE) == -sig
        if existing:
            wait_until(lambda: os.listdir(d) == [], "files removed")
            assert d.is_dir()
        else:
            wait_until(lambda: not d.exists(), "directory removed")
        wait_until(lambda: gone(cleaner), "cleaner exited")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


LEAKER = """
import os, sys, time
from secretsafe.supervise.mount import Mount
m = Mount(sys.argv[1], {"DB_PASSWORD": "pw-7f3a9c21"}, None)
env = m.__enter__()
pid = os.fork()
if pid == 0:  # a forked child that never execs: it holds the pipe's write end too
    os.setsid()
    time.sleep(60)
    os._exit(0)
print(pid, flush=True)
sys.stdin.read()
"""


def test_parent_death_signal_when_the_pipe_leaked(ram_dir: Path) -> None:
    """The holder forked a child that keeps the pipe open: the pipe never closes, and
    PR_SET_PDEATHSIG is what tells the cleaner that the holder died."""
    d = ram_dir / "s"
    proc = subprocess.Popen(
        [sys.executable, "-c", LEAKER, str(d)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    leaked = 0
    try:
        assert proc.stdout is not None
        leaked = int(proc.stdout.readline())
        assert (d / "DB_PASSWORD").exists()
        proc.kill()
        proc.wait(timeout=DEADLINE)
        wait_until(lambda: not d.exists(), "directory removed")
        assert not gone(leaked)  # the pipe was still open: the signal did it
    finally:
        if leaked:
            os.kill(leaked, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_interrupt_in_the_terminal_does_not_stop_the_cleaner(ram_dir: Path) -> None:
    """Ctrl-C goes to the foreground process group: the cleaner is in its own session."""
    d = ram_dir / "s"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(d)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        cleaner = int(proc.stdout.readline())
        wait_until(lambda: os.getpgid(cleaner) == cleaner, "the cleaner's own session")
        os.killpg(proc.pid, signal.SIGINT)  # the holder's group, as a terminal would
        proc.wait(timeout=DEADLINE)  # KeyboardInterrupt: the holder exits without __exit__
        wait_until(lambda: not d.exists(), "directory removed")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- attacks
def test_symlink_directory_is_refused(ram_dir: Path) -> None:
    target = ram_dir / "target"
    target.mkdir(mode=0o700)
    for link, points_to in (("link", target), ("dangling", ram_dir / "nowhere")):
        (ram_dir / link).symlink_to(points_to)
        with pytest.raises(UsageError, match="symbolic link"):
            Mount(ram_dir / link, VALUES, ["DB_PASSWORD"]).__enter__()
    assert os.listdir(target) == []
    assert not (ram_dir / "nowhere").exists()


def test_a_file_where_the_directory_goes_is_refused(ram_dir: Path) -> None:
    f = ram_dir / "file"
    f.write_text("keep")
    with pytest.raises(UsageError, match="not a directory"):
        Mount(f, VALUES, ["DB_PASSWORD"]).__enter__()
    assert f.read_text() == "keep"


def test_non_empty_directory_is_refused(ram_dir: Path) -> None:
    d = ram_dir / "d"
    d.mkdir(mode=0o700)
    (d / "other").write_text("keep")
    with pytest.raises(UsageError, match="not empty"):
        Mount(d, VALUES, ["DB_PASSWORD"]).__enter__()
    assert os.listdir(d) == ["other"]


def test_writable_by_others_is_refused_unless_sticky(ram_dir: Path) -> None:
    d = ram_dir / "d"
    d.mkdir()
    for mode in (0o777, 0o770, 0o722):
        os.chmod(d, mode)
        with pytest.raises(InsecurePermissions, match="writable by group or others"):
            Mount(d, VALUES, ["DB_PASSWORD"]).__enter__()
    os.chmod(d, 0o1777)  # noqa: S103 - the case under test; others may add names (O_EXCL refuses them), not remove ours
    with Mount(d, VALUES, ["DB_PASSWORD"]):
        assert os.listdir(d) == ["DB_PASSWORD"]
    assert os.listdir(d) == []


def test_directory_of_another_user_is_refused(ram_dir: Path) -> None:
    d = ram_dir / "d"
    d.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(d, 65534, 65534)  # nobody
    else:
        d = Path("/dev/shm")  # root's, for any other user
    with pytest.raises(InsecurePermissions, match="owned by another user"):
        Mount(d, VALUES, ["DB_PASSWORD"]).__enter__()


def test_a_name_planted_while_writing_fails_without_leaving_files(
    ram_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attacker that can write into the directory plants a symlink at the next file's
    name between the checks and the writes: O_EXCL|O_NOFOLLOW refuses it, the target is
    untouched, and the file already written is removed."""
    d = ram_dir / "d"
    victim = ram_dir / "victim"
    victim.write_text("untouched")
    real_write = Mount._write

    def planting(self: Mount, dfd: int, name: str, value: str) -> None:
        if name == "API_TOKEN":
            os.symlink(victim, d / name)
        real_write(self, dfd, name, value)

    monkeypatch.setattr(Mount, "_write", planting)
    with pytest.raises(FileError, match="already exists"):
        Mount(d, VALUES, ["DB_PASSWORD", "API_TOKEN"]).__enter__()
    assert victim.read_text() == "untouched"
    assert not d.exists()


def test_a_failed_write_leaves_no_partial_file(
    ram_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = ram_dir / "d"
    d.mkdir(mode=0o700)
    real = os.write
    calls = {"n": 0}

    def full(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(mount_mod.os, "write", full)
    with pytest.raises(FileError, match="No space left") as info:
        Mount(d, VALUES, ["DB_PASSWORD", "API_TOKEN"]).__enter__()
    monkeypatch.undo()
    assert os.listdir(d) == []
    assert all(v not in str(info.value) for v in VALUES.values())


@pytest.mark.parametrize(
    ("values", "names", "match"),
    [
        ({"A": "1"}, ["B"], "not one of the values"),
        ({"A": "1"}, ["pw-7f3a9c21-Pr0dSecret=x"], "not one of the values"),
        ({"../evil": "1"}, None, "cannot be a file name"),
        ({"a/b": "1"}, None, "cannot be a file name"),
        ({".hidden": "1"}, None, "cannot be a file name"),
    ],
)
def test_bad_names_are_refused_before_anything_is_written(
    ram_dir: Path, values: dict[str, str], names: list[str] | None, match: str
) -> None:
    with pytest.raises(UsageError, match=match) as info:
        Mount(ram_dir / "d", values, names)
    assert "pw-7f3a9c21" not in str(info.value)
    assert os.listdir(ram_dir) == []


# -- review: the directory swapped under a running mount ---------------------------------


def _swap(parent: Path, victim: Path) -> Path:
    """What a local user who can write to ``parent`` can do while the child runs: move the
    mounted directory away and put a symlink to another directory in its place."""
    moved = parent / "moved"
    os.rename(parent / "secrets", moved)
    os.symlink(victim, parent / "secrets")
    return moved


@pytest.fixture
def victim(ram_dir: Path) -> Path:
    v = ram_dir / "victim"
    v.mkdir()
    (v / "DB_PASSWORD").write_text("not secretsafe's file")
    return v


def test_removal_acts_on_the_directory_written_not_on_its_path(ram_dir: Path, victim: Path) -> None:
    parent = ram_dir / "team"
    parent.mkdir(mode=0o700)
    with Mount(parent / "secrets", VALUES, ["DB_PASSWORD", "API_TOKEN"]):
        moved = _swap(parent, victim)
    assert (victim / "DB_PASSWORD").read_text() == "not secretsafe's file"
    assert not moved.exists() or os.listdir(moved) == []  # no value left behind
    assert (parent / "secrets").is_symlink()  # what is not ours is left alone


def test_the_cleaner_acts_on_the_directory_written_not_on_its_path(
    ram_dir: Path, victim: Path
) -> None:
    parent = ram_dir / "team"
    parent.mkdir(mode=0o700)
    d = parent / "secrets"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(d)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        cleaner = int(proc.stdout.readline())
        moved = _swap(parent, victim)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=DEADLINE) == -signal.SIGKILL
        wait_until(lambda: gone(cleaner), "cleaner exited")
        assert (victim / "DB_PASSWORD").read_text() == "not secretsafe's file"
        assert not moved.exists() or os.listdir(moved) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o722])
def test_a_parent_others_can_write_to_is_refused_unless_sticky(ram_dir: Path, mode: int) -> None:
    """Whoever can rename entries of the parent can swap the directory for their own (the
    child would read their values): refused, as for the directory itself."""
    parent = ram_dir / "team"
    parent.mkdir()
    os.chmod(parent, mode)
    with pytest.raises(InsecurePermissions, match="parent"):
        Mount(parent / "secrets", VALUES, ["DB_PASSWORD"]).__enter__()
    assert os.listdir(parent) == []
    os.chmod(parent, mode | stat.S_ISVTX)  # sticky, as /dev/shm and /tmp
    with Mount(parent / "secrets", VALUES, ["DB_PASSWORD"]):
        pass
    assert os.listdir(parent) == []
