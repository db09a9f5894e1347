"""The sops dotenv store: text to items and metadata lines, and back, with its key rules.

As sops 3.11 ``stores/dotenv/store.go`` does: the text is split on ``\\n`` only (a carriage
return is part of a line); empty lines are dropped; ``#...`` is a comment; otherwise the key is
everything before the first ``=`` (any text sops accepts: ``has space``, ``1ABC``, ``a:b``,
non-ASCII, a leading UTF-8 BOM) and the value everything after, with the two characters ``\\n``
meaning a newline. Keys starting with ``sops_`` are metadata (see ``metadata.py``).

The ambiguity of ``\\n`` is the format's: a value holding a backslash followed by ``n`` cannot
be stored in plaintext, and ``sops decrypt`` prints one ambiguously. Encrypted values hold any
text (the escape applies to the ``ENC[...]`` text, which has no backslash).
"""

from __future__ import annotations

from secretsafe.errors import FormatError, IntegrityError
from secretsafe.sops.model import Comment, Entry, Item

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "PREFIX",
    "RawItem",
    "check_items",
    "check_keys",
    "decode_value",
    "emit",
    "encode_value",
    "is_encrypted",
    "parse_plaintext",
    "split",
    "to_plaintext",
]

PREFIX = "sops_"
#: ``(line number, key or None for a comment, raw text after '=' or '#')``
RawItem = tuple[int, str | None, str]


def _where(path: str | None) -> str:
    return path or "<input>"


def decode_value(raw: str) -> str:
    return raw.replace("\\n", "\n")


def encode_value(value: str) -> str:
    return value.replace("\n", "\\n")


def split(text: str, path: str | None) -> tuple[list[RawItem], dict[str, str]]:
    """Data items and the metadata map (names without ``sops_``, values with real newlines)."""
    items: list[RawItem] = []
    meta: dict[str, str] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        if line[0] == "#":
            items.append((lineno, None, line[1:]))
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise FormatError(
                f"{_where(path)}:{lineno}: not a KEY=VALUE line",
                hint="sops dotenv files hold one KEY=VALUE a line; restore the file",
            )
        if key.startswith(PREFIX):
            name = key[len(PREFIX) :]
            if name in meta:
                raise IntegrityError(
                    f"{_where(path)}:{lineno}: metadata line {key} appears twice",
                    hint="the file was altered; restore it from version control",
                )
            meta[name] = decode_value(value)
        else:
            items.append((lineno, key, value))
    if any(v.endswith("\r") for v in meta.values()):
        # A carriage return inside a value is data (sops keeps it), but one at the end of every
        # metadata line means the whole file was converted to CRLF: sops fails on it too.
        raise FormatError(
            f"{_where(path)}: the file has Windows line endings (CRLF); sops cannot read it either",
            hint="convert it to LF line endings (dos2unix, or git config core.autocrlf false)",
        )
    return items, meta


def is_encrypted(text: str) -> bool:
    """True if any line's key starts with ``sops_`` (what sops checks before encrypting)."""
    return any(line.startswith(PREFIX) and "=" in line for line in text.split("\n"))


def emit(lines: Sequence[tuple[str | None, str]], metadata: Sequence[str]) -> str:
    """The file: ``(key or None for a comment, stored text)`` lines, then metadata lines."""
    out = [f"#{text}" if key is None else f"{key}={text}" for key, text in lines]
    out += metadata
    return "\n".join(out) + "\n"


def to_plaintext(items: Sequence[Item]) -> str:
    """Exactly what ``sops decrypt --output-type dotenv`` prints for these items."""
    out = []
    for item in items:
        if isinstance(item, Comment):
            out.append(f"#{item.text}\n")
        else:
            out.append(f"{item.key}={encode_value(item.value)}\n")
    return "".join(out)


def parse_plaintext(text: str) -> tuple[Item, ...]:
    """Read sops' plaintext dotenv output back into items (ambiguous for a value holding a
    backslash followed by ``n``, which comes back as a newline)."""
    items: list[Item] = []
    for _, key, raw in split(text, "sops output")[0]:
        items.append(Comment(raw) if key is None else Entry(key, decode_value(raw)))
    return tuple(items)


def check_keys(items: Sequence[Item]) -> None:
    """Refuse keys the sops dotenv format cannot hold, reserved ``sops_`` keys, duplicates and
    comments with a line break: the store's key rules, for every backend and command.

    A key that fails may be a value typed in the wrong place: messages show it only through
    :func:`secretsafe.dotenv.shown_name`."""
    from secretsafe.dotenv import shown_name

    seen: set[str] = set()
    for n, item in enumerate(items, start=1):
        if isinstance(item, Comment):
            if "\n" in item.text or "\r" in item.text:
                raise FormatError(f"item {n}: a comment holds a line break; sops cannot store it")
            continue
        key = item.key
        if not key or "=" in key or "\n" in key or "\r" in key or key.startswith("#"):
            raise FormatError(
                f"item {n}: {shown_name(key)} is not a key the sops dotenv format can hold",
                hint="keys must be non-empty, without '=', line breaks or a leading '#'",
            )
        if key.startswith(PREFIX):
            raise FormatError(
                f"item {n}: {shown_name(key)}: keys starting with sops_ are reserved for sops "
                "metadata",
                hint="rename the variable",
            )
        if key in seen:
            raise FormatError(f"{shown_name(key)} appears twice", hint="keep one definition")
        seen.add(key)


def check_items(items: Sequence[Item]) -> None:
    """:func:`check_keys`, and values that would not come back unchanged from ``sops decrypt``
    or ``sops edit`` (:func:`secretsafe.dotenv.check_sops_representable`)."""
    from secretsafe.dotenv import check_sops_representable

    check_keys(items)
    for item in items:
        if isinstance(item, Entry):
            check_sops_representable(item.key, item.value)
