"""secretsafe.run: environment precedence and exec, with real encrypted files."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsafe import envfile
from secretsafe.errors import CommandError, CommandNotFound, UsageError
from secretsafe.run import build_environment, default_files, exec_command
from tests.conftest import AgeKey


def _enc(tmp_path: Path, name: str, text: str) -> Path:
    src = tmp_path / name
    src.write_text(text)
    return envfile.encrypt_file(src)


def test_precedence(tmp_path: Path, age_key: AgeKey) -> None:
    first = _enc(tmp_path, "a.env", "A=from-a\nB=from-a\nC=from-a\n")
    second = _enc(tmp_path, "b.env", "B=from-b\nC=from-b\n")
    base = {"C": "from-env", "PATH": "/bin"}
    env = build_environment([first, second], base_env=base, override=False)
    # later files win over earlier ones; the environment wins over files
    assert env == {"A": "from-a", "B": "from-b", "C": "from-env", "PATH": "/bin"}
    env = build_environment([first, second], base_env=base, override=True)
    assert env["C"] == "from-b"
    assert base == {"C": "from-env", "PATH": "/bin"}  # not mutated


def test_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"\.env\.enc"):
        default_files()
    (tmp_path / ".env.enc").write_text("x")
    assert default_files() == [".env.enc"]


def test_exec_errors(tmp_path: Path) -> None:
    with pytest.raises(CommandNotFound) as info:
        exec_command(["no-such-command-xyz"], {"PATH": str(tmp_path)})
    assert info.value.exit_code == 127
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    with pytest.raises(CommandError) as err:
        exec_command([str(script)], {"PATH": "/bin"})
    assert err.value.exit_code == 126
    with pytest.raises(CommandNotFound):
        exec_command([str(tmp_path / "missing")], {"PATH": "/bin"})
    with pytest.raises(UsageError):
        exec_command([], {})


def test_exec_refuses_nul_in_a_value_without_showing_it() -> None:
    from secretsafe.errors import FormatError

    with pytest.raises(FormatError) as info:
        exec_command(["true"], {"PATH": "/bin", "TOKEN": "canary-nul\x00-value"})
    assert info.value.exit_code == 13
    assert "TOKEN" in str(info.value)
    assert "canary" not in str(info.value)
    assert info.value.__cause__ is None
