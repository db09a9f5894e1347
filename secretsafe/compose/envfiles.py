"""Reading a service's ``env_file`` entries with line numbers.

Plaintext files are parsed as docker compose parses them (:mod:`secretsafe.compose.envparse`,
a port of compose-go's dotenv parser: its leniency, its quoting); values keep their
``${VAR}`` templates, interpolated per service by
:func:`~secretsafe.compose.service.service_environment`. SOPS-encrypted files (``.env.enc``)
are recognised by their content; their names and lines are readable without a key (sops leaves
names in the clear), and their values are decrypted in memory only when the caller asks; a
decrypted value is a template as an unquoted plaintext value is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from secretsafe.errors import ComposeError, SecretsafeError

__all__ = ["EnvEntry", "EnvFileContent", "encrypted_names", "read_env_file", "reading_as"]

_T = TypeVar("_T")


class EnvEntry(NamedTuple):
    """``name`` set on ``line``; ``value`` is ``None`` for an encrypted file read without
    decrypting. ``value`` is the text before interpolation; ``mode`` says how it becomes the
    value (:data:`secretsafe.compose.envparse.TEMPLATE`, ``LITERAL`` or ``INHERITED``)."""

    name: str
    value: str | None
    line: int
    mode: str = "template"

    def __repr__(self) -> str:
        return f"EnvEntry({self.name!r}, line={self.line})"


class EnvFileContent(NamedTuple):
    path: str
    exists: bool
    encrypted: bool
    entries: tuple[EnvEntry, ...]


def encrypted_names(text: str) -> list[tuple[str, int]]:
    """The variable names of a sops dotenv file, with their lines (metadata excluded)."""
    out: list[tuple[str, int]] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line or line.startswith("#") or "=" not in line:
            continue
        name = line.split("=", 1)[0]
        if not name.startswith("sops_"):
            out.append((name, lineno))
    return out


def reading_as(path: str, display: str, read: Callable[[], _T]) -> _T:
    """``read()``, with errors naming the file as ``display`` instead of ``path``.

    For a file whose path came from interpolation (``env_file: ${X}.env``): ``path`` holds the
    value, ``display`` the template. The file layers put the path at known places of their
    messages; a message that still holds the file name after the swap is replaced whole.
    """
    if path == display:
        return read()
    failed: SecretsafeError | None = None
    try:
        return read()
    except SecretsafeError as exc:
        failed = exc
    # Raised outside the except block: the original must not even be the __context__.
    raise _renamed(failed, path, display)


def _renamed(exc: SecretsafeError, path: str, display: str) -> SecretsafeError:
    # The parts of the path that interpolation made (not in the template) must not remain.
    shown_parts = set(display.split(os.sep))
    made = [p for p in path.split(os.sep) if p and p not in shown_parts]

    def swap(text: str | None) -> str | None:
        if text is None:
            return None
        text = text.replace(path, display)
        return None if any(p in text for p in made) else text

    message = swap(exc.message)
    if message is None:
        message = f"{display}: cannot be read ({type(exc).__name__})"
    return type(exc)(message, hint=swap(exc.hint))


def read_env_file(
    path: str | os.PathLike[str],
    *,
    display: str | None = None,
    decrypt: bool = True,
    format: str | None = None,
) -> EnvFileContent:
    """The entries of one env file; ``exists=False`` (no entries) when it is missing.
    ``display``: how entries and errors name the file (default: ``path``). ``format``: the
    ``env_file`` entry's ``format`` (``None``: compose's dotenv dialect; ``"raw"``:
    ``KEY=VALUE`` lines taken as written, as docker compose reads them)."""
    shown = display if display is not None else os.fspath(path)
    if format not in (None, "", "raw"):
        raise ComposeError(
            f"{shown}: unsupported env_file format (docker compose knows env and raw)",
            hint="drop format:, or use format: raw",
        )
    raw = format == "raw"
    return reading_as(os.fspath(path), shown, lambda: _read(path, shown, decrypt=decrypt, raw=raw))


def _raw_entries(text: str, shown: str) -> tuple[EnvEntry, ...]:
    """docker compose's ``format: raw``: a ``KEY=VALUE`` a line, leading whitespace and
    ``#`` lines skipped, a line without ``=`` ignored, the value as written; a name holding
    whitespace is refused (compose refuses the file)."""
    out: list[EnvEntry] = []
    for lineno, text_line in enumerate(text.split("\n"), start=1):
        line = text_line.removesuffix("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if not eq:
            continue
        if any(c.isspace() for c in key):
            raise ComposeError(
                f"{shown}:{lineno}: a variable name holds whitespace, which docker compose "
                "refuses in a raw env file",
                hint="write KEY=VALUE with nothing around the name",
            )
        out.append(EnvEntry(key, value, lineno, "literal"))
    return tuple(out)


def _read(
    path: str | os.PathLike[str], shown: str, *, decrypt: bool, raw: bool = False
) -> EnvFileContent:
    from secretsafe.files import read_text
    from secretsafe.sops import is_encrypted

    if not os.path.exists(path):
        return EnvFileContent(shown, False, False, ())
    text = read_text(path, what="env file")
    if is_encrypted(text):
        names = encrypted_names(text)
        if not decrypt:
            return EnvFileContent(
                shown, True, True, tuple(EnvEntry(n, None, ln) for n, ln in names)
            )
        from secretsafe.sops import decrypt_text

        values = decrypt_text(text, path=path).values
        mode = "literal" if raw else "template"
        entries = tuple(EnvEntry(n, values.get(n), ln, mode) for n, ln in names if n in values)
        return EnvFileContent(shown, True, True, entries)
    if raw:
        return EnvFileContent(shown, True, False, _raw_entries(text, shown))
    from secretsafe.compose.envparse import parse

    lines = parse(text, path=shown)
    return EnvFileContent(
        shown, True, False, tuple(EnvEntry(i.name, i.text, i.line, i.mode) for i in lines)
    )
