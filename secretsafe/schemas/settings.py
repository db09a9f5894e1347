"""``secretsafe.Settings``: a pydantic-settings base with safe defaults.

- ``env_nested_delimiter="__"``: ``DATABASE__HOST`` sets ``database.host``;
- ``hide_input_in_errors=True``: pydantic's own error text never quotes a value;
- ``extra="ignore"`` and case-insensitive names, as pydantic-settings does by default;
- ``repr``/``str`` mask every field that holds a secret (``SecretStr`` masks itself) and any
  value whose name :func:`secretsafe.secret.is_secret_name` calls secret (``secret_key``,
  ``jwt_secret_key``, ``aws_secret_access_key``, ...), whatever its type, at every depth:
  in nested sections (pydantic models, dataclasses), lists and dicts (a dict key is a name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic_settings import BaseSettings, SettingsConfigDict

from secretsafe.schemas.masking import MaskedRepr
from secretsafe.schemas.rules import Rule

__all__ = ["Settings"]


class Settings(MaskedRepr, BaseSettings):
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
