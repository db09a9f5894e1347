"""Fixtures of the supervisor tests: an encrypted env file and the console script."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from secretsafe import envfile
from tests.conftest import AgeKey

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")

#: Secret values of the test file (each >= 6 characters) and a short one (not redacted).
SECRETS = {
    "API_TOKEN": "tok-4f9b2c71e0-canary",
    "DB_PASSWORD": "p@ss/w0rd+Z=ü",
    "SESSION_KEY": "sk_8731ab",
}
SHORT = ("PIN", "1234")


@dataclass
class EnvFile:
    path: Path
    key: AgeKey

    def write(self, text: str) -> None:
        """Encrypt ``text`` to :attr:`path` (atomically replaced, as sops edit does)."""
        src = self.path.with_name("plain.env")
        src.write_text(text)
        envfile.encrypt_file(src, self.path, force=True)
        src.unlink()


def env_text(extra: str = "") -> str:
    lines = [f"{k}={v}" for k, v in SECRETS.items()] + [f"{SHORT[0]}={SHORT[1]}"]
    return "\n".join(lines) + "\n" + extra


@pytest.fixture
def enc(tmp_path: Path, age_key: AgeKey) -> EnvFile:
    f = EnvFile(tmp_path / "app.env.enc", age_key)
    f.write(env_text())
    return f


def child_env() -> dict[str, str]:
    """The environment for secretsafe: ours without the secret names (so they come from
    the file) and with an unbuffered Python for the child scripts."""
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(
    args: list[str], *, cwd: Path, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [SECRETSAFE, *args],
        input=None if stdin is None else stdin.encode(),
        capture_output=True,
        cwd=cwd,
        env=child_env(),
        timeout=timeout,
        check=False,
    )


def wait_for(predicate: object, *, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate()`` until true (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def read_until(fd: int, marker: bytes, *, timeout: float = 30.0) -> bytes:
    """Read ``fd`` until ``marker`` was seen (bounded); returns what was read."""
    got = b""
    deadline = time.monotonic() + timeout
    while marker not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {marker!r}; got {got[-400:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"EOF before {marker!r}; got {got[-400:]!r}")
            got += chunk
    return got


def read_all(fd: int, *, timeout: float = 30.0) -> bytes:
    """Read ``fd`` to EOF (EIO for a pty master), bounded."""
    got = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out reading; got {got[-400:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return got
        if not chunk:
            return got
        got += chunk


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; any still running at the end is killed (by pid)."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
