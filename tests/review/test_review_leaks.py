"""Review findings: error paths and reprs that echoed a secret value (a secret key pasted
where a recipient belongs, a value typed on the `set` command line, plaintext in reprs).
Each test fails without its fix."""

from __future__ import annotations

from pathlib import Path

import pyrage
import pytest

from secretsafe.cli import main
from secretsafe.errors import ConfigError
from tests.conftest import AgeKey

CANARY = "canary-review-7f3a-top-secret"


def _secret_key() -> str:
    return str(pyrage.x25519.Identity.generate())


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 1, err
    assert lines[0].startswith("secretsafe: error: "), err
    return lines[0]


@pytest.fixture
def encrypted(tmp_path: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"TOKEN={CANARY}\n", encoding="utf-8")
    assert main(["encrypt", ".env", "--backend", "native"]) == 0
    return tmp_path / ".env.enc"


def test_recipients_remove_does_not_echo_a_secret_key(
    encrypted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = _secret_key()
    before = encrypted.read_bytes()
    capsys.readouterr()
    assert main(["recipients", "remove", str(encrypted), secret]) == 2
    out, err = capsys.readouterr()
    assert secret not in out + err
    assert secret[len("AGE-SECRET-KEY-") :] not in out + err
    assert "secret key" in _one_error_line(err)
    assert encrypted.read_bytes() == before


@pytest.mark.parametrize(
    "argv_tail",
    [["TOKEN", CANARY], ["TOKEN=" + CANARY], [CANARY + "=="]],
    ids=["key-value", "key=value", "base64-ish"],
)
def test_set_refuses_a_value_in_argv_without_echoing_it(
    encrypted: Path, capsys: pytest.CaptureFixture[str], argv_tail: list[str]
) -> None:
    before = encrypted.read_bytes()
    capsys.readouterr()
    assert main(["set", str(encrypted), *argv_tail]) == 2
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    assert "stdin" in _one_error_line(err)
    assert encrypted.read_bytes() == before


@pytest.mark.parametrize("backend", ["auto", "native"])
def test_secret_key_in_sops_yaml_is_named_not_quoted(
    tmp_path: Path,
    age_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    backend: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    secret = _secret_key()
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {secret}\n", "utf-8")
    (tmp_path / ".env").write_text(f"TOKEN={CANARY}\n", encoding="utf-8")
    assert main(["encrypt", ".env", "--backend", backend]) == ConfigError.exit_code
    out, err = capsys.readouterr()
    assert secret not in out + err
    assert secret[len("AGE-SECRET-KEY-") :] not in out + err
    assert "secret key" in _one_error_line(err)
    assert not (tmp_path / ".env.enc").exists()


def test_native_encrypt_api_does_not_echo_a_secret_key_recipient() -> None:
    from secretsafe.sops import native
    from secretsafe.sops.model import Entry

    secret = _secret_key()
    with pytest.raises(ConfigError) as info:
        native.encrypt([Entry("TOKEN", CANARY)], key_groups=[[secret]])
    assert secret not in str(info.value)
    assert secret not in repr(info.value)


def test_sops_result_repr_hides_plaintext() -> None:
    from secretsafe.sops.binary import SopsResult

    result = SopsResult(0, f"TOKEN={CANARY}\n".encode(), f"line: {CANARY}".encode())
    assert CANARY not in repr(result)
    assert result.stdout.decode().startswith("TOKEN=")


def test_interpolation_repr_hides_the_substituted_value() -> None:
    from secretsafe.compose.interpolate import interpolate

    got = interpolate("${TOKEN}", {"TOKEN": CANARY})
    assert got.value == CANARY
    assert CANARY not in repr(got)
    assert CANARY not in str(got)
