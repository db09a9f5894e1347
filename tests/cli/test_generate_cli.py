"""`secretsafe generate`: strength and encodings, and --into writing straight into an
encrypted file without the value reaching the terminal."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from secretsafe.cli.generate import make_secret
from tests.conftest import AgeKey

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")


def ss(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SECRETSAFE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("fmt", "decoded_len"),
    [
        ("hex", lambda v: len(bytes.fromhex(v))),
        ("base64", lambda v: len(base64.b64decode(v))),
        ("urlsafe", lambda v: len(base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)))),
    ],
)
def test_encodings_carry_the_requested_entropy(fmt: str, decoded_len: object) -> None:
    value = make_secret(48, fmt)
    assert callable(decoded_len)
    assert decoded_len(value) == 48
    assert make_secret(48, fmt) != value


def test_alnum_is_long_enough() -> None:
    value = make_secret(32, "alnum")
    assert value.isalnum()
    # 62 symbols carry ~5.95 bits each: 52 characters hold at least 256 bits.
    assert len(value) >= 52


def test_cli_prints_one_secret(tmp_path: Path) -> None:
    r = ss("generate", "--bytes", "32", "--format", "hex", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip()) == 64


def test_cli_refuses_weak_sizes(tmp_path: Path) -> None:
    r = ss("generate", "--bytes", "8", cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_into_sets_the_value_without_printing_it(tmp_path: Path, age_key: AgeKey) -> None:
    (tmp_path / ".env").write_text("HOST=db\n")
    assert ss("encrypt", ".env", cwd=tmp_path).returncode == 0
    r = ss("generate", "--into", ".env.enc", "AUTH__JWT_SECRET_KEY", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    from secretsafe.sops import decrypt_file

    values = decrypt_file(tmp_path / ".env.enc")
    secret = values["AUTH__JWT_SECRET_KEY"]
    assert len(secret) >= 43
    assert secret not in r.stderr
    assert values["HOST"] == "db"
