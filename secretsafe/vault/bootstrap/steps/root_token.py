"""``root-token``: with ``revoke_root``, the initial root token is revoked at the end and
removed from the keys file (later runs need ``VAULT_TOKEN``); otherwise it is kept, and said
so."""

from __future__ import annotations

from secretsafe.errors import VaultPermissionDenied
from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State

NAME = "root-token"
READS_ANSWERS = True


def plan(state: State) -> list[Action]:
    has_root = state.keys is not None and state.keys.root_token is not None
    if not state.config.revoke_root:
        if not has_root:
            return []
        return [
            Action(
                "root-token",
                "",
                "skipped",
                "kept in the keys file (set revoke_root = true to revoke it)",
            )
        ]
    if state.client is None:
        return [Action("root-token", "", "planned", "revoke", change="revoke")]
    if not has_root:
        return [Action("root-token", "", "unchanged", "revoked")]
    return [
        Action(
            "root-token",
            "",
            "planned",
            "revoke it and remove it from the keys file",
            change="revoke",
        )
    ]


def apply(state: State, action: Action) -> str:
    from secretsafe.vault.unseal import KeysFile, write_keys_file

    keys = state.keys
    if keys is None or keys.root_token is None:
        raise RuntimeError("revoke planned without a root token")  # a bug: plan() checks
    h = state.server.hvac
    root = keys.root_token.reveal()
    try:
        if state.root is not None and state.root.reveal() == root:
            state.call(h.auth.token.revoke_self, path="auth/token/revoke-self", idempotent=False)
        else:
            state.call(h.auth.token.revoke, root, path="auth/token/revoke", idempotent=False)
    except VaultPermissionDenied:
        pass  # already revoked (a failed earlier run): drop it from the file all the same
    del root
    state.keys = KeysFile(path=keys.path, keys=keys.keys, threshold=keys.threshold)
    write_keys_file(state.keys, recipients=state.config.recipients)
    return "revoked and removed from the keys file"
