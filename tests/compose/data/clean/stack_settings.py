"""The API's settings (the schema named by the secretsafe.schema label)."""

from typing import Literal

from secretsafe.schemas import Auth, Database, Redis, Settings, Vault


class ApiSettings(Settings):
    environment: Literal["development", "staging", "production"] = "development"
    debug: bool = False
    database: Database
    redis: Redis = Redis()
    auth: Auth
    vault: Vault = Vault()
