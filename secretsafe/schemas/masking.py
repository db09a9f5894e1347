"""Masked ``repr``/``str`` for settings models: the rule of :class:`MaskedRepr`.

A value is shown masked when :func:`secretsafe.secret.is_secret_name` calls its name secret
(``secret_key``, ``jwt_secret_key``, ``aws_secret_access_key``, ``password``, ...), whatever
its type, at every depth: in nested sections (pydantic models, dataclasses), lists and dicts
(a dict key is a name). ``SecretStr``/``SecretBytes``/``Secret`` mask themselves. The
password of a URL (``redis://:PASSWORD@host``) is masked whatever the name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from secretsafe.secret import Secret, is_secret_name

__all__ = ["MaskedRepr", "masked"]

_MASK = "**********"


class _Masked:
    """Stands in for a value in a repr: prints like a masked string."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(_MASK)


_MASKED = _Masked()
# Values that carry no secret or mask themselves.
_SHOWN = (bool, SecretStr, SecretBytes, Secret, type(None))


class _ReprOf:
    """A nested model or dataclass, shown as ``Name(field=..., ...)`` with masking."""

    __slots__ = ("_args", "_name")

    def __init__(self, name: str, args: Iterator[tuple[str | None, Any]]) -> None:
        self._name = name
        self._args = list(args)

    def __repr__(self) -> str:
        inner = ", ".join(repr(v) if k is None else f"{k}={v!r}" for k, v in self._args)
        return f"{self._name}({inner})"


def masked(name: str | None, value: Any) -> Any:
    """``value`` as a repr may show it: masked when ``name`` is a secret's name, else with
    its parts masked by their own names."""
    if isinstance(value, _SHOWN):
        return value
    if name is not None and is_secret_name(name):
        return _MASKED
    if isinstance(value, str):
        return _url_without_password(value)
    if isinstance(value, BaseModel):
        return _ReprOf(type(value).__name__, _masked_args(value.__repr_args__()))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        pairs = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr)
        return _ReprOf(type(value).__name__, _masked_args(pairs))
    if isinstance(value, Mapping):
        return {k: masked(k if isinstance(k, str) else None, v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        # Items of a collection are named by it: a non-secret name's items keep their own.
        return type(value)(masked(None, v) for v in value)
    return value


def _url_without_password(text: str) -> str:
    if "://" not in text or "@" not in text:
        return text  # the common case, without parsing
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return text
    if not password:
        return text
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:{_MASK}@{hostinfo}").geturl()


def _masked_args(args: Any) -> Iterator[tuple[str | None, Any]]:
    for name, value in args:
        yield name, masked(name, value)


class MaskedRepr(BaseModel):
    """A model whose ``repr``/``str`` mask secrets by name (see the module docstring). The
    base of :class:`~secretsafe.Settings` and of the building blocks; use it for your own
    sections too, so that ``repr(settings.section)`` is masked as well as ``repr(settings)``."""

    def __repr_args__(self) -> Any:
        return _masked_args(super().__repr_args__())
