"""Leak suite, secrets as files: ``Mount`` (run --mount) errors and leftovers, and the
``NAME_FILE`` variables of load()/check()/``secretsafe check``.

Every case plants the canary where a careless implementation would show it (the file's
content, the path in a ``_FILE`` variable, a value pasted as a name) and searches every
channel: the report (text and JSON), exception chains, log records, the CLI's output, and the
files left behind on the RAM filesystem.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from reliability_support import CANARY, REPO, Tally, exception_texts, run_cli

import secretsafe
from secretsafe.errors import SecretsafeError
from secretsafe.files import MAX_FILE_BYTES
from secretsafe.schemas import check
from secretsafe.supervise import mount as mount_mod
from secretsafe.supervise.mount import Mount

pytestmark = pytest.mark.reliability

VALUES = {"DB_PASSWORD": CANARY, "API_TOKEN": CANARY + "-2"}


@pytest.fixture
def shm() -> Iterator[Path]:
    d = tempfile.mkdtemp(prefix="leak-mount-", dir="/dev/shm")
    yield Path(d)
    subprocess.run(["rm", "-rf", d], check=False)


def _left_behind(base: Path) -> str | None:
    """A file under ``base`` that still holds the canary (a leftover plaintext copy)."""
    for root, _, files in os.walk(base):
        for f in files:
            p = Path(root, f)
            if not p.is_symlink() and CANARY.encode() in p.read_bytes():
                return f"the canary is left in {p}"
    return None


def _raised(fn: Callable[[], object]) -> str | None:
    try:
        fn()
    except SecretsafeError as exc:
        return "canary in the error" if any(CANARY in t for t in exception_texts(exc)) else None
    return "expected an error"


# --------------------------------------------------------------------------- Mount
def _disk(base: Path) -> None:
    disk = tempfile.mkdtemp(prefix=".leak-mount-", dir=REPO)
    try:
        Mount(Path(disk) / "s", VALUES).__enter__()
    finally:
        subprocess.run(["rm", "-rf", disk], check=False)


def _symlink(base: Path) -> None:
    (base / "t").mkdir()
    (base / "link").symlink_to(base / "t")
    Mount(base / "link", VALUES).__enter__()


def _not_empty(base: Path) -> None:
    (base / "d").mkdir(mode=0o700)
    (base / "d" / "x").write_text("x")
    Mount(base / "d", VALUES).__enter__()


def _world_writable(base: Path) -> None:
    (base / "d").mkdir()
    os.chmod(base / "d", 0o777)  # noqa: S103 - the case under test
    Mount(base / "d", VALUES).__enter__()


def _name_is_a_value(base: Path) -> None:
    Mount(base / "d", VALUES, [CANARY]).__enter__()


def _name_is_a_pasted_assignment(base: Path) -> None:
    Mount(base / "d", {f"X={CANARY}": CANARY}).__enter__()


def _planted(base: Path) -> None:
    d = base / "d"
    real = Mount._write

    def planting(self: Mount, dfd: int, name: str, value: str) -> None:
        if name == "API_TOKEN":
            os.symlink(base / "victim", d / name)
        real(self, dfd, name, value)

    Mount._write = planting  # type: ignore[method-assign]
    try:
        Mount(d, VALUES).__enter__()
    finally:
        Mount._write = real  # type: ignore[method-assign]


def _disk_full(base: Path) -> None:
    real = os.write
    calls = {"n": 0}

    def full(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    mount_mod.os.write = full  # type: ignore[assignment]
    try:
        Mount(base / "d", VALUES).__enter__()
    finally:
        mount_mod.os.write = real


def _parent_writable(base: Path) -> None:
    os.chmod(base, 0o770)  # noqa: S103 - the case under test
    Mount(base / "d", VALUES).__enter__()


MOUNT_ERRORS: dict[str, Callable[[Path], None]] = {
    "disk-backed directory": _disk,
    "symlink directory": _symlink,
    "non-empty directory": _not_empty,
    "world-writable directory": _world_writable,
    "--mount-names with a value": _name_is_a_value,
    "a value as a file name": _name_is_a_pasted_assignment,
    "name planted while writing": _planted,
    "disk full while writing": _disk_full,
    "parent writable by the group": _parent_writable,
}


def test_mount_errors_never_show_a_value_nor_leave_it(shm: Path, tally: Tally) -> None:
    for name, case in MOUNT_ERRORS.items():
        base = shm / name.replace(" ", "-")
        base.mkdir()
        tally.check(f"{name}: error", _raised(lambda: case(base)), note="mount errors")  # noqa: B023
        tally.check(f"{name}: leftovers", _left_behind(base), note="mount leftovers")
    tally.assert_clean()


HOLDER = """
import sys
from secretsafe.supervise.mount import Mount
Mount(sys.argv[1], {"DB_PASSWORD": sys.argv[2]}).__enter__()
print("ready", flush=True)
sys.stdin.read()
"""


def test_nothing_left_after_exit_or_kill_9(shm: Path, tally: Tally) -> None:
    with Mount(shm / "a", VALUES) as env:
        tally.check("while entered: the files hold the values", None if env else "no files")
    tally.check("after exit", _left_behind(shm), note="mount leftovers")
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(shm / "b"), CANARY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        proc.kill()
        proc.wait(timeout=15)
        import time

        end = time.monotonic() + 15
        while (shm / "b").exists() and time.monotonic() < end:
            time.sleep(0.02)
        tally.check("after kill -9 of the holder", _left_behind(shm), note="mount leftovers")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_nothing_left_when_the_directory_was_moved_away(shm: Path, tally: Tally) -> None:
    """The mount directory renamed (by its owner, or root) while the child runs: the files
    are removed from the directory written, wherever it went."""
    (shm / "victim").mkdir()
    with Mount(shm / "a", VALUES):
        os.rename(shm / "a", shm / "moved")
        os.symlink(shm / "victim", shm / "a")
    tally.check("moved away, then exit", _left_behind(shm), note="mount leftovers")
    tally.assert_clean()


# --------------------------------------------------------------------------- NAME_FILE
class Db(BaseModel):
    host: str = "db"
    password: SecretStr


class App(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="forbid")
    database: Db
    api_token: str = "x" * 40  # a secret by name


def _file(base: Path, name: str, data: bytes) -> str:
    p = base / name
    p.write_bytes(data)
    return str(p)


def _big(base: Path) -> str:
    p = base / "big"
    with p.open("wb") as fh:
        fh.write(CANARY.encode())
        fh.truncate(MAX_FILE_BYTES + 1)
    return str(p)


def _fifo(base: Path) -> str:
    p = base / f"fifo-{CANARY}"
    os.mkfifo(p)
    return str(p)


#: name -> env (the base dir given); every one must give a problem, none may show the canary.
FIELD_FILE_CASES: dict[str, Callable[[Path], dict[str, str]]] = {
    "both set": lambda b: {
        "DATABASE__PASSWORD": CANARY,
        "DATABASE__PASSWORD_FILE": _file(b, "pw", CANARY.encode()),
    },
    "canary in the missing path": lambda b: {"DATABASE__PASSWORD_FILE": str(b / CANARY)},
    "value pasted into the _FILE variable": lambda b: {"DATABASE__PASSWORD_FILE": CANARY},
    "directory named by canary": lambda b: {
        "DATABASE__PASSWORD_FILE": str(Path(tempfile.mkdtemp(prefix=CANARY, dir=b)))
    },
    "fifo": lambda b: {"DATABASE__PASSWORD_FILE": _fifo(b)},
    "not UTF-8": lambda b: {
        "DATABASE__PASSWORD_FILE": _file(b, "latin", CANARY.encode() + b"\xff\xfe")
    },
    "NUL byte": lambda b: {"DATABASE__PASSWORD_FILE": _file(b, "nul", CANARY.encode() + b"\0")},
    "too large": lambda b: {"DATABASE__PASSWORD_FILE": _big(b)},
    "content fails validation": lambda b: {
        "DATABASE__PASSWORD_FILE": _file(b, "pw", b""),
        "API_TOKEN_FILE": _file(b, "tok", b"{" + CANARY.encode()),
        "DATABASE__PORT": "1",  # an unknown name next to them (extra="forbid")
    },
    "non-secret field's _FILE": lambda b: {
        "DATABASE__PASSWORD": "p",
        "DATABASE__HOST_FILE": _file(b, "host", CANARY.encode()),
    },
}


def test_field_file_problems_never_show_content_or_path(
    tmp_path: Path, tally: Tally, caplog: pytest.LogCaptureFixture
) -> None:
    for name, make in FIELD_FILE_CASES.items():
        base = tmp_path / f"c{len(list(tmp_path.iterdir()))}"
        base.mkdir()
        env = make(base)
        report = check(App, env)
        tally.check(f"{name}: a problem", None if not report.ok else "no problem reported")
        text = report.to_text() + report.to_json()
        tally.check(
            f"{name}: report", "canary in the report" if CANARY in text else None, note="reports"
        )
        tally.check(
            f"{name}: load() error",
            _raised(lambda: secretsafe.load(App, environ=env)),  # noqa: B023
            note="raised",
        )
        with contextlib.suppress(SecretsafeError):  # unknown names logged, by name
            secretsafe.load(App, environ=env, unknown="warning")
        logs = "\n".join(r.getMessage() for r in caplog.records)
        tally.check(f"{name}: logs", "canary in the logs" if CANARY in logs else None)
        caplog.clear()
    tally.assert_clean()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_check_field_file_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tally: Tally, fmt: str
) -> None:
    schema = tmp_path / "app.toml"
    schema.write_text('[fields]\ndb_password = { type = "secret" }\n', encoding="utf-8")
    pw = tmp_path / "pw"
    pw.write_bytes(CANARY.encode() + b"\xff")
    cases = {
        "unreadable": f"DB_PASSWORD_FILE={pw}\n",
        "missing, canary path": f"DB_PASSWORD_FILE={tmp_path / CANARY}\n",
        "both set": f"DB_PASSWORD_FILE={pw}\nDB_PASSWORD={CANARY}\n",
    }
    for name, text in cases.items():
        env_file = tmp_path / "app.env"
        env_file.write_text(text, encoding="utf-8")
        res = run_cli(
            ["check", "--schema", str(schema), "-f", str(env_file), "--no-environ", "--format", fmt]
        )
        tally.check(f"{name}: exit 3", None if res.code == 3 else f"exit {res.code}")
        leaked = [k for k, v in res.channels().items() if CANARY in v]
        leaked += [
            "exception" for e in res.exceptions if any(CANARY in t for t in exception_texts(e))
        ]
        tally.check(f"{name}: output", f"canary in {leaked}" if leaked else None, note="cli")
    tally.assert_clean()
