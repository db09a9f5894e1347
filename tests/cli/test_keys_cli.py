"""`secretsafe keys generate | show | import`: exit codes, stdout/stderr split, the real
keyring, and no secret key in any output."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
from keyring_session import SecretServiceSession, no_session_bus, secret_service

from secretsafe.cli import main

__all__ = ["no_session_bus", "secret_service"]  # fixtures used by name

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")


@pytest.fixture(autouse=True)
def _no_bus(no_session_bus: None) -> None:
    """By default no test sees a keyring; the keyring tests start their own."""


@pytest.fixture
def default_file(isolated_env: Path) -> Path:
    return isolated_env / ".config" / "sops" / "age" / "keys.txt"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def new_key() -> tuple[str, str]:
    ident = pyrage.x25519.Identity.generate()
    return str(ident), str(ident.to_public())


def test_generate_prints_recipient_only(
    capsys: pytest.CaptureFixture[str], default_file: Path
) -> None:
    code, out, err = run(["keys", "generate"], capsys)
    assert code == 0
    recipient = out.strip()
    assert recipient.startswith("age1")
    assert out == recipient + "\n"
    assert "no usable OS keyring" in err
    assert str(default_file) in err
    secret = default_file.read_text().splitlines()[2]
    assert secret.startswith("AGE-SECRET-KEY-1")
    assert secret not in out + err
    assert default_file.stat().st_mode & 0o777 == 0o600
    assert str(pyrage.x25519.Identity.from_str(secret).to_public()) == recipient


def test_generate_twice_appends(capsys: pytest.CaptureFixture[str], default_file: Path) -> None:
    _, first, _ = run(["keys", "generate", "--store", "file"], capsys)
    before = default_file.read_text()
    _, second, _ = run(["keys", "generate", "--store", "file"], capsys)
    assert default_file.read_text().startswith(before)
    code, out, _ = run(["keys", "show"], capsys)
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [first.strip(), second.strip()]


def test_generate_keyring_store_without_backend(
    capsys: pytest.CaptureFixture[str], default_file: Path
) -> None:
    code, out, err = run(["keys", "generate", "--store", "keyring"], capsys)
    assert code == 25
    assert out == ""
    assert "no usable OS keyring" in err
    assert not default_file.exists()


def test_show_text_and_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (s1, r1), (s2, r2) = new_key(), new_key()
    monkeypatch.setenv("SOPS_AGE_KEY", f"{s1}\n{s2}")
    code, out, err = run(["keys", "show"], capsys)
    assert code == 0
    assert out.splitlines() == [f"{r1}\tSOPS_AGE_KEY", f"{r2}\tSOPS_AGE_KEY"]
    code, out, err = run(["keys", "show", "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out) == [
        {"recipient": r1, "source": "SOPS_AGE_KEY"},
        {"recipient": r2, "source": "SOPS_AGE_KEY"},
    ]
    for secret in (s1, s2):
        assert secret not in out + err


def test_show_with_key_cmd(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret, recipient = new_key()
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", f"{sys.executable} -c \"print('{secret}')\"")
    code, out, err = run(["keys", "show"], capsys)
    assert (code, out) == (0, f"{recipient}\tSOPS_AGE_KEY_CMD\n")
    assert secret not in err


def test_show_without_identity_lists_the_places(
    capsys: pytest.CaptureFixture[str], default_file: Path
) -> None:
    code, out, err = run(["keys", "show"], capsys)
    assert code == 20
    assert out == ""
    assert err.count("\n") == 1  # one line, no traceback
    for place in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "OS keyring"):
        assert place in err
    assert str(default_file) in err


def test_insecure_key_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret, _ = new_key()
    path = tmp_path / "keys.txt"
    path.write_text(secret + "\n")
    path.chmod(0o644)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(path))
    code, out, err = run(["keys", "show"], capsys)
    assert code == 11
    assert f"chmod 600 {path}" in err
    assert secret not in out + err


def test_import_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, default_file: Path
) -> None:
    (s1, r1), (s2, r2) = new_key(), new_key()
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"# laptop\n{s1}\n{s2}\n"))
    code, out, err = run(["keys", "import", "--store", "file"], capsys)
    assert code == 0
    assert out.splitlines() == [r1, r2]
    assert "imported 2 identities" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO(s1))
    code, out, err = run(["keys", "import", "--store", "file"], capsys)
    assert (code, out.strip()) == (0, r1)
    assert "imported 0 identities" in err
    assert "1 already there" in err
    for secret in (s1, s2):
        assert secret not in out + err
    assert default_file.read_text().count("AGE-SECRET-KEY-1") == 2


def test_import_refuses_argv_without_echo(
    capsys: pytest.CaptureFixture[str], default_file: Path
) -> None:
    secret, _ = new_key()
    code, out, err = run(["keys", "import", secret], capsys)
    assert code == 2
    assert "stdin" in err
    assert secret not in out + err
    assert not default_file.exists()


def test_import_junk(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("hunter2-canary\n"))
    code, out, err = run(["keys", "import"], capsys)
    assert code == 25
    assert "input: line 1" in err
    assert "canary" not in out + err


def test_import_refuses_a_terminal(isolated_env: Path) -> None:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [SECRETSAFE, "keys", "import"],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == 2
    assert "not from a terminal" in proc.stderr
    assert "secretsafe keys import < keys.txt" in proc.stderr


def test_console_script_generate_show_import(isolated_env: Path, default_file: Path) -> None:
    secret, recipient = new_key()
    imp = subprocess.run(
        [SECRETSAFE, "keys", "import"],
        input=secret + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (imp.returncode, imp.stdout) == (0, recipient + "\n")
    assert "no usable OS keyring" in imp.stderr
    show = subprocess.run(
        [SECRETSAFE, "keys", "show", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(show.stdout) == [{"recipient": recipient, "source": str(default_file)}]
    assert secret not in imp.stdout + imp.stderr + show.stdout + show.stderr


# --- the real OS keyring ---------------------------------------------------------------------


def test_generate_into_keyring_and_show(
    secret_service: SecretServiceSession, default_file: Path
) -> None:
    gen = subprocess.run(
        [SECRETSAFE, "keys", "generate"],
        env=secret_service.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert gen.returncode == 0, gen.stderr
    recipient = gen.stdout.strip()
    assert recipient.startswith("age1")
    assert "OS keyring" in gen.stderr
    assert not default_file.exists()
    show = subprocess.run(
        [SECRETSAFE, "keys", "show"],
        env=secret_service.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert show.returncode == 0, show.stderr
    assert show.stdout == f"{recipient}\tkeyring\n"
    import keyring

    blob = keyring.get_password("secretsafe", "age-identities") or ""
    secret = next(line for line in blob.splitlines() if line.startswith("AGE-SECRET-KEY-1"))
    assert secret not in gen.stdout + gen.stderr + show.stdout + show.stderr


def test_import_into_keyring(
    secret_service: SecretServiceSession,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret, recipient = new_key()
    monkeypatch.setattr(sys, "stdin", io.StringIO(secret))
    code, out, err = run(["keys", "import", "--store", "keyring"], capsys)
    assert (code, out) == (0, recipient + "\n")
    assert "OS keyring" in err
    code, out, err = run(["keys", "show"], capsys)
    assert out == f"{recipient}\tkeyring\n"
