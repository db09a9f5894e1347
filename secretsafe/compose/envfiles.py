"""Reading a service's ``env_file`` entries with line numbers.

Plaintext files are parsed by :func:`secretsafe.dotenv.parse` (compose's dotenv dialect, see
that module for the few differences). SOPS-encrypted files (``.env.enc``) are recognised by
their content; their names and lines are readable without a key (sops leaves names in the
clear), and their values are decrypted in memory only when the caller asks.
"""

from __future__ import annotations

import os
from typing import NamedTuple

__all__ = ["EnvEntry", "EnvFileContent", "encrypted_names", "read_env_file"]


class EnvEntry(NamedTuple):
    """``name`` set on ``line``; ``value`` is ``None`` for an encrypted file read without
    decrypting."""

    name: str
    value: str | None
    line: int

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


def read_env_file(
    path: str | os.PathLike[str], *, display: str | None = None, decrypt: bool = True
) -> EnvFileContent:
    """The entries of one env file; ``exists=False`` (no entries) when it is missing."""
    from secretsafe.files import read_text
    from secretsafe.sops import is_encrypted

    shown = display if display is not None else os.fspath(path)
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
        entries = tuple(EnvEntry(n, values.get(n), ln) for n, ln in names if n in values)
        return EnvFileContent(shown, True, True, entries)
    from secretsafe import dotenv

    items = dotenv.parse(text, path=shown)
    return EnvFileContent(
        shown,
        True,
        False,
        tuple(EnvEntry(i.key, i.value, i.line) for i in items if isinstance(i, dotenv.Assignment)),
    )
