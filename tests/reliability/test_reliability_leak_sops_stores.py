"""Leak suite, sops store channels (issue 14): the JSON store, the tree walk, flattening,
typed values and the binary backend's JSON read. A canary planted as a value never appears in
any error they raise (the whole exception chain) or in the decrypt command's notes."""

from __future__ import annotations

import json
from pathlib import Path

import pyrage
import pytest
from reliability_support import CANARY, Tally, exception_texts, run_cli

from secretsafe.errors import SecretsafeError
from secretsafe.sops import native
from secretsafe.sops.flatten import flatten
from secretsafe.sops.stores import json as json_store
from secretsafe.sops.tree import Branch

pytestmark = pytest.mark.reliability


def _raises(call: object) -> str | None:
    """None when ``call`` raises a SecretsafeError without the canary anywhere in it."""
    try:
        call()  # type: ignore[operator]
    except SecretsafeError as exc:
        if any(CANARY in t for t in exception_texts(exc)):
            return "canary in the exception chain"
        return None
    except Exception as exc:
        return f"not a SecretsafeError: {type(exc).__name__}"
    return "no error raised"


def test_json_store_and_tree_errors_never_show_a_value(tally: Tally) -> None:
    me = pyrage.x25519.Identity.generate()
    data = Branch([("db", Branch([("password", CANARY), ("port", 5432.0)])), ("n", 1.5)])
    enc = native.encrypt_tree(data, key_groups=[[str(me.to_public())]])
    doc = json.loads(enc)
    swapped = json.loads(enc)
    swapped["db"]["password"], swapped["n"] = swapped["n"], swapped["db"]["password"]
    retyped = enc.replace("type:str", "type:int")
    cases = {
        "invalid JSON around the canary": f'{{"a": "{CANARY}" "b"}}',
        "duplicate key holding the canary": f'{{"a": "{CANARY}", "a": "x", "sops": {{}}}}',
        "canary as a constant": f'{{"a": NaN, "b": "{CANARY}"}}',
        "swapped values": json.dumps(swapped),
        "retyped value": retyped,
        "plaintext injected": json.dumps({**doc, "n": CANARY}),
        "metadata not an object": json.dumps({"a": CANARY, "sops": CANARY}),
    }
    for case, text in cases.items():
        tally.check(case, _raises(lambda text=text: native.decrypt_tree(text, [me])))
    tally.check(
        "json_store.load on the canary",
        _raises(lambda: json_store.load(f"[{json.dumps(CANARY)}]", "x.json")),
    )
    clash = Branch([("a__b", CANARY), ("a", Branch([("b", CANARY)]))])
    tally.check("flatten name clash", _raises(lambda: flatten(clash, path="x.json")))
    tally.assert_clean()


def test_decrypt_note_for_odd_names_never_shows_a_value(
    tally: Tally, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretsafe.sops.model import Entry

    me = pyrage.x25519.Identity.generate()
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"{me}\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_file))
    enc = tmp_path / "odd.enc.env"
    enc.write_text(native.encrypt([Entry("has space", CANARY)], key_groups=[[str(me.to_public())]]))
    result = run_cli(["decrypt", str(enc)])
    tally.check("decrypt exit", None if result.code == 0 else f"exit {result.code}")
    tally.check("canary on stdout (its job)", None if CANARY in result.out else "missing")
    for channel in ("stderr", "logs"):
        text = result.channels()[channel]
        tally.check(channel, None if CANARY not in text else f"canary in {channel}")
    tally.check("exceptions", None if not result.exceptions else "an exception escaped")
    tally.assert_clean()
