"""``join`` each fresh node to the raft cluster of the active node, then unseal it (a joined
node fetches the keyring from the leader once it has the shares)."""

from __future__ import annotations

from secretsafe.errors import BootstrapError
from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State
from secretsafe.vault.bootstrap.steps import unseal

NAME = "join"
READS_ANSWERS = False


def plan(state: State) -> list[Action]:
    c = state.config
    members = set(unseal.initialised(state))
    out: list[Action] = []
    for addr in c.nodes:
        if addr in members:
            continue
        out.append(
            Action("join", addr, "planned", "join the raft cluster", change="join", ref=addr)
        )
        out.append(unseal.action(state, addr))
    return out


def apply(state: State, action: Action) -> str:
    if action.change == "unseal":
        return unseal.apply(state, action)
    from secretsafe.vault.cluster import find_leader, join

    c = state.config
    if state.leader is None:
        members = unseal.initialised(state)
        state.leader = find_leader(members, timeout=state.failover_timeout, ca_cert=c.ca_cert)
        if state.leader is None:
            fresh = [a for a in c.nodes if a not in members]
            raise BootstrapError(
                f"no active node among {', '.join(members)} to join {', '.join(fresh)} to",
                hint="check the initialised nodes' logs",
            )
    join(action.ref, state.leader, timeout=state.timeout, ca_cert=c.ca_cert)
    state.joined += 1
    return f"joined the raft cluster of {state.leader}"
