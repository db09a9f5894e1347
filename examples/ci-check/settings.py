"""The app's settings: what `secretsafe check --schema settings:Settings` validates."""

from typing import Literal

from secretsafe.schemas import Auth, Database, Redis, Vault
from secretsafe.schemas import Settings as Base


class Settings(Base):
    environment: Literal["development", "staging", "production"] = "development"
    debug: bool = False
    database: Database
    redis: Redis = Redis()
    auth: Auth
    vault: Vault = Vault()
