"""Helpers for the tests of ``secretsafe git``: a real git repository whose git reads no user
or system config (HOME, GIT_CONFIG_GLOBAL and GIT_CONFIG_NOSYSTEM in a temp dir), and the real
CLI as a child process, the way git itself runs the merge driver and the diff filter."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyrage

_DROP = ("GIT_", "SOPS_", "SECRETSAFE_", "VAULT_", "BAO_", "AGE_")


@dataclass(frozen=True)
class Key:
    recipient: str
    key_file: Path


def new_key(directory: Path, name: str = "keys.txt") -> Key:
    ident = pyrage.x25519.Identity.generate()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"# public key: {ident.to_public()}\n{ident}\n", encoding="utf-8")
    path.chmod(0o600)
    return Key(str(ident.to_public()), path)


def git_env(base: Path, key: Key | None) -> dict[str, str]:
    """An environment for git and secretsafe: private HOME and git config, ``key`` (or no
    key at all) as SOPS_AGE_KEY_FILE."""
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = base / "gitconfig-global"
    gitconfig.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
        PAGER="cat",
        GIT_PAGER="cat",
    )
    if key is not None:
        env["SOPS_AGE_KEY_FILE"] = str(key.key_file)
    return env


def git(
    repo: Path, *args: str, env: Mapping[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=120,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}")
    return proc


def secretsafe(
    repo: Path, *args: str, env: Mapping[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secretsafe", *args],
        cwd=repo,
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=120,
        check=False,
    )


def make_repo(base: Path, env: Mapping[str, str], name: str = "repo") -> Path:
    repo = base / name
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main", env=env)
    git(repo, "config", "user.email", "t@example.com", env=env)
    git(repo, "config", "user.name", "t", env=env)
    return repo


def encrypt(repo: Path, rel: str, plain: str, env: Mapping[str, str]) -> None:
    """``rel`` (a ``.enc`` name) encrypted from the dotenv text ``plain`` with the real CLI;
    the plaintext lives only in a file removed at once (a test fixture, not a pattern)."""
    src = repo / (rel + ".plain.env")
    src.write_text(plain)
    try:
        r = secretsafe(repo, "encrypt", str(src), "-o", str(repo / rel), env=env)
        assert r.returncode == 0, r.stderr
    finally:
        src.unlink()


def set_value(repo: Path, rel: str, name: str, value: str, env: Mapping[str, str]) -> None:
    r = secretsafe(repo, "set", rel, name, env=env, stdin=value)
    assert r.returncode == 0, r.stderr


def commit(repo: Path, message: str, env: Mapping[str, str]) -> None:
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-qm", message, env=env)
