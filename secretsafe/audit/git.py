"""The few git queries the audit needs, as argv lists (never a shell), with timeouts.

Paths come back NUL-separated (``-z``), so names with spaces or newlines survive. Blob contents
are read into memory only, to tell a sops-encrypted file from a plaintext one; they are never
written anywhere or shown.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable

from secretsafe.errors import SecretsafeError

__all__ = ["added_in_history", "blob", "ignored", "repo_root", "tracked", "untracked"]

_TIMEOUT = 120


def _git_bin() -> str:
    import shutil

    found = shutil.which("git")
    if found is None:
        raise SecretsafeError(
            "git is not installed", hint="install git, or audit a plain directory"
        )
    return found


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"})
    return env


def _git(
    root: str, args: list[str], *, stdin: bytes | None = None, ok: Iterable[int] = (0,)
) -> bytes:
    try:
        proc = subprocess.run(
            [_git_bin(), "-C", root, *args],
            input=stdin,
            capture_output=True,
            timeout=_TIMEOUT,
            env=_env(),
            check=False,
        )
    except FileNotFoundError:
        raise SecretsafeError(
            "git is not installed", hint="install git, or audit a plain directory"
        ) from None
    except subprocess.TimeoutExpired:
        raise SecretsafeError(f"git {args[0]} took longer than {_TIMEOUT} s in {root}") from None
    if proc.returncode not in tuple(ok):
        # stderr of ls-files/log/check-ignore names paths, not contents; keep the first line.
        first = proc.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise SecretsafeError(
            f"git {args[0]} failed in {root}: {first[0] if first else proc.returncode}"
        )
    return proc.stdout


def _paths(raw: bytes) -> list[str]:
    return [os.fsdecode(p) for p in raw.split(b"\0") if p]


def repo_root(path: str) -> str | None:
    """The top of the work tree containing ``path``, or ``None`` outside a git repository."""
    try:
        proc = subprocess.run(
            [_git_bin(), "-C", path, "rev-parse", "--show-toplevel"],
            capture_output=True,
            timeout=_TIMEOUT,
            env=_env(),
            check=False,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired, SecretsafeError):
        return None
    if proc.returncode != 0:
        return None
    return os.fsdecode(proc.stdout.strip())


def tracked(root: str) -> list[str]:
    """Tracked paths, relative to ``root``."""
    return _paths(_git(root, ["ls-files", "-z"]))


def untracked(root: str) -> list[str]:
    """Untracked paths not excluded by .gitignore and friends."""
    return _paths(_git(root, ["ls-files", "-z", "--others", "--exclude-standard"]))


def ignored(root: str, paths: Iterable[str]) -> set[str]:
    """Which of ``paths`` (relative to ``root``) git ignores (``--no-index``: the
    .gitignore rules alone, whether or not the file is tracked)."""
    items = list(paths)
    if not items:
        return set()
    data = b"".join(os.fsencode(p) + b"\0" for p in items)
    # Exit 1 means "none of them is ignored".
    out = _git(root, ["check-ignore", "-z", "--stdin", "--no-index"], stdin=data, ok=(0, 1))
    return set(_paths(out))


def added_in_history(root: str) -> list[tuple[str, str]]:
    """``(commit, path)`` for every file added in any commit reachable from any ref."""
    try:
        raw = _git(
            root,
            [
                "log",
                "--all",
                "--diff-filter=A",
                "--name-only",
                "--no-renames",
                "-z",
                "--format=%x01%H",
            ],
        )
    except SecretsafeError:
        return []  # a repository with no commit yet
    out: list[tuple[str, str]] = []
    commit = ""
    for chunk in raw.split(b"\0"):
        token = chunk.lstrip(b"\n")
        if not token:
            continue
        if token.startswith(b"\x01"):
            commit = token[1:].decode("ascii", "replace")
        elif commit:
            out.append((commit, os.fsdecode(token)))
    return out


def blob(root: str, commit: str, path: str, *, limit: int = 1 << 20) -> bytes | None:
    """The content of ``path`` at ``commit`` (at most ``limit`` bytes), or ``None``."""
    try:
        data = _git(root, ["cat-file", "blob", f"{commit}:{path}"])
    except SecretsafeError:
        return None
    return data[:limit]
