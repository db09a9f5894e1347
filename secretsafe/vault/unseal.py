"""The unseal keys file, and unsealing nodes from it.

The keys file is a SOPS dotenv file (age recipients) holding::

    UNSEAL_KEY_1 .. UNSEAL_KEY_N   the key shares (hex), as ``sys/init`` returned them
    UNSEAL_THRESHOLD               how many shares unseal
    VAULT_ROOT_TOKEN               the initial root token (removed once it is revoked)

It is written once, right after ``sys/init`` (the only moment the shares exist), and read in
memory with the user's age identity. Nothing here prints, logs or puts a share in argv; the
shares travel as :class:`~secretsafe.secret.Secret` and reach the server in a request body.

Unsealing a node (:func:`unseal_node`) refuses to start when the file holds fewer shares than
the node's threshold (submitting them would change nothing but leave a half-done attempt), and
resets a half-done attempt left by someone else before submitting. OpenBao accepts every share
until the threshold and only then combines them: a wrong share shows up as a 400 at the last
one, with progress reset to 0. That is reported as a wrong key, not as a generic failure.
A node that has just joined a raft cluster also answers the last share with ``sealed: true``
and progress 0 -- it still has to fetch the keyring from the leader -- so the node is polled
until it is unsealed before anything is concluded.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from secretsafe.errors import (
    BootstrapError,
    DecryptionError,
    FileError,
    NoIdentityError,
    SecretsafeError,
    VaultError,
    VaultUnreachable,
)
from secretsafe.secret import Secret
from secretsafe.vault.client import require_hvac, translate_errors

if TYPE_CHECKING:
    import hvac

__all__ = [
    "KeysFile",
    "UnsealResult",
    "anonymous_client",
    "read_keys_file",
    "unseal_all",
    "unseal_node",
    "write_keys_file",
]

_KEY = re.compile(r"^UNSEAL_KEY_(\d+)$")
JOIN_UNSEAL_TIMEOUT = 30.0


@dataclass(frozen=True)
class KeysFile:
    """The decrypted keys file (masked: reprs show counts, never a share or the token)."""

    path: Path
    keys: tuple[Secret, ...] = field(repr=False)
    threshold: int
    root_token: Secret | None = field(repr=False, default=None)

    def __repr__(self) -> str:
        return (
            f"KeysFile(path={str(self.path)!r}, keys={len(self.keys)}, "
            f"threshold={self.threshold}, root_token={'<set>' if self.root_token else None})"
        )

    def values(self) -> dict[str, str]:
        """The plaintext mapping to encrypt (explicit reveal, for :func:`write_keys_file`)."""
        out = {f"UNSEAL_KEY_{i}": k.reveal() for i, k in enumerate(self.keys, start=1)}
        out["UNSEAL_THRESHOLD"] = str(self.threshold)
        if self.root_token is not None:
            out["VAULT_ROOT_TOKEN"] = self.root_token.reveal()
        return out


def write_keys_file(keys: KeysFile, *, recipients: Sequence[str]) -> None:
    """Encrypt ``keys`` to ``keys.path`` for ``recipients`` (atomic, mode 0600)."""
    from secretsafe.sops import encrypt_values

    encrypt_values(keys.values(), keys.path, recipients=list(recipients))


def read_keys_file(path: str | os.PathLike[str]) -> KeysFile:
    """Decrypt the keys file in memory. Missing or undecryptable: :class:`BootstrapError`
    saying so (without it nothing can be unsealed)."""
    from secretsafe.sops import decrypt_file

    p = Path(path)
    if not p.exists():
        raise BootstrapError(
            f"the unseal keys file {p} does not exist",
            hint="pass the keys file written when the server was initialised (--keys-file, "
            "or init.keys_file in the config)",
        )
    try:
        values = decrypt_file(p)
    except (DecryptionError, NoIdentityError) as exc:
        raise BootstrapError(
            f"the unseal keys file {p} cannot be decrypted with your age identities "
            f"({exc.message})",
            hint="set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY) to an identity the file was "
            "encrypted for",
        ) from None
    except FileError:
        raise
    except SecretsafeError as exc:
        raise BootstrapError(
            f"the unseal keys file {p} cannot be read ({exc.message})",
            hint="restore it from your backup",
        ) from None
    return _parse(p, values)


def _parse(path: Path, values: Mapping[str, str]) -> KeysFile:
    numbered: list[tuple[int, str]] = []
    for name in values:
        m = _KEY.match(name)
        if m and values[name]:
            numbered.append((int(m.group(1)), values[name]))
    numbered.sort()
    if not numbered:
        raise BootstrapError(
            f"{path} holds no UNSEAL_KEY_n entries", hint="is it the right keys file?"
        )
    try:
        threshold = int(values.get("UNSEAL_THRESHOLD") or len(numbered))
    except ValueError:
        threshold = len(numbered)
    token = values.get("VAULT_ROOT_TOKEN") or None
    return KeysFile(
        path=path,
        keys=tuple(Secret(v) for _, v in numbered),
        threshold=threshold,
        root_token=Secret(token) if token else None,
    )


# --- talking to one node without a token ---------------------------------------------------


def anonymous_client(
    addr: str, *, timeout: float = 10.0, ca_cert: str | os.PathLike[str] | None = None
) -> hvac.Client:
    """An hvac client for unauthenticated ``sys/`` endpoints of one node (init, unseal,
    seal-status, join), its requests routed through the one Vault transport: TLS verified
    (``ca_cert``: a CA bundle to trust), ``timeout`` as the deadline of each request, the
    size cap and the redirect policy (only back to ``addr``). Without the ``vault`` extra: a
    :class:`~secretsafe.errors.UsageError` naming it."""
    from secretsafe.vault.transport import Transport

    require_hvac()
    import hvac

    verify: bool | str = os.fspath(ca_cert) if ca_cert else True
    transport = Transport(verify=verify, timeout=timeout, deadline=timeout, nodes=(addr,))
    # token="" so hvac does not pick up VAULT_TOKEN / ~/.vault-token for these calls.
    return hvac.Client(
        url=addr,
        token="",
        verify=verify,
        timeout=timeout,  # type: ignore[arg-type]
        session=transport.session(),
    )


@dataclass(frozen=True)
class UnsealResult:
    addr: str
    status: Literal["unsealed", "already unsealed", "would unseal"]
    detail: str = ""


def _seal_status(client: hvac.Client, addr: str) -> dict[str, Any]:
    """``sys/seal-status``, every field used here checked (a hostile node gets a clear
    error, never a TypeError)."""
    with translate_errors("sys/seal-status", addr=addr):
        status: Any = client.sys.read_seal_status()  # type: ignore[no-untyped-call]
    return _checked(status, addr, "sys/seal-status")


_FIELDS: dict[str, type] = {"initialized": bool, "sealed": bool, "t": int, "progress": int}


def _checked(doc: Any, addr: str, path: str) -> dict[str, Any]:
    ok = isinstance(doc, dict) and all(
        doc.get(k) is None
        or (
            isinstance(doc[k], kind)
            and (kind is not int or (not isinstance(doc[k], bool) and 0 <= doc[k] <= 255))
        )
        for k, kind in _FIELDS.items()
    )
    if not ok:
        raise VaultError(
            f"unexpected answer from {addr} at {path}",
            hint="check that the address points at OpenBao / Vault",
        )
    return dict(doc)


def unseal_node(
    addr: str,
    keys: KeysFile,
    *,
    timeout: float = 10.0,
    ca_cert: str | os.PathLike[str] | None = None,
    dry_run: bool = False,
    join_timeout: float = JOIN_UNSEAL_TIMEOUT,
) -> UnsealResult:
    """Unseal ``addr`` with the shares in ``keys`` (see the module docstring)."""
    client = anonymous_client(addr, timeout=timeout, ca_cert=ca_cert)
    try:
        status = _seal_status(client, addr)
    except VaultUnreachable:
        raise VaultUnreachable(
            f"cannot reach {addr} to unseal it",
            hint="check that the node is running and the address is right",
        ) from None
    if not status.get("initialized"):
        raise BootstrapError(
            f"{addr} is not initialised, so there is nothing to unseal",
            hint="run `secretsafe vault bootstrap` (it initialises or joins the node)",
        )
    if not status.get("sealed"):
        return UnsealResult(addr, "already unsealed")
    threshold = int(status.get("t") or 0)
    if len(keys.keys) < threshold:
        raise BootstrapError(
            f"{addr} needs {threshold} unseal keys but {keys.path} holds {len(keys.keys)}; "
            "nothing was submitted",
            hint="use the keys file written at initialisation, or gather more key holders",
        )
    if dry_run:
        return UnsealResult(addr, "would unseal", f"{threshold} of {len(keys.keys)} keys")
    import hvac.exceptions as hx  # importable: anonymous_client() required hvac

    with translate_errors("sys/unseal", addr=addr):
        if int(status.get("progress") or 0) > 0:
            # A half-done attempt (maybe with a wrong share) would poison ours.
            client.sys.submit_unseal_key(reset=True)
        resp: dict[str, Any] = {}
        for n, share in enumerate(keys.keys[:threshold], start=1):
            try:
                answer = client.sys.submit_unseal_key(key=share.reveal())
            except hx.InvalidRequest:
                raise _wrong_key(addr=addr, submitted=n, keys=keys) from None
            resp = _checked(answer, addr, "sys/unseal")
            if not resp.get("sealed"):
                return UnsealResult(addr, "unsealed", f"{n} of {len(keys.keys)} keys")
    # Threshold reached and still sealed: a joining raft node finishes asynchronously.
    deadline = time.monotonic() + join_timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        status = _seal_status(client, addr)
        if not status.get("sealed"):
            return UnsealResult(addr, "unsealed", f"{threshold} of {len(keys.keys)} keys")
        if int(status.get("progress") or 0) > 0:
            break
    raise BootstrapError(
        f"{addr} is still sealed after {threshold} key shares were accepted",
        hint=f"the shares in {keys.path} may belong to another cluster, or (for a node that "
        "just joined) the leader could not be reached; check the node's log",
    )


def _wrong_key(*, addr: str, submitted: int, keys: KeysFile) -> BootstrapError:
    return BootstrapError(
        f"{addr} rejected the unseal key shares from {keys.path}: it accepted {submitted} "
        "share(s), then reset its progress to 0 -- at least one share is wrong (OpenBao "
        "only checks the shares once the threshold is reached)",
        hint="make sure the keys file belongs to this cluster; the node is still sealed "
        "and unchanged",
    )


def unseal_all(
    addrs: Sequence[str],
    keys: KeysFile,
    *,
    timeout: float = 10.0,
    ca_cert: str | os.PathLike[str] | None = None,
    dry_run: bool = False,
) -> list[UnsealResult | SecretsafeError]:
    """Unseal every node; each succeeds or fails on its own (an unreachable node does not
    stop the others)."""
    out: list[UnsealResult | SecretsafeError] = []
    for addr in addrs:
        try:
            out.append(unseal_node(addr, keys, timeout=timeout, ca_cert=ca_cert, dry_run=dry_run))
        except SecretsafeError as exc:
            out.append(exc)
    return out
