"""Tamper tests: every single-byte change to the authenticated parts of a SOPS dotenv file is
rejected by the native reader with IntegrityError (exit 22), never a silently wrong value.

Files come from the real sops binary (and from the native writer, with key groups). Positions
are sampled with a fixed seed; the counts are printed (run with -s to see them).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
from pathlib import Path

import pyrage
import pytest

from secretsafe.errors import FormatError, IntegrityError, SecretsafeError
from secretsafe.sops import native
from secretsafe.sops.model import Comment, Entry, Item

CANARY = "canary-5ecret-value"
PLAIN = (
    "# a comment\n"
    "DB__HOST=db.internal\n"
    f"DB__PASSWORD={CANARY}-db\n"
    "EMPTY=\n"
    "PORT_unencrypted=5432\n"
    f"API_KEY={CANARY}\n"
    "MULTI=a\\nb=c # d\n"
)
# Replacement bytes: printable ASCII (so the file stays text), never a line break.
_ALPHABET = [chr(c) for c in range(0x20, 0x7F)]
SEED = 20240611


def _sops_file(sops_bin: Path, tmp_path: Path, recipients: str) -> str:
    src = tmp_path / "plain.env"
    src.write_text(PLAIN, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    proc = subprocess.run(
        [
            str(sops_bin),
            "encrypt",
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
            "--age",
            recipients,
            str(src),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def _spans(text: str, recipient: str) -> dict[str, list[tuple[int, int]]]:
    """Character ranges of each authenticated part, by category."""
    spans: dict[str, list[tuple[int, int]]] = {
        "data": [],
        "iv": [],
        "tag": [],
        "mac": [],
        "lastmodified": [],
        "enc": [],
    }
    offset = 0
    lines = text.split("\n")
    enc_index = None
    for line in lines:
        m = re.fullmatch(
            r"sops_(?:key_groups__list_\d+__map_)?age__list_(\d+)__map_recipient=(.*)", line
        )
        if m and m.group(2) == recipient:
            enc_index = line[: line.index("__map_recipient")] + "__map_enc="
    for line in lines:
        key, _, value = line.partition("=")
        start = offset + len(key) + 1
        if not line.startswith(("sops_", "#")) and value.startswith("ENC["):
            for part in ("data", "iv", "tag"):
                m = re.search(rf"{part}:([^,]+)", value)
                assert m is not None
                spans[part].append((start + m.start(1), start + m.end(1)))
        elif key == "sops_mac":
            spans["mac"].append((start, start + len(value)))
        elif key == "sops_lastmodified":
            spans["lastmodified"].append((start, start + len(value)))
        elif enc_index is not None and line.startswith(enc_index):
            spans["enc"].append((start, start + len(value)))
        offset += len(line) + 1
    return spans


def _mutations(
    text: str, spans: list[tuple[int, int]], count: int, rng: random.Random
) -> list[str]:
    positions = [p for a, b in spans for p in range(a, b)]
    chosen = rng.sample(positions, min(count, len(positions)))
    out = []
    for pos in chosen:
        new = rng.choice([c for c in _ALPHABET if c != text[pos]])
        out.append(text[:pos] + new + text[pos + 1 :])
    return out


def _assert_rejected(mutated: str, identity: pyrage.x25519.Identity) -> IntegrityError:
    with pytest.raises(SecretsafeError) as err:
        native.decrypt(mutated, [identity], path="tampered.env")
    exc = err.value
    assert isinstance(exc, IntegrityError), repr(exc)
    assert exc.exit_code == 22
    assert CANARY not in str(exc)
    assert exc.__context__ is None  # no cryptography/pyrage exception chained
    assert exc.__cause__ is None
    return exc


PER_CATEGORY = {"data": 80, "iv": 80, "tag": 80, "mac": 80, "lastmodified": 30, "enc": 120}


def test_single_byte_tampering_sops_file(sops_bin: Path, tmp_path: Path) -> None:
    me = pyrage.x25519.Identity.generate()
    other = pyrage.x25519.Identity.generate()
    text = _sops_file(sops_bin, tmp_path, f"{other.to_public()},{me.to_public()}")
    doc = native.decrypt(text, [me])
    assert doc.values["API_KEY"] == CANARY
    rng = random.Random(SEED)
    counts = {}
    for category, spans in _spans(text, str(me.to_public())).items():
        assert spans, category
        mutated = _mutations(text, spans, PER_CATEGORY[category], rng)
        for m in mutated:
            _assert_rejected(m, me)
        counts[category] = len(mutated)
    total = sum(counts.values())
    print(f"\nsops-written file: {total} single-byte mutations rejected: {counts}")
    assert total >= 400


def test_single_byte_tampering_native_key_groups() -> None:
    ids = [pyrage.x25519.Identity.generate() for _ in range(3)]
    items: list[Item] = [Comment(" c"), Entry("A", CANARY), Entry("B", "x"), Entry("C", "")]
    text = native.encrypt(items, key_groups=[[str(i.to_public())] for i in ids], shamir_threshold=2)
    rng = random.Random(SEED + 1)
    total = 0
    for _category, spans in _spans(text, str(ids[0].to_public())).items():
        for m in _mutations(text, spans, 25, rng):
            with pytest.raises(IntegrityError):
                native.decrypt(m, ids[:2])
            total += 1
    print(f"\nnative key-group file: {total} single-byte mutations rejected")
    assert total >= 120


# --- structural tampering --------------------------------------------------------------------


@pytest.fixture
def sample() -> tuple[str, pyrage.x25519.Identity]:
    me = pyrage.x25519.Identity.generate()
    items: list[Item] = [
        Comment(" note"),
        Entry("A", CANARY),
        Entry("B", "other"),
        Entry("EMPTY", ""),
        Entry("PORT_unencrypted", "5432"),
    ]
    return native.encrypt(items, key_groups=[[str(me.to_public())]]), me


def _line(text: str, key: str) -> str:
    return next(line for line in text.split("\n") if line.startswith(key + "="))


def test_swapped_values_fail_aad(sample: tuple[str, pyrage.x25519.Identity]) -> None:
    text, me = sample
    a, b = _line(text, "A"), _line(text, "B")
    swapped = text.replace(a, "TMP").replace(b, "B=" + a[2:]).replace("TMP", "A=" + b[2:])
    exc = _assert_rejected(swapped, me)
    assert "A" in str(exc)


@pytest.mark.parametrize(
    "key",
    [
        "A",
        "PORT_unencrypted",
        "sops_mac",
        "sops_lastmodified",
        "sops_age__list_0__map_enc",
        "sops_version",
    ],
)
def test_removed_line(sample: tuple[str, pyrage.x25519.Identity], key: str) -> None:
    text, me = sample
    _assert_rejected(text.replace(_line(text, key) + "\n", ""), me)


def test_duplicated_lines(sample: tuple[str, pyrage.x25519.Identity]) -> None:
    text, me = sample
    line = _line(text, "B")
    with pytest.raises(FormatError, match="appears twice"):
        native.decrypt(text.replace(line, line + "\n" + line), [me])
    meta = _line(text, "sops_version")
    _assert_rejected(text.replace(meta, meta + "\n" + meta), me)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("A=ENC[", "A=plain-injected#ENC["),  # plaintext where a value is encrypted
        ("EMPTY=", "EMPTY=injected"),  # plaintext under a key the rules encrypt
        ("PORT_unencrypted=5432", "PORT_unencrypted=5433"),  # covered by the MAC
        ("sops_unencrypted_suffix=_unencrypted", "sops_unencrypted_regex=^A$"),  # rules edited
        ("type:str]\nB=", "type:str]trailing\nB="),  # sops' regex would accept this
    ],
)
def test_injected_or_edited(sample: tuple[str, pyrage.x25519.Identity], old: str, new: str) -> None:
    text, me = sample
    assert old in text
    _assert_rejected(text.replace(old, new, 1), me)


def test_appended_plaintext_line(sample: tuple[str, pyrage.x25519.Identity]) -> None:
    text, me = sample
    _assert_rejected("INJECTED=value\n" + text, me)


def test_type_field_edit_is_refused(sample: tuple[str, pyrage.x25519.Identity]) -> None:
    """sops would print a type:bytes value as a Go byte list and still pass its MAC."""
    text, me = sample
    line = _line(text, "A")
    _assert_rejected(text.replace(line, line.replace("type:str", "type:bytes")), me)


def test_recipient_label_swapped(sample: tuple[str, pyrage.x25519.Identity]) -> None:
    text, me = sample
    attacker = str(pyrage.x25519.Identity.generate().to_public())
    edited = text.replace(str(me.to_public()), attacker)
    exc = _assert_rejected(edited, me)
    assert "recipient" in str(exc)
