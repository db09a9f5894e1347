"""`secretsafe git setup`: .gitattributes and the repository's local git config, checked with
real git (`git check-attr`, `git config`), idempotent, the global config never touched."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from git_support import commit, encrypt, git, git_env, make_repo, new_key, secretsafe

from secretsafe.git.setup import DEFAULT_PATTERNS, config_entries, patterns
from secretsafe.init import ENV_PATH_REGEX

ENCRYPTED_NAMES = (
    ".env.enc",
    "app/.env.production.enc",
    "app.env.enc",
    "deploy/secrets.enc.env",
    "secrets.enc.yaml",
    "secrets.enc.yml",
    "secrets.enc.json",
)


def attrs(repo: Path, env: dict[str, str], *paths: str) -> dict[str, tuple[str, str]]:
    out = git(repo, "check-attr", "merge", "diff", "--", *paths, env=env).stdout
    got: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        path, attr, value = line.split(": ")
        got.setdefault(path, {})[attr] = value
    return {p: (a["merge"], a["diff"]) for p, a in got.items()}


def test_setup_writes_attributes_and_local_config_once(tmp_path: Path) -> None:
    env = git_env(tmp_path, new_key(tmp_path / "age"))
    repo = make_repo(tmp_path, env)
    global_before = Path(env["GIT_CONFIG_GLOBAL"]).read_bytes()

    first = secretsafe(repo, "git", "setup", env=env)
    assert first.returncode == 0, first.stderr
    assert ".gitattributes: added *.env.enc" in first.stdout
    assert "set merge.secretsafe.name, merge.secretsafe.driver, diff.secretsafe.textconv" in (
        first.stdout
    )
    got = attrs(repo, env, *ENCRYPTED_NAMES, ".env", "app.env", ".env.example")
    for name in ENCRYPTED_NAMES:
        assert got[name] == ("secretsafe", "secretsafe"), name
    for name in (".env", "app.env", ".env.example"):
        assert got[name] == ("unspecified", "unspecified"), name
    # The same interpreter that ran setup, with -P (no module from the repository).
    cmd = f"{shlex.quote(sys.executable)} -P -m secretsafe"
    for name, value in config_entries(cmd).items():
        assert git(repo, "config", "--local", "--get", name, env=env).stdout == value + "\n"
    assert Path(env["GIT_CONFIG_GLOBAL"]).read_bytes() == global_before
    assert not (Path(env["HOME"]) / ".gitconfig").exists()

    files = [repo / ".gitattributes", repo / ".git" / "config"]
    before = [p.read_bytes() for p in files]
    second = secretsafe(repo, "git", "setup", env=env)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout
    assert [p.read_bytes() for p in files] == before


def test_existing_gitattributes_kept_and_appended(tmp_path: Path) -> None:
    env = git_env(tmp_path, None)
    repo = make_repo(tmp_path, env)
    (repo / ".gitattributes").write_text("*.png binary\n*.env.enc merge=secretsafe diff=secretsafe")
    r = secretsafe(repo, "git", "setup", env=env)
    assert r.returncode == 0, r.stderr
    text = (repo / ".gitattributes").read_text()
    assert text.startswith("*.png binary\n*.env.enc merge=secretsafe diff=secretsafe\n")
    assert text.count("*.env.enc ") == 1
    assert "*.enc.json merge=secretsafe diff=secretsafe\n" in text


@pytest.mark.parametrize(
    ("rules", "want"),
    [
        (None, [p for p, _ in DEFAULT_PATTERNS]),
        # secretsafe init's rule: every dotenv-style encrypted name, not YAML/JSON.
        ([ENV_PATH_REGEX], ["*.env.enc", ".env.*.enc", "*.enc.env"]),
        ([r"\.enc\.env$"], ["*.enc.env"]),
        ([r".*\.prod\.env$"], ["*.prod.env"]),
        ([r"\.enc\.(yaml|json)$"], ["*.enc.yaml", "*.enc.json"]),
        # Nothing to translate (a folder rule): every usual name.
        ([r"^prod/"], [p for p, _ in DEFAULT_PATTERNS]),
        ([""], [p for p, _ in DEFAULT_PATTERNS]),
    ],
)
def test_patterns_from_creation_rules(
    tmp_path: Path, rules: list[str] | None, want: list[str]
) -> None:
    if rules is not None:
        body = "".join(
            f"  - path_regex: '{r}'\n    age: age1x\n" if r else "  - age: age1x\n" for r in rules
        )
        (tmp_path / ".sops.yaml").write_text("creation_rules:\n" + body)
    assert patterns(str(tmp_path)) == want


def test_tracked_sops_file_no_pattern_covers_gets_its_own_line(tmp_path: Path) -> None:
    key = new_key(tmp_path / "age")
    env = git_env(tmp_path, key)
    repo = make_repo(tmp_path, env)
    (repo / "deploy").mkdir()
    encrypt(repo, "deploy/prod.secrets", "A=1\n", env)  # a name no pattern gives
    (repo / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: '\\.enc\\.env$'\n    age: {key.recipient}\n"
    )
    commit(repo, "files", env)
    r = secretsafe(repo, "git", "setup", env=env)
    assert r.returncode == 0, r.stderr
    assert "*.enc.env, /deploy/prod.secrets" in r.stdout
    assert attrs(repo, env, "deploy/prod.secrets")["deploy/prod.secrets"] == (
        "secretsafe",
        "secretsafe",
    )
    assert "nothing to do" in secretsafe(repo, "git", "setup", env=env).stdout


def test_outside_a_repository_is_a_usage_error(tmp_path: Path) -> None:
    env = git_env(tmp_path, None)
    (tmp_path / "plain").mkdir()
    r = secretsafe(tmp_path / "plain", "git", "setup", env=env)
    assert r.returncode == 2
    assert r.stderr.startswith("secretsafe: error:")
    assert "not in a git repository" in r.stderr
