"""Masked containers for secret values.

Values travel as these types so that a stray ``print``, log call, f-string or traceback shows
a mask, never the value. Reading a value is explicit: ``secret.reveal()`` or ``values[name]``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Mapping  # a base class: needed at run time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Secret", "SecretValues", "fingerprint", "is_secret_name"]

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


# --- names that hold secrets ------------------------------------------------------------------
# One rule for every layer that has to guess from a name: compose and audit findings, and the
# artefacts generated from a schema (which must not print a default of `DB_PASSWORD: str`).
_SECRET_TOKENS = {
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PASSPHRASE",
    "SECRET",
    "SECRETS",
    "TOKEN",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "PRIVATEKEY",
    "DSN",
}
_SECRET_PAIRS = {
    ("API", "KEY"),
    ("ACCESS", "KEY"),
    ("PRIVATE", "KEY"),
    ("SECRET", "KEY"),
    ("AUTH", "KEY"),
    ("SIGNING", "KEY"),
    ("ENCRYPTION", "KEY"),
    ("MASTER", "KEY"),
    ("SESSION", "KEY"),
    ("LICENSE", "KEY"),
    ("APP", "KEY"),
    ("UNSEAL", "KEY"),
    ("JWT", "KEY"),
    ("HMAC", "KEY"),
    ("SSH", "KEY"),
    ("AGE", "KEY"),
    ("CLIENT", "KEY"),
    ("TLS", "KEY"),
    ("SSL", "KEY"),
    ("DEPLOY", "KEY"),
    ("WEBHOOK", "URL"),  # Slack/Discord webhook URLs are bearer credentials
}
# Plurals name collections of secrets (UNSEAL_KEYS, API_TOKENS): read them as the singular.
_SINGULAR = {"KEYS": "KEY", "TOKENS": "TOKEN", "PASSWORDS": "PASSWORD", "APIKEYS": "APIKEY"}
# A last word that makes the variable *about* a secret, not the secret itself.
_NOT_SECRET_TAIL = {
    "FILE",
    "FILES",
    "PATH",
    "DIR",
    "TTL",
    "EXPIRY",
    "EXPIRES",
    "EXPIRATION",
    "LIFETIME",
    "LENGTH",
    "LEN",
    "MIN",
    "MAX",
    "TIMEOUT",
    "ENABLED",
    "ENABLE",
    "DISABLED",
    "REQUIRED",
    "HEADER",
    "NAME",
    "TYPE",
    "ALGORITHM",
    "ALG",
    "ISSUER",
    "AUDIENCE",
    "PREFIX",
    "FIELD",
    "PARAM",
    "MODE",
    "POLICY",
    "ROTATION",
    "COUNT",
    "SIZE",
    "AGE",
    "ID",
    "USER",
    "USERNAME",
    "HOST",
    "PORT",
    "METHOD",
    "ENDPOINT",
    "URL_PATH",
    "VERSION",
    "FORMAT",
    "KIND",
    "SOURCE",
    "PROVIDER",
    "BACKEND",
    "STORE",
    "HASH_ALGORITHM",
    "RESET_URL",
    "ROLE",
    "COOKIE_NAME",
}


def is_secret_name(name: str) -> bool:
    """True for names that hold secrets (``DB_PASSWORD``, ``JWT_SECRET``, ``API_KEY``,
    ``AUTH__JWT_SECRET_KEY``, ``UNSEAL_KEYS``) and not names about them
    (``DB_PASSWORD_FILE``, ``TOKEN_TTL``, ``SECRET_KEY_LENGTH``). Any case and separator:
    ``jwt_secret_key``, ``auth.jwt-secret-key`` and ``AUTH__JWT_SECRET_KEY`` are one name."""
    # str methods rather than re: this module is imported by `import secretsafe`.
    tokens = [t for t in name.upper().replace(".", "_").replace("-", "_").split("_") if t]
    tokens = [_SINGULAR.get(t, t) for t in tokens]
    if not tokens:
        return False
    if tokens[-1] in _NOT_SECRET_TAIL or "_".join(tokens[-2:]) in _NOT_SECRET_TAIL:
        return False
    if any(t in _SECRET_TOKENS for t in tokens):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(tokens))
