"""The pre-commit hooks in .pre-commit-hooks.yaml, run the way pre-commit runs them: the
entry split on spaces, plus the matching staged file names for pass_filenames hooks."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from secretsafe.cli import main
from secretsafe.sops import encrypt_values

ROOT = Path(__file__).resolve().parents[2]
HOOKS = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def run_hook(hook_id: str, cwd: Path, files: list[str]) -> int:
    hook = HOOKS[hook_id]
    argv = shlex.split(hook["entry"])
    assert argv[0] == "secretsafe"
    if hook.get("pass_filenames", True):
        pattern = re.compile(hook["files"])
        argv += [f for f in files if pattern.search(f)]
    proc = subprocess.run(
        [sys.executable, "-m", "secretsafe", *argv[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return proc.returncode


def test_hook_definitions() -> None:
    assert set(HOOKS) == {"secretsafe-env-encrypted", "secretsafe-audit"}
    for hook in HOOKS.values():
        assert hook["language"] == "python"
        assert hook["name"]
    files = re.compile(HOOKS["secretsafe-env-encrypted"]["files"])
    for name in (".env", "app/.env.production", "prod.env", ".env.enc", "deploy/api.env.enc"):
        assert files.search(name), name
    for name in ("README.md", "environment.py", ".envrc", "docker-compose.yml"):
        assert not files.search(name), name


def test_env_encrypted_hook(tmp_path: Path, age_key, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("DB_PASSWORD=cAnArY-hook-Tb61\n", encoding="utf-8")
    (tmp_path / ".env.example").write_text("DB_PASSWORD=\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
    encrypt_values({"DB_PASSWORD": "x" * 20}, tmp_path / ".env.enc", recipients=[age_key.recipient])
    assert (
        run_hook("secretsafe-env-encrypted", tmp_path, [".env.enc", ".env.example", "notes.txt"])
        == 0
    )
    assert run_hook("secretsafe-env-encrypted", tmp_path, [".env", ".env.enc"]) == 5

    monkeypatch.chdir(tmp_path)
    assert main(["audit", ".env", ".env.enc", "--format", "json"]) == 5


def test_env_encrypted_hook_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "prod.env").write_text("DB_PASSWORD=cAnArY-hook-Tb61\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "prod.env", "--fail-on", "error"]) == 5
    out = capsys.readouterr().out
    assert "prod.env: error: env-plaintext: prod.env is a plaintext env file" in out
    assert "cAnArY" not in out


def test_audit_hook_on_a_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    (repo / "compose.yml").write_text("services:\n  a:\n    image: x\n", encoding="utf-8")
    assert run_hook("secretsafe-audit", repo, ["compose.yml"]) == 0
    (repo / "compose.yml").write_text(
        "services:\n  a:\n    image: x\n    environment:\n      API_TOKEN: abcd1234efgh5678\n",
        encoding="utf-8",
    )
    assert run_hook("secretsafe-audit", repo, ["compose.yml"]) == 5


def test_directory_and_files_cannot_mix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".env").write_text("A=1\n", encoding="utf-8")
    assert main(["audit", str(tmp_path), str(tmp_path / ".env")]) == 2
    assert "pass one directory, or files only" in capsys.readouterr().err
