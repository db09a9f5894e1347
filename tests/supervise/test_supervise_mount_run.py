"""`run --mount` wired into the supervisor: files with the right modes while the child
runs, NAME_FILE in its environment, gone after it exits or after SIGTERM to secretsafe, and
rewritten between two children under --watch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.supervise.conftest import (
    SECRETS,
    SECRETSAFE,
    SHORT,
    EnvFile,
    child_env,
    env_text,
    read_until,
    run,
    wait_for,
)

# Lists its *_FILE variables with each file's mode, whether the content is the value
# expected (argv[1], JSON) and whether the variable itself is in the environment too.
CHILD = r"""
import json, os, stat, sys
want = json.loads(sys.argv[1])
for k in sorted(os.environ):
    p = os.environ[k]
    if k.endswith("_FILE") and p.startswith("/dev/shm/secretsafe-test-"):
        st = os.stat(p)
        same = open(p).read() == want[k[:-5]]
        print(k, p, oct(stat.S_IMODE(st.st_mode)), same, k[:-5] in os.environ)
print("listed", flush=True)
if len(sys.argv) > 2:
    sys.stdin.read()
"""


@pytest.fixture
def ram_dir() -> Iterator[Path]:
    base = Path("/dev/shm")
    if not base.is_dir():
        pytest.skip("no /dev/shm")
    d = base / f"secretsafe-test-{uuid.uuid4().hex}"
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_files_while_running_and_gone_after_exit(
    enc: EnvFile, tmp_path: Path, ram_dir: Path
) -> None:
    import sys

    args = ["run", "-f", str(enc.path), "--mount", str(ram_dir)]
    want = json.dumps({**SECRETS, SHORT[0]: SHORT[1]})
    child = [sys.executable, "-c", CHILD, want]
    r = run([*args, "--mount-names", "API_TOKEN,DB_PASSWORD", "--", *child], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = [line.split() for line in r.stdout.decode().splitlines() if "_FILE" in line]
    assert [row[0] for row in lines] == ["API_TOKEN_FILE", "DB_PASSWORD_FILE"]
    for name, path, mode, same, also_in_env in lines:
        assert path == str(ram_dir / name[:-5])
        assert mode == "0o400"
        assert same == "True"
        # Only the file: images (and load()) refuse NAME and NAME_FILE together.
        assert also_in_env == "False"
    assert not ram_dir.exists()  # secretsafe created it, and removed it
    # Every value when no names are given; with --redact too.
    r = run([*args, "--redact", "--", *child], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(b"_FILE") == len(SECRETS) + 1  # the short one is a file too
    assert not ram_dir.exists()


def test_files_gone_after_sigterm_to_secretsafe(
    enc: EnvFile, tmp_path: Path, ram_dir: Path
) -> None:
    import sys

    proc = subprocess.Popen(
        [
            SECRETSAFE,
            "run",
            "-f",
            str(enc.path),
            "--mount",
            str(ram_dir),
            "--",
            sys.executable,
            "-c",
            CHILD,
            json.dumps({**SECRETS, SHORT[0]: SHORT[1]}),
            "wait",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        read_until(proc.stdout.fileno(), b"listed")
        mode = stat.S_IMODE(os.stat(ram_dir / "API_TOKEN").st_mode)
        assert mode == 0o400
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM
    assert not ram_dir.exists()


def test_disk_directory_refused_without_allow_disk(enc: EnvFile, tmp_path: Path) -> None:
    r = run(
        ["run", "-f", str(enc.path), "--mount", str(tmp_path / "m"), "--", "true"], cwd=tmp_path
    )
    assert r.returncode == 2
    assert b"RAM-backed" in r.stderr
    r = run(["run", "-f", str(enc.path), "--mount-names", "A", "--", "true"], cwd=tmp_path)
    assert r.returncode == 2


def test_watch_rewrites_the_files_between_children(
    enc: EnvFile, tmp_path: Path, ram_dir: Path
) -> None:
    enc.write(env_text("VERSION=1\n"))
    log = tmp_path / "versions.log"
    script = 'cat "$VERSION_FILE" >> "$1"; echo >> "$1"; exec sleep 600'
    proc = subprocess.Popen(
        [
            SECRETSAFE,
            "run",
            "--watch",
            "-f",
            str(enc.path),
            "--mount",
            str(ram_dir),
            "--mount-names",
            "VERSION",
            "--",
            "sh",
            "-c",
            script,
            "sh",
            str(log),
        ],
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=child_env(),
    )
    try:
        wait_for(lambda: log.exists() and log.read_text() == "1\n", what="first child")
        enc.write(env_text("VERSION=22\n"))
        wait_for(lambda: log.read_text() == "1\n22\n", what="restart")
        assert (ram_dir / "VERSION").read_text() == "22"
        proc.send_signal(signal.SIGHUP)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not ram_dir.exists()
