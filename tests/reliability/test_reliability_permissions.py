"""Permissions: every file secretsafe writes that holds a secret or a key is created 0600
(whatever the umask), a rewrite keeps the mode the user chose, and key files that group or
others can access are refused for reading with a ``chmod 600`` hint.

Rule for rewrites: an encrypted file keeps its mode (a team may share ``.env.enc`` 0640 with
a deploy group: it is ciphertext). A plaintext file the user asks for (``decrypt -o``) is
always 0600, even when it replaces a more open file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_support import Tally, run_cli

pytestmark = pytest.mark.reliability


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A permissive umask, so 0600 must come from secretsafe, not from the environment."""
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    (tmp_path / ".env").write_text("API_KEY=secret-value\nPORT=5432\n", encoding="utf-8")
    return tmp_path


def _want(tally: Tally, label: str, path: Path, mode: int, result: Any = None) -> None:
    if result is not None and result.code != 0:
        tally.fail(label, f"command failed: exit {result.code}: {result.err.strip()[:160]}")
        return
    if not path.exists():
        tally.fail(label, f"{path.name} was not written")
        return
    got = _mode(path)
    tally.check(
        label, None if got == mode else f"mode {got:04o}, want {mode:04o}", note="modes checked"
    )


def test_new_secret_files_are_0600(work: Path, age_key: Any, tally: Tally) -> None:
    _want(tally, "encrypt output", work / ".env.enc", 0o600, run_cli(["encrypt", ".env"]))
    _want(
        tally,
        "encrypt -o output",
        work / "other.enc",
        0o600,
        run_cli(["encrypt", ".env", "-o", "other.enc"]),
    )
    _want(
        tally,
        "decrypt -o output",
        work / "plain.env",
        0o600,
        run_cli(["decrypt", ".env.enc", "-o", "plain.env"]),
    )
    for fmt in ("json", "sops"):
        _want(
            tally,
            f"decrypt -o --format {fmt}",
            work / f"plain.{fmt}",
            0o600,
            run_cli(["decrypt", ".env.enc", "-o", f"plain.{fmt}", "--format", fmt]),
        )
    # decrypt -o over an existing world-readable file: the plaintext must not inherit 0644.
    loose = work / "loose.env"
    loose.write_text("old\n")
    loose.chmod(0o644)
    _want(
        tally,
        "decrypt -o over a 0644 file",
        loose,
        0o600,
        run_cli(["decrypt", ".env.enc", "-o", str(loose)]),
    )


def test_key_files_are_0600(
    work: Path, tally: Tally, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    result = run_cli(["keys", "generate", "--store", "file"])
    key_file = isolated_env / ".config" / "sops" / "age" / "keys.txt"
    _want(tally, "keys generate key file", key_file, 0o600, result)
    if key_file.exists():
        tally.check(
            "keys generate key dir",
            None
            if _mode(key_file.parent) & 0o077 == 0
            else f"dir mode {_mode(key_file.parent):04o}",
            note="modes checked",
        )
    key_file.unlink(missing_ok=True)
    import pyrage

    ident = pyrage.x25519.Identity.generate()
    result = run_cli(["keys", "import", "--store", "file"], stdin=f"{ident}\n")
    _want(tally, "keys import key file", key_file, 0o600, result)
    # Adding to an existing key file keeps it private.
    result = run_cli(["keys", "generate", "--store", "file"])
    _want(tally, "keys generate appends, stays 0600", key_file, 0o600, result)


def test_rewrites_keep_the_mode(
    work: Path, age_key: Any, other_age_key: Any, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = work / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^PORT=.*/PORT=1/' \"$1\"\n")
    editor.chmod(0o700)
    commands = [
        ("set", ["set", ".env.enc", "NEW"], "v"),
        ("unset", ["unset", ".env.enc", "PORT"], None),
        ("rotate", ["rotate", ".env.enc"], None),
        ("edit", ["edit", ".env.enc", "--editor", str(editor)], None),
        ("recipients add", ["recipients", "add", ".env.enc", other_age_key.recipient], None),
        ("encrypt --force", ["encrypt", ".env", "--force"], None),
    ]
    for mode in (0o600, 0o640, 0o644):
        for label, argv, stdin in commands:
            (work / ".env.enc").unlink(missing_ok=True)
            assert run_cli(["encrypt", ".env"]).code == 0
            (work / ".env.enc").chmod(mode)
            _want(
                tally,
                f"{label} keeps {mode:04o}",
                work / ".env.enc",
                mode,
                run_cli(argv, stdin=stdin),
            )


def test_edit_plaintext_is_private(work: Path, age_key: Any, tally: Tally) -> None:
    """The plaintext copy ``edit`` hands the editor: 0600 in a 0700 dir, gone afterwards."""
    assert run_cli(["encrypt", ".env"]).code == 0
    record = work / "modes.txt"
    editor = work / "editor.sh"
    editor.write_text(
        f'#!/bin/sh\nstat -c %a "$1" > {record}\nstat -c %a "$(dirname "$1")" >> {record}\n'
        f'echo "$1" >> {record}\n'
    )
    editor.chmod(0o700)
    result = run_cli(["edit", ".env.enc", "--editor", str(editor)])
    file_mode, dir_mode, path = record.read_text().split("\n")[:3]
    tally.check(
        "edit temp file mode",
        None if file_mode == "600" else f"file {file_mode}",
        note="modes checked",
    )
    tally.check(
        "edit temp dir mode", None if dir_mode == "700" else f"dir {dir_mode}", note="modes checked"
    )
    tally.check(
        "edit temp removed",
        None if result.code == 0 and not Path(path).exists() else "temp file left",
        note="modes checked",
    )


def test_vault_pull_output_is_0600(
    work: Path, age_key: Any, tally: Tally, bao_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ADDR", bao_server.addr)
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    path = f"reliability/perm-{os.getpid()}"
    assert run_cli(["encrypt", ".env"]).code == 0
    assert run_cli(["vault", "push", ".env.enc", "--path", path]).code == 0
    _want(
        tally,
        "vault pull -o new file",
        work / "pulled.enc",
        0o600,
        run_cli(["vault", "pull", "--path", path, "-o", "pulled.enc"]),
    )
    (work / "pulled.enc").chmod(0o640)
    _want(
        tally,
        "vault pull -o keeps 0640",
        work / "pulled.enc",
        0o640,
        run_cli(["vault", "pull", "--path", path, "-o", "pulled.enc"]),
    )


def test_open_key_files_are_refused(
    work: Path, age_key: Any, tally: Tally, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    assert run_cli(["encrypt", ".env"]).code == 0
    for mode in (0o640, 0o604, 0o644, 0o660, 0o602, 0o620, 0o666):
        age_key.key_file.chmod(mode)
        result = run_cli(["decrypt", ".env.enc"])
        ok = result.code == 11 and "chmod 600" in result.err and "secret-value" not in result.out
        tally.check(
            f"SOPS_AGE_KEY_FILE {mode:04o} refused",
            None if ok else f"exit {result.code}: {result.err.strip()[:120]}",
            note="refusals checked",
        )
    age_key.key_file.chmod(0o600)
    # The default location (what `keys generate` writes) gets the same check.
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    default = isolated_env / ".config" / "sops" / "age" / "keys.txt"
    default.parent.mkdir(parents=True, exist_ok=True)
    default.write_text(age_key.key_file.read_text())
    default.chmod(0o644)
    result = run_cli(["decrypt", ".env.enc"])
    tally.check(
        "default keys.txt 0644 refused",
        None if result.code == 11 and "chmod 600" in result.err else f"exit {result.code}",
        note="refusals checked",
    )
    default.chmod(0o600)
    result = run_cli(["decrypt", ".env.enc"])
    tally.check(
        "default keys.txt 0600 accepted", None if result.code == 0 else f"exit {result.code}"
    )


def test_bootstrap_files_are_0600(
    work: Path, age_key: Any, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``vault bootstrap`` on a fresh raft node: the unseal-keys file and the AppRole
    credentials file are 0600 under a loose umask, and no key or token is left in TMPDIR."""
    from reliability_support import files_containing, private_tmpdir

    from secretsafe.sops import decrypt_file, encrypt_values
    from secretsafe.testing.raft import start_cluster

    tmp = private_tmpdir(work / "tmpdir", monkeypatch)
    encrypt_values({"DB__PASSWORD": "bootstrap-canary"}, work / "api.env.enc")
    with start_cluster(1, base=work / "raft") as cluster:
        (work / "bootstrap.toml").write_text(
            f"""\
[server]
nodes = ["{cluster.addrs[0]}"]

[init]
shares = 3
threshold = 2
keys_file = "vault-keys.enc.env"
recipients = ["{age_key.recipient}"]

[mounts.secret]
description = "application secrets"

[apps.api]
path = "apps/api/prod"
env_file = "api.env.enc"
""",
            encoding="utf-8",
        )
        result = run_cli(["vault", "bootstrap", "--config", str(work / "bootstrap.toml")])
        _want(tally, "bootstrap keys file", work / "vault-keys.enc.env", 0o600, result)
        creds = sorted(work.glob("*approle*"))
        for f in creds:
            _want(tally, f"bootstrap credentials {f.name}", f, 0o600)
        tally.check("bootstrap wrote credentials", None if creds else "no credentials file")
        keys = decrypt_file(work / "vault-keys.enc.env").reveal()
        secrets = [v for k, v in keys.items() if k.startswith("UNSEAL_KEY_") or "TOKEN" in k]
        leaked = [s for s in secrets if s in result.out + result.err + result.logs]
        leaked += [str(p) for s in secrets for p in files_containing(tmp, s)]
        tally.check(
            "bootstrap leaves no key in output or TMPDIR",
            f"{len(leaked)} leaks" if leaked else None,
            note="bootstrap leak checks",
        )
