"""Leak suite, ``secretsafe init``: the canary planted in tracked, history-only, malformed and
config files of a real git repository never reaches stdout, stderr, logs, an escaping
exception or a file init writes; the API's failure paths are searched the same way."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from keyring_session import no_session_bus
from reliability_support import CANARY, Tally, exception_texts, files_containing, run_cli

from secretsafe.errors import SecretsafeError

__all__ = ["no_session_bus"]  # fixture used by name

pytestmark = pytest.mark.reliability


@pytest.fixture(autouse=True)
def _no_bus(no_session_bus: None) -> None:
    """No keyring: a new identity goes to the key file under the test's HOME."""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _repo(base: Path, name: str) -> Path:
    repo = base / name
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    return repo


def _commit(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "x")


def _tracked(repo: Path) -> None:
    _commit(repo, {".env": f"API_KEY={CANARY}\n", f"deploy/{CANARY[:4]}.env": f"X={CANARY}\n"})


def _history_only(repo: Path) -> None:
    _commit(repo, {".env.prod": f"DB_PASSWORD={CANARY}\n"})
    _git(repo, "rm", "-q", "--cached", ".env.prod")
    _git(repo, "commit", "-qm", "untrack")


def _malformed(repo: Path) -> None:
    _commit(repo, {".env": f"export {CANARY}\n\0{CANARY}=\n", "b.env": f"{CANARY}\n"})


def _bad_sops_yaml(repo: Path) -> None:
    (repo / ".sops.yaml").write_text(f"creation_rules: [\n  {CANARY}: {{\n")


def _bad_pre_commit(repo: Path) -> None:
    (repo / ".pre-commit-config.yaml").write_text(f"repos:\n- {CANARY}: [\n")


def _rule_with_canary_regex(repo: Path) -> None:
    (repo / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: '{CANARY}('\n")
    _tracked(repo)


CASES: dict[str, Callable[[Path], None]] = {
    "tracked": _tracked,
    "history-only": _history_only,
    "malformed-env": _malformed,
    "bad-sops-yaml": _bad_sops_yaml,
    "bad-pre-commit": _bad_pre_commit,
    "regex-error": _rule_with_canary_regex,
}


def test_init_never_prints_a_value(tmp_path: Path, tally: Tally) -> None:
    for name, setup in CASES.items():
        repo = _repo(tmp_path, name)
        setup(repo)
        planted = [p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts]
        for run in ("first", "second"):
            result = run_cli(["init", str(repo)])
            texts = [*result.channels().values()]
            for exc in result.exceptions:
                texts.extend(exception_texts(exc))
            # The canary's first four characters name a file on purpose: names may be shown.
            leaked = [t for t in texts if CANARY in t]
            written = files_containing(repo, CANARY, allow=planted)
            written = [p for p in written if ".git" not in p.relative_to(repo).parts]
            problem = None
            if leaked:
                problem = "canary in output"
            elif written:
                problem = f"canary in {written}"
            elif result.exceptions:
                problem = "exception escaped main()"
            tally.check(f"{name}/{run}", problem)


def test_init_api_errors_hold_no_value(tmp_path: Path, tally: Tally) -> None:
    from secretsafe.init import init

    for name in ("bad-sops-yaml", "bad-pre-commit", "regex-error"):
        repo = _repo(tmp_path, "api-" + name)
        CASES[name](repo)
        try:
            init(repo)
        except SecretsafeError as exc:
            hit = any(CANARY in t for t in exception_texts(exc))
            tally.check(name, "canary in the exception chain" if hit else None)
        else:
            tally.check(name, "no error for a broken config")
