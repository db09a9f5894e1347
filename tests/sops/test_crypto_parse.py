"""The hand-written parsers of ``secretsafe run``'s path equal the regular expressions they
replace (``re`` is kept off that path: secretsafe/sops/crypto.py, secretsafe/sops/metadata.py).

Each parser is compared with the original pattern over the class of inputs that matters: valid
forms, every single-character change of them (deleted, doubled, replaced by a character from a
set of troublemakers: separators, brackets, base64 padding, non-ASCII digits and letters),
and random strings from the patterns' alphabets.
"""

from __future__ import annotations

import base64
import os
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from secretsafe.sops import crypto, metadata

_ENC_RE = re.compile(
    r"ENC\[AES256_GCM,data:([A-Za-z0-9+/=]+),iv:([A-Za-z0-9+/=]+),"
    r"tag:([A-Za-z0-9+/=]+),type:([a-z]+)\]"
)
_TOKEN_RE = re.compile(r"__(map|list)_")
_LASTMODIFIED_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})")
_TROUBLE = ",:[]=+/_-ZTaz09 \n\t\u0663\u00e9\u0130\u212a\u00b2"


def _sealed_by_regex(value: str) -> crypto.Sealed | None:
    m = _ENC_RE.fullmatch(value)
    if m is None:
        return None
    data, iv, tag = crypto.b64(m.group(1)), crypto.b64(m.group(2)), crypto.b64(m.group(3))
    if data is None or iv is None or tag is None or len(iv) != 32 or len(tag) != 16:
        return None
    return crypto.Sealed(data, iv, tag, m.group(4))


def _tokens_by_regex(name: str) -> list[str | int] | None:
    out: list[str | int] = []
    pos, kind = 0, "map"
    for m in _TOKEN_RE.finditer(name):
        piece = name[pos : m.start()]
        if kind == "list":
            if not piece.isdecimal() or (len(piece) > 1 and piece[0] == "0"):
                return None
            out.append(int(piece))
        else:
            out.append(piece)
        kind, pos = m.group(1), m.end()
    piece = name[pos:]
    if kind == "list":
        if not piece.isdecimal() or (len(piece) > 1 and piece[0] == "0"):
            return None
        out.append(int(piece))
    else:
        out.append(piece)
    return out


def _mutations(text: str) -> list[str]:
    out = [text]
    for i in range(len(text)):
        out.append(text[:i] + text[i + 1 :])
        out.append(text[:i] + text[i] + text[i:])
        out.extend(text[:i] + c + text[i + 1 :] for c in _TROUBLE)
    out.extend(text + c for c in _TROUBLE)
    return out


def _enc(data: bytes, kind: str = "str") -> str:
    b = base64.b64encode
    return (
        f"ENC[AES256_GCM,data:{b(data).decode()},iv:{b(os.urandom(32)).decode()},"
        f"tag:{b(os.urandom(16)).decode()},type:{kind}]"
    )


def test_sealed_equals_the_regex_on_every_single_character_change() -> None:
    cases = 0
    for valid in (_enc(b"x"), _enc(b"ab", "int"), _enc(b"", "comment")[:-1] + "]"):
        for text in _mutations(valid):
            assert crypto.sealed(text) == _sealed_by_regex(text), text
            cases += 1
    assert cases > 3000


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.lists(
        st.sampled_from(["ENC[AES256_GCM,", "data:", "iv:", "tag:", "type:", ",", "]", "str"])
        | st.text(alphabet="AQw+/=,:]a", max_size=46),
        max_size=12,
    )
)
def test_sealed_equals_the_regex_on_random_pieces(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert crypto.sealed(text) == _sealed_by_regex(text)


def test_tokens_equal_the_regex() -> None:
    names = [
        "age__list_0__map_enc",
        "key_groups__list_1__map_age__list_0__map_recipient",
        "a___map_b",
        "a____list_0",
        "__map_",
        "___list___map_x",
        "a__list_01",
        "a__list_",
        "x__maps_y",
        "x__lis_t",
        "",
    ]
    for name in names:
        for text in _mutations(name):
            assert metadata.tokens(text) == _tokens_by_regex(text), text


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet="_maplist0123x", max_size=30))
def test_tokens_equal_the_regex_on_random_names(name: str) -> None:
    assert metadata.tokens(name) == _tokens_by_regex(name)


def test_lastmodified_equals_the_regex() -> None:
    for valid in ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05+01:30", "1999-12-31T23:59:60-05:00"):
        for text in _mutations(valid):
            assert metadata._is_lastmodified(text) == bool(_LASTMODIFIED_RE.fullmatch(text)), text
