"""The demo app's settings: a plain pydantic-settings model with nested sections.

secretsafe validates any BaseSettings subclass that uses ``env_nested_delimiter="__"``.
"""

from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Database(BaseModel):
    host: str
    port: int = 5432
    user: str
    password: SecretStr = Field(min_length=16)
    database: str


class Redis(BaseModel):
    url: str = "redis://localhost:6379/0"


class Auth(BaseModel):
    jwt_secret_key: SecretStr = Field(min_length=32)


class Vault(BaseModel):
    enabled: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__")

    environment: Literal["development", "staging", "production"] = "development"
    debug: bool = False
    database: Database
    redis: Redis = Redis()
    auth: Auth
    vault: Vault = Vault()
