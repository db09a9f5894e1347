"""The application's settings: secretsafe building blocks in a secretsafe.Settings class."""

from typing import Literal

from secretsafe.schemas import Auth, Database, Redis, Settings, Vault


class AppSettings(Settings):
    environment: Literal["development", "staging", "production"] = "development"
    debug: bool = False
    database: Database
    redis: Redis = Redis()
    auth: Auth
    vault: Vault = Vault()
