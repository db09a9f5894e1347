"""secretsafe.keys: discovery as sops does it, key files, key commands, the real OS keyring
(a private gnome-keyring Secret Service), generate/import, and no key ever in any output."""

from __future__ import annotations

import os
import pickle
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyrage
import pytest
from keyring_session import SecretServiceSession, no_session_bus, secret_service

from secretsafe import keys
from secretsafe.errors import (
    FileError,
    InsecurePermissions,
    KeyStoreError,
    NoIdentityError,
    UsageError,
)

__all__ = ["no_session_bus", "secret_service"]  # fixtures used by name


def new_key() -> tuple[str, str]:
    ident = pyrage.x25519.Identity.generate()
    return str(ident), str(ident.to_public())


def write_key_file(path: Path, *secrets: str, mode: int = 0o600, extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"# public key: x\n{s}\n" for s in secrets)
    path.write_text(f"# created: test\n{body}{extra}")
    path.chmod(mode)
    return path


def all_text(err: BaseException) -> str:
    return " ".join([str(err), repr(err), getattr(err, "hint", "") or ""])


@pytest.fixture
def default_file(isolated_env: Path) -> Path:
    return isolated_env / ".config" / "sops" / "age" / "keys.txt"


@pytest.fixture(autouse=True)
def _no_bus(no_session_bus: None) -> None:
    """By default no test sees a keyring; the keyring tests start their own."""


# --- Identity ---------------------------------------------------------------------------------


def test_identity_masks_the_secret() -> None:
    secret, recipient = new_key()
    ident = keys.Identity(secret, source="SOPS_AGE_KEY")
    assert ident.recipient == recipient
    assert ident.reveal() == secret
    assert str(ident.to_pyrage()) == secret
    for shown in (repr(ident), str(ident), f"{ident}", f"{ident!r}", repr([ident])):
        assert secret not in shown
        assert secret[16:30] not in shown
        assert recipient in shown
    with pytest.raises(AttributeError):
        ident.recipient = "x"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(ident)) == ident  # noqa: S301 - our own bytes
    assert keys.Identity(secret, source="elsewhere") == ident


def test_identity_refuses_junk_without_echo() -> None:
    secret, _ = new_key()
    broken = secret[:-1] + ("Q" if secret[-1] != "Q" else "P")
    with pytest.raises(KeyStoreError) as info:
        keys.Identity(broken, source="test")
    assert broken[16:] not in all_text(info.value)
    assert info.value.__cause__ is None


# --- default key file ---------------------------------------------------------------------------


def test_default_key_file_follows_xdg(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "h"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    assert keys.default_key_file(env) == tmp_path / "cfg" / "sops" / "age" / "keys.txt"
    env = {"HOME": str(tmp_path / "h")}
    assert keys.default_key_file(env) == tmp_path / "h" / ".config" / "sops" / "age" / "keys.txt"
    env = {"HOME": str(tmp_path / "h"), "XDG_CONFIG_HOME": "relative/dir"}
    assert keys.default_key_file(env) == tmp_path / "h" / ".config" / "sops" / "age" / "keys.txt"


def test_default_key_file_matches_sops(
    sops_bin: Path, default_file: Path, tmp_path: Path, isolated_env: Path
) -> None:
    """The real sops binary decrypts with a key that only the default key file holds."""
    secret, recipient = new_key()
    write_key_file(default_file, secret)
    assert keys.default_key_file() == default_file
    plain = tmp_path / "a.env"
    plain.write_text("A=1\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(isolated_env)}
    env["XDG_CONFIG_HOME"] = os.environ["XDG_CONFIG_HOME"]
    flags = ["--input-type", "dotenv", "--output-type", "dotenv"]
    enc = subprocess.run(
        [str(sops_bin), "encrypt", *flags, "--age", recipient, str(plain)],
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    (tmp_path / "a.enc").write_bytes(enc)
    out = subprocess.run(
        [str(sops_bin), "decrypt", *flags, str(tmp_path / "a.enc")],
        env=env,
        capture_output=True,
        check=True,
    ).stdout
    assert out == b"A=1\n"


# --- discovery ----------------------------------------------------------------------------------


def test_sops_age_key_several_keys_and_comments(monkeypatch: pytest.MonkeyPatch) -> None:
    (s1, r1), (s2, r2), (s3, r3) = new_key(), new_key(), new_key()
    monkeypatch.setenv("SOPS_AGE_KEY", f"# mine\n{s1}\n\n  {s2} {s3}  \n")
    found = keys.discover()
    assert [i.recipient for i in found] == [r1, r2, r3]
    assert {i.source for i in found} == {"SOPS_AGE_KEY"}


def test_environ_argument_is_used_instead_of_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    s1, _ = new_key()
    s2, r2 = new_key()
    monkeypatch.setenv("SOPS_AGE_KEY", s1)
    assert [i.recipient for i in keys.discover({"SOPS_AGE_KEY": s2})] == [r2]


def test_sops_age_key_file(age_key: Any) -> None:
    [ident] = keys.discover()
    assert ident.recipient == age_key.recipient
    assert ident.source == f"SOPS_AGE_KEY_FILE ({age_key.key_file})"
    assert keys.own_recipients() == [age_key.recipient]


def test_key_file_crlf_and_skipped_identity_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret, recipient = new_key()
    path = tmp_path / "k.txt"
    path.write_bytes(
        b"# created\r\nAGE-PLUGIN-YUBIKEY-1QQQQQQQQQQ\r\n"
        b"AGE-SECRET-KEY-PQ-1QQQQQQQQQQ\r\n" + secret.encode() + b"\r\n"
    )
    path.chmod(0o600)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(path))
    assert [i.recipient for i in keys.discover()] == [recipient]


def test_default_key_file_is_read(default_file: Path) -> None:
    secret, recipient = new_key()
    write_key_file(default_file, secret)
    [ident] = keys.discover()
    assert (ident.recipient, ident.source) == (recipient, str(default_file))


def python_cmd(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


def test_key_cmd(monkeypatch: pytest.MonkeyPatch) -> None:
    secret, recipient = new_key()
    monkeypatch.setenv(
        "SOPS_AGE_KEY_CMD", python_cmd(f"print('# from a vault'); print('{secret}')")
    )
    [ident] = keys.discover()
    assert (ident.recipient, ident.source) == (recipient, "SOPS_AGE_KEY_CMD")


def test_key_cmd_is_not_run_by_a_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    secret, _ = new_key()
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", f"echo {secret}; touch {marker}")
    with pytest.raises(KeyStoreError) as info:
        keys.discover()
    # echo printed the ';' and 'touch' words: one junk line, and no shell ran touch.
    assert "line 1 is not an age identity" in str(info.value)
    assert not marker.exists()
    assert secret not in all_text(info.value)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("import sys; sys.stderr.write('{canary}'); sys.exit(3)", "exited with status 3"),
        ("print('{canary}')", "line 1 is not a valid age identity"),
        ("import sys; sys.stdout.buffer.write(b'\\xff\\xfe')", "not UTF-8"),
    ],
)
def test_key_cmd_failures_do_not_echo(
    monkeypatch: pytest.MonkeyPatch, code: str, words: str
) -> None:
    canary = "AGE-SECRET-KEY-1CANARYCANARYCANARY"
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", python_cmd(code.format(canary=canary)))
    with pytest.raises(KeyStoreError) as info:
        keys.discover()
    assert words in str(info.value)
    assert "CANARY" not in all_text(info.value)
    assert info.value.exit_code == 25


def test_key_cmd_not_found_and_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", "/nonexistent/get-age-key --token s3cret")
    with pytest.raises(KeyStoreError) as info:
        keys.discover()
    assert "command not found: /nonexistent/get-age-key" in str(info.value)
    assert "s3cret" not in str(info.value)
    monkeypatch.setattr(keys, "KEY_CMD_TIMEOUT", 0.3)
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", python_cmd("import time; time.sleep(30)"))
    with pytest.raises(KeyStoreError, match="did not finish"):
        keys.discover()
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", "unbalanced 'quote")
    with pytest.raises(KeyStoreError, match="unbalanced"):
        keys.discover()


def test_all_sources_combined_in_sops_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, default_file: Path
) -> None:
    env_key, file_key, cmd_key, default_key = new_key(), new_key(), new_key(), new_key()
    shared = new_key()
    monkeypatch.setenv("SOPS_AGE_KEY", f"{env_key[0]}\n{shared[0]}")
    monkeypatch.setenv(
        "SOPS_AGE_KEY_FILE", str(write_key_file(tmp_path / "f.txt", file_key[0], shared[0]))
    )
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", python_cmd(f"print('{cmd_key[0]}')"))
    write_key_file(default_file, default_key[0])
    found = keys.discover()
    assert [(i.recipient, i.source) for i in found] == [
        (env_key[1], "SOPS_AGE_KEY"),
        (shared[1], "SOPS_AGE_KEY"),  # listed once, under the first source
        (file_key[1], f"SOPS_AGE_KEY_FILE ({tmp_path / 'f.txt'})"),
        (cmd_key[1], "SOPS_AGE_KEY_CMD"),
        (default_key[1], str(default_file)),
    ]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_insecure_key_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    secret, _ = new_key()
    path = write_key_file(tmp_path / "keys.txt", secret, mode=mode)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(path))
    with pytest.raises(InsecurePermissions) as info:
        keys.discover()
    assert info.value.exit_code == 11
    assert f"chmod 600 {path}" in str(info.value)
    assert secret not in all_text(info.value)


def test_insecure_default_key_file_is_refused(default_file: Path) -> None:
    write_key_file(default_file, new_key()[0], mode=0o644)
    with pytest.raises(InsecurePermissions, match="chmod 600"):
        keys.discover()


def test_junk_in_key_file_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret, _ = new_key()
    canary = "password123-canary"
    path = write_key_file(tmp_path / "keys.txt", secret, extra=f"{canary}\n")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(path))
    with pytest.raises(KeyStoreError) as info:
        keys.discover()
    assert f"{path}: line 4 is not an age identity" in str(info.value)
    assert canary not in all_text(info.value)
    assert secret not in all_text(info.value)


def test_bad_checksum_in_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret, _ = new_key()
    broken = secret[:-2] + ("AA" if not secret.endswith("AA") else "QQ")
    path = write_key_file(tmp_path / "keys.txt", broken)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(path))
    with pytest.raises(KeyStoreError) as info:
        keys.discover()
    assert "line 3 is not a valid age identity" in str(info.value)
    assert broken[16:] not in all_text(info.value)


def test_encrypted_key_file_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys.age"
    path.write_text("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n")
    path.chmod(0o600)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(path))
    with pytest.raises(KeyStoreError, match="passphrase-encrypted"):
        keys.discover()


def test_junk_in_sops_age_key(monkeypatch: pytest.MonkeyPatch) -> None:
    secret, _ = new_key()
    monkeypatch.setenv("SOPS_AGE_KEY", f"{secret}\nnot-a-key")
    with pytest.raises(KeyStoreError) as info:
        keys.discover()
    assert "SOPS_AGE_KEY: line 2" in str(info.value)
    assert "not-a-key" not in str(info.value)


def test_missing_key_file_variable_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "nope.txt"))
    with pytest.raises(FileError, match=r"SOPS_AGE_KEY_FILE=.*nope\.txt: no such file"):
        keys.discover()


def test_no_identity(default_file: Path) -> None:
    assert keys.discover() == []
    assert keys.own_recipients() == []
    with pytest.raises(NoIdentityError) as info:
        keys.require_identities()
    msg = str(info.value)
    assert info.value.exit_code == 20
    for place in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "OS keyring"):
        assert place in msg
    assert str(default_file) in msg
    assert "secretsafe keys generate" in msg


def test_empty_sources_are_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY", "# nothing here")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(write_key_file(tmp_path / "k.txt")))
    with pytest.raises(NoIdentityError) as info:
        keys.require_identities()
    assert "SOPS_AGE_KEY: none" in str(info.value)
    assert f"SOPS_AGE_KEY_FILE ({tmp_path / 'k.txt'}): none" in str(info.value)


# --- generate / import to a key file -----------------------------------------------------------


def test_generate_creates_private_key_file(default_file: Path, isolated_env: Path) -> None:
    ident, location = keys.generate(store="file")
    assert str(default_file) in location
    assert ident.source == str(default_file)
    assert oct(default_file.stat().st_mode & 0o777) == oct(0o600)
    for d in (default_file.parent, default_file.parent.parent):
        assert d.stat().st_mode & 0o777 == 0o700
    lines = default_file.read_text().splitlines()
    assert lines[0].startswith("# created: ")
    assert lines[1] == f"# public key: {ident.recipient}"
    assert lines[2] == ident.reveal()
    # RFC 3339 with an offset, like age-keygen
    from datetime import datetime

    assert datetime.fromisoformat(lines[0].removeprefix("# created: ")).tzinfo is not None
    assert ident.reveal() not in location
    assert [i.recipient for i in keys.discover()] == [ident.recipient]


def test_generate_appends_never_overwrites(default_file: Path) -> None:
    first, _ = keys.generate(store="file")
    before = default_file.read_bytes()
    second, _ = keys.generate(store="file")
    after = default_file.read_bytes()
    assert after.startswith(before)
    assert first.recipient != second.recipient
    assert [i.recipient for i in keys.discover()] == [first.recipient, second.recipient]


def test_generate_appends_after_a_missing_final_newline(default_file: Path) -> None:
    secret, recipient = new_key()
    default_file.parent.mkdir(parents=True)
    default_file.write_text(secret)  # no trailing newline
    default_file.chmod(0o600)
    ident, _ = keys.generate(store="file")
    assert [i.recipient for i in keys.discover()] == [recipient, ident.recipient]


def test_generate_uses_sops_age_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "team" / "keys.txt"
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(path))
    ident, location = keys.generate(store="file")
    assert str(path) in location
    assert ident.source == f"SOPS_AGE_KEY_FILE ({path})"
    assert path.stat().st_mode & 0o777 == 0o600


def test_generate_refuses_insecure_file_and_leaves_it(default_file: Path) -> None:
    write_key_file(default_file, new_key()[0], mode=0o644)
    before = default_file.read_bytes()
    with pytest.raises(InsecurePermissions):
        keys.generate(store="file")
    assert default_file.read_bytes() == before


def test_generate_auto_falls_back_to_file_without_bus(default_file: Path) -> None:
    ident, location = keys.generate()
    assert "no usable OS keyring" in location
    assert "D-Bus" in location
    assert default_file.exists()
    assert ident.source == str(default_file)


def test_generate_keyring_without_backend_is_an_error(default_file: Path) -> None:
    with pytest.raises(KeyStoreError) as info:
        keys.generate(store="keyring")
    assert info.value.exit_code == 25
    assert "--store file" in str(info.value)
    assert not default_file.exists()


def test_import_identities_to_file(default_file: Path) -> None:
    (s1, r1), (s2, r2) = new_key(), new_key()
    got = keys.import_identities(f"# from laptop\n{s1}\n{s2}\n{s1}\n", store="file")
    assert [i.recipient for i in got] == [r1, r2]
    assert all(i.source == str(default_file) for i in got)
    before = default_file.read_bytes()
    again = keys.import_identities(s2, store="file")
    assert [i.recipient for i in again] == [r2]
    assert default_file.read_bytes() == before  # nothing written twice
    assert [i.recipient for i in keys.discover()] == [r1, r2]


def test_import_refuses_junk_and_empty_input(default_file: Path) -> None:
    secret, _ = new_key()
    with pytest.raises(KeyStoreError) as info:
        keys.import_identities(f"{secret}\nhunter2\n", store="file")
    assert "input: line 2" in str(info.value)
    assert "hunter2" not in all_text(info.value)
    with pytest.raises(UsageError, match="no age identity"):
        keys.import_identities("# only comments\n", store="file")
    assert not default_file.exists()


def test_import_refuses_unknown_store() -> None:
    with pytest.raises(UsageError):
        keys.import_identities(new_key()[0], store="cloud")  # type: ignore[arg-type]


# --- recipients ---------------------------------------------------------------------------------


def test_validate_recipient() -> None:
    secret, recipient = new_key()
    assert keys.validate_recipient(f"  {recipient}\n") == recipient
    with pytest.raises(UsageError) as info:
        keys.validate_recipient(secret)
    assert "secret key" in str(info.value)
    assert secret not in all_text(info.value)
    with pytest.raises(UsageError, match="bad checksum"):
        keys.validate_recipient(recipient[:-1] + ("q" if recipient[-1] != "q" else "p"))
    with pytest.raises(UsageError, match="starting with age1"):
        keys.validate_recipient("ssh-ed25519 AAAA")
    with pytest.raises(UsageError, match="only X25519"):
        keys.validate_recipient("age1yubikey1qwertyuiop")


# --- the real OS keyring (gnome-keyring over a private D-Bus session) --------------------------


def test_generate_stores_in_keyring(
    secret_service: SecretServiceSession, default_file: Path
) -> None:
    import keyring

    ident, location = keys.generate()
    assert "OS keyring" in location
    assert ident.source == "keyring"
    assert not default_file.exists()  # nothing on disk
    blob = keyring.get_password(keys.KEYRING_SERVICE, keys.KEYRING_USERNAME)
    assert blob is not None
    assert ident.reveal() in blob
    assert f"# public key: {ident.recipient}" in blob
    [found] = keys.discover()
    assert (found.recipient, found.source) == (ident.recipient, "keyring")
    assert found.reveal() == ident.reveal()

    second, _ = keys.generate(store="keyring")
    assert [i.recipient for i in keys.discover()] == [ident.recipient, second.recipient]
    assert blob in (keyring.get_password(keys.KEYRING_SERVICE, keys.KEYRING_USERNAME) or "")


def test_keyring_comes_before_default_file(
    secret_service: SecretServiceSession, default_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_secret, env_recipient = new_key()
    file_secret, file_recipient = new_key()
    write_key_file(default_file, file_secret)
    monkeypatch.setenv("SOPS_AGE_KEY", env_secret)
    imported = keys.import_identities(new_key()[0], store="keyring")
    assert [(i.recipient, i.source) for i in keys.discover()] == [
        (env_recipient, "SOPS_AGE_KEY"),
        (imported[0].recipient, "keyring"),
        (file_recipient, str(default_file)),
    ]
    # --store file still writes the file even though a keyring is there
    ident, location = keys.generate(store="file")
    assert str(default_file) in location
    assert ident.recipient in default_file.read_text()


def test_junk_in_keyring_names_the_keyring(secret_service: SecretServiceSession) -> None:
    import keyring

    keyring.set_password(keys.KEYRING_SERVICE, keys.KEYRING_USERNAME, "# ok\nnot-a-key-canary\n")
    with pytest.raises(KeyStoreError) as info:
        keys.discover()
    assert "OS keyring" in str(info.value)
    assert "line 2" in str(info.value)
    assert "canary" not in all_text(info.value)


def test_keyring_error_only_matters_when_nothing_else_is_found(
    secret_service: SecretServiceSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring.errors

    backend = keyring.get_keyring()

    def broken(service: str, username: str) -> str:
        raise keyring.errors.KeyringLocked("Failed to unlock the collection!")

    monkeypatch.setattr(backend, "get_password", broken)
    with pytest.raises(KeyStoreError, match="KeyringLocked"):
        keys.discover()
    secret, recipient = new_key()
    monkeypatch.setenv("SOPS_AGE_KEY", secret)
    assert [i.recipient for i in keys.discover()] == [recipient]


# --- cheap import -------------------------------------------------------------------------------


def test_import_and_discovery_without_bus_do_not_load_keyring(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    code = (
        "import sys, secretsafe.keys as k; assert 'keyring' not in sys.modules; "
        "assert 'pyrage' not in sys.modules; k.discover(); "
        "print('keyring' in sys.modules)"
    )
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
