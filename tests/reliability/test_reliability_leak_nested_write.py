"""Leak suite, ``set``/``unset``/``rotate``/``recipients`` on sops YAML and JSON files (issue
14): a canary planted as a value (set from stdin, or already in the file, in a value and in a
comment) never appears in what the command prints or logs, in any error it raises (the whole
exception chain), nor in plaintext in the file it writes; on a refusal the file is untouched."""

from __future__ import annotations

from pathlib import Path

import pyrage
import pytest
from reliability_support import CANARY, Tally, exception_texts, run_cli

from secretsafe import envfile
from secretsafe.errors import SecretsafeError
from secretsafe.sops import native
from secretsafe.sops.model import Comment
from secretsafe.sops.tree import Branch

pytestmark = pytest.mark.reliability

#: (command line after FILE, stdin, whether it succeeds).
CASES: dict[str, tuple[list[str], str, bool]] = {
    "set a value": (["set", "{f}", "DB__PASSWORD"], CANARY, True),
    "set a new section": (["set", "{f}", "NEW__DEEP__KEY"], CANARY, True),
    "set a section": (["set", "{f}", "DB"], CANARY, False),
    "set a list": (["set", "{f}", "DB__HOSTS"], CANARY, False),
    "set under a value": (["set", "{f}", "DB__PASSWORD__X"], CANARY, False),
    "set an empty part": (["set", "{f}", "DB____X"], CANARY, False),
    "unset a missing name": (["unset", "{f}", "DB__NOPE"], "", False),
    "unset a value": (["unset", "{f}", "DB__PASSWORD"], "", True),
    "rotate": (["rotate", "{f}"], "", True),
}


def _tree() -> Branch:
    return Branch(
        [
            (Comment(f" note {CANARY}"), None),
            ("db", Branch([("password", CANARY), ("hosts", ["a", CANARY]), ("port", 5432)])),
        ]
    )


def test_nested_writes_never_show_a_value(
    tally: Tally, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = pyrage.x25519.Identity.generate()
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"{me}\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_file))
    for index, (case, (args, stdin, succeeds)) in enumerate(CASES.items()):
        for fmt in ("yaml", "json"):
            path = tmp_path / f"c{index}.enc.{fmt}"
            path.write_text(
                native.encrypt_tree(_tree(), key_groups=[[str(me.to_public())]], store=fmt)
            )
            before = path.read_bytes()
            result = run_cli([a.format(f=path) for a in args], stdin=stdin)
            for channel, text in result.channels().items():
                tally.check(f"{case} {fmt} {channel}", "canary" if CANARY in text else None)
            tally.check(f"{case} {fmt} exceptions", "escaped" if result.exceptions else None)
            tally.check(
                f"{case} {fmt} exit", None if (result.code == 0) == succeeds else "exit code"
            )
            tally.check(f"{case} {fmt} file", "plaintext" if CANARY in path.read_text() else None)
            if succeeds:
                continue
            tally.check(
                f"{case} {fmt} untouched", None if path.read_bytes() == before else "written"
            )
            try:
                if args[0] == "set":
                    envfile.set_value(path, args[2], stdin)
                else:
                    envfile.unset_value(path, args[2])
                problem: str | None = "no error raised"
            except SecretsafeError as exc:
                problem = "canary" if any(CANARY in t for t in exception_texts(exc)) else None
            tally.check(f"{case} {fmt} API exception chain", problem)
    tally.assert_clean()
