"""``raft``: wait until every node of a multi-node cluster votes (autopilot promotes a joined
node once it is stable; a node that does not vote yet does not count towards quorum)."""

from __future__ import annotations

from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State

NAME = "raft"
READS_ANSWERS = True


def _voters(state: dict[str, str]) -> int:
    return sum(1 for s in state.values() if s in ("leader", "voter"))


def plan(state: State) -> list[Action]:
    from secretsafe.vault.cluster import raft_voters

    want = len(state.config.nodes)
    if want < 2 or state.client is None:
        return []
    voters = _voters(raft_voters(state.server))
    target = f"{want} nodes"
    if state.joined or voters < want:
        return [Action("raft", target, "planned", f"{voters} voters", change="wait")]
    return [Action("raft", target, "unchanged", f"{voters} voters")]


def apply(state: State, action: Action) -> str:
    from secretsafe.vault.cluster import wait_voters

    want = len(state.config.nodes)
    found = wait_voters(state.server, want, timeout=max(60.0, state.failover_timeout))
    return f"{_voters(found)} voters"
