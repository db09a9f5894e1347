"""``policy``: one least-privilege policy per app (see :mod:`secretsafe.vault.policies`); a
policy on the server that is not the generated one is shown as a diff (policies hold paths,
not secrets) and replaced only with ``force``."""

from __future__ import annotations

from typing import Any

from secretsafe.errors import VaultNotFound
from secretsafe.vault.bootstrap.config import AppConfig
from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State

NAME = "policies"
READS_ANSWERS = True


def _scope(app: AppConfig) -> str:
    return f"read-only on {app.mount}/{app.path}"


def plan(state: State) -> list[Action]:
    return [_compare(state, app) for app in state.config.apps]


def _compare(state: State, app: AppConfig) -> Action:
    from secretsafe.vault.policies import policy_diff, same_policy

    create = Action("policy", app.policy, "planned", _scope(app), change="write", ref=app.name)
    if state.client is None:
        return create
    try:
        cur: Any = state.call(
            state.server.hvac.sys.read_policy, app.policy, path=f"sys/policy/{app.policy}"
        )
    except VaultNotFound:
        return create
    doc = cur.get("data") or cur
    current = str(doc.get("rules") or doc.get("policy"))
    desired = app.policy_hcl()
    if same_policy(current, desired):
        return Action("policy", app.policy, "unchanged", _scope(app))
    return Action(
        "policy",
        app.policy,
        "differs",
        "the policy on the server is not the generated one",
        tuple(policy_diff(app.policy, current, desired)),
        change="replace",
        ref=app.name,
    )


def apply(state: State, action: Action) -> str:
    app = next(a for a in state.config.apps if a.name == action.ref)
    state.call(
        state.server.hvac.sys.create_or_update_policy,
        app.policy,
        app.policy_hcl(),
        path=f"sys/policy/{app.policy}",
    )
    return _scope(app) if action.change == "write" else "replaced with the generated policy"
