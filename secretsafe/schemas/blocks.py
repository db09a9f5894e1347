"""Building blocks for the usual parts of a stack. Use them as sections of a settings class::

    class Settings(secretsafe.Settings):
        environment: Literal["development", "staging", "production"] = "development"
        debug: bool = False
        database: Database
        redis: Redis = Redis()
        auth: Auth
        vault: Vault = Vault()
        smtp: SMTP | None = None

which reads ``DATABASE__HOST``, ``DATABASE__PASSWORD``, ``AUTH__JWT_SECRET_KEY``,
``VAULT__ENABLED``, ``SMTP__HOST`` and so on. Secrets are :class:`~pydantic.SecretStr`
(printed masked) with minimum lengths and weak-value rejection; the blocks' ``repr`` masks any
other value with a secret's name too (:class:`~secretsafe.schemas.masking.MaskedRepr`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from secretsafe.schemas.masking import MaskedRepr
from secretsafe.schemas.types import Port, SecretString, Url

__all__ = ["SMTP", "Auth", "Database", "Redis", "Vault"]


class Database(MaskedRepr):
    """A PostgreSQL/MySQL connection: ``DATABASE__HOST``, ``__PORT``, ``__USER``,
    ``__PASSWORD``, ``__DATABASE``, ``__SSLMODE``."""

    host: str = Field(description="database server host name")
    port: Port = Field(5432, description="database server port")
    user: str = Field(description="user to connect as")
    password: SecretString(min_bytes=16) = Field(  # type: ignore[valid-type]
        description="password of that user (16 bytes or more)"
    )
    database: str = Field(description="database name")
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = Field(
        "prefer", description="TLS mode (libpq sslmode)"
    )


class Redis(MaskedRepr):
    """A Redis server: ``REDIS__URL`` (``redis://`` or ``rediss://``), ``REDIS__PASSWORD``."""

    url: Url(schemes=("redis", "rediss")) = Field(  # type: ignore[valid-type]
        "redis://localhost:6379/0", description="redis:// or rediss:// URL, without password"
    )
    password: SecretString(min_bytes=16) | None = Field(  # type: ignore[valid-type]
        None, description="password (AUTH), if the server needs one"
    )


class Vault(MaskedRepr):
    """Vault/OpenBao access: ``VAULT__ENABLED``, ``VAULT__ADDR``, ``VAULT__MOUNT``,
    ``VAULT__PATH``, ``VAULT__ROLE_ID``, ``VAULT__SECRET_ID``."""

    enabled: bool = Field(False, description="read secrets from Vault/OpenBao")
    addr: Url(schemes=("http", "https")) = Field(  # type: ignore[valid-type]
        "http://127.0.0.1:8200", description="server address"
    )
    mount: str = Field("secret", description="KV v2 mount")
    path: str = Field("", description="secret path under the mount")
    role_id: str | None = Field(None, description="AppRole role_id")
    secret_id: SecretString(min_bytes=16) | None = Field(  # type: ignore[valid-type]
        None, description="AppRole secret_id"
    )
    verify_tls: bool = Field(True, description="verify the server's TLS certificate")


class Auth(MaskedRepr):
    """Token signing: ``AUTH__JWT_SECRET_KEY`` (32 bytes or more), ``AUTH__JWT_ALGORITHM``,
    ``AUTH__ACCESS_TOKEN_TTL``."""

    jwt_secret_key: SecretString(min_bytes=32, min_entropy=96) = Field(  # type: ignore[valid-type]
        description="HMAC key for signing tokens (32 random bytes or more)"
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = Field(
        "HS256", description="signing algorithm"
    )
    access_token_ttl: int = Field(900, ge=60, le=86400, description="token lifetime, seconds")


class SMTP(MaskedRepr):
    """Outgoing mail: ``SMTP__HOST``, ``SMTP__PORT``, ``SMTP__USER``, ``SMTP__PASSWORD``,
    ``SMTP__FROM_ADDRESS``, ``SMTP__STARTTLS``."""

    host: str = Field(description="SMTP server")
    port: Port = Field(587, description="SMTP port (587 submission, 465 TLS)")
    user: str | None = Field(None, description="login user")
    password: SecretString(min_bytes=12) | None = Field(  # type: ignore[valid-type]
        None, description="login password"
    )
    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", description="sender address")
    starttls: bool = Field(True, description="upgrade the connection with STARTTLS")
