"""The diff filter with real git: `git diff` / `git log -p` of an encrypted file show variable
names and keyed fingerprints (names only without a key), never a value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from git_support import (
    Key,
    commit,
    encrypt,
    git,
    git_env,
    make_repo,
    new_key,
    secretsafe,
    set_value,
)

from secretsafe.git.fingerprint import Fingerprinter
from secretsafe.git.textconv import textconv

VALUES = {"DB_PASSWORD": "pw-value-1", "API_TOKEN": "token-value-2", "PORT": "5432", "EMPTY": ""}


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> Path:
    r = make_repo(tmp_path, env)
    assert secretsafe(r, "git", "setup", env=env).returncode == 0
    encrypt(r, ".env.enc", "".join(f"{k}={v}\n" for k, v in VALUES.items()), env)
    commit(r, "base", env)
    return r


def diff_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def test_log_shows_names_and_fingerprints_never_values(repo: Path, env: dict[str, str]) -> None:
    set_value(repo, ".env.enc", "DB_PASSWORD", "pw-value-3", env)
    commit(repo, "change one", env)
    log = git(repo, "log", "-p", env=env).stdout
    for value in (*VALUES.values(), "pw-value-3"):
        if value:
            assert value not in log
    # Exactly the changed variable's line: the data key and the other values stay.
    changed = diff_lines(git(repo, "diff", "HEAD~1", "HEAD", env=env).stdout)
    assert len(changed) == 2, changed
    assert re.fullmatch(r"-DB_PASSWORD = fp:[0-9a-f]{12}", changed[0])
    assert re.fullmatch(r"\+DB_PASSWORD = fp:[0-9a-f]{12}", changed[1])
    assert "PORT = fp:" in log
    assert "EMPTY = (empty)" in log
    assert re.search(
        r"^\+# secretsafe: sops dotenv file; values as keyed fingerprints, "
        r"data key [0-9a-f]{12}$",
        log,
        re.MULTILINE,
    )


def test_same_value_same_fingerprint_and_rotation_changes_all(
    repo: Path, env: dict[str, str]
) -> None:
    git(repo, "checkout", "-q", "-b", "a", env=env)
    set_value(repo, ".env.enc", "API_TOKEN", "same-new-token", env)
    commit(repo, "a", env)
    git(repo, "checkout", "-q", "-b", "b", "main", env=env)
    set_value(repo, ".env.enc", "API_TOKEN", "same-new-token", env)
    commit(repo, "b", env)
    a = diff_lines(git(repo, "diff", "main", "a", env=env).stdout)
    b = diff_lines(git(repo, "diff", "main", "b", env=env).stdout)
    assert a == b  # a reviewer sees both branches set the same value
    assert git(repo, "diff", "a", "b", env=env).stdout == ""  # the two ciphertexts differ...
    assert (repo / ".env.enc").read_bytes() != git(
        repo, "show", "a:.env.enc", env=env
    ).stdout.encode()  # ...but not as the filter shows them
    r = secretsafe(repo, "rotate", ".env.enc", env=env)
    assert r.returncode == 0, r.stderr
    rotated = diff_lines(git(repo, "diff", env=env).stdout)
    assert any(ln.startswith("-# secretsafe:") for ln in rotated)  # a new key id
    for name in ("DB_PASSWORD", "API_TOKEN", "PORT"):
        assert sum(ln[1:].startswith(name + " = fp:") for ln in rotated) == 2, name


def test_keyless_user_sees_names_and_changed_lines(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    set_value(repo, ".env.enc", "PORT", "6543", env)
    commit(repo, "port", env)
    keyless = git_env(tmp_path / "nokey", None)
    log = git(repo, "log", "-p", env=keyless).stdout
    assert "fp:" not in log
    assert "no age key here: names only" in log
    changed = diff_lines(git(repo, "diff", "HEAD~1", "HEAD", env=keyless).stdout)
    assert [ln.split(" (")[0] for ln in changed] == ["-PORT", "+PORT"]
    assert all("(encrypted, ciphertext " in ln for ln in changed)
    assert "EMPTY (empty)" in log
    for value in VALUES.values():
        if value:
            assert value not in log
    stranger = git_env(tmp_path / "stranger", new_key(tmp_path / "age-stranger"))
    shown = secretsafe(repo, "git", "textconv", ".env.enc", env=stranger)
    assert shown.returncode == 0
    assert "none of your age keys is a recipient: names only" in shown.stdout


def test_yaml_names_are_flattened(
    repo: Path, env: dict[str, str], key: Key, sops_bin: Path
) -> None:
    import subprocess

    (repo / "p.yaml").write_text("db:\n  password: yaml-pw-1\n  port: 5432\nplain_unencrypted: x\n")
    enc = subprocess.run(
        [str(sops_bin), "encrypt", "--age", key.recipient, str(repo / "p.yaml")],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    ).stdout
    (repo / "p.yaml").unlink()
    (repo / "s.enc.yaml").write_text(enc)
    shown = secretsafe(repo, "git", "textconv", "s.enc.yaml", env=env).stdout
    assert "DB__PASSWORD = fp:" in shown
    assert "DB__PORT = fp:" in shown
    assert re.search(r"^PLAIN_UNENCRYPTED = fp:[0-9a-f]{12} \(not encrypted\)$", shown, re.M)
    assert "yaml-pw-1" not in shown


def test_not_a_sops_file_is_shown_as_it_is() -> None:
    data = b"just a note\n\x00binary"
    assert textconv(data) == data
    assert textconv(b"A=1\n") == b"A=1\n"


def test_fingerprint_is_keyed_and_separates_name_from_value() -> None:
    fp = Fingerprinter(b"k" * 32)
    other = Fingerprinter(b"j" * 32)
    assert fp("A", "1") == fp("A", "1")
    assert fp("A", "1") != other("A", "1")
    assert fp("A", "1") != fp("B", "1")
    assert fp("AB", "C") != fp("A", "BC")
    assert fp.key_id != other.key_id
    assert re.fullmatch(r"[0-9a-f]{12}", fp("A", "1"))
    assert "k" * 8 not in repr(fp)
