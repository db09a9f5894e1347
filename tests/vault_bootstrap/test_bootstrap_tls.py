"""`vault bootstrap` and `vault unseal` against a real OpenBao raft node serving HTTPS with a
certificate from a private CA (generated here with ``cryptography``). Before the one
transport, node probes ignored ``ca_cert``: bootstrap said "cannot reach" (exit 30) and
unseal unsealed, then exited 36 looking for the active node."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bootstrap_helpers import CANARY, Outputs, Workdir, created_secrets

from secretsafe.errors import VaultUnreachable
from secretsafe.sops import decrypt_file
from secretsafe.testing.raft import RaftNode, start_node
from secretsafe.vault import kv
from secretsafe.vault.client import connect
from secretsafe.vault.cluster import node_status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
from vault_hostile import TlsFiles, make_tls

pytestmark = pytest.mark.vault


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    return make_tls(tmp_path / "tls")


@pytest.fixture
def tls_node(tmp_path: Path, tls_files: TlsFiles) -> Iterator[RaftNode]:
    node = start_node(
        tmp_path / "raft" / "node1",
        node_id="node1",
        tls=(tls_files.cert, tls_files.key),
        ca_cert=tls_files.ca,
    )
    try:
        yield node
    finally:
        node.stop(timeout=3.0)


def test_bootstrap_and_unseal_with_a_private_ca(
    tls_node: RaftNode,
    tls_files: TlsFiles,
    workdir: Workdir,
    capfd: pytest.CaptureFixture[str],
) -> None:
    addr = tls_node.addr
    assert addr.startswith("https://")
    # Without the CA, verification stays on: the node is unreachable, not trusted blindly.
    assert not node_status(addr).reachable
    assert node_status(addr, ca_cert=tls_files.ca).reachable

    config = workdir.write_config([addr], ca_cert=tls_files.ca)
    outs = Outputs()
    code, out, err = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 0, out + err
    assert "done  init" in out

    tls_node.kill()
    tls_node.start()
    assert node_status(addr, ca_cert=tls_files.ca).sealed

    # The command line: --addr and --ca-cert, no config.
    code, out, err = outs.run(
        capfd,
        "unseal",
        "--keys-file",
        str(workdir.keys_file),
        "--addr",
        addr,
        "--ca-cert",
        str(tls_files.ca),
    )
    assert code == 0, out + err
    assert f"done  unseal {addr}: unsealed" in out
    assert "active" in out

    root = decrypt_file(workdir.keys_file)["VAULT_ROOT_TOKEN"]
    with connect(addr=addr, token=root, ca_cert=tls_files.ca) as client:
        assert kv.read_secret(client, "apps/api/prod").data["DATABASE__PASSWORD"] == CANARY
    # Without the CA the same call is refused with the TLS hint (exit 30), not ignored.
    with connect(addr=addr, token=root, retries=0) as client, pytest.raises(VaultUnreachable):
        kv.read_secret(client, "apps/api/prod")
    outs.assert_free_of(created_secrets(workdir.keys_file, workdir.creds_file))
