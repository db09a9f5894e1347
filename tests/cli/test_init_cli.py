"""`secretsafe init`: real git, real age keys, HOME in a temp dir; the real sops reads the
.sops.yaml it writes; a second run changes nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from keyring_session import no_session_bus

from secretsafe.audit import audit
from secretsafe.cli import main
from secretsafe.git.setup import config_entries
from secretsafe.init import ENV_PATH_REGEX, PRE_COMMIT_HOOKS

__all__ = ["no_session_bus"]  # fixture used by name

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = (".sops.yaml", ".gitignore", ".pre-commit-config.yaml", ".gitattributes")


@pytest.fixture(autouse=True)
def _no_bus(no_session_bus: None) -> None:
    """No keyring: a new identity goes to the key file under the test's HOME."""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "t")
    return r


def init(repo: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["init", str(repo)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    return out


def snapshot(repo: Path) -> dict[str, bytes]:
    return {n: (repo / n).read_bytes() for n in (*CONFIGS, ".git/config")}


def key_file(home: Path) -> Path:
    return home / ".config" / "sops" / "age" / "keys.txt"


def test_empty_repo_then_nothing_to_do(
    repo: Path, isolated_env: Path, capsys: pytest.CaptureFixture[str], sops_bin: Path
) -> None:
    out = init(repo, capsys)
    keys = key_file(isolated_env)
    assert keys.stat().st_mode & 0o777 == 0o600
    recipient = keys.read_text().split("public key: ")[1].split()[0]
    assert f"created age identity {recipient}" in out
    assert "nothing to do" not in out
    rules = yaml.safe_load((repo / ".sops.yaml").read_text())["creation_rules"]
    assert rules == [{"path_regex": ENV_PATH_REGEX, "age": recipient}]
    hooks = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())["repos"][0]
    assert [h["id"] for h in hooks["hooks"]] == ["secretsafe-env-encrypted", "secretsafe-audit"]
    assert "no plaintext env file" in out
    # The git merge driver and diff filter (secretsafe git setup), for init's rule's names.
    assert ".gitattributes: added *.env.enc, .env.*.enc, *.enc.env" in out
    assert "git config (this repository only): set merge.secretsafe.name" in out
    for name, value in config_entries().items():
        assert git(repo, "config", "--local", "--get", name) == value + "\n"
    attrs = git(repo, "check-attr", "merge", "diff", "--", ".env.enc", ".env")
    assert attrs.splitlines() == [
        ".env.enc: merge: secretsafe",
        ".env.enc: diff: secretsafe",
        ".env: merge: unspecified",
        ".env: diff: unspecified",
    ]
    before = snapshot(repo)
    key_before = keys.read_bytes()

    again = init(repo, capsys)
    assert "nothing to do" in again
    assert snapshot(repo) == before
    assert keys.read_bytes() == key_before
    assert git(repo, "status", "--porcelain", "--ignored", "-uall").count("\n") == 4

    # The real sops picks the rule up for a new env file and encrypts for the recipient.
    (repo / ".env").write_text("PORT=5432\n")
    enc = subprocess.run(
        [str(sops_bin), "encrypt", "--input-type", "dotenv", "--output-type", "dotenv", ".env"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert f"sops_age__list_0__map_recipient={recipient}" in enc
    # .gitignore: the plaintext is ignored, the encrypted copy and the template are not.
    (repo / ".env.enc").write_text(enc)
    (repo / ".env.example").write_text("PORT=\n")
    untracked = git(repo, "ls-files", "--others", "--exclude-standard").split()
    assert sorted(untracked) == sorted([".env.enc", ".env.example", *CONFIGS])


def test_tracked_env_prints_the_fix_and_the_fix_works(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "app").mkdir()
    (repo / ".env").write_text("API_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc\nPORT=1\n")
    (repo / "app" / "prod.env").write_text("DB_PASSWORD=hunter2-very-long-Secret-99\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "oops")
    head = git(repo, "rev-parse", "HEAD")
    out = init(repo, capsys)
    assert "plaintext env file tracked by git: .env, app/prod.env" in out
    lines = [line.strip() for line in out.splitlines()]
    for cmd in (
        "secretsafe encrypt .env -o .env.enc",
        "secretsafe encrypt app/prod.env -o app/prod.env.enc",
        "git rm --cached -- .env app/prod.env",
        "chmod 600 -- .env app/prod.env",
        "git filter-repo --invert-paths --path .env --path app/prod.env",
    ):
        assert cmd in lines
    assert any(
        line.startswith("or with BFG: bfg --delete-files '{.env,prod.env}'") for line in lines
    )
    assert "ROTATE every value that was ever committed" in out
    # Nothing deleted, index and history untouched.
    assert (repo / ".env").exists()
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "diff", "--cached", "--name-only") == ""
    before = snapshot(repo)
    again = init(repo, capsys)
    assert "nothing to do" in again
    assert "plaintext env file tracked by git" in again
    assert snapshot(repo) == before

    # Follow the printed commands (with the real CLI, git and the new .sops.yaml).
    monkeypatch.chdir(repo)
    secretsafe = [
        line.split()
        for line in lines
        if line.startswith(("secretsafe encrypt", "git rm", "chmod", "git add"))
    ]
    for argv in secretsafe:
        if argv[0] == "secretsafe":
            assert main(argv[1:]) == 0
        elif argv[0] == "git":
            git(repo, *argv[1:])
        else:
            subprocess.run(argv, cwd=repo, check=True)
    git(repo, "commit", "-qm", "encrypt")
    capsys.readouterr()
    third = init(repo, capsys)
    assert "tracked by git" not in third
    assert "plaintext env files in the git history: .env, app/prod.env" in third
    assert "Purge them from every commit" in third
    assert "nothing to do" in third
    assert git(repo, "ls-files").split() == sorted([".env.enc", "app/prod.env.enc", *CONFIGS])
    # What is left is what the hooks init installed would still find: the history only.
    found = {(f.rule, f.file) for f in audit(repo).findings}
    assert found == {("env-in-history", ".env"), ("env-in-history", "app/prod.env")}


def test_existing_files_are_appended_to_not_clobbered(
    repo: Path, isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".gitignore").write_text("node_modules/\n.env\n")
    (repo / ".pre-commit-config.yaml").write_text(
        "# mine\nrepos:\n-   repo: https://github.com/pre-commit/pre-commit-hooks\n"
        "    rev: v4.6.0\n    hooks:\n    -   id: check-yaml\n"
    )
    other = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    (repo / ".sops.yaml").write_text(
        f"# team rules\ncreation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: {other}\n"
    )
    out = init(repo, capsys)
    gi = (repo / ".gitignore").read_text()
    assert gi.startswith("node_modules/\n.env\n# plaintext env files")
    assert gi.count("\n.env\n") == 1
    pc = (repo / ".pre-commit-config.yaml").read_text()
    assert pc.startswith("# mine\n")
    ids = [h["id"] for r in yaml.safe_load(pc)["repos"] for h in r["hooks"]]
    assert ids == ["check-yaml", "secretsafe-env-encrypted", "secretsafe-audit"]
    sops = (repo / ".sops.yaml").read_text()
    assert sops.startswith("# team rules\n")
    rules = yaml.safe_load(sops)["creation_rules"]
    assert rules[0]["age"] == other
    assert rules[1]["path_regex"] == ENV_PATH_REGEX
    assert ".sops.yaml: added a rule for env files" in out
    before = snapshot(repo)
    assert "nothing to do" in init(repo, capsys)
    assert snapshot(repo) == before


def test_rule_without_our_recipient_is_left_alone(
    repo: Path, age_key: object, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    text = f"creation_rules:\n  - path_regex: \\.env\n    age: {other}\n"
    (repo / ".sops.yaml").write_text(text)
    out = init(repo, capsys)
    assert (repo / ".sops.yaml").read_text() == text
    assert "creation rule 1 covers env files but not your recipient" in out
    assert "secretsafe recipients add FILE age1" in out


def test_outside_git_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert main(["init", str(plain)]) == 2
    assert "git init" in capsys.readouterr().err
    assert list(plain.iterdir()) == []


def test_hooks_match_the_projects_pre_commit_hooks() -> None:
    """The `repo: local` hooks init writes run what `.pre-commit-hooks.yaml` runs."""
    published = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    keys = ("id", "name", "entry", "files", "pass_filenames", "always_run")
    assert [{k: h.get(k) for k in keys} for h in published] == [
        {k: h.get(k) for k in keys} for h in PRE_COMMIT_HOOKS
    ]
    assert all(h["language"] == "system" for h in PRE_COMMIT_HOOKS)


def test_env_regex_matches_env_files_only() -> None:
    import re

    from secretsafe.sops.regex import compile_rule

    rule = compile_rule(ENV_PATH_REGEX, "path_regex", where="test")
    for name, want in [
        (".env", True),
        (".env.enc", True),
        ("deploy/.env.production.enc", True),
        ("app.env", True),
        ("app.env.enc", True),
        ("README.md", False),
        ("environment.yaml", False),
        ("x.envrc", False),
    ]:
        assert rule.matches(name) is want, name
        assert (re.search(ENV_PATH_REGEX, name) is not None) is want, name
    assert os.sep == "/"
