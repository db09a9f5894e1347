"""Long-running clients against a real OpenBao dev server: a renewable short-TTL token is
renewed before it runs out, an AppRole session logs in again when its token expired or could
not be extended, a plain token that runs out gives one clear error, and ``current_versions``
(what ``run --watch`` polls) sees a push. Waits are real (the server keeps the TTLs) but
bounded: a few seconds each, polling every 0.25 s."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from secretsafe.errors import VaultPermissionDenied
from secretsafe.vault import sync
from secretsafe.vault.client import AppRole, VaultClient
from secretsafe.vault.dev import DevServer
from secretsafe.vault.reader import Session, current_versions, read_values
from secretsafe.vault.source import VaultSource

POLL = 0.25


def read_policy(client: VaultClient, kv_path: str) -> str:
    name = f"p{uuid.uuid4().hex[:10]}"
    policy = (
        f'path "secret/data/{kv_path}" {{ capabilities = ["read"] }}\n'
        f'path "secret/metadata/{kv_path}" {{ capabilities = ["read"] }}\n'
    )
    client.request("PUT", f"sys/policies/acl/{name}", body={"policy": policy})
    return name


def token_ttl(admin: VaultClient, accessor: str) -> int:
    _, doc = admin.request("POST", "auth/token/lookup-accessor", body={"accessor": accessor})
    ttl: int = doc["data"]["ttl"]
    return ttl


def accessor_of(session: Session) -> str:
    _, doc = session.client(check=False).request("GET", "auth/token/lookup-self")
    accessor: str = doc["data"]["accessor"]
    return accessor


def poll_for(seconds: float, step: Callable[[], object]) -> None:
    """Call ``step`` every POLL seconds for ``seconds`` (a watch loop in miniature)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        step()
        time.sleep(POLL)


def test_short_ttl_periodic_token_is_renewed(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    sync.push(vault_client, {"A": "1"}, path=kv_path)
    policy = read_policy(vault_client, kv_path)
    _, doc = vault_client.request(
        "POST",
        "auth/token/create",
        body={"policies": [policy], "ttl": "3s", "period": "3s", "renewable": True},
    )
    env = {"VAULT_ADDR": bao_server.addr, "VAULT_TOKEN": doc["auth"]["client_token"]}
    accessor = doc["auth"]["accessor"]
    with Session(environ=env) as session:
        assert read_values(session, kv_path) == {"A": "1"}
        # Twice the TTL: without renewal the token is gone after 3 s.
        poll_for(6.0, lambda: read_values(session, kv_path))
        assert session.renewals >= 2
        assert read_values(session, kv_path) == {"A": "1"}
        assert session.logins == 0
    assert token_ttl(vault_client, accessor) > 0


@pytest.fixture
def short_role(vault_client: VaultClient, kv_path: str) -> AppRole:
    """An AppRole whose tokens live 2 s and cannot be renewed past that."""
    _, doc = vault_client.request("GET", "sys/auth")
    if "approle/" not in (doc.get("data") or doc):
        vault_client.request("POST", "sys/auth/approle", body={"type": "approle"})
    name = f"r{uuid.uuid4().hex[:10]}"
    vault_client.request(
        "POST",
        f"auth/approle/role/{name}",
        body={
            "token_policies": [read_policy(vault_client, kv_path)],
            "token_ttl": "2s",
            "token_max_ttl": "2s",
        },
    )
    _, doc = vault_client.request("GET", f"auth/approle/role/{name}/role-id")
    role_id = doc["data"]["role_id"]
    _, doc = vault_client.request("POST", f"auth/approle/role/{name}/secret-id", body={})
    return AppRole(role_id=role_id, secret_id=doc["data"]["secret_id"])


def test_approle_logs_in_again_after_the_token_expired(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str, short_role: AppRole
) -> None:
    sync.push(vault_client, {"A": "1"}, path=kv_path)
    with Session(addr=bao_server.addr, approle=short_role) as session:
        assert read_values(session, kv_path) == {"A": "1"}
        first = accessor_of(session)
        expiry = time.monotonic() + 2.5  # the token's 2 s, and a margin
        while time.monotonic() < expiry:
            time.sleep(POLL)
        # The next use finds the token expired and logs in again, transparently.
        assert read_values(session, kv_path) == {"A": "1"}
        assert session.logins == 2
        assert accessor_of(session) != first


def test_approle_logs_in_again_before_a_token_at_its_max_ttl_runs_out(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str, short_role: AppRole
) -> None:
    sync.push(vault_client, {"A": "1"}, path=kv_path)
    with Session(addr=bao_server.addr, approle=short_role) as session:
        # Polled through 3x the TTL: each token is replaced before it runs out, so no read
        # ever fails.
        poll_for(6.0, lambda: read_values(session, kv_path))
        assert session.logins >= 3
        assert session.renewals == 0


def test_vault_source_reads_again_after_its_token_expired(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str, short_role: AppRole
) -> None:
    sync.push(vault_client, {"A": "1"}, path=kv_path)
    source = VaultSource(path=kv_path, addr=bao_server.addr, approle=short_role)
    assert dict(source.read()) == {"A": "1"}
    time.sleep(2.5)  # past the token's TTL: the bounded wait this test is about
    sync.push(vault_client, {"A": "2"}, path=kv_path)
    assert dict(source.read()) == {"A": "2"}
    assert source.session().logins == 2


def test_a_plain_token_that_runs_out_is_one_clear_error(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    sync.push(vault_client, {"A": "1"}, path=kv_path)
    _, doc = vault_client.request(
        "POST",
        "auth/token/create",
        body={"policies": [read_policy(vault_client, kv_path)], "ttl": "2s", "renewable": False},
    )
    token = doc["auth"]["client_token"]
    env = {"VAULT_ADDR": bao_server.addr, "VAULT_TOKEN": token}
    with Session(environ=env) as session:
        read_values(session, kv_path)
        time.sleep(2.5)
        with pytest.raises(VaultPermissionDenied) as info:
            read_values(session, kv_path)
    assert "expired" in str(info.value)
    assert token not in str(info.value)


def test_current_versions_sees_a_push(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    sync.push(vault_client, {"A": "1", "DB__HOST": "h"}, path=kv_path, layout="sections")
    env = {"VAULT_ADDR": bao_server.addr, "VAULT_TOKEN": bao_server.token}
    with Session(environ=env) as session:
        before = current_versions(session, [kv_path, f"{kv_path}-none"])
        assert before[f"secret/{kv_path}"] >= 1
        assert f"secret/{kv_path}/db" in before
        assert before[f"secret/{kv_path}-none"] == 0
        sync.push(vault_client, {"A": "1", "DB__HOST": "h2"}, path=kv_path, layout="sections")
        after = current_versions(session, [kv_path, f"{kv_path}-none"])
    assert after[f"secret/{kv_path}/db"] == before[f"secret/{kv_path}/db"] + 1
    assert after[f"secret/{kv_path}"] == before[f"secret/{kv_path}"]
