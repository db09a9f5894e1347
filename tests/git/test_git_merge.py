"""The merge driver with real git: `git merge` of two branches that change an encrypted
`.env.enc` (and a YAML file) merges by variable; the result decrypts with secretsafe and with
the real sops; conflicts name variables, never values; a user without a key gets a conflict
and one clear line; ours is left untouched whenever the driver does not merge."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

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

from secretsafe.git.merge import merge_values

BASE = "DB_HOST=db\nDB_PASSWORD=base-pass-1\nAPI_TOKEN=base-token-2\nPORT=5432\nMODE=dev\n"


def decrypted(repo: Path, rel: str, env: dict[str, str]) -> dict[str, str]:
    r = secretsafe(repo, "decrypt", rel, "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    import json

    return dict(json.loads(r.stdout))


def sops_decrypt(sops_bin: Path, path: Path, fmt: str, key: Key) -> str:
    return subprocess.run(
        [str(sops_bin), "decrypt", "--input-type", fmt, "--output-type", fmt, str(path)],
        capture_output=True,
        text=True,
        env={"SOPS_AGE_KEY_FILE": str(key.key_file), "PATH": "/usr/bin:/bin"},
        check=True,
        timeout=60,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> Path:
    """main: `.env.enc` from BASE, git setup done; branch `theirs` starts at the same commit."""
    r = make_repo(tmp_path, env)
    setup = secretsafe(r, "git", "setup", env=env)
    assert setup.returncode == 0, setup.stderr
    encrypt(r, ".env.enc", BASE, env)
    commit(r, "base", env)
    git(r, "branch", "theirs", env=env)
    return r


def on_branch(repo: Path, branch: str, env: dict[str, str], changes: dict[str, str | None]) -> None:
    git(repo, "checkout", "-q", branch, env=env)
    for name, value in changes.items():
        if value is None:
            r = secretsafe(repo, "unset", ".env.enc", name, env=env)
            assert r.returncode == 0, r.stderr
        else:
            set_value(repo, ".env.enc", name, value, env)
    commit(repo, f"{branch} changes", env)


def merge(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    git(repo, "checkout", "-q", "main", env=env)
    return git(repo, "merge", "--no-edit", "theirs", env=env, check=False)


def test_different_variables_merge_cleanly(
    repo: Path, env: dict[str, str], key: Key, sops_bin: Path
) -> None:
    on_branch(repo, "theirs", env, {"API_TOKEN": "their-token-3", "EXTRA": "their-extra-4"})
    on_branch(repo, "main", env, {"DB_PASSWORD": "our-pass-5", "MODE": None})
    ours_before = (repo / ".env.enc").read_text()
    r = merge(repo, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "merged by variable, took API_TOKEN, EXTRA from their side" in r.stdout + r.stderr
    want = {
        "DB_HOST": "db",
        "DB_PASSWORD": "our-pass-5",
        "API_TOKEN": "their-token-3",
        "PORT": "5432",
        "EXTRA": "their-extra-4",
    }
    got = decrypted(repo, ".env.enc", env)
    assert got == want
    assert list(got) == list(want)  # ours' order, their addition at the end
    plain = sops_decrypt(sops_bin, repo / ".env.enc", "dotenv", key)
    assert plain.splitlines() == [f"{k}={v}" for k, v in want.items()]
    # Minimal churn: the variables the merge did not change keep their exact ciphertext.
    after = (repo / ".env.enc").read_text()
    for name in ("DB_HOST", "DB_PASSWORD", "PORT"):
        line = next(ln for ln in ours_before.splitlines() if ln.startswith(name + "="))
        assert line in after.splitlines(), name
    assert git(repo, "status", "--porcelain", env=env).stdout == ""


def test_same_change_on_both_sides_is_no_conflict(repo: Path, env: dict[str, str]) -> None:
    on_branch(repo, "theirs", env, {"PORT": "6543", "MODE": None})
    on_branch(repo, "main", env, {"PORT": "6543", "DB_HOST": "db2", "MODE": None})
    r = merge(repo, env)
    assert r.returncode == 0, r.stderr
    assert decrypted(repo, ".env.enc", env) == {
        "DB_HOST": "db2",
        "DB_PASSWORD": "base-pass-1",
        "API_TOKEN": "base-token-2",
        "PORT": "6543",
    }


@pytest.mark.parametrize(
    ("theirs", "ours", "conflicts"),
    [
        ({"DB_PASSWORD": "their-pass-6"}, {"DB_PASSWORD": "our-pass-7"}, "DB_PASSWORD"),
        ({"DB_PASSWORD": None}, {"DB_PASSWORD": "our-pass-7"}, "DB_PASSWORD"),
        (
            {"DB_PASSWORD": "their-pass-6", "NEW": "their-new-8", "PORT": "1"},
            {"DB_PASSWORD": "our-pass-7", "NEW": "our-new-9", "MODE": "prod"},
            "DB_PASSWORD, NEW",
        ),
    ],
)
def test_conflict_names_the_variables_and_leaves_ours(
    repo: Path,
    env: dict[str, str],
    theirs: dict[str, str | None],
    ours: dict[str, str | None],
    conflicts: str,
) -> None:
    on_branch(repo, "theirs", env, theirs)
    on_branch(repo, "main", env, ours)
    ours_bytes = (repo / ".env.enc").read_bytes()
    r = merge(repo, env)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert f"secretsafe: .env.enc: conflict in {conflicts} (changed differently" in out
    assert "CONFLICT (content): Merge conflict in .env.enc" in out
    for value in (*theirs.values(), *ours.values(), "base-pass-1"):
        if value:
            assert value not in out
    assert (repo / ".env.enc").read_bytes() == ours_bytes
    stages = git(repo, "ls-files", "-u", "--", ".env.enc", env=env).stdout.splitlines()
    assert len(stages) == 3
    assert list(repo.glob(".secretsafe-merge-*")) == []


def test_keyless_user_gets_a_conflict_and_one_line(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    on_branch(repo, "theirs", env, {"API_TOKEN": "their-token-3"})
    on_branch(repo, "main", env, {"PORT": "1"})
    ours_bytes = (repo / ".env.enc").read_bytes()
    keyless = git_env(tmp_path / "nokey", None)
    r = merge(repo, keyless)
    assert r.returncode == 1
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("secretsafe")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("secretsafe: error: .env.enc: no age key here to decrypt")
    assert "merge refused; the file is left as your side" in lines[0]
    assert (repo / ".env.enc").read_bytes() == ours_bytes


def test_not_a_recipient_gets_a_conflict(repo: Path, env: dict[str, str], tmp_path: Path) -> None:
    on_branch(repo, "theirs", env, {"API_TOKEN": "their-token-3"})
    on_branch(repo, "main", env, {"PORT": "1"})
    stranger = git_env(tmp_path / "stranger", new_key(tmp_path / "age-stranger"))
    r = merge(repo, stranger)
    assert r.returncode == 1
    assert "none of your age keys decrypts your side; merge refused" in r.stderr + r.stdout


def test_their_recipient_change_is_kept(
    repo: Path, env: dict[str, str], tmp_path: Path, key: Key
) -> None:
    """A member added on their side (recipients add) and a value changed on ours: the
    merge is written under their recipients, so the new member can read the result."""
    member = new_key(tmp_path / "age-member")
    git(repo, "checkout", "-q", "theirs", env=env)
    r = secretsafe(repo, "recipients", "add", ".env.enc", member.recipient, env=env)
    assert r.returncode == 0, r.stderr
    commit(repo, "add member", env)
    on_branch(repo, "main", env, {"PORT": "7777"})
    r = merge(repo, env)
    assert r.returncode == 0, r.stderr
    assert "written under their key" in r.stderr
    member_env = git_env(tmp_path / "member", member)
    assert decrypted(repo, ".env.enc", member_env)["PORT"] == "7777"
    assert decrypted(repo, ".env.enc", env)["API_TOKEN"] == "base-token-2"


def test_yaml_file_merges_by_flattened_name(
    repo: Path, env: dict[str, str], key: Key, sops_bin: Path
) -> None:
    import yaml

    doc = {"database": {"host": "db", "password": "base-pass-1"}, "jwt": {"secret": "s-1"}}
    (repo / "plain.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    enc = subprocess.run(
        [str(sops_bin), "encrypt", "--age", key.recipient, str(repo / "plain.yaml")],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    ).stdout
    (repo / "plain.yaml").unlink()
    (repo / "app.enc.yaml").write_text(enc)
    commit(repo, "yaml", env)
    git(repo, "branch", "-f", "theirs", env=env)
    git(repo, "checkout", "-q", "theirs", env=env)
    set_value(repo, "app.enc.yaml", "DATABASE__PASSWORD", "their-pass-2", env)
    commit(repo, "theirs", env)
    git(repo, "checkout", "-q", "main", env=env)
    set_value(repo, "app.enc.yaml", "JWT__SECRET", "our-secret-3", env)
    commit(repo, "ours", env)
    r = merge(repo, env)
    assert r.returncode == 0, r.stdout + r.stderr
    got = yaml.safe_load(sops_decrypt(sops_bin, repo / "app.enc.yaml", "yaml", key))
    assert got == {
        "database": {"host": "db", "password": "their-pass-2"},
        "jwt": {"secret": "our-secret-3"},
    }


def test_plaintext_files_matched_by_a_pattern_merge_as_text(
    repo: Path, env: dict[str, str]
) -> None:
    (repo / "notes.enc.env").write_text("one\ntwo\nthree\nfour\nfive\n")
    commit(repo, "notes", env)
    git(repo, "branch", "-f", "theirs", env=env)
    git(repo, "checkout", "-q", "theirs", env=env)
    (repo / "notes.enc.env").write_text("one\ntwo\nthree\nfour\nFIVE\n")
    commit(repo, "theirs", env)
    git(repo, "checkout", "-q", "main", env=env)
    (repo / "notes.enc.env").write_text("ONE\ntwo\nthree\nfour\nfive\n")
    commit(repo, "ours", env)
    r = merge(repo, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (repo / "notes.enc.env").read_text() == "ONE\ntwo\nthree\nfour\nFIVE\n"


# The three-way rule itself, over the whole class of per-variable cases.
_ = None
CASES = [
    # base, ours, theirs -> merged value, or "C" for a conflict
    ("a", "a", "a", "a"),
    ("a", "b", "a", "b"),
    ("a", "a", "b", "b"),
    ("a", "b", "b", "b"),
    ("a", "b", "c", "C"),
    ("a", _, "a", _),
    ("a", "a", _, _),
    ("a", _, _, _),
    ("a", _, "b", "C"),
    ("a", "b", _, "C"),
    (_, "a", _, "a"),
    (_, _, "a", "a"),
    (_, "a", "a", "a"),
    (_, "a", "b", "C"),
    ("", "x", "", "x"),
    ("a", "", "a", ""),
]


@pytest.mark.parametrize(("b", "o", "t", "want"), CASES)
def test_merge_values_table(b: str | None, o: str | None, t: str | None, want: str | None) -> None:
    def one(v: str | None) -> dict[str, str]:
        return {} if v is None else {"X": v}

    merged, conflicts = merge_values(
        {"A": "1", **one(b)}, {"A": "1", **one(o)}, {"A": "1", **one(t), "Z": "2"}
    )
    if want == "C":
        assert conflicts == ["X"]
        assert "X" not in merged
    else:
        assert conflicts == []
        assert merged == {"A": "1", **one(want), "Z": "2"}


# Cases the driver refuses or reports, called as git calls it (files, no repository needed).


def _driver(tmp_path: Path, base: str, ours: str, theirs: str) -> tuple[Path, bytes]:
    paths = []
    for label, text in (("base", base), ("ours", ours), ("theirs", theirs)):
        p = tmp_path / f"{label}.blob"
        p.write_text(text)
        paths.append(p)
    return paths[1], paths[1].read_bytes()


def _encrypted(tmp_path: Path, name: str, plain: str, recipients: list[str]) -> str:
    from secretsafe import envfile

    src = tmp_path / f"{name}.plain.env"
    src.write_text(plain)
    dst = tmp_path / f"{name}.env.enc"
    envfile.encrypt_file(src, dst, recipients=recipients)
    return dst.read_text()


def test_recipients_changed_differently_on_both_sides_is_a_conflict(
    tmp_path: Path, age_key: Any
) -> None:
    from secretsafe import envfile
    from secretsafe.git.merge import merge_driver

    a, b = new_key(tmp_path / "a"), new_key(tmp_path / "b")
    base = _encrypted(tmp_path, "base", "X=1\n", [age_key.recipient])
    for name, extra in (("ours", a), ("theirs", b)):
        (tmp_path / f"{name}.env.enc").write_text(base)
        envfile.add_recipients(tmp_path / f"{name}.env.enc", [extra.recipient])
    ours, before = _driver(
        tmp_path,
        base,
        (tmp_path / "ours.env.enc").read_text(),
        (tmp_path / "theirs.env.enc").read_text(),
    )
    out = merge_driver(
        str(tmp_path / "base.blob"), str(ours), str(tmp_path / "theirs.blob"), ".env.enc"
    )
    assert not out.merged
    assert out.conflicts == ("recipients",)
    assert ours.read_bytes() == before


def test_a_changed_yaml_list_refuses_the_merge_and_leaves_ours(
    tmp_path: Path, age_key: Any, sops_bin: Path
) -> None:
    from secretsafe.errors import SecretsafeError
    from secretsafe.git.merge import merge_driver

    def enc(doc: str) -> str:
        (tmp_path / "p.yaml").write_text(doc)
        return subprocess.run(
            [str(sops_bin), "encrypt", "--age", age_key.recipient, str(tmp_path / "p.yaml")],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "/usr/bin:/bin"},
            timeout=60,
        ).stdout

    ours, before = _driver(
        tmp_path,
        enc("hosts: [a, b]\nport: '1'\n"),
        enc("hosts: [a, b]\nport: '2'\n"),
        enc("hosts: [a, c]\nport: '1'\n"),
    )
    with pytest.raises(SecretsafeError) as info:
        merge_driver(
            str(tmp_path / "base.blob"), str(ours), str(tmp_path / "theirs.blob"), "s.enc.yaml"
        )
    assert "merge refused, the file is left as your side" in str(info.value)
    assert ours.read_bytes() == before
