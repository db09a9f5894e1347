"""VaultSource: values from Vault at startup, directly and as a pydantic-settings source."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from secretsafe.errors import VaultNotFound
from secretsafe.vault import VaultSource, sync
from secretsafe.vault.client import VaultClient
from secretsafe.vault.dev import DevServer


class Database(BaseModel):
    host: str
    password: SecretStr


def _settings(source: VaultSource) -> type[BaseSettings]:
    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        database: Database
        jwt_secret: SecretStr
        debug: bool = False

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, source.settings_source(settings_cls))

    return Settings


VALUES = {
    "DATABASE__HOST": "db",
    "DATABASE__PASSWORD": "pw=1\n2",
    "JWT_SECRET": "j" * 32,
}


def test_read_with_env_connection(
    vault_env: DevServer, vault_client: VaultClient, kv_path: str
) -> None:
    sync.push(vault_client, VALUES, path=kv_path)
    values = VaultSource(path=kv_path).read()
    assert dict(values) == VALUES
    assert "pw=1" not in repr(values)


def test_read_reuses_a_client(vault_client: VaultClient, kv_path: str) -> None:
    sync.push(vault_client, VALUES, path=kv_path, layout="sections")
    assert dict(VaultSource(path=kv_path, client=vault_client).read()) == VALUES


def test_missing_path(vault_client: VaultClient, kv_path: str) -> None:
    with pytest.raises(VaultNotFound):
        VaultSource(path=kv_path, client=vault_client).read()


def test_pydantic_settings_source_with_env_override(
    vault_env: DevServer, vault_client: VaultClient, kv_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync.push(vault_client, VALUES, path=kv_path, layout="sections")
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("DATABASE__HOST", "from-env")
    settings = _settings(VaultSource(path=kv_path))()
    assert settings.database.host == "from-env"  # type: ignore[attr-defined]
    assert settings.database.password.get_secret_value() == "pw=1\n2"  # type: ignore[attr-defined]
    assert settings.jwt_secret.get_secret_value() == "j" * 32  # type: ignore[attr-defined]
    assert settings.debug is True  # type: ignore[attr-defined]


class Flat(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__")
    database: Database
    jwt_secret: SecretStr


def test_secretsafe_load_with_vault_source(
    vault_env: DevServer, vault_client: VaultClient, kv_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import secretsafe

    sync.push(vault_client, VALUES, path=kv_path)
    settings = secretsafe.load(Flat, vault=VaultSource(path=kv_path), environ={})
    assert settings.database.password.get_secret_value() == "pw=1\n2"
    # the process environment wins over Vault (documented order)
    settings = secretsafe.load(
        Flat, vault=VaultSource(path=kv_path), environ={"DATABASE__HOST": "override"}
    )
    assert settings.database.host == "override"
