"""`vault bootstrap` re-run through a proxy that spoils one answer of a real OpenBao raft node
at a time (issue 11, 14b): whichever field of whichever answer is junk, the run ends with an
exit code from the error tree -- never "internal error" (1) or a traceback -- and prints no
secret."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
from bootstrap_helpers import Outputs, Workdir, created_secrets

from secretsafe.testing.raft import RaftCluster

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
from vault_hostile import mutating_proxy

pytestmark = pytest.mark.vault

# Every answer a re-run of a one-node bootstrap parses, spoilt as a whole or in its "data"
# (raft autopilot state, read with several nodes only, is in tests/vault/test_transport.py).
ENDPOINTS = [
    "/v1/auth/token/lookup-self",
    "/v1/sys/mounts",
    "/v1/secret/config",
    "/v1/sys/policy/app-api",
    "/v1/sys/auth",
    "/v1/auth/approle/role/api",
    "/v1/auth/approle/role/api/role-id",
    "/v1/auth/approle/role/api/secret-id/lookup",
    "/v1/secret/data/apps/api/prod",
]
JUNK: list[Any] = ["abc", [1, {"x": None}], {"data": 7, "keys": "x", "type": 3}]


class Spoiler:
    """Replaces the answer at ``endpoint`` (as a whole, or its "data") with ``junk``."""

    def __init__(self, endpoint: str, spot: str, junk: Any) -> None:
        self.endpoint, self.spot, self.junk = endpoint, spot, junk
        self.hits = 0

    def __call__(self, _method: str, path: str, doc: Any) -> Any:
        if path != self.endpoint:
            return doc
        self.hits += 1
        if self.spot == "doc" or not isinstance(doc, dict):
            return copy.deepcopy(self.junk)
        return {**doc, "data": copy.deepcopy(self.junk)}


def test_spoilt_answers_end_in_domain_errors(
    raft1: RaftCluster, workdir: Workdir, capfd: pytest.CaptureFixture[str]
) -> None:
    outs = Outputs()
    config = workdir.write_config(raft1.addrs)
    code, out, err = outs.run(capfd, "bootstrap", "--config", str(config))
    assert code == 0, out + err
    bad: list[str] = []
    unread: set[str] = set()
    for endpoint in ENDPOINTS:
        for spot in ("doc", "data"):
            for junk in JUNK:
                spoiler = Spoiler(endpoint, spot, junk)
                with mutating_proxy(raft1.addrs[0], spoiler) as proxy:
                    config = workdir.write_config([proxy.addr])
                    code, out, err = outs.run(capfd, "bootstrap", "--config", str(config))
                if not spoiler.hits:
                    unread.add(endpoint)
                case = f"{endpoint} {spot}={junk!r}"
                if code == 1 or "internal error" in err or "Traceback" in out + err:
                    bad.append(f"{case}: exit {code}: {err.strip()[-200:]}")
    outs.assert_free_of(created_secrets(workdir.keys_file, workdir.creds_file))
    assert not bad, "\n".join(bad)
    # Every endpoint was really read (a renamed route would make this test vacuous).
    assert not unread
