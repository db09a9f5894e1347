"""``init`` the first node of a fresh cluster, and the ``keys-file``: the key shares and root
token SOPS-encrypted right after ``sys/init`` (the only moment they exist); on a cluster that
is already initialised, the keys file is read (in memory) for the next steps.

Refused: a fresh cluster while the keys file exists (it may hold another cluster's keys). The
recipients are checked *before* init, since the shares exist only in that one response.
"""

from __future__ import annotations

import os

from secretsafe.errors import BootstrapError, SecretsafeError
from secretsafe.secret import Secret
from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State

NAME = "init"
READS_ANSWERS = True


def plan(state: State) -> list[Action]:
    c = state.config
    initialised = [a for a, s in state.statuses.items() if s.initialized]
    if initialised:
        return [_existing(state, initialised[0]), _keys_file(state)]
    if c.keys_file.exists():
        raise BootstrapError(
            f"no node is initialised, but the keys file {c.keys_file} already exists; "
            "refusing to overwrite it (it may hold another cluster's keys)",
            hint="move it away if it is stale, or point [server] nodes at its cluster",
        )
    state.fresh = True
    return [
        Action(
            "init",
            c.nodes[0],
            "planned",
            f"initialise ({c.shares} shares, threshold {c.threshold})",
            change="init",
            ref=c.nodes[0],
        ),
        Action(
            "keys-file",
            str(c.keys_file),
            "planned",
            f"{c.shares} unseal keys and the root token, encrypted for "
            f"{len(c.recipients)} recipient(s)",
            change="write",
        ),
    ]


def _existing(state: State, addr: str) -> Action:
    c = state.config
    st = state.statuses[addr]
    if (st.shares, st.threshold) == (c.shares, c.threshold):
        return Action("init", addr, "unchanged", "initialised")
    return Action(
        "init",
        addr,
        "differs",
        f"initialised with {st.shares} shares, threshold {st.threshold}; the config "
        f"says {c.shares}/{c.threshold} (rekeying is not automated: use "
        "`bao operator rekey`, then update the config)",
    )


def _keys_file(state: State) -> Action:
    """Read the keys file of an initialised cluster (needed to unseal, and for its root
    token); skipped when nothing is sealed and a token is set."""
    from secretsafe.vault.unseal import read_keys_file

    path = state.config.keys_file
    sealed = any(s.sealed for s in state.statuses.values())
    token_in_env = bool(state.environ.get("VAULT_TOKEN") or state.environ.get("BAO_TOKEN"))
    if not path.exists() and not sealed and token_in_env:
        return Action(
            "keys-file",
            str(path),
            "skipped",
            "missing; not needed (every node is unsealed and VAULT_TOKEN is set)",
        )
    state.keys = read_keys_file(path)
    root = ", root token" if state.keys.root_token is not None else ""
    return Action("keys-file", str(path), "unchanged", f"{len(state.keys.keys)} unseal keys{root}")


def apply(state: State, action: Action) -> str:
    if action.change == "init":
        return _initialise(state, action.ref)
    from secretsafe.vault.unseal import write_keys_file

    if state.keys is None:
        raise RuntimeError("keys file written before init")  # a bug: plan orders them
    write_keys_file(state.keys, recipients=state.config.recipients)
    return action.detail


def _initialise(state: State, addr: str) -> str:
    from secretsafe.vault.client import translate_errors
    from secretsafe.vault.unseal import KeysFile, anonymous_client

    c = state.config
    _probe_recipients(state)
    client = anonymous_client(addr, timeout=max(state.timeout, 30.0), ca_cert=c.ca_cert)
    with translate_errors("sys/init", addr=addr):
        resp = client.sys.initialize(  # type: ignore[no-untyped-call]
            secret_shares=c.shares, secret_threshold=c.threshold
        )
    state.keys = KeysFile(
        path=c.keys_file,
        keys=tuple(Secret(k) for k in resp["keys"]),
        threshold=c.threshold,
        root_token=Secret(resp["root_token"]),
    )
    del resp
    return f"initialised ({c.shares} shares, threshold {c.threshold})"


def _probe_recipients(state: State) -> None:
    """Fail before init (when nothing is lost) if the keys file cannot be written."""
    from secretsafe.sops import encrypt_items
    from secretsafe.sops.model import Entry

    c = state.config
    directory = c.keys_file.parent
    if not directory.is_dir() or not os.access(directory, os.W_OK):
        raise BootstrapError(
            f"cannot write the keys file in {directory}; nothing was initialised",
            hint="create the directory or fix its permissions",
        )
    try:
        encrypt_items([Entry("PROBE", "probe")], recipients=list(c.recipients), path=c.keys_file)
    except SecretsafeError as exc:
        raise BootstrapError(
            f"cannot encrypt for the declared recipients ({exc.message}); nothing was initialised",
            hint="fix [init] recipients",
        ) from None
