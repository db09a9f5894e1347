"""A streaming redactor: secret values (and their common encodings) out of a byte stream.

Which byte strings are replaced (the *needles*), for every value of at least
:data:`MIN_LENGTH` characters, as UTF-8:

- the value itself (and, for a value of several lines, with CR LF line ends, as a terminal
  shows it);
- base64, standard and URL-safe alphabets, with and without padding, and the characters that
  depend only on the value when it sits at each of the three alignments inside a longer
  base64 text (offsets 0, 1 and 2 modulo 3);
- URL-encoded (``quote`` with and without ``/`` kept, and ``quote_plus``);
- JSON-escaped (ASCII-only and UTF-8 forms, ``/`` escaped or not, and the HTML-safe form of
  Go's ``encoding/json``: ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\u`` escapes).

Matching is streaming with bounded memory: at most ``longest needle - 1`` bytes are carried
over from one read to the next, so a value split across writes is still caught. A cheap
``bytes.find`` per needle decides whether a chunk holds anything (the usual case: nothing);
only then a compiled alternation (longest needle first) replaces the matches, leftmost first.

Latency: when a read finds no more data waiting, :meth:`Redactor.flush_idle` with
``min_hold=1`` shows the carried-over bytes at once except a tail that could be the start of
a value (so a line of output is not delayed). When the child stays quiet for a moment, the
same call with the default ``min_hold`` (:data:`MIN_HOLD`) shows a held tail shorter than
that (one typed character echoed back), and after a longer pause ``force`` shows the rest;
the end of the stream shows everything. Bytes already shown stay in the
matching window: if the rest of a value follows, that rest is still replaced. What is not
guaranteed: a value that the child writes with a pause after its first byte or two (shorter
than :data:`MIN_HOLD`), or longer than the forced flush delay, shows those first bytes.
Values written in another encoding (hex, gzip, line-wrapped base64 ...) are not caught.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

__all__ = ["MIN_HOLD", "MIN_LENGTH", "Redactor", "needles"]

#: Values shorter than this are not redacted (too many false positives in ordinary output).
MIN_LENGTH = 6
#: A quiet tail shorter than this is shown even when it could start a secret, so that
#: interactive echo (one typed character) is not held back.
MIN_HOLD = 3


def needles(value: str) -> set[bytes]:
    """The byte strings that stand for ``value`` in output (see the module docstring)."""
    raw = value.encode("utf-8", "surrogateescape")
    found = {raw}
    if b"\n" in raw:  # a terminal (a pty's ONLCR) prints each newline as CR LF
        found.add(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw)
        found.add(whole)
        found.add(whole.rstrip(b"="))
        for offset in range(3):
            # At this alignment the first `skip` characters also depend on the bytes before
            # the value and the characters after the last whole group on the bytes after it.
            skip = (0, 2, 3)[offset]
            full = ((offset + len(raw)) // 3) * 4
            inner = encode(b"\0" * offset + raw)[skip:full]
            if len(inner) >= 4:  # shorter pieces would match ordinary text
                found.add(inner)
    for text in (
        quote(value, safe=""),
        quote(value),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        _go_json(value),
    ):
        found.add(text.encode("utf-8", "surrogateescape"))
        found.add(text.replace("/", "\\/").encode("utf-8", "surrogateescape"))
    return found


#: What Go's encoding/json escapes beyond Python's json.dumps (its default, HTML-safe).
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _go_json(value: str) -> str:
    """``value`` as Go's ``json.Marshal`` writes it inside a string (HTML-safe escapes)."""
    text = json.dumps(value, ensure_ascii=False)[1:-1]
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


class Redactor:
    """Replace secret values in a byte stream, one chunk at a time.

    ``secrets`` maps a name to its value (or lists ``(name, value)`` pairs, a name may
    come more than once); values shorter than :data:`MIN_LENGTH` are ignored.
    Each match becomes ``b"***"``, or ``b"<NAME>"`` with ``names=True``. Feed chunks with
    :meth:`feed`; call :meth:`flush_idle` when the source is quiet and :meth:`close` at its end.
    """

    def __init__(
        self, secrets: Mapping[str, str] | Iterable[tuple[str, str]], *, names: bool = False
    ) -> None:
        table: dict[bytes, bytes] = {}
        pairs = secrets.items() if isinstance(secrets, Mapping) else secrets
        for name, value in sorted(pairs):
            if len(value) < MIN_LENGTH:
                continue
            label = f"<{_label(name)}>".encode() if names else b"***"
            for needle in needles(value):
                table.setdefault(needle, label)
        self._table = table
        self._tail = b""
        self._shown = 0  # how many leading bytes of _tail were already written out
        if not table:
            self._longest = 0
            self._scan: tuple[bytes, ...] = ()
            self._regex: re.Pattern[bytes] | None = None
            self._by_first: dict[bytes, tuple[bytes, ...]] = {}
            self._firsts: re.Pattern[bytes] | None = None
            return
        ordered = sorted(table, key=lambda n: (-len(n), n))
        self._longest = len(ordered[0])
        # Detection only needs the needles that contain no other needle.
        self._scan = tuple(n for n in ordered if not any(o != n and o in n for o in ordered))
        self._regex = re.compile(b"|".join(re.escape(n) for n in ordered))
        # The needles by their first byte, to find a tail that could start one (a set of
        # every prefix would take memory quadratic in the length: ~800 MB for a 12 KB value).
        by_first: dict[bytes, list[bytes]] = {}
        for n in ordered:
            by_first.setdefault(n[:1], []).append(n)
        self._by_first = {first: tuple(group) for first, group in by_first.items()}
        self._firsts = re.compile(b"[" + b"".join(re.escape(f) for f in by_first) + b"]")

    @property
    def active(self) -> bool:
        """Whether there is anything to redact."""
        return self._regex is not None

    @property
    def pending(self) -> bool:
        """Whether carried-over bytes have not been written out yet."""
        return self._shown < len(self._tail)

    def feed(self, data: bytes) -> bytes:
        """The redacted output that ``data`` (the next chunk) makes final."""
        return self._run(self._tail + data, final=False)

    def close(self) -> bytes:
        """The rest of the stream, at its end."""
        out = self._run(self._tail, final=True)
        self._tail, self._shown = b"", 0
        return out

    def flush_idle(self, *, force: bool = False, min_hold: int = MIN_HOLD) -> bytes:
        """What can be shown now that the source is quiet (see the module docstring):
        everything but a tail of at least ``min_hold`` bytes that could start a value
        (``min_hold=1`` when the source has just run dry: nothing that could start a value is
        shown yet), or everything with ``force``."""
        tail, shown = self._tail, self._shown
        if shown >= len(tail):
            return b""
        end = len(tail) if force else self._start_of_held(tail, max(1, min_hold))
        if end <= shown:
            return b""
        # The shown bytes stay in _tail (the matching window); only _shown moves.
        return self._run(tail, final=False, shown_until=end)

    def _start_of_held(self, tail: bytes, min_hold: int) -> int:
        """Where the longest end of ``tail`` (at least ``min_hold`` bytes, bytes already shown
        included) that could start a needle begins; ``len(tail)`` when there is none."""
        size = len(tail)
        if self._firsts is None:
            return size
        view = memoryview(tail)
        lo, hi = max(0, size - (self._longest - 1)), size - min_hold + 1
        # Leftmost first: the first start that fits gives the longest such end.
        for m in self._firsts.finditer(tail, lo, max(lo, hi)):
            at = m.start()
            rest = view[at:]
            if any(len(n) > len(rest) and n.startswith(rest) for n in self._by_first[m.group()]):
                return at
        return size

    def _run(self, buf: bytes, *, final: bool, shown_until: int | None = None) -> bytes:
        shown = self._shown
        regex = self._regex
        if regex is None:
            self._tail, self._shown = b"", 0
            return buf[shown:]
        # A needle starting before `limit` fits in `buf`: every decision there is final.
        limit = len(buf) if final else max(0, len(buf) - (self._longest - 1))
        if shown_until is not None:
            limit = shown_until
        out: list[bytes] = []
        done = shown  # bytes of `buf` written out (as themselves or as a label) so far
        if any(n in buf for n in self._scan):
            m = regex.search(buf)
            while m is not None and m.start() < limit:
                start, end = m.start(), m.end()
                label = self._table.get(m.group(), b"***")
                # Needles that overlap this match (one value a part of another, or sharing
                # a part with it): the union is replaced, else the rest of one would show.
                m = regex.search(buf, start + 1)
                while m is not None and m.start() < end:
                    end = max(end, m.end())
                    m = regex.search(buf, m.start() + 1)
                if start > done:
                    out.append(buf[done:start])
                if end > done:  # also the rest of a value whose start was already shown
                    out.append(label)
                done = max(done, end)
        if limit > done:
            out.append(buf[done:limit])
            done = limit
        if shown_until is not None:
            # Idle flush: keep the whole window for matching, mark what was written.
            self._tail, self._shown = buf, done
        else:
            # The carried-over bytes start at `limit` (at most longest - 1 of them); those of
            # a match that reached past it count as shown, so that a needle overlapping them
            # is still replaced.
            self._tail, self._shown = buf[limit:], done - limit
        return b"".join(out)


def _label(name: str) -> str:
    from secretsafe.dotenv import shown_name

    shown = shown_name(name)
    return shown if shown == name else "secret"
