"""The app's settings: DATABASE__PASSWORD comes from the file DATABASE__PASSWORD_FILE names
(compose mounts it at /run/secrets/db_password), or from the variable itself."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

import secretsafe


class Database(BaseModel):
    host: str = "localhost"
    port: int = 5432
    user: str
    password: SecretStr


class Settings(secretsafe.Settings):
    database: Database
