"""``auth``: the AppRole auth method (refused if another method holds its path), and ``role``:
one AppRole per app bound to its policy (TTLs as configured; other settings on the server are
changed only with ``force``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from secretsafe.errors import BootstrapError, VaultNotFound
from secretsafe.vault.bootstrap.config import AppConfig
from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State

NAME = "approle"
READS_ANSWERS = True


def plan(state: State) -> list[Action]:
    if not state.config.apps:
        return []
    auth = _auth(state)
    exists = auth.status != "planned"
    return [auth] + [_role(state, app, auth_exists=exists) for app in state.config.apps]


def _auth(state: State) -> Action:
    target = f"{state.config.approle_mount}/"
    enable = Action("auth", target, "planned", "enable approle", change="enable")
    if state.client is None:
        return enable
    methods: Any = state.call(state.server.hvac.sys.list_auth_methods, path="sys/auth")
    cur = methods.get("data", methods).get(target)
    if cur is None:
        return enable
    if cur.get("type") != "approle":
        raise BootstrapError(
            f"a {cur.get('type')} auth method is mounted at {target}, not approle",
            hint="set [approle] mount to a free path",
        )
    return Action("auth", target, "unchanged", "approle")


def settings(app: AppConfig) -> dict[str, Any]:
    return {
        "token_policies": [app.policy],
        "token_ttl": app.token_ttl,
        "token_max_ttl": app.token_max_ttl,
        "secret_id_ttl": app.secret_id_ttl,
        "secret_id_num_uses": app.secret_id_num_uses,
    }


def read_role(state: State, app: AppConfig, *, auth_exists: bool) -> dict[str, Any] | None:
    """The role's settings on the server; None when it (or the auth method) does not exist."""
    mount = state.config.approle_mount
    if state.client is None or not auth_exists:
        return None
    try:
        resp: Any = state.call(
            state.server.hvac.auth.approle.read_role,
            app.name,
            mount_point=mount,
            path=f"auth/{mount}/role/{app.name}",
        )
    except VaultNotFound:
        return None
    data: dict[str, Any] = resp.get("data") or {}
    return data


def _role(state: State, app: AppConfig, *, auth_exists: bool) -> Action:
    cur = read_role(state, app, auth_exists=auth_exists)
    if cur is None:
        return Action(
            "role", app.name, "planned", f"policy {app.policy}", change="create", ref=app.name
        )
    diffs = _differences(cur, settings(app))
    if not diffs:
        return Action("role", app.name, "unchanged", f"policy {app.policy}")
    return Action("role", app.name, "differs", "; ".join(diffs), change="update", ref=app.name)


def _differences(cur: Mapping[str, Any], want: Mapping[str, Any]) -> list[str]:
    diffs = []
    for key, value in want.items():
        have = cur.get(key)
        wanted = value
        if key == "token_policies":
            have = sorted(have or [])
            wanted = sorted(value)
        elif have is not None:
            have = int(have)
        if have != wanted:
            diffs.append(f"{key} {have!r} -> {value!r}")
    return diffs


def apply(state: State, action: Action) -> str:
    h = state.server.hvac
    mount = state.config.approle_mount
    if action.step == "auth":
        enable = functools.partial(h.sys.enable_auth_method, "approle", path=mount)
        state.call(enable, path=f"sys/auth/{mount}", idempotent=False)
        return "enabled approle"
    app = next(a for a in state.config.apps if a.name == action.ref)
    state.call(
        h.auth.approle.create_or_update_approle,
        app.name,
        mount_point=mount,
        bind_secret_id=True,
        path=f"auth/{mount}/role/{app.name}",
        **settings(app),
    )
    if action.change == "create":
        return f"created with policy {app.policy}"
    return "changed: " + action.detail
