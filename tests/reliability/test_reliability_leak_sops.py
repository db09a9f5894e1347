"""Leak suite, sops rule regexes (issue 11, items 6 and 11): the canary is a value the rules
select for encryption, and a fragment of the rule patterns themselves. Every failure path of
the regex machinery is searched: invalid patterns in ``.sops.yaml`` and in a file's metadata,
the output check that refuses plaintext before a write, tampered rule metadata and hostile
(ReDoS) patterns, through the CLI in process (stdout, stderr, logs), as a real child process
(RE2's C++ logging writes to file descriptor 2 directly), and the API's exception chains;
plus the files left in the work directory and a private TMPDIR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    CANARY,
    Tally,
    exception_texts,
    files_containing,
    one_error_line,
    private_tmpdir,
    run_cli,
    run_cli_proc,
)

from secretsafe.errors import SecretsafeError

pytestmark = pytest.mark.reliability

# Patterns carrying the canary: an error must name the key, never quote the pattern.
BAD_PATTERNS = (
    f"(?={CANARY})",  # look-ahead: Python re, not RE2
    f"\\C{CANARY}",  # RE2 C++ only, Go refuses
    f"[[:{CANARY}:]]",
    f"({CANARY}",
)
HOSTILE = "^(A+)+$"


@dataclass
class Sandbox:
    work: Path
    tmp: Path
    recipient: str
    env: dict[str, str]

    def config(self, field: str, pattern: str) -> None:
        (self.work / ".sops.yaml").write_text(
            f"creation_rules:\n  - age: {self.recipient}\n    {field}: '{pattern}'\n",
            encoding="utf-8",
        )


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, age_key: Any) -> Sandbox:
    import os

    work = tmp_path / "work"
    work.mkdir()
    tmp = private_tmpdir(tmp_path / "tmpdir", monkeypatch)
    monkeypatch.chdir(work)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    (work / ".env").write_text(f"DB_PASSWORD={CANARY}\nPORT=5432\n", encoding="utf-8")
    return Sandbox(work, tmp, age_key.recipient, dict(os.environ))


def _genuine(box: Sandbox, field: str, pattern: str) -> str:
    """An encrypted file of the canary, with ``sops_<field>`` replaced by ``pattern`` (what a
    tampered file, or sops with a rule Go cannot compile, leaves behind)."""
    from secretsafe.sops import native
    from secretsafe.sops.model import Entry, Rules

    text = native.encrypt(
        [Entry("DB_PASSWORD", CANARY), Entry("PORT", "5432")],
        key_groups=[[box.recipient]],
        rules=Rules(**{field: "PASSWORD"}),
    )
    return text.replace(f"sops_{field}=PASSWORD", f"sops_{field}={pattern}")


def _problems(result: Any, *, allowed_out: bool = False) -> str | None:
    for name, text in result.channels().items():
        if name == "stdout" and allowed_out:
            continue
        if CANARY in text:
            return f"canary on {name}"
    for exc in result.exceptions:
        if any(CANARY in t for t in exception_texts(exc)):
            return "canary in an escaped exception"
    return one_error_line(result)


def _no_leftovers(box: Sandbox, allow: tuple[str, ...]) -> str | None:
    hits = files_containing(box.work, CANARY, allow=[box.work / a for a in allow])
    hits += files_containing(box.tmp, CANARY)
    return f"canary in files: {[p.name for p in hits]}" if hits else None


def test_cli_invalid_rule_patterns(box: Sandbox, tally: Tally) -> None:
    """`encrypt` with each invalid pattern in each rule field: one error line naming the key,
    no canary anywhere, no output file."""
    for field in ("encrypted_regex", "unencrypted_regex", "encrypted_comment_regex"):
        for pattern in BAD_PATTERNS:
            box.config(field, pattern)
            label = f"encrypt, {field} {pattern[:6]}..."
            result = run_cli(["encrypt", str(box.work / ".env"), "--force"])
            tally.check(label, _problems(result), note="cli failure paths")
            tally.check(f"{label} exit code", None if result.code == 14 else f"exit {result.code}")
            tally.check(f"{label} files", _no_leftovers(box, allow=(".env", ".sops.yaml")))
    (box.work / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: '{BAD_PATTERNS[0]}'\n    age: {box.recipient}\n"
    )
    result = run_cli(["encrypt", str(box.work / ".env"), "--force"])
    tally.check("encrypt, bad path_regex", _problems(result), note="cli failure paths")


def test_child_process_stderr(box: Sandbox, tally: Tally) -> None:
    """RE2 logs parse errors (pattern included) straight to fd 2 unless told not to: run the
    real CLI as a child and read its stderr."""
    for pattern in BAD_PATTERNS:
        box.config("encrypted_regex", pattern)
        result = run_cli_proc(
            ["encrypt", str(box.work / ".env"), "--force"], env=box.env, cwd=box.work
        )
        tally.check(f"child encrypt {pattern[:6]}...", _problems(result), note="child stderr")
        (box.work / "bad.env.enc").write_text(_genuine(box, "encrypted_regex", pattern))
        result = run_cli_proc(["decrypt", str(box.work / "bad.env.enc")], env=box.env)
        tally.check(f"child decrypt {pattern[:6]}...", _problems(result), note="child stderr")


def _api_failures(box: Sandbox) -> Iterator[tuple[str, Callable[[], object]]]:
    from secretsafe import envfile, sops
    from secretsafe.run import build_environment
    from secretsafe.sops import native
    from secretsafe.sops.model import Entry, Rules

    items = [Entry("DB_PASSWORD", CANARY), Entry("PORT", "5432")]
    for field in ("encrypted_regex", "unencrypted_regex", "encrypted_comment_regex"):
        for pattern in BAD_PATTERNS:
            rules = Rules(**{field: pattern})
            yield (
                f"encrypt_items {field} {pattern[:6]}",
                lambda r=rules: sops.encrypt_items(items, recipients=[box.recipient], rules=r),
            )
            text = _genuine(box, field, pattern)
            yield (f"decrypt_text {field} {pattern[:6]}", lambda t=text: sops.decrypt_text(t))
            yield (
                f"plaintext_where_encrypted {field} {pattern[:6]}",
                lambda t=text: native.plaintext_where_encrypted(t),
            )
    # Tampered rules: the canary's ENC[...] under a key the new rule leaves in plaintext, the
    # canary in plaintext under a key the new rule encrypts, and a hostile pattern.
    good = _genuine(box, "encrypted_regex", "PASSWORD")
    for label, text in (
        (
            "rule now matches nothing",
            good.replace("encrypted_regex=PASSWORD", "encrypted_regex=^$"),
        ),
        (
            "plaintext injected",
            good.replace("encrypted_regex=PASSWORD", "encrypted_regex=^(A+)+$").replace(
                "PORT=5432", f"PORT={CANARY}"
            ),
        ),
        ("hostile pattern", "A" * 29 + "_=\n" + good.replace("PASSWORD\n", f"{HOSTILE}\n")),
    ):
        (box.work / "t.env.enc").write_text(text)
        yield (f"decrypt tampered: {label}", lambda t=text: sops.decrypt_text(t))
        yield (
            f"run tampered: {label}",
            lambda: build_environment([box.work / "t.env.enc"], base_env={}),
        )
        yield (
            f"set on tampered: {label}",
            lambda: envfile.set_value(box.work / "t.env.enc", "X", CANARY),
        )


def test_api_exception_chains(box: Sandbox, tally: Tally) -> None:
    for label, call in _api_failures(box):
        try:
            call()
        except SecretsafeError as exc:
            leaked = any(CANARY in t for t in exception_texts(exc))
            tally.check(label, "canary in the exception chain" if leaked else None, note="api")
        except Exception as exc:  # any other type is itself the finding
            tally.fail(label, f"not a SecretsafeError: {type(exc).__name__}")
        else:
            tally.fail(label, "expected a failure, got success")
        tally.check(
            f"{label} tmpdir", _no_leftovers(box, allow=(".env", "t.env.enc", ".sops.yaml"))
        )


def test_output_check_refuses_before_writing(
    box: Sandbox, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An encoder that leaves the canary in plaintext: encrypt, set and rotate fail with one
    clean line and write nothing (the output check runs before every atomic write)."""
    from secretsafe.sops import native

    (box.work / "app.env.enc").write_text(_genuine(box, "encrypted_regex", "PASSWORD"))
    before = (box.work / "app.env.enc").read_bytes()
    real = native.encrypt

    def leaky(items: Any, **kwargs: Any) -> str:
        out = real(items, **kwargs)
        return "\n".join(
            f"DB_PASSWORD={CANARY}" if line.startswith("DB_PASSWORD=") else line
            for line in out.split("\n")
        )

    monkeypatch.setattr(native, "encrypt", leaky)
    for label, args, stdin in (
        ("encrypt", ["encrypt", str(box.work / ".env"), "-o", str(box.work / "o.env.enc")], None),
        ("set", ["set", str(box.work / "app.env.enc"), "NEW"], "value\n"),
        ("rotate", ["rotate", str(box.work / "app.env.enc")], None),
    ):
        result = run_cli(args, stdin=stdin)
        tally.check(label, _problems(result), note="output check")
        tally.check(f"{label} exit", None if result.code == 22 else f"exit {result.code}")
        tally.check(f"{label} files", _no_leftovers(box, allow=(".env",)))
        unchanged = (box.work / "app.env.enc").read_bytes() == before
        tally.check(f"{label} target unchanged", None if unchanged else "file was rewritten")
