"""``secretsafe.Settings``: a pydantic-settings base with safe defaults.

- ``env_nested_delimiter="__"``: ``DATABASE__HOST`` sets ``database.host``;
- ``hide_input_in_errors=True``: pydantic's own error text never quotes a value;
- ``extra="ignore"`` and case-insensitive names, as pydantic-settings does by default;
- ``repr``/``str`` mask every field that holds a secret (``SecretStr``) and, as a safety net,
  any plain ``str`` field whose name says it is one (``password``, ``token``, ``secret``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic_settings import BaseSettings, SettingsConfigDict

from secretsafe.schemas.rules import Rule

__all__ = ["Settings"]

_SECRETISH = re.compile(
    r"(pass(word|wd)?|secret|token|api_?key|private_?key|credential|dsn)$", re.IGNORECASE
)
_MASK = "**********"


class Settings(BaseSettings):
    """Base class for application settings validated by :func:`secretsafe.load`."""

    model_config = SettingsConfigDict(
        env_nested_delimiter="__",
        hide_input_in_errors=True,
        extra="ignore",
        case_sensitive=False,
    )

    #: Cross-field and environment rules (``None``: :data:`secretsafe.schemas.rules.PRODUCTION`).
    secretsafe_rules: ClassVar[Sequence[Rule] | None] = None
    #: The field naming the environment, for rules (``None``: ``environment``, ``env``, ...).
    secretsafe_environment_field: ClassVar[str | None] = None

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name is not None and isinstance(value, str) and _SECRETISH.search(name):
                yield name, _MASK
            else:
                yield name, value
