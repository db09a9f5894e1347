"""A real OpenBao dev server for the Vault tests.

``bao_server`` (session): one server per test process (pytest-xdist workers get their own),
``bao server -dev`` on 127.0.0.1 and a free port, a random root token, HOME in a temp dir;
stopped by pid at the end. Tests isolate themselves by writing under a unique ``kv_path``.
``fresh_bao_server`` (function): a server of the test's own, for tests that seal or stop it.
The start/stop code lives in :mod:`secretsafe.vault.dev` so the CLI and other suites reuse it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from secretsafe.vault.client import VaultClient, connect
from secretsafe.vault.dev import DevServer, start_dev_server


@pytest.fixture(scope="session")
def bao_server() -> Iterator[DevServer]:
    server = start_dev_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_bao_server() -> Iterator[DevServer]:
    server = start_dev_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def vault_env(bao_server: DevServer, monkeypatch: pytest.MonkeyPatch) -> DevServer:
    """VAULT_ADDR / VAULT_TOKEN of the session server in this test's environment."""
    monkeypatch.setenv("VAULT_ADDR", bao_server.addr)
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    return bao_server


@pytest.fixture
def vault_client(bao_server: DevServer) -> Iterator[VaultClient]:
    with connect(addr=bao_server.addr, token=bao_server.token, retries=1) as client:
        yield client


@pytest.fixture
def kv_path() -> str:
    """A KV path no other test uses."""
    return f"tests/{uuid.uuid4().hex[:12]}"
