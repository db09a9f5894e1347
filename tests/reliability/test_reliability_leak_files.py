"""Leak suite, file commands: a secret typed where a name or a command goes is never echoed.

Users paste values in the wrong place: ``unset F KEY=value``, a token as the variable name of
``set``, ``run -- DB_PASSWORD=x app`` (shell syntax, no shell). Every command that echoes a
user-typed name back (in its error or its success line) goes through one rule,
:func:`secretsafe.dotenv.shown_name`; this table runs each such command with each hostile
argument through the real entry point and searches every channel for the secret.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyrage
import pytest
from reliability_support import CANARY, Tally, exception_texts, run_cli, run_cli_proc

pytestmark = pytest.mark.reliability

_AGE_SECRET = str(pyrage.x25519.Identity.generate())

#: (label, the argument typed, the secret in it that must never be shown)
HOSTILE: tuple[tuple[str, str, str], ...] = (
    ("KEY=value", f"API_KEY={CANARY}", CANARY),
    ("value with spaces", f"{CANARY} with spaces", CANARY),
    ("bare value (a valid name)", CANARY, CANARY),
    ("age secret key", _AGE_SECRET, _AGE_SECRET),
    ("age secret key cut short", _AGE_SECRET[:30], _AGE_SECRET[:30]),
    ("GitHub token", "ghp_" + "cAnArY7f3a9c21Pr0dSecretXyZ0123456789", "cAnArY7f3a9c21"),
    ("Vault token", "hvs.cAnArY7f3a9c21Pr0dSecretXyZ01", "cAnArY7f3a9c21"),
    ("hex token", "deadbeef7f3a9c21" * 3, "deadbeef7f3a9c21" * 3),
    ("URL with password", f"postgres://app:{CANARY}@db:5432/app", CANARY),
    ("value with a newline", f"{CANARY}\nNEXT", CANARY),
    ("JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.cAnArY7f3a9c21", "cAnArY7f3a9c21"),
)

#: (label, argv with {f} the encrypted file and {arg} the hostile argument, in a subprocess)
COMMANDS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("set", ("set", "{f}", "{arg}"), False),
    ("set KEY VALUE", ("set", "{f}", "PORT", "{arg}"), False),
    ("unset", ("unset", "{f}", "{arg}"), False),
    ("generate --into", ("generate", "--into", "{f}", "{arg}"), False),
    ("recipients add", ("recipients", "add", "{f}", "{arg}"), False),
    ("recipients remove", ("recipients", "remove", "{f}", "{arg}"), False),
    ("keys import ARG", ("keys", "import", "{arg}"), False),
    # run execs what it finds: a real child process, so a found command cannot replace pytest.
    ("run -- ARG", ("run", "-f", "{f}", "--", "{arg}"), True),
    ("run -- ARG true", ("run", "-f", "{f}", "--", "{arg}", "true"), True),
)


def _problem(secret: str, code: int, channels: dict[str, str], exc: list[BaseException]) -> str:
    for name, text in channels.items():
        if secret in text:
            return f"the secret is in {name}"
    for e in exc:
        if any(secret in t for t in exception_texts(e)):
            return "the secret is in an exception escaping main()"
        return f"exception escaped main(): {type(e).__name__}"
    if code != 0:
        lines = [ln for ln in channels.get("stderr", "").splitlines() if ln.strip()]
        if len(lines) != 1 or not lines[0].startswith("secretsafe: error:"):
            return f"exit {code} without one error line: {lines[:3]}"
    return ""


def test_typed_names_are_never_echoed(
    tmp_path: Path, age_key: Any, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretsafe.sops import encrypt_values

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SECRETSAFE_BACKEND", "native")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    target = tmp_path / "app.env.enc"
    for label, arg, secret in HOSTILE:
        for cmd, argv, subprocess_only in COMMANDS:
            if target.exists():
                target.unlink()
            encrypt_values({"PORT": "1", "NOTE": "x"}, target, recipients=[age_key.recipient])
            args = [a.format(f=target, arg=arg) for a in argv]
            if subprocess_only:
                res = run_cli_proc(args, stdin=b"v", env=dict(os.environ), cwd=tmp_path)
            else:
                res = run_cli(args, stdin="v")
            problem = _problem(secret, res.code, res.channels(), res.exceptions)
            tally.check(f"{cmd} with {label}", problem or None, note="typed secret not echoed")


def test_shown_name_rule() -> None:
    """The rule itself: plain names are shown (messages stay useful), anything else is not."""
    from secretsafe.dotenv import shown_name

    for name in ("API_KEY", "DB__HOST", "port", "app.name", "x-forwarded", "DATABASE_URL_2"):
        assert shown_name(name) == name
    for _, arg, secret in HOSTILE:
        assert secret not in shown_name(arg)
