"""The app's own Vault section decides whether load() reads Vault (issue 13, item 9), against
a real OpenBao dev server: VAULT__ENABLED unset means no Vault even with VAULT_ADDR set, and
VAULT__ADDR is where an enabled app connects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

import secretsafe
from secretsafe.schemas import Vault
from secretsafe.vault import VaultSource, sync
from secretsafe.vault.client import connect
from secretsafe.vault.dev import DevServer, start_dev_server


class App(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__")
    vault: Vault = Vault()
    greeting: str = "from-default"


class NoSection(BaseSettings):
    greeting: str = "from-default"


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    srv = start_dev_server()
    try:
        with connect(addr=srv.addr, token=srv.token, retries=1) as client:
            sync.push(client, {"GREETING": "from-vault"}, path="apps/switch")
        yield srv
    finally:
        srv.stop()


class Counting:
    def __init__(self) -> None:
        self.reads = 0

    def read(self) -> dict[str, str]:
        self.reads += 1
        return {"GREETING": "from-vault"}


def test_disabled_section_means_vault_is_not_read(
    server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ADDR", server.addr)
    monkeypatch.setenv("VAULT_TOKEN", server.token)
    env = {"VAULT_ADDR": server.addr, "VAULT_TOKEN": server.token}
    got = secretsafe.load(App, environ=env, vault=VaultSource(path="apps/switch"))
    assert got.greeting == "from-default"
    counting = Counting()
    secretsafe.load(App, environ={**env, "VAULT__ENABLED": "false"}, vault=counting)
    assert counting.reads == 0


def test_enabled_section_reads_vault(server: DevServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", server.token)
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    # VAULT__ADDR (the app's setting) is where it connects: VAULT_ADDR is not set at all.
    env = {"VAULT__ENABLED": "true", "VAULT__ADDR": server.addr}
    got = secretsafe.load(App, environ=env, vault=VaultSource(path="apps/switch"))
    assert got.greeting == "from-vault"


def test_models_without_a_vault_section_read_vault_as_asked(
    server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ADDR", server.addr)
    monkeypatch.setenv("VAULT_TOKEN", server.token)
    got = secretsafe.load(NoSection, environ={}, vault=VaultSource(path="apps/switch"))
    assert got.greeting == "from-vault"
