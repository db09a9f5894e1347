"""Issue 15 item 2: a node list everywhere (``VAULT_ADDR`` comma-separated, ``--addr``
repeated, ``--node``, ``connect(addr=[...])``), requests to the active node only, and apps
that start while a listed node is down. The kill -9 cycles on a real raft cluster are in
``test_cluster_chaos.py``."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from vault_hostile import RawServer, respond

from secretsafe.cli import main
from secretsafe.errors import UsageError
from secretsafe.sops import encrypt_values
from secretsafe.vault import kv
from secretsafe.vault.client import VaultClient, connect, resolve_addrs
from secretsafe.vault.dev import DevServer, free_port
from secretsafe.vault.source import VaultSource

A, B, C = "http://10.0.0.1:8200", "https://10.0.0.2:8200", "https://10.0.0.3:8200"

ADDRS = [
    # (addr argument, VAULT_ADDR, expected node list)
    (None, A, [A]),
    (None, f"{A},{B}", [A, B]),
    (None, f" {A} , {B}/ ,, {C} ", [A, B, C]),
    (None, f"{A},{A}/", [A]),  # duplicates dropped, order kept
    (f"{B},{A}", C, [B, A]),  # the argument wins over the environment
    ([A, f"{B},{C}"], None, [A, B, C]),  # --addr repeated, each may list several
    ([], A, [A]),  # no --addr given: the environment
]


@pytest.mark.parametrize(("addr", "env", "expected"), ADDRS)
def test_node_lists(addr: Any, env: str | None, expected: list[str]) -> None:
    environ = {"VAULT_ADDR": env} if env else {}
    assert resolve_addrs(addr, environ) == expected


@pytest.mark.parametrize("bad", ["", " , ", "10.0.0.1:8200", f"{A},vault:8200"])
def test_bad_node_lists_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        resolve_addrs(None, {"VAULT_ADDR": bad})


def test_connect_takes_every_node(bao_server: DevServer) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    client = connect(addr=f"{down},{bao_server.addr}", token="t", nodes=[C], environ={})
    assert client.nodes == (down, bao_server.addr, C)
    assert client.cluster
    # A cluster's default deadline leaves room for an election before the request.
    assert client.transport.deadline >= client.failover + client.transport.timeout


def _stale_standby() -> RawServer:
    """A standby: 429 to sys/health, and an old value (version 1) to any read."""
    stale = json.dumps({"data": {"data": {"SEQ": "stale"}, "metadata": {"version": 1}}}).encode()

    def handler(_srv: RawServer, conn: socket.socket, request: bytes) -> None:
        if b"/v1/sys/health" in request.split(b"\r\n", 1)[0]:
            respond(conn, 429, b'{"standby": true}', Content_Type="application/json")
        else:
            respond(conn, 200, stale, Content_Type="application/json")

    return RawServer(handler)


def test_reads_go_to_the_active_node_not_a_standby(
    vault_client: VaultClient, bao_server: DevServer, kv_path: str
) -> None:
    """A standby listed first answers reads from state that trails the active node: a
    cluster client reads and writes on the active node only."""
    kv.write_secret(vault_client, kv_path, {"SEQ": "1"}, cas=0)
    with _stale_standby() as standby:
        with connect(
            addr=[standby.addr, bao_server.addr], token=bao_server.token, environ={}
        ) as client:
            version = kv.write_secret(client, kv_path, {"SEQ": "2"}, cas=1)
            now = kv.read_secret(client, kv_path)
            assert (now.version, now.data["SEQ"]) == (version, "2")
            assert client.addr == bao_server.addr
        asked = {r.split(b"\r\n", 1)[0].split(b" ")[1] for r in standby.received}
        assert asked == {b"/v1/sys/health"}  # only probed, never read from


def test_an_app_starts_while_the_first_node_is_down(
    *,
    bao_server: DevServer,
    vault_client: VaultClient,
    kv_path: str,
    tmp_path: Path,
    age_key: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The issue's first case: VAULT_ADDR names node 1 (down) first; VaultSource, `vault
    diff` and `vault pull` still work (before: exit 30)."""
    kv.write_secret(vault_client, kv_path, {"SEQ": "1"}, cas=0)
    down = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("VAULT_ADDR", f"{down},{bao_server.addr}")
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    assert VaultSource(path=kv_path).read()["SEQ"] == "1"
    env_file = tmp_path / "app.env.enc"
    encrypt_values({"SEQ": "1"}, env_file, recipients=[age_key.recipient])
    assert main(["vault", "diff", str(env_file), "--path", kv_path, "--format", "json"]) == 0
    assert json.loads(capfd.readouterr().out)[0]["drift"] is False
    out = tmp_path / "pulled.env.enc"
    args = ["vault", "pull", "--path", kv_path, "-o", str(out), "--format", "json"]
    assert main([*args, "--recipient", age_key.recipient]) == 0
    pulled = json.loads(capfd.readouterr().out)
    assert pulled["variables"] == ["SEQ"]
    assert "1" not in json.dumps(pulled["variables"])


def test_cli_addr_repeated(
    *,
    bao_server: DevServer,
    kv_path: str,
    tmp_path: Path,
    age_key: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    env_file = tmp_path / "app.env.enc"
    encrypt_values({"SEQ": "1"}, env_file, recipients=[age_key.recipient])
    down = f"http://127.0.0.1:{free_port()}"
    args = ["vault", "push", str(env_file), "--path", kv_path, "--format", "json"]
    assert main([*args, "--addr", down, "--addr", bao_server.addr]) == 0
    doc = json.loads(capfd.readouterr().out)
    assert doc["outcome"] == "written"
    assert doc["versions"] == {kv_path: 1}
    assert doc["added"] == ["SEQ"]
