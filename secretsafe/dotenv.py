"""Read and write real-world ``.env`` files, with docker compose semantics where they are sane.

The reference is compose's own parser (``compose-spec/compose-go``, ``dotenv/parser.go``); the
choices below match it unless marked *differs*.

Syntax accepted
    - ``KEY=VALUE``, optionally prefixed by ``export`` and whitespace; whitespace around the key
      and around ``=`` is ignored. Names match ``[A-Za-z_][A-Za-z0-9_.-]*``.
    - Full-line comments (``# ...``, leading whitespace allowed) and blank lines.
    - Unquoted values run to the end of the line; leading and trailing whitespace is dropped; a
      ``#`` preceded by whitespace starts a comment (``FOO=a#b`` keeps ``a#b``). Backslashes are
      literal. *Differs*: compose only treats space-``#`` as a comment (not tab-``#``) and keeps
      ``FOO= #x`` as the value ``#x``; here both start a comment.
    - Single quotes are literal, except that ``\\'`` stands for a quote (as in compose). They may
      span lines.
    - Double quotes may span lines and understand ``\\n \\t \\r \\" \\\\ \\$`` plus compose's
      ``\\a \\b \\f \\v`` and octal ``\\0ooo``; any other backslash pair is kept as written
      (``"\\x"`` is two characters, as in compose).
    - After a closing quote only whitespace and a ``#`` comment may follow.
    - CRLF line endings (the file's ``\\r\\n`` become ``\\n``, inside quotes too). A UTF-8 BOM is
      dropped by :func:`secretsafe.files.read_text`.

Differences from compose, on purpose
    - No ``${VAR}`` interpolation: values are literal, as sops stores them (``$$`` stays ``$$``).
      ``\\$`` inside double quotes is still a literal ``$``, so files work for both. Reading a
      file the way compose reads it (its leniency, and interpolation from the environment and
      earlier lines) is :mod:`secretsafe.compose.envparse` (``parse``, ``expand``,
      ``expand_values``): the one rule set for compose checks, ``secretsafe run -f`` and any
      other source that wants compose's ``${VAR}`` semantics.
    - Duplicate names are refused with both line numbers; compose silently uses the last one.
    - A name without ``=`` (compose reads it from the environment), YAML-style ``KEY: value``
      and an empty name are refused as malformed.
    - NUL characters are refused: no environment variable can hold one.

Errors are :class:`~secretsafe.errors.DotenvSyntaxError` with the path and line number; they
never quote the line, because a broken line is often part of a value.

:func:`dumps` writes ``KEY=value`` when a value needs no quoting (what ``sops decrypt`` prints
for plain values), single quotes when they hold the value literally, else double quotes with
escapes; compose reads its output back to the same values, and so does :func:`loads`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from secretsafe.errors import DotenvSyntaxError, FormatError
from secretsafe.secret import SecretValues

__all__ = [
    "Assignment",
    "CommentLine",
    "check_sops_representable",
    "dumps",
    "is_valid_name",
    "load",
    "loads",
    "looks_like_credential",
    "parse",
    "shown_name",
]


@dataclass(frozen=True, slots=True)
class Assignment:
    """``KEY=VALUE``; ``line`` is the 1-based line of the key. The repr hides the value."""

    key: str
    value: str = field(repr=False)
    line: int = 0


@dataclass(frozen=True, slots=True)
class CommentLine:
    """A full-line comment; ``text`` is everything after the ``#``."""

    text: str
    line: int = 0


Item = Assignment | CommentLine

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a variable name that :func:`loads` reads and :func:`dumps` writes."""
    return _NAME.match(name) is not None


def looks_like_credential(text: str) -> bool:
    """Whether ``text`` has the shape of a known credential (an age secret key, a cloud or
    Vault token, a JWT, a URL with a password). ``text`` is inspected, never returned."""
    from secretsafe.compose.findings import literal_secret_reason

    if text.strip().upper().startswith("AGE-SECRET-KEY-"):
        return True  # even cut short: the known-token rule wants the whole key
    # templated=True: only the shape of the text counts, not the (empty) name.
    return literal_secret_reason("", text, templated=True) is not None


def _random_looking(text: str) -> bool:
    # Names people type are words: UPPER_SNAKE, lower_snake, camelCase. A long run of mixed
    # case and digits, or of letters and digits with no separator, is a token or a hash.
    if len(text) < 20 or not any(c.isdigit() for c in text):
        return False
    mixed = any(c.islower() for c in text) and any(c.isupper() for c in text)
    return mixed or "_" not in text


def shown_name(name: str) -> str:
    """``name``, a variable name a user typed (argv), as a message may show it.

    It is shown only when it is a valid variable name that does not look like a credential
    or a random token; anything else may be a value typed in the wrong place (``KEY=value``,
    a pasted token) and is described instead. Every message that echoes a typed name goes
    through here, so none can quote a value.
    """
    if not is_valid_name(name):
        return "(a name that is not a valid variable name, not shown)"
    if looks_like_credential(name) or _random_looking(name):
        return "(a name that looks like a secret, not shown)"
    return name


# One statement: a blank line, a comment, or an assignment with its (possibly multi-line)
# value. Possessive quantifiers stop the regex from re-reading a broken quoted value as an
# unquoted one; anything that does not match goes to _diagnose for a precise message.
_STATEMENT = re.compile(
    r"""
    [ \t\f\v]*+
    (?:
        \#(?P<comment>[^\n]*+)
      | (?:export[ \t]++)?
        (?P<key>[A-Za-z_][A-Za-z0-9_.-]*+)[ \t]*+=(?P<ws>[ \t]*+)
        (?:
            '(?P<sq>[^'\\]*+(?:\\[\s\S][^'\\]*+)*+)'[ \t]*+(?:\#[^\n]*+)?
          | "(?P<dq>[^"\\]*+(?:\\[\s\S][^"\\]*+)*+)"[ \t]*+(?:\#[^\n]*+)?
          | (?!['"])(?P<raw>[^\n]*+)
        )
    )?
    [ \t\f\v]*+(?:\n|\Z)
    """,
    re.VERBOSE,
)
_INLINE_COMMENT = re.compile(r"[ \t]#")
_PAIR = re.compile(r"\\(0[0-7]{3}|[\s\S])")
_DQ_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "$": "$",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}
_QUOTED = {
    "'": re.compile(r"'[^'\\]*+(?:\\[\s\S][^'\\]*+)*+'"),
    '"': re.compile(r'"[^"\\]*+(?:\\[\s\S][^"\\]*+)*+"'),
}
_KEY_EQ = re.compile(r"[ \t\f\v]*(?:export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*")

_NAME_HINT = "names are ASCII letters, digits, '_', '.' and '-', and do not start with a digit"


def _dq_pair(m: re.Match[str]) -> str:
    esc = m.group(1)
    if len(esc) == 4:  # \0ooo, compose's octal form
        code = int(esc[1:], 8)
        return chr(code) if code <= 0o377 else m.group(0)
    return _DQ_ESCAPES.get(esc, m.group(0))


def _sq_pair(m: re.Match[str]) -> str:
    return "'" if m.group(1) == "'" else m.group(0)


def parse(text: str, *, path: str | None = None) -> list[Assignment | CommentLine]:
    """Parse ``.env`` text into assignments and full-line comments, in file order.

    Raises :class:`DotenvSyntaxError` (path and line, never the value) for a malformed line or
    a name set twice.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DotenvSyntaxError(
            "contains a NUL character",
            path=path,
            line=line,
            hint="environment variables cannot hold NUL; remove it",
        )
    items: list[Assignment | CommentLine] = []
    seen: dict[str, int] = {}
    line = 1
    # scanner().match() continues where the last match ended: contiguous statements, no gaps,
    # and no position bookkeeping in Python. (Undocumented but stable since Python 2.)
    next_statement = _STATEMENT.scanner(text).match  # type: ignore[attr-defined]
    pos, end = 0, len(text)
    while (m := next_statement()) is not None:
        comment, key, ws, sq, dq, raw = m.groups()
        if key is not None:
            if raw is not None:
                value = raw
                if "#" in value:
                    if value[0] == "#" and ws:
                        value = ""
                    else:
                        c = _INLINE_COMMENT.search(value)
                        if c is not None:
                            value = value[: c.start()]
                value = value.rstrip()
                lines = 1
            else:
                if sq is not None:
                    value = _PAIR.sub(_sq_pair, sq) if "\\" in sq else sq
                else:
                    value = _PAIR.sub(_dq_pair, dq) if "\\" in dq else dq
                    if "\x00" in value:
                        raise DotenvSyntaxError(
                            f"the value of {key} contains a NUL character (\\0000)",
                            path=path,
                            line=line,
                            hint="environment variables cannot hold NUL; remove it",
                        )
                lines = text.count("\n", m.start(), m.end())
            first = seen.get(key)
            if first is not None:
                raise DotenvSyntaxError(
                    f"duplicate variable {key} (first set on line {first})",
                    path=path,
                    line=line,
                    hint="secretsafe refuses duplicates; docker compose would silently use the "
                    "last one. Remove one of them",
                )
            seen[key] = line
            items.append(Assignment(key, value, line))
            line += lines
        else:
            if comment is not None:
                items.append(CommentLine(comment, line))
            line += 1
        pos = m.end()
        if pos == end:
            return items
    # The scanner stopped before the end: the statement at ``pos`` is malformed.
    raise _diagnose(text, pos, line, path)


def _diagnose(text: str, pos: int, line: int, path: str | None) -> DotenvSyntaxError:
    """The precise error for the statement at ``pos`` that did not parse."""
    eol = text.find("\n", pos)
    current = text[pos : eol if eol != -1 else len(text)]
    m = _KEY_EQ.match(current)
    if m is None:
        before, eq, _ = current.partition("=")
        if not eq:
            stripped = current.strip()
            if re.match(r"(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*:", stripped):
                msg, hint = "expected KEY=VALUE, found 'KEY: VALUE'", "write KEY=VALUE"
            else:
                msg, hint = (
                    "expected KEY=VALUE (no '=' on this line)",
                    ("a value that spans lines must be quoted; comments start with '#'"),
                )
        elif not before.strip() or before.strip() == "export":
            msg, hint = "missing variable name before '='", "write KEY=VALUE"
        else:
            msg, hint = "invalid variable name", _NAME_HINT
        return DotenvSyntaxError(msg, path=path, line=line, hint=hint)
    key = m.group("key")
    start = pos + m.end()
    quote = text[start : start + 1]
    if quote not in _QUOTED:  # pragma: no cover - an unquoted value always matches
        return DotenvSyntaxError(f"cannot parse the value of {key}", path=path, line=line)
    q = _QUOTED[quote].match(text, start)
    if q is None:
        return DotenvSyntaxError(
            f"unterminated {'single' if quote == chr(39) else 'double'}-quoted value of {key}",
            path=path,
            line=line,
            hint='add the closing quote; inside double quotes write \\" for a literal quote',
        )
    junk_line = line + text.count("\n", pos, q.end())
    where = f" (the value starts on line {line})" if junk_line != line else ""
    return DotenvSyntaxError(
        f"unexpected text after the closing quote of {key}{where}",
        path=path,
        line=junk_line,
        hint="only a '#' comment may follow a quoted value; quote the whole value",
    )


def loads(text: str, *, path: str | None = None) -> dict[str, str]:
    """Parse ``.env`` text into ``{name: value}`` in file order (duplicates are refused)."""
    return {i.key: i.value for i in parse(text, path=path) if isinstance(i, Assignment)}


def load(path: str | os.PathLike[str]) -> SecretValues:
    """Read and parse a ``.env`` file."""
    from secretsafe.files import read_text

    return SecretValues(loads(read_text(path, what=".env file"), path=os.fspath(path)))


_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DQ_TABLE = str.maketrans(
    {"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
)


def _quote(value: str) -> str:
    if not value or _PLAIN.match(value):
        return value
    if "'" not in value and value[-1] != "\\" and not _CONTROL.search(value):
        return f"'{value}'"
    return f'"{value.translate(_DQ_TABLE)}"'


def dumps(values: Mapping[str, str] | Iterable[Assignment | CommentLine]) -> str:
    """Serialize to ``.env`` text that :func:`loads` (and docker compose) read back unchanged.

    Values are quoted only when needed. Raises :class:`FormatError` for an invalid name, a name
    given twice, a NUL character in a value or a line break in a comment.
    """
    items: Iterable[Assignment | CommentLine | tuple[str, str]]
    items = values.items() if isinstance(values, Mapping) else values
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, CommentLine):
            if "\n" in item.text or "\r" in item.text:
                raise FormatError("a comment contains a line break", hint="split it into lines")
            out.append(f"#{item.text}\n")
            continue
        key, value = (item.key, item.value) if isinstance(item, Assignment) else item
        if not isinstance(key, str) or not is_valid_name(key):
            raise FormatError(f"invalid variable name {key!r}", hint=_NAME_HINT)
        if not isinstance(value, str):
            raise FormatError(f"the value of {key} is not a string")
        if key in seen:
            raise FormatError(f"variable {key} is given twice")
        seen.add(key)
        if "\x00" in value:
            raise FormatError(
                f"the value of {key} contains a NUL character",
                hint="environment variables cannot hold NUL; remove it",
            )
        out.append(f"{key}={_quote(value)}\n")
    return "".join(out)


_SOPS_HINT = (
    "sops stores dotenv values one per line and reads the two characters \\n back as a "
    "newline; store such a value base64-encoded"
)


def check_sops_representable(key: str, value: str) -> None:
    """Refuse a name or value that the SOPS dotenv format cannot hold losslessly.

    sops (``stores/dotenv/store.go``) splits the file on ``\\n``, takes the key up to the first
    ``=``, treats lines starting with ``#`` as comments, reserves names starting with ``sops_``
    for its metadata, writes a newline in a value as the two characters ``\\n`` and turns every
    ``\\n`` back into a newline when reading. So a value holding a backslash followed by ``n``
    comes back changed from ``sops decrypt`` / ``sops edit``. A carriage return survives inside
    sops, but ``sops decrypt`` and ``sops edit`` show it raw, where editors and git line-ending
    conversion drop it; it is refused too. Raises :class:`FormatError` naming the key, never
    the value.
    """
    shown = shown_name(key)  # the name may be a value typed in the wrong place
    if not key:
        raise FormatError("empty variable name", hint="give every value a name")
    if "=" in key or "\n" in key or "\r" in key or "\x00" in key:
        raise FormatError(
            f"variable name {shown} cannot be stored in a sops dotenv file",
            hint="names cannot contain '=' or line breaks",
        )
    if key.startswith("#"):
        raise FormatError(
            f"variable name {shown} starts with '#', which sops reads as a comment",
            hint="rename it",
        )
    if key.startswith("sops_"):
        raise FormatError(
            f"variable name {shown} starts with 'sops_', which sops reserves for its metadata",
            hint="rename it",
        )
    if "\\n" in value:
        raise FormatError(
            f"the value of {shown} contains a backslash followed by 'n', which sops would read "
            "back as a newline",
            hint=_SOPS_HINT,
        )
    if "\r" in value:
        raise FormatError(
            f"the value of {shown} contains a carriage return, which does not survive "
            "`sops decrypt` / `sops edit`",
            hint="convert CRLF line endings in the value to LF",
        )
    if "\x00" in value:
        raise FormatError(
            f"the value of {shown} contains a NUL character",
            hint="environment variables cannot hold NUL; remove it",
        )
