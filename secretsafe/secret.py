"""Masked containers for secret values.

Values travel as these types so that a stray ``print``, log call, f-string or traceback shows
a mask, never the value. Reading a value is explicit: ``secret.reveal()`` or ``values[name]``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping

__all__ = ["Secret", "SecretValues", "fingerprint"]

_MASK = "**********"


def fingerprint(value: str) -> str:
    """A short, non-reversible tag for reports: enough to tell two values apart, not to guess
    one (salted so it cannot be looked up in a table of common passwords' plain hashes)."""
    return hashlib.sha256(b"secretsafe-fp:" + value.encode("utf-8")).hexdigest()[:12]


class Secret:
    """One secret value. ``str()``/``repr()``/format show a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Pickling is explicit reveal-by-copy; keep it working for multiprocessing.
        return (Secret, (self._value,))


class SecretValues(Mapping[str, str]):
    """An ordered name -> value mapping whose repr lists names only.

    Indexing returns the plain ``str`` (that is the explicit reveal); ``repr``/``str`` never do.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self._data: dict[str, str] = dict(data or {})

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"SecretValues(names={list(self._data)!r})"

    __str__ = __repr__

    def reveal(self) -> dict[str, str]:
        """A plain dict copy of the values (explicit)."""
        return dict(self._data)
