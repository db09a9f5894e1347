"""Env files read exactly as docker compose reads them: compose-go's ``dotenv`` dialect, with
``${VAR}`` interpolation.

This is the one rule set for ``${VAR}`` inside env files. It serves every source:

- the project ``.env`` of a compose project (:func:`secretsafe.compose.loader.load_project`):
  references see the process environment first, then earlier lines (compose-go
  ``GetEnvFromFile``);
- a service's ``env_file`` entries (:func:`secretsafe.compose.service.service_environment`):
  references see the project environment (process + ``.env``), then the service's
  ``environment:`` entries, then the lines of this and earlier env files of the service
  (compose-go ``WithServicesEnvironmentResolved``);
- decrypted ``.env.enc`` values (``secretsafe run -f``, and encrypted ``env_file`` entries):
  sops stores values raw, so each is read as an unquoted value (:func:`expand_values`);
- a plain ``.env`` read by another layer (``secretsafe.load``): :func:`expand_values` on the
  values in file order, with the environment as ``lookup``.

Parsing (:func:`parse`) is a line-for-line port of compose-go ``dotenv/parser.go``; it is as
lenient as compose: a bare ``KEY`` line inherits the value from the sources (and is skipped
when they have none), ``KEY: VALUE`` is ``KEY=VALUE``, names are any letters, digits and
``_ . - [ ]`` (``456``, ``a[1]``, ``a.b``, non-ASCII), a UTF-8 BOM is dropped, text after a
closing quote starts a new statement. What compose itself refuses is refused here too
(:class:`~secretsafe.errors.DotenvSyntaxError` with the file and line, never the text):
a space inside a name, a character outside those, an unterminated quote.

Quoting, as compose: single quotes are literal (``\\'`` is a quote); double quotes understand
``\\n \\t \\r \\" \\\\ \\$ \\a \\b \\f \\v \\0ooo`` and are then interpolated (``\\$`` is a
literal ``$``); unquoted values stop at `` #`` and lose trailing whitespace, then are
interpolated. ``$$`` is a literal ``$``. Interpolation syntax and its quirks are those of
:mod:`secretsafe.compose.interpolate`. A reference that no source sets becomes ``""`` (compose
warns); ``${VAR:?msg}`` unmet makes compose refuse to start: both are returned as
:class:`~secretsafe.compose.interpolate.Ref` for the caller to report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import NamedTuple

from secretsafe.compose.interpolate import Ref, interpolate
from secretsafe.errors import DotenvSyntaxError

__all__ = ["Chain", "EnvLine", "Expanded", "expand", "expand_values", "parse"]

#: How a line's text becomes its value.
TEMPLATE = "template"  # interpolated (unquoted, or double-quoted after escapes)
LITERAL = "literal"  # single-quoted: as written
INHERITED = "inherited"  # a bare ``KEY``: from the sources, or not set at all


class EnvLine(NamedTuple):
    """One statement of an env file: ``name`` on ``line`` with ``text`` to expand (``mode``).
    ``text`` may be a secret: never in a message."""

    name: str
    text: str
    line: int
    mode: str = TEMPLATE

    def __repr__(self) -> str:
        return f"EnvLine({self.name!r}, line={self.line}, mode={self.mode!r})"


class Expanded(NamedTuple):
    """One line after interpolation: ``value`` is ``None`` for a bare ``KEY`` that no source
    sets (compose leaves it out). ``refs``: the references met (unset ones, failed ``:?``)."""

    name: str
    value: str | None
    line: int
    refs: tuple[Ref, ...] = ()

    def __repr__(self) -> str:
        return f"Expanded({self.name!r}, line={self.line}, refs={self.refs!r})"


# Go's unicode.IsSpace for Latin-1 (Python's str.isspace also counts \x1c-\x1f).
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0")
# compose-go isSpace: a space but not a line break.
_SPACE = frozenset("\t\v\f\r \x85\xa0")
_TRIM = "".join(_GO_SPACE)  # Go's TrimRightFunc(unicode.IsSpace), Latin-1 part
_EXPORT = re.compile(r"export[\t\n\f\r ]+")
_ESCAPE = re.compile(r'\\(?:[abcfnrtv$"\\]|0[0-9]{0,3})')
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "\\": "\\",
}


def _is_go_space(ch: str) -> bool:
    return ch in _GO_SPACE if ch < "\u0100" else ch.isspace()


def _unescape(m: re.Match[str]) -> str:
    """compose-go ``expandEscapes``: Go's ``strconv.UnquoteChar`` on the match, which keeps
    the match as written when it is not a valid escape (``\\0`` without 3 octal digits)."""
    esc = m.group(0)
    ch = esc[1]
    if ch == "$":
        return "$$"  # a literal $ for the interpolation that follows
    if ch != "0":
        return _SIMPLE_ESCAPES[ch]
    # compose rewrites "\\0..." to "\\..." for Go's UnquoteChar, which needs exactly three
    # octal digits and a byte value; when it fails, the rewritten text stays.
    digits = esc[2:]
    if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) <= 0o377:
        return chr(int(digits, 8))
    return "\\" + digits


def _syntax(path: str | None, line: int, message: str, hint: str) -> DotenvSyntaxError:
    return DotenvSyntaxError(message, path=path, line=line, hint=hint)


_NAME_HINT = (
    "docker compose reads names of letters, digits, '_', '.', '-', '[' and ']'; "
    "fix the name or quote the value"
)


def parse(text: str, *, path: str | None = None) -> list[EnvLine]:
    """The statements of env-file ``text`` in order, as compose-go's parser reads them (a
    name given twice appears twice: the later line wins when expanded)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    out: list[EnvLine] = []
    n = len(text)
    pos = 0
    line, counted = 1, 0  # the line at ``counted``: lines are counted once, not per statement
    while True:
        # getStatementStart: skip whitespace and full-line comments.
        while pos < n:
            while pos < n and _is_go_space(text[pos]):
                pos += 1
            if pos < n and text[pos] == "#":
                eol = text.find("\n", pos)
                pos = n if eol == -1 else eol
                continue
            break
        if pos >= n:
            return out
        line += text.count("\n", counted, pos)
        counted = pos
        if _EXPORT.match(text, pos) is not None:
            pos += len("export")  # then spaces, not line breaks (compose-go)
            while pos < n and text[pos] in _SPACE:
                pos += 1
        # locateKeyName
        start = pos
        end = -1
        sep = ""
        i = pos
        while i < n:
            ch = text[i]
            if ch in _SPACE:
                i += 1
                continue
            if ch in "=:\n":
                end, sep = i, ch
                break
            if ch in "_.-[]" or ch.isalpha() or ch.isnumeric():
                i += 1
                continue
            # The column, not the character: the line may be a value pasted without a name.
            column = i - (text.rfind("\n", 0, i) + 1) + 1
            raise _syntax(
                path, line, f"unexpected character in a variable name (column {column})", _NAME_HINT
            )
        if start >= n:
            raise _syntax(path, line, "expected a variable name", _NAME_HINT)
        if end == -1:
            # compose: the loop ran off the end without '=' - the name is empty and the
            # whole rest is read as its value.
            key, rest = "", start
        else:
            key, rest = text[start:end], end + 1
        key = key.rstrip(_TRIM)
        if " " in key:
            raise _syntax(path, line, "a variable name contains a space", _NAME_HINT)
        if sep == "\n":
            out.append(EnvLine(key, "", line, INHERITED))
            pos = rest
            continue
        while rest < n and text[rest] in _SPACE:
            rest += 1
        try:
            entry, pos = _value(text, rest, key, line)
        except ValueError:
            raise _syntax(
                path,
                line,
                f"unterminated {_QUOTE_NAMES[text[rest]]}-quoted value of {key}",
                "add the closing quote (docker compose refuses the file too)",
            ) from None
        out.append(entry)


_QUOTE_NAMES = {'"': "double", "'": "single"}


def _value(text: str, pos: int, key: str, line: int) -> tuple[EnvLine, int]:
    """extractVarValue: the line for ``key`` whose value starts at ``pos``, and the position
    after it. ``ValueError``: an unterminated quote."""
    quote = text[pos : pos + 1]
    if quote not in ("'", '"'):
        eol = text.find("\n", pos)
        raw = text[pos:] if eol == -1 else text[pos:eol]
        cut = raw.find(" #")
        if cut != -1:
            raw = raw[:cut]
        after = len(text) if eol == -1 else eol + 1
        return EnvLine(key, raw.rstrip(_TRIM), line), after
    chars: list[str] = []
    escaped = False
    i = pos + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != quote:
            if not escaped and ch == "\\":
                escaped = True
            else:
                if escaped:
                    escaped = False
                    chars.append("\\")
                chars.append(ch)
            i += 1
            continue
        if escaped:
            escaped = False
            chars.append(ch)
            i += 1
            continue
        value = "".join(chars)
        if quote == "'":
            return EnvLine(key, value, line, LITERAL), i + 1
        if "\\" in value:
            value = _ESCAPE.sub(_unescape, value)
        return EnvLine(key, value, line), i + 1
    raise ValueError(quote)


class Chain(Mapping[str, str]):
    """Two mappings searched in order: ``first``, then ``then`` (a view, not a copy: ``then``
    may grow while lines are expanded). Interpolation only calls ``get``."""

    __slots__ = ("first", "then")

    def __init__(self, first: Mapping[str, str], then: Mapping[str, str]) -> None:
        self.first = first
        self.then = then

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        value = self.first.get(key)
        if value is None:
            value = self.then.get(key)
        return default if value is None else value

    def __iter__(self) -> Iterator[str]:
        return iter({**self.then, **self.first})

    def __len__(self) -> int:
        return len({**self.then, **self.first})


def expand(
    lines: Iterable[EnvLine],
    *,
    lookup: Mapping[str, str],
    into: MutableMapping[str, str] | None = None,
    where: str = "<env file>",
) -> list[Expanded]:
    """Interpolate ``lines`` in order, as compose does: a reference is looked up in
    ``lookup`` first, then in ``into`` (what earlier lines, and earlier files sharing
    ``into``, set); each line then sets ``into[name]``. A bare ``KEY`` takes ``lookup``'s value
    only. Raises :class:`~secretsafe.errors.ComposeError` (``where`` and the line) for
    malformed ``${`` syntax, as compose refuses the file."""
    vars: MutableMapping[str, str] = into if into is not None else {}
    sources = Chain(lookup, vars)
    out: list[Expanded] = []
    for ln in lines:
        if ln.mode == INHERITED:
            value = lookup.get(ln.name)
            if value is not None:
                vars[ln.name] = value
            out.append(Expanded(ln.name, value, ln.line))
            continue
        if ln.mode == LITERAL or "$" not in ln.text:
            vars[ln.name] = ln.text
            out.append(Expanded(ln.name, ln.text, ln.line))
            continue
        result = interpolate(ln.text, sources, where=f"{where}:{ln.line}" if ln.line else where)
        vars[ln.name] = result.value
        out.append(Expanded(ln.name, result.value, ln.line, result.refs))
    return out


def expand_values(
    items: Iterable[tuple[str, str, int]],
    *,
    lookup: Mapping[str, str],
    into: MutableMapping[str, str] | None = None,
    where: str = "<env file>",
) -> list[Expanded]:
    """:func:`expand` for values that are already unquoted (``(name, value, line)``, e.g.
    decrypted from a sops file): each is interpolated as compose interpolates an unquoted
    value (``$$`` for a literal ``$``)."""
    return expand((EnvLine(k, v, ln) for k, v, ln in items), lookup=lookup, into=into, where=where)
