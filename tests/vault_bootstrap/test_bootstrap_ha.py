"""HA: a 3-node OpenBao raft cluster bootstrapped from fresh, secrets pushed while the leader
process is killed; the client follows the new active node. Afterwards every acknowledged
write is present (on the new leader and, once restarted and unsealed, on the old one), and the
time to recover is printed (a figure for the report, not an assertion)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bootstrap_helpers import APP_VALUES, Outputs, Workdir, created_secrets

from secretsafe.errors import VaultConflict
from secretsafe.sops import decrypt_file, encrypt_values
from secretsafe.testing.raft import RaftCluster, start_cluster
from secretsafe.vault import kv, sync
from secretsafe.vault.cluster import connect_cluster, node_status
from secretsafe.vault.unseal import read_keys_file, unseal_node

pytestmark = pytest.mark.vault

WRITES_BEFORE = 5
WRITES_AFTER = 10


@pytest.fixture
def raft3(tmp_path: Path) -> Iterator[RaftCluster]:
    with start_cluster(3, base=tmp_path / "raft") as cluster:
        yield cluster


def test_three_nodes_survive_leader_kill(
    raft3: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    outs = Outputs()
    config = workdir.write_config(raft3.addrs)
    code, out, err = outs.run(capfd, "bootstrap", "--config", str(config), "--format", "json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["ok"] is True
    assert report["nodes"] == raft3.addrs
    actions = {s["step"]: s["actions"] for s in report["steps"]}
    joins = [a for a in actions["join"] if a["action"] == "join"]
    assert [(a["target"], a["status"]) for a in joins] == [(a, "done") for a in raft3.addrs[1:]]
    assert actions["raft"] == [
        {"action": "raft", "target": "3 nodes", "status": "done", "detail": "3 voters", "diff": []}
    ]
    assert all(not node_status(a).sealed for a in raft3.addrs)

    # The app's credentials list every node, in config order (an app starts with any one down).
    creds = decrypt_file(workdir.creds_file)
    assert creds["VAULT_ADDR"] == ",".join(raft3.addrs)
    # A file from before (first node only) gets the node list, with the same secret id.
    encrypt_values(
        {**creds, "VAULT_ADDR": raft3.addrs[0]},
        workdir.creds_file,
        recipients=[workdir.key.recipient],
    )
    code, out, err = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 0, out + err
    assert "done  credentials" in out
    assert "VAULT_ADDR now lists 3 node(s)" in out
    assert decrypt_file(workdir.creds_file).reveal() == creds.reveal()

    root = decrypt_file(workdir.keys_file)["VAULT_ROOT_TOKEN"]
    acked: dict[str, dict[str, str]] = {}
    unacked = 0
    recover_s: float | None = None
    client = connect_cluster(raft3.addrs, token=root, failover_timeout=60.0)
    killed = None
    try:
        for i in range(WRITES_BEFORE + WRITES_AFTER):
            if i == WRITES_BEFORE:
                leader = raft3.leader(timeout=5)
                assert leader is not None
                killed = leader
                leader.kill()
                t_kill = time.monotonic()
            values = {"N": str(i), "PAYLOAD": f"value-{i}"}
            path = f"ha/item{i}"
            try:
                sync.push(client, values, path=path)
            except VaultConflict:
                # The dead leader committed it but the answer was lost: not acknowledged.
                unacked += 1
                continue
            acked[path] = values
            if killed is not None and recover_s is None:
                recover_s = time.monotonic() - t_kill
            # Read back through the same client right away.
            assert kv.read_secret(client, path).data.reveal() == values
    finally:
        client.close()

    assert killed is not None
    assert recover_s is not None
    with capfd.disabled():  # the figure goes to the terminal (pytest -s), not the checks
        print(
            f"\nHA failover: {recover_s:.2f} s from killing the leader to the next acknowledged "
            f"write; {len(acked)} writes acknowledged, {unacked} not"
        )
    assert len(acked) >= WRITES_BEFORE + WRITES_AFTER - 1

    def check_all(addrs: list[str]) -> None:
        with connect_cluster(addrs, token=root) as c:
            for path, values in acked.items():
                assert kv.read_secret(c, path).data.reveal() == values
            assert kv.read_secret(c, "apps/api/prod").data.reveal() == APP_VALUES

    survivors = [a for a in raft3.addrs if a != killed.addr]
    check_all(survivors)

    # The old leader comes back sealed; unseal it from the keys file and read through it.
    killed.start()
    assert node_status(killed.addr).sealed
    code, out, _ = outs.run(capfd, "unseal", "--config", str(config))
    assert code == 0, out
    assert out.count("unchanged  unseal") == 2
    assert f"done  unseal {killed.addr}" in out
    keys = read_keys_file(workdir.keys_file)
    assert unseal_node(killed.addr, keys).status == "already unsealed"
    deadline = time.monotonic() + 30
    while True:  # the restarted node catches up on the raft log
        try:
            check_all([killed.addr])
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    outs.assert_free_of(created_secrets(workdir.keys_file, workdir.creds_file))
