"""Schemas shared by the schema tests (importable as ``schema_models:Settings``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

import secretsafe
from secretsafe.schemas import Auth, Database, Vault, rules


class PlainDatabase(BaseModel):
    host: str
    port: int = 5432
    user: str
    password: SecretStr = Field(min_length=16)
    database: str


class PlainAuth(BaseModel):
    jwt_secret_key: SecretStr = Field(min_length=32)

    @field_validator("jwt_secret_key")
    @classmethod
    def no_spaces(cls, v: SecretStr) -> SecretStr:
        # A careless validator that quotes the value in its message.
        if " " in v.get_secret_value():
            raise ValueError(f"secret {v.get_secret_value()!r} must not contain spaces")
        return v


class PlainVault(BaseModel):
    enabled: bool = False


class PlainSettings(BaseSettings):
    """An ordinary pydantic-settings model, as apps already have."""

    model_config = SettingsConfigDict(env_nested_delimiter="__")

    environment: Literal["development", "staging", "production"] = "development"
    debug: bool = False
    database: PlainDatabase
    auth: PlainAuth
    vault: PlainVault = PlainVault()

    @model_validator(mode="after")
    def prod_needs_vault(self) -> PlainSettings:
        if self.environment == "production" and not self.vault.enabled:
            raise ValueError("production requires vault")
        return self


class Settings(secretsafe.Settings):
    """A schema made of secretsafe's building blocks."""

    environment: Literal["development", "staging", "production"] = "development"
    debug: bool = False
    database: Database
    auth: Auth
    vault: Vault = Vault()
    api_url: str = "http://localhost"

    secretsafe_rules = (
        *rules.PRODUCTION,
        rules.Check(
            lambda c: not (c.value("debug") and c.value("vault.enabled")),
            "debug must be off when Vault is enabled",
            fields=("debug", "vault.enabled"),
        ),
    )


STRONG_JWT = "Zq8v3N1xW5t7Kp0Lr2Ys4Uh6Jb9Mc3Fd"  # 32 bytes, high entropy
STRONG_DB = "pG7rT2wQ9zX4vL1k"  # 16 bytes


def valid_env() -> dict[str, str]:
    return {
        "DATABASE__HOST": "db",
        "DATABASE__USER": "app",
        "DATABASE__PASSWORD": STRONG_DB,
        "DATABASE__DATABASE": "app",
        "AUTH__JWT_SECRET_KEY": STRONG_JWT,
    }


@contextmanager
def environ_as(env: dict[str, str]) -> Iterator[None]:
    """``os.environ`` is exactly ``env`` inside the block: what ``Model()`` reads when a test
    compares it with ``load(..., environ=env)``. Restored afterwards, whatever happens."""
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
