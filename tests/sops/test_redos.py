"""Hostile rule regexes finish in linear time at every entry point (issue 11, item 11).

Python ``re`` backtracks: ``^(A+)+$`` against 30 ``A`` and a ``_`` runs for hours. Every regex
from a sops file or ``.sops.yaml`` goes through RE2 now. Each scenario runs in a child process
with a hard timeout, so a regression fails the test instead of hanging the suite; inside it,
each case is timed and must finish in under 5 s, with a 30- and a 50,000-character input.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from secretsafe.errors import SecretsafeError
from tests.conftest import AgeKey

ROOT = Path(__file__).resolve().parents[2]
LIMIT_S = 5.0
# Classic catastrophic-backtracking shapes; all valid RE2.
HOSTILE = (r"^(A+)+$", r"^(A|AA)+$", r"^(A|A?)+$", r"^(\w+\s?)*$", r"(A*)*B$")
INPUTS = ("A" * 29 + "_", "A" * 49_999 + "_")
FILE_FIELDS = (
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
)


def _tampered(field: str, pattern: str, subject: str, recipient: str) -> str:
    """A genuine file whose ``sops_<field>`` line now holds ``pattern``, plus a line the MAC
    does not cover whose key (or comment text) is ``subject``: what an attacker can edit."""
    from secretsafe.sops import native
    from secretsafe.sops.model import Entry, Rules

    text = native.encrypt(
        [Entry("PORT", "5432")],
        key_groups=[[recipient]],
        rules=Rules(**{field: "^PORT$"}),  # type: ignore[arg-type]
    )
    text = text.replace(f"sops_{field}=^PORT$", f"sops_{field}={pattern}")
    extra = f"#{subject}\n" if "comment" in field else f"{subject}=\n"
    return extra + text


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    with contextlib.suppress(SecretsafeError):  # refusing the file is fine; hanging is not
        run()
    return time.perf_counter() - start


def scenario(name: str, workdir: str, recipient: str) -> None:
    """Run in the child: time every (pattern, input) case of one entry point, print JSON."""
    from secretsafe.sops import decrypt_text, encrypt_items
    from secretsafe.sops.config import creation_rule_for
    from secretsafe.sops.model import Comment, Entry, Rules

    work = Path(workdir)
    times: dict[str, float] = {}
    for pattern in HOSTILE:
        for subject in INPUTS:
            case = f"{pattern} x {len(subject)}"
            if name.startswith("decrypt:"):
                text = _tampered(name.split(":", 1)[1], pattern, subject, recipient)
                times[case] = _timed(lambda t=text: decrypt_text(t, backend="native"))
            elif name == "run":
                text = _tampered("unencrypted_regex", pattern, subject, recipient)
                (work / "app.env.enc").write_text(text)
                from secretsafe.run import build_environment

                times[case] = _timed(lambda: build_environment([work / "app.env.enc"], base_env={}))
            elif name.startswith("encrypt:"):
                field = name.split(":", 1)[1]
                items = [Comment(subject), Entry(subject, "v"), Entry("B", "v")]
                rules = Rules(**{field: pattern})  # type: ignore[arg-type]
                times[case] = _timed(
                    lambda i=items, r=rules: encrypt_items(  # type: ignore[misc]
                        i, recipients=[recipient], rules=r, backend="native"
                    )
                )
            elif name == "path_regex":
                config = work / ".sops.yaml"
                rule = {"path_regex": pattern, "age": recipient}
                config.write_text(json.dumps({"creation_rules": [rule]}))
                times[case] = _timed(
                    lambda s=subject, c=config: creation_rule_for(work / s, config_path=c)
                )
    print(json.dumps(times))


def _in_child(name: str, workdir: Path, age_key: AgeKey) -> dict[str, float]:
    cases = len(HOSTILE) * len(INPUTS)
    code = (
        "import sys; from tests.sops.test_redos import scenario; "
        "scenario(sys.argv[1], sys.argv[2], sys.argv[3])"
    )
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(age_key.key_file)}
    proc = subprocess.run(
        [sys.executable, "-c", code, name, str(workdir), age_key.recipient],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        # Bounded: every case under the limit, plus start-up. A backtracking engine blows it.
        timeout=LIMIT_S * cases + 20,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    times: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(times) == cases
    return times


@pytest.mark.parametrize(
    "name",
    [
        *(f"decrypt:{f}" for f in FILE_FIELDS),
        "run",
        *(f"encrypt:{f}" for f in FILE_FIELDS),
        "path_regex",
    ],
)
def test_hostile_regex_finishes(name: str, tmp_path: Path, age_key: AgeKey) -> None:
    times = _in_child(name, tmp_path, age_key)
    slow = {case: round(t, 2) for case, t in times.items() if t >= LIMIT_S}
    assert not slow, slow


def test_audit_with_hostile_path_regex_finishes(tmp_path: Path, age_key: AgeKey) -> None:
    """The review's ``audit`` case: ``path_regex: "^(a+)+$"`` and an encrypted file whose
    path almost matches. audit reaches the regex through ``creation_rule_for``."""
    from secretsafe.sops import native
    from secretsafe.sops.model import Entry

    (tmp_path / ".sops.yaml").write_text(
        f'creation_rules:\n  - path_regex: "^(a+)+$"\n    age: {age_key.recipient}\n'
    )
    enc = native.encrypt([Entry("A", "1")], key_groups=[[age_key.recipient]])
    for n in (30, 200):
        (tmp_path / ("a" * (n - 5) + ".env")).write_text(enc)
    code = (
        "import sys, time; from secretsafe.audit import audit; t = time.perf_counter(); "
        "audit(sys.argv[1], history=False); print(time.perf_counter() - t)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=LIMIT_S + 20,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(proc.stdout.strip().splitlines()[-1]) < LIMIT_S
