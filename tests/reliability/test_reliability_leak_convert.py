"""Leak suite, ``secretsafe convert`` (issue 14): a canary planted as a value never appears in
what the command prints or logs, in any error it raises (the whole exception chain), nor in
plaintext in the file it writes; on a refusal nothing is written."""

from __future__ import annotations

from pathlib import Path

import pyrage
import pytest
from reliability_support import CANARY, Tally, exception_texts, run_cli

from secretsafe.errors import SecretsafeError
from secretsafe.sops import native
from secretsafe.sops.convert import convert_file
from secretsafe.sops.model import Entry

pytestmark = pytest.mark.reliability

#: Variables convert refuses to nest (each with the canary as its value), and one it takes.
CASES: dict[str, list[Entry]] = {
    "lower-case name": [Entry("db_password", CANARY)],
    "empty part": [Entry("DB____PASSWORD", CANARY)],
    "value and section": [Entry("DB", CANARY), Entry("DB__PASSWORD", CANARY)],
    "nested, converts": [Entry("DB__PASSWORD", CANARY), Entry("DB__HOST", "db")],
}


def test_convert_never_shows_a_value(
    tally: Tally, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = pyrage.x25519.Identity.generate()
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"{me}\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_file))
    for index, (case, items) in enumerate(CASES.items()):
        src = tmp_path / f"c{index}.env.enc"
        src.write_text(native.encrypt(items, key_groups=[[str(me.to_public())]]))
        for fmt in ("yaml", "json"):
            dst = tmp_path / f"c{index}.enc.{fmt}"
            result = run_cli(["convert", str(src), "-o", str(dst)])
            for channel, text in result.channels().items():
                tally.check(f"{case} {fmt} {channel}", None if CANARY not in text else "canary")
            tally.check(f"{case} {fmt} exceptions", "escaped" if result.exceptions else None)
            converts = case.endswith("converts")
            tally.check(
                f"{case} {fmt} exit", None if (result.code == 0) == converts else "exit code"
            )
            written = dst.read_text() if dst.exists() else ""
            tally.check(f"{case} {fmt} file", None if CANARY not in written else "plaintext")
            tally.check(
                f"{case} {fmt} nothing written on refusal",
                None if converts or not dst.exists() else "written",
            )
            if not converts:
                try:
                    convert_file(src, tmp_path / f"api{index}.enc.{fmt}")
                    problem: str | None = "no error raised"
                except SecretsafeError as exc:
                    problem = "canary" if any(CANARY in t for t in exception_texts(exc)) else None
                tally.check(f"{case} {fmt} API exception chain", problem)
            else:
                back = run_cli(
                    ["convert", str(dst), "-o", str(tmp_path / f"b{index}{fmt}.env.enc")]
                )
                tally.check(f"{case} {fmt} back", None if back.code == 0 else "exit code")
                for channel, text in back.channels().items():
                    tally.check(
                        f"{case} {fmt} back {channel}", "canary" if CANARY in text else None
                    )
    tally.assert_clean()
