"""`run --watch` with real processes: one restart per burst of changes, the old child kept
when the new values are invalid or cannot be decrypted, never two children at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.supervise.conftest import (
    SECRETS,
    SECRETSAFE,
    EnvFile,
    child_env,
    env_text,
    read_until,
    wait_for,
)

# Appends "pid version overlap" to the log, where overlap says whether the previous child
# (the pid on the last line) was still alive when this one started; then waits for signals.
CHILD = r"""
import os, signal, sys
log = sys.argv[1]
overlap = 0
if os.path.exists(log):
    lines = open(log).read().split("\n")
    last = [l for l in lines if l.strip()][-1:]
    if last:
        prev = last[0].split()[0]
        try:
            state = open(f"/proc/{prev}/stat").read().rsplit(")", 1)[1].split()[0]
            overlap = 0 if state in ("Z", "X") else 1
        except OSError:
            overlap = 0
if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(log, "a") as f:
    f.write(f"{os.getpid()} {os.environ['VERSION']} {overlap}\n")
while True:
    signal.pause()
"""

SCHEMA = '[fields.version]\ntype = "int"\n'


def _lines(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [line.split() for line in log.read_text().splitlines() if line.strip()]


@pytest.fixture
def watched(
    enc: EnvFile, tmp_path: Path
) -> Iterator[tuple[EnvFile, Path, list[subprocess.Popen[bytes]]]]:
    enc.write(env_text("VERSION=1\n"))
    (tmp_path / "schema.toml").write_text(SCHEMA)
    started: list[subprocess.Popen[bytes]] = []
    yield enc, tmp_path / "children.log", started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    # No child left behind by any test.
    for fields in _lines(tmp_path / "children.log"):
        pid = int(fields[0])
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"child {pid} still running")


def _start(
    enc: EnvFile,
    log: Path,
    started: list[subprocess.Popen[bytes]],
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    script = log.with_name("child.py")
    script.write_text(CHILD)
    proc = subprocess.Popen(
        [
            SECRETSAFE,
            "run",
            "--watch",
            "-f",
            str(enc.path),
            *extra,
            "--",
            sys.executable,
            str(script),
            str(log),
        ],
        stderr=subprocess.PIPE,
        cwd=log.parent,
        env=env or child_env(),
    )
    started.append(proc)
    wait_for(lambda: len(_lines(log)) == 1, what="the first child")
    return proc


def test_restarts_once_per_burst_and_never_two_children(
    watched: tuple[EnvFile, Path, list[subprocess.Popen[bytes]]],
) -> None:
    enc, log, started = watched
    proc = _start(enc, log, started, "--schema", str(log.with_name("schema.toml")))
    # A burst: three writes in a row (an editor saving several times). secretsafe is stopped
    # meanwhile so that a loaded machine cannot stretch the burst past the debounce.
    proc.send_signal(signal.SIGSTOP)
    for _ in range(3):
        enc.write(env_text("VERSION=2\n"))
    proc.send_signal(signal.SIGCONT)
    wait_for(lambda: any(f[1] == "2" for f in _lines(log)), what="the restart")
    # A second change: had the burst restarted more than once, its extra restarts would
    # show up before this one.
    enc.write(env_text("VERSION=3\n"))
    wait_for(lambda: any(f[1] == "3" for f in _lines(log)), what="the second restart")
    assert [f[1] for f in _lines(log)] == ["1", "2", "3"]
    assert [f[2] for f in _lines(log)] == ["0", "0", "0"]  # never two children
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.count(b"restarting the command") == 2


def test_invalid_or_undecryptable_values_keep_the_old_child(
    watched: tuple[EnvFile, Path, list[subprocess.Popen[bytes]]],
) -> None:
    enc, log, started = watched
    proc = _start(enc, log, started, "--schema", str(log.with_name("schema.toml")))
    assert proc.stderr is not None
    first = int(_lines(log)[0][0])
    # Not an int: the schema refuses it, the running child stays.
    enc.write(env_text("VERSION=not-a-number-canary\n"))
    err = read_until(proc.stderr.fileno(), b"keeping the command")
    assert b"VERSION" in err
    assert b"not-a-number-canary" not in err
    for value in SECRETS.values():
        assert value.encode() not in err
    # Not decryptable at all (a broken file).
    enc.path.write_text("API_TOKEN=ENC[AES256_GCM,data:broken]\nsops_version=3.9.0\n")
    err += read_until(proc.stderr.fileno(), b"keeping the command")
    assert len(_lines(log)) == 1
    os.kill(first, 0)  # still running
    # A valid change again restarts it.
    enc.write(env_text("VERSION=5\n"))
    wait_for(lambda: any(f[1] == "5" for f in _lines(log)), what="the restart")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def test_stop_timeout_then_sigkill(
    watched: tuple[EnvFile, Path, list[subprocess.Popen[bytes]]],
) -> None:
    enc, log, started = watched
    env = {**child_env(), "IGNORE_TERM": "1"}
    proc = _start(enc, log, started, "--stop-timeout", "0.5", env=env)
    enc.write(env_text("VERSION=2\n"))
    wait_for(lambda: any(f[1] == "2" for f in _lines(log)), what="the restart")
    assert [f[2] for f in _lines(log)] == ["0", "0"]
    proc.kill()  # secretsafe itself; the child ignores TERM: kill it by pid
    proc.wait(timeout=10)
    child = int(_lines(log)[-1][0])
    os.kill(child, signal.SIGKILL)
    # SIGKILL is delivered asynchronously: wait (bounded) until it is dead or reaped, so the
    # fixture's "no child left behind" check does not see it still running on a busy box.
    wait_for(lambda: _dead(child), what="the killed child")


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_exits_with_the_code_of_a_child_that_exits(enc: EnvFile, tmp_path: Path) -> None:
    r = subprocess.run(
        [SECRETSAFE, "run", "--watch", "-f", str(enc.path), "--", "sh", "-c", "exit 9"],
        capture_output=True,
        cwd=tmp_path,
        env=child_env(),
        timeout=60,
        check=False,
    )
    assert r.returncode == 9


# -- review: secretsafe killed with SIGKILL ------------------------------------------------

PID_CHILD = r"""
import os, signal, sys
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    signal.pause()
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.parametrize(
    "flags", [["--watch"], ["--redact"], ["--mount", "MOUNT"]], ids=["watch", "redact", "mount"]
)
def test_no_orphaned_child_when_secretsafe_is_killed(
    enc: EnvFile, tmp_path: Path, flags: list[str]
) -> None:
    """kill -9 of secretsafe (no cleanup runs): the kernel tells the child (parent-death
    signal, SIGTERM), so that no supervised command is left running unsupervised."""
    pidfile = tmp_path / "child.pid"
    mount = Path("/dev/shm") / f"orphan-test-{os.getpid()}-{tmp_path.name}"
    flags = [str(mount) if f == "MOUNT" else f for f in flags]
    command = [sys.executable, "-c", PID_CHILD, str(pidfile)]
    proc = subprocess.Popen(
        [SECRETSAFE, "run", "-f", str(enc.path), *flags, "--", *command],
        cwd=tmp_path,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child = 0
    try:
        wait_for(pidfile.exists, what="the child started")
        child = int(pidfile.read_text())
        proc.kill()
        proc.wait(timeout=30)
        wait_for(lambda: not _alive(child), what="the orphaned child gone")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)
        subprocess.run(["rm", "-rf", str(mount)], check=False)
