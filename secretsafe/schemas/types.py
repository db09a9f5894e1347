"""Secret-aware field types for settings schemas.

Each type is an ``Annotated`` alias usable in any pydantic model. Their errors carry a stable
error type (``secret_too_short``, ``secret_weak``, ``secret_entropy``, ``url_scheme``,
``url_invalid``) and a message built from the schema's constraints only, never from the input.

    from secretsafe.schemas import SecretString, Url, Port

    class Auth(BaseModel):
        jwt_secret_key: SecretString(min_bytes=32)
    class Database(BaseModel):
        url: Url(schemes=("postgres", "postgresql"), secret=True)
        port: Port = 5432
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = [
    "WEAK_VALUES",
    "Port",
    "SecretString",
    "Url",
    "is_weak",
    "shannon_bits",
]

#: Placeholders and well-known weak values (compared case-insensitively, ignoring - _ and
#: spaces). Includes values copied from documentation and sample files.
WEAK_VALUES: frozenset[str] = frozenset(
    {
        "changeme",
        "changeit",
        "change",
        "password",
        "passw0rd",
        "password1",
        "password123",
        "secret",
        "secretkey",
        "mysecret",
        "mysecretkey",
        "yoursecretkey",
        "yoursecretkeyhere",
        "supersecret",
        "supersecretkey",
        "jwtsecret",
        "admin",
        "administrator",
        "root",
        "toor",
        "test",
        "testing",
        "example",
        "default",
        "letmein",
        "qwerty",
        "123456",
        "12345678",
        "1234567890",
        "postgres",
        "guest",
        "dev",
        "development",
        "token",
        "apikey",
        "xxx",
        "xxxx",
        "xxxxxxxx",
        "todo",
        "fixme",
        "replaceme",
        "placeholder",
        "insertsecrethere",
        "notasecret",
        "thisisnotasecret",
        "s3cr3t",
        "hunter2",
    }
)

_PLACEHOLDER = re.compile(
    r"""^(?:<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|%[^%]*%|(.)\1{3,}|(?:change|replace)[-_ ]?me.*)$""",
    re.IGNORECASE,
)


def _normalise(value: str) -> str:
    return re.sub(r"[-_ .]", "", value.strip().lower())


def is_weak(value: str) -> bool:
    """True for placeholders (``<...>``, ``${...}``, ``xxxx``, ``changeme...``) and
    well-known weak values."""
    return _normalise(value) in WEAK_VALUES or bool(_PLACEHOLDER.match(value.strip()))


def shannon_bits(value: str) -> float:
    """Estimated entropy of ``value`` in bits: length times Shannon entropy per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    per_char = -sum(c / n * math.log2(c / n) for c in counts.values())
    return per_char * n


def _reveal(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value)


def _secret_checker(*, min_bytes: int | None, reject_weak: bool, min_entropy: float | None) -> Any:
    def check(value: Any) -> Any:
        raw = _reveal(value)
        if min_bytes is not None and len(raw.encode("utf-8")) < min_bytes:
            raise PydanticCustomError(
                "secret_too_short",
                "must be at least {min_bytes} bytes long",
                {"min_bytes": min_bytes},
            )
        if reject_weak and is_weak(raw):
            raise PydanticCustomError(
                "secret_weak", "is a placeholder or a well-known weak value", {}
            )
        if min_entropy is not None and shannon_bits(raw) < min_entropy:
            raise PydanticCustomError(
                "secret_entropy",
                "is too predictable (needs about {min_entropy:.0f} bits of entropy)",
                {"min_entropy": min_entropy},
            )
        return value

    return check


def SecretString(  # noqa: N802 - reads as a type in annotations
    *,
    min_bytes: int | None = None,
    reject_weak: bool = True,
    min_entropy: float | None = None,
    description: str | None = None,
) -> Any:
    """A :class:`pydantic.SecretStr` (printed masked) with a minimum length in UTF-8 bytes,
    rejection of placeholders/weak values and an optional entropy floor in bits."""
    schema: dict[str, Any] = {"type": "string", "writeOnly": True, "format": "password"}
    if min_bytes is not None:
        schema["x-min-bytes"] = min_bytes
    return Annotated[
        SecretStr,
        AfterValidator(
            _secret_checker(min_bytes=min_bytes, reject_weak=reject_weak, min_entropy=min_entropy)
        ),
        WithJsonSchema(schema),
        Field(description=description, json_schema_extra={"secret": True}),
    ]


def _url_checker(schemes: tuple[str, ...] | None, require_host: bool) -> Any:
    def check(value: Any) -> Any:
        raw = _reveal(value)
        try:
            parts = urlsplit(raw)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            raise PydanticCustomError("url_invalid", "is not a valid URL", {}) from None
        if not parts.scheme or (require_host and not parts.hostname):
            raise PydanticCustomError(
                "url_invalid", "is not a valid URL (expected scheme://host...)", {}
            )
        if schemes is not None and parts.scheme.lower() not in schemes:
            raise PydanticCustomError(
                "url_scheme",
                "must be a URL with scheme {schemes}",
                {"schemes": ", ".join(schemes)},
            )
        return value

    return check


def Url(  # noqa: N802 - reads as a type in annotations
    *,
    schemes: Iterable[str] | None = None,
    secret: bool = False,
    require_host: bool = True,
    description: str | None = None,
) -> Any:
    """A URL or DSN string with allowed schemes. ``secret=True`` makes it a
    :class:`~pydantic.SecretStr` (for DSNs that embed a password)."""
    allowed = tuple(s.lower() for s in schemes) if schemes is not None else None
    base: Any = SecretStr if secret else str
    schema: dict[str, Any] = {"type": "string", "format": "uri"}
    if allowed:
        schema["x-schemes"] = list(allowed)
    if secret:
        schema["writeOnly"] = True
    return Annotated[
        base,
        AfterValidator(_url_checker(allowed, require_host)),
        WithJsonSchema(schema),
        Field(description=description, json_schema_extra={"secret": True} if secret else None),
    ]


#: A TCP/UDP port number.
Port = Annotated[int, Field(ge=1, le=65535)]
