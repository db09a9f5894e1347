"""``credentials``: each app's role id and a secret id, SOPS-encrypted for the app's recipients,
with ``VAULT_ADDR`` listing every node of the cluster (comma-separated, in config order), so an
app starts while any one node is down. A file that already holds a valid pair is kept; if only
its node list (or AppRole mount) is out of date, it is rewritten with the same pair."""

from __future__ import annotations

from typing import Any, Literal

from secretsafe.errors import VaultNotFound
from secretsafe.vault.bootstrap.config import AppConfig
from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State
from secretsafe.vault.bootstrap.steps.approle import read_role

NAME = "credentials"
READS_ANSWERS = True

Found = Literal["missing", "unreadable", "stale", "outdated", "valid"]
_REASON = {
    "missing": "issue a secret id",
    "stale": "the secret id is no longer valid",
    "outdated": "update the node list (VAULT_ADDR)",
}


def plan(state: State) -> list[Action]:
    return [_check(state, app) for app in state.config.apps]


def _check(state: State, app: AppConfig) -> Action:
    target = str(app.credentials_file)
    auth = state.exists("auth", f"{state.config.approle_mount}/")
    if state.client is None or (state.dry_run and read_role(state, app, auth_exists=auth) is None):
        return Action(
            "credentials", target, "planned", _REASON["missing"], change="missing", ref=app.name
        )
    found = _found(state, app, _role_id(state, app))
    if found == "valid":
        return Action("credentials", target, "unchanged", "role id and a valid secret id")
    if found == "unreadable":
        return Action(
            "credentials",
            target,
            "unchanged",
            "exists; not readable with your identities, so not verified (delete it to "
            "issue a new secret id)",
        )
    return Action("credentials", target, "planned", _REASON[found], change=found, ref=app.name)


def addresses(state: State) -> str:
    """``VAULT_ADDR`` for an app: every node, comma-separated, as configured."""
    return ",".join(state.config.nodes)


def _expected(state: State, role_id: str, secret_id: str) -> dict[str, str]:
    values = {
        "VAULT_ADDR": addresses(state),
        "VAULT_ROLE_ID": role_id,
        "VAULT_SECRET_ID": secret_id,
    }
    if state.config.approle_mount != "approle":
        values["VAULT_APPROLE_MOUNT"] = state.config.approle_mount
    return values


def _role_id(state: State, app: AppConfig) -> str:
    mount = state.config.approle_mount
    resp: Any = state.call(
        state.server.hvac.auth.approle.read_role_id,
        app.name,
        mount_point=mount,
        path=f"auth/{mount}/role/{app.name}/role-id",
    )
    return str(resp["data"]["role_id"])


def _found(state: State, app: AppConfig, role_id: str) -> Found:
    from secretsafe.errors import DecryptionError, NoIdentityError
    from secretsafe.sops import decrypt_file

    if not app.credentials_file.exists():
        return "missing"
    try:
        values = decrypt_file(app.credentials_file)
    except (DecryptionError, NoIdentityError):
        return "unreadable"
    secret_id = values.get("VAULT_SECRET_ID")
    if values.get("VAULT_ROLE_ID") != role_id or not secret_id:
        return "stale"
    mount = state.config.approle_mount
    try:
        resp: Any = state.call(
            state.server.hvac.auth.approle.read_secret_id,
            app.name,
            secret_id,
            mount_point=mount,
            path=f"auth/{mount}/role/{app.name}/secret-id/lookup",
        )
    except VaultNotFound:
        return "stale"
    valid = bool(resp and (resp.get("data") if isinstance(resp, dict) else True))
    if not valid:
        return "stale"
    want = _expected(state, role_id, secret_id)
    same = all(values.get(k) == want.get(k) for k in ("VAULT_ADDR", "VAULT_APPROLE_MOUNT"))
    return "valid" if same else "outdated"


def apply(state: State, action: Action) -> str:
    from secretsafe.sops import decrypt_file, encrypt_values

    app = next(a for a in state.config.apps if a.name == action.ref)
    role_id = _role_id(state, app)
    if action.change == "outdated":
        secret_id = decrypt_file(app.credentials_file)["VAULT_SECRET_ID"]
    else:
        secret_id = _issue(state, app)
    values = _expected(state, role_id, secret_id)
    del secret_id
    try:
        encrypt_values(values, app.credentials_file, recipients=list(app.recipients))
    finally:
        values.clear()
    nodes = len(state.config.nodes)
    if action.change == "outdated":
        return f"VAULT_ADDR now lists {nodes} node(s); same role id and secret id"
    return f"role id and a new secret id, encrypted for {len(app.recipients)} recipient(s)" + (
        "" if action.change == "missing" else f" ({action.detail})"
    )


def _issue(state: State, app: AppConfig) -> str:
    mount = state.config.approle_mount
    resp: Any = state.call(
        state.server.hvac.auth.approle.generate_secret_id,
        app.name,
        metadata={"issued_by": "secretsafe vault bootstrap"},
        mount_point=mount,
        path=f"auth/{mount}/role/{app.name}/secret-id",
        idempotent=False,
    )
    secret_id = str(resp["data"]["secret_id"])
    del resp
    return secret_id
