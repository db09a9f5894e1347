"""The streaming redactor: every encoding it promises, at every split point, with bounded
carry-over, and the idle flush that keeps interactive output moving."""

from __future__ import annotations

import base64
import json
import random
from urllib.parse import quote, quote_plus

import pytest

from secretsafe.supervise.redact import MIN_HOLD, Redactor, needles

VALUE = "s3cr3t/Value+42=ü"
SECRETS = {"API_TOKEN": VALUE, "OTHER": "hunter2hunter", "SHORT": "abc12"}


def _encodings(value: str) -> dict[str, bytes]:
    raw = value.encode()
    forms = {
        "plain": raw,
        "url": quote(value, safe="").encode(),
        "url-path": quote(value).encode(),
        "url-plus": quote_plus(value).encode(),
        "json": json.dumps(value)[1:-1].encode(),
        "json-utf8": json.dumps(value, ensure_ascii=False)[1:-1].encode(),
        "json-slash": json.dumps(value)[1:-1].replace("/", "\\/").encode(),
    }
    for name, enc in (("b64", base64.b64encode), ("b64url", base64.urlsafe_b64encode)):
        forms[name] = enc(raw)
        forms[name + "-nopad"] = enc(raw).rstrip(b"=")
        for k in (1, 2, 3, 4, 5):  # inside a longer base64 text, at each alignment
            forms[f"{name}-in{k}"] = enc(b"x" * k + raw + b"yz")
    return forms


def _core(value: str) -> list[bytes]:
    """Byte strings that must never appear: the value and the parts of its encodings that
    depend on the value alone."""
    raw = value.encode()
    out = [raw, quote(value, safe="").encode(), json.dumps(value)[1:-1].encode()]
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        out += [enc(b"\0" * k + raw)[4:12] for k in (0, 1, 2)]
    return out


def _run(r: Redactor, data: bytes, cuts: list[int]) -> bytes:
    out, last = [], 0
    for cut in [*cuts, len(data)]:
        out.append(r.feed(data[last:cut]))
        last = cut
    out.append(r.close())
    return b"".join(out)


@pytest.mark.parametrize("form", sorted(_encodings(VALUE)))
def test_every_encoding_at_every_split(form: str) -> None:
    data = b"before " + _encodings(VALUE)[form] + b" after\n"
    for cut in range(len(data) + 1):
        got = _run(Redactor(SECRETS), data, [cut])
        for bad in _core(VALUE):
            assert bad not in got, (form, cut, got)
        assert b"***" in got
        assert got.startswith(b"before")
        assert got.endswith(b" after\n")


def test_short_values_are_left_alone_and_names_mode() -> None:
    got = _run(Redactor(SECRETS, names=True), b"a abc12 hunter2hunter b", [5])
    assert got == b"a abc12 <OTHER> b"
    assert Redactor({"X": "12345"}).active is False


def test_random_chunking_agrees_with_whole_input() -> None:
    rnd = random.Random(1234)
    forms = [f for v in SECRETS.values() if len(v) >= 6 for f in _encodings(v).values()]
    for _ in range(300):
        data = b"".join(
            bytes(rnd.choice(b"ab \n") for _ in range(rnd.randint(0, 12))) + rnd.choice(forms)
            for _ in range(6)
        )
        whole = _run(Redactor(SECRETS), data, [])
        cuts = sorted(rnd.sample(range(len(data)), k=min(len(data), rnd.randint(1, 20))))
        assert _run(Redactor(SECRETS), data, cuts) == whole
        for value in ("hunter2hunter", VALUE):
            for bad in _core(value):
                assert bad not in whole


def test_carry_over_is_bounded() -> None:
    r = Redactor(SECRETS)
    longest = max(len(n) for v in SECRETS.values() if len(v) >= 6 for n in needles(v))
    shown = 0
    for i in range(2000):
        shown += len(r.feed(bytes([97 + i % 26]) * 4096))
        assert len(r._tail) <= longest - 1
    assert shown + len(r.close()) == 2000 * 4096


def test_idle_flush_shows_output_but_holds_a_possible_start() -> None:
    r = Redactor(SECRETS)
    assert r.feed(b"prompt> ") == b""  # carried over until more comes, or quiet
    assert r.flush_idle() == b"prompt> "
    # The start of a value is held while quiet ...
    out = r.feed(b"v=" + VALUE.encode()[:5])
    out += r.flush_idle()
    assert VALUE.encode()[:MIN_HOLD] not in out
    # ... and the whole value is replaced when the rest comes.
    out += r.feed(VALUE.encode()[5:] + b"\n") + r.close()
    assert out == b"v=***\n"


def test_forced_flush_still_masks_the_rest() -> None:
    r = Redactor(SECRETS)
    out = r.feed(b"x " + VALUE.encode()[:4]) + r.flush_idle(force=True)
    assert out == b"x " + VALUE.encode()[:4]  # a long pause: shown
    out = r.feed(VALUE.encode()[4:] + b" y") + r.close()
    assert VALUE.encode()[4:] not in out
    assert out == b"*** y"


def test_a_dry_source_shows_lines_at_once_but_no_start_of_a_value() -> None:
    r = Redactor(SECRETS)
    assert r.feed(b"line one\n") + r.flush_idle(min_hold=1) == b"line one\n"
    out = b""
    for ch in VALUE.encode():  # one byte per read, each read drains the source
        out += r.feed(bytes([ch])) + r.flush_idle(min_hold=1)
    out += r.feed(b"\n") + r.flush_idle(min_hold=1)
    assert out == b"***\n"


def test_a_value_of_several_lines_also_with_crlf() -> None:
    pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX\n-----END KEY-----"
    r = Redactor({"KEY": pem})
    for shown in (pem, pem.replace("\n", "\r\n")):
        assert _run(Redactor({"KEY": pem}), shown.encode() + b"\n", [30]) == b"***\n"
    assert r.active


# -- review: overlapping values, long values ----------------------------------------------

OVERLAPPING = {
    "A": "abcdefgh",
    "B": "efghijkl",  # shares "efgh" with A
    "C": "cdefghijklmn",  # starts inside A, ends past B
    "D": "abcdefghXYZ",  # A is a prefix of it
    "E": "zzabcdefgh",  # A is a suffix of it
    "META": "a.b*c+d?(e)[f]|^$\\",  # regex metacharacters
    "UTF8": "pässwörd€€",  # multi-byte characters, split anywhere
    "B64": base64.b64encode(b"abcdefgh").decode(),  # the base64 of another value
}


def _union_oracle(secrets: dict[str, str], data: bytes) -> bytes:
    """Every occurrence of every needle (overlapping ones too) replaced; overlapping
    occurrences merged into one ``***``."""
    spans = []
    for value in secrets.values():
        for needle in needles(value):
            at = data.find(needle)
            while at != -1:
                spans.append((at, at + len(needle)))
                at = data.find(needle, at + 1)
    spans.sort()
    out, done, i = [], 0, 0
    while i < len(spans):
        start, end = spans[i]
        i += 1
        while i < len(spans) and spans[i][0] < end:
            end = max(end, spans[i][1])
            i += 1
        if start > done:
            out.append(data[done:start])
        if end > done:
            out.append(b"***")
        done = max(done, end)
    out.append(data[done:])
    return b"".join(out)


@pytest.mark.parametrize(
    "text",
    [
        b"xx abcdefghijkl yy",  # A then the rest of B
        b"xx abcdefghijklmn yy",  # A and C
        b"xx abcdefghXYZ yy",  # D (A is its prefix)
        b"xx zzabcdefgh yy",  # E (A is its suffix)
        b"a.b*c+d?(e)[f]|^$\\abcdefgh",
        "pässwörd€€pässwörd€€".encode(),
        b"YWJjZGVmZ2g=abcdefgh",
    ],
)
def test_overlapping_values_leave_no_part_at_any_split(text: bytes) -> None:
    want = _union_oracle(OVERLAPPING, text)
    for cut in range(len(text) + 1):
        got = _run(Redactor(OVERLAPPING), text, [cut])
        assert got == want, (cut, got)


def test_overlapping_values_fuzzed_chunking_matches_the_union() -> None:
    rnd = random.Random(20261130)
    parts = [v.encode() for v in OVERLAPPING.values()] + [b"ab", b"cdef", b"gh", b"\xc3", b" "]
    for _ in range(400):
        data = b"".join(rnd.choice(parts) for _ in range(rnd.randint(1, 10)))
        want = _union_oracle(OVERLAPPING, data)
        cuts = sorted(rnd.sample(range(len(data) + 1), k=min(len(data), rnd.randint(1, 12))))
        assert _run(Redactor(OVERLAPPING), data, cuts) == want, (data, cuts)
        # One byte at a time, with a dry-source flush after each read (what the pump does).
        r, out = Redactor(OVERLAPPING), []
        for i in range(len(data)):
            out.append(r.feed(data[i : i + 1]))
            out.append(r.flush_idle(min_hold=1))
        out.append(r.close())
        # A match decided before an overlapping one completed gets a label of its own.
        assert _one_label(b"".join(out)) == _one_label(want), data


def _one_label(data: bytes) -> bytes:
    import re

    return re.sub(rb"(\*\*\*)+", b"***", data)


def test_a_long_value_costs_memory_linear_in_its_length() -> None:
    import tracemalloc

    value = base64.b64encode(bytes(range(256)) * 36).decode()  # 12 KB: a certificate chain
    tracemalloc.start()
    try:
        r = Redactor({"TLS_CHAIN": value})
        got = _run(r, b"log: " + value.encode() + b" end", [7, 5000])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == b"log: *** end"
    # The needles themselves are ~30 x 16 KB; a set of every prefix took ~800 MB.
    assert peak < 20 * 1024 * 1024, peak


def test_json_as_go_writes_it_html_safe() -> None:
    """Go's encoding/json (most Go services' logs) escapes <, > and & as \\u003c ..."""
    value = "p<ss>w&rd-7f3a"
    go = json.dumps(value, ensure_ascii=False)[1:-1]
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        go = go.replace(ch, esc)
    text = b'{"msg":"connect","password":"' + go.encode() + b'"}\n'
    for cut in range(len(text) + 1):
        got = _run(Redactor({"DB_PASSWORD": value}), text, [cut])
        assert got == b'{"msg":"connect","password":"***"}\n', (cut, got)
