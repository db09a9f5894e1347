"""``unseal`` every initialised node with the shares from the keys file (a node that is
already unsealed is left alone). Nodes that join the cluster are unsealed by ``join``."""

from __future__ import annotations

from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State

NAME = "unseal"
READS_ANSWERS = False


def initialised(state: State) -> list[str]:
    """The nodes of the cluster (when ``fresh``: the first one, initialised by this run)."""
    c = state.config
    if state.fresh:
        return [c.nodes[0]]
    return [a for a in c.nodes if state.statuses[a].initialized]


def action(state: State, addr: str) -> Action:
    return Action(
        "unseal",
        addr,
        "planned",
        f"unseal with {state.config.threshold} keys",
        change="unseal",
        ref=addr,
    )


def plan(state: State) -> list[Action]:
    return [
        action(state, a)
        if state.fresh or state.statuses[a].sealed
        else Action("unseal", a, "unchanged", "already unsealed")
        for a in initialised(state)
    ]


def apply(state: State, action: Action) -> str:
    from secretsafe.vault.unseal import unseal_node

    if state.keys is None:
        raise RuntimeError("unseal before the keys file was read")  # a bug: init reads it
    c = state.config
    return unseal_node(action.ref, state.keys, timeout=state.timeout, ca_cert=c.ca_cert).status
