"""Read values from Vault / OpenBao at start (``secretsafe run --vault``) and keep a client's
token valid for as long as a process polls (``run --watch``, :class:`VaultSource`).

Everything goes through :func:`secretsafe.vault.client.connect` and so through the one
:class:`~secretsafe.vault.transport.Transport`: no hvac, no requests on this path.

**Node list.** ``VAULT_ADDR`` (or ``BAO_ADDR``) may hold several comma-separated addresses,
the nodes of one cluster. Node selection and fail-over are the client's
(:func:`~secretsafe.vault.client.connect`, "Clusters"): every request goes to the active node,
which is looked up again after a failure and waited for through an election for up to the
failover window (:data:`~secretsafe.vault.client.DEFAULT_FAILOVER`); the app starts while
any node with quorum is up.

**Token** (what :func:`~secretsafe.vault.client.connect` resolves: ``VAULT_TOKEN`` /
``BAO_TOKEN``, AppRole from ``VAULT_ROLE_ID`` + ``VAULT_SECRET_ID`` (or their ``_FILE``
twins, ``VAULT_APPROLE_MOUNT``), ``~/.vault-token``, the OS keyring), looked up in the
environment :class:`Session` is given. :class:`Session` keeps it valid (see
``docs/vault-lifetimes.md``): from its second use on, at most every 2/3 of the token's TTL, it
looks the token up; a renewable token is renewed once 2/3 of its TTL has passed; a token that
expired, was revoked, or cannot be renewed any more is replaced by a fresh AppRole login when
the session logged in with AppRole.

**Layouts** are those :func:`secretsafe.vault.sync.push` writes, read by
:func:`secretsafe.vault.sync.pull`: flat keys, or ``SECTION__FIELD`` names from the section
sub-paths its metadata lists.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from secretsafe.errors import UsageError, VaultError, VaultNotFound, VaultPermissionDenied
from secretsafe.vault.client import (
    DEFAULT_FAILOVER,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    AppRole,
    VaultClient,
    connect,
    resolve_addrs,
)

__all__ = ["Session", "current_versions", "read_values"]

T = TypeVar("T")

#: How often a token that never expires (TTL 0) is looked up again (to notice a revocation).
NO_EXPIRY_RECHECK = 600.0
#: Lower bound between two token checks, so a tiny TTL cannot make a busy loop.
MIN_CHECK_INTERVAL = 0.2


class Session:
    """An authenticated client for one Vault deployment that stays usable: a node of the
    list (the active one, followed by the client), a token kept valid (module docstring).

    ``environ``: where addresses, token and AppRole credentials are looked up (default
    ``os.environ``). ``failover``: seconds a request keeps looking for an active node through
    an election (the client's). Use :meth:`call` for requests;
    :meth:`client` returns the client with a valid token; :meth:`seconds_until_check` says
    when a poller should call again at the latest to renew in time.
    """

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        addr: str | None = None,
        token: str | None = None,
        approle: AppRole | None = None,
        namespace: str | None = None,
        ca_cert: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        failover: float = DEFAULT_FAILOVER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._env = dict(os.environ if environ is None else environ)
        self.nodes = resolve_addrs(addr, self._env)
        self._token = token
        self._approle = approle
        self._namespace = namespace
        self._ca_cert = ca_cert
        self._timeout = timeout
        self._retries = retries
        self._failover = failover
        self._clock = clock
        self._client: VaultClient | None = None
        self._relogin: AppRole | None = None
        self._uses = 0
        self._next_check = 0.0
        #: How many times the token was renewed / replaced by a new login (for tests, logs).
        self.renewals = 0
        self.logins = 0

    def __repr__(self) -> str:
        return f"Session(nodes={self.nodes!r}, token=<hidden>)"

    def _open(self) -> VaultClient:
        refused = False
        try:
            client = connect(
                addr=self.nodes,
                token=self._token,
                approle=self._approle,
                namespace=self._namespace,
                ca_cert=self._ca_cert,
                timeout=self._timeout,
                retries=self._retries,
                failover=self._failover,
                environ=self._env,
            )
        except VaultError as exc:
            # connect() sends a request only for an AppRole login; the server answers a
            # wrong role id / secret id with a bare 400 (a plain VaultError).
            if type(exc) is not VaultError:
                raise
            refused = True
        if refused:
            raise VaultPermissionDenied(
                "the AppRole login was refused: the role id or secret id is wrong, expired "
                "or used up",
                hint="check VAULT_ROLE_ID / VAULT_SECRET_ID (a new secret id: `bao write -f "
                "auth/approle/role/NAME/secret-id`)",
            )
        if client.token_source.startswith("AppRole"):
            # Kept to log in again when the token expires (docs/vault-lifetimes.md).
            self._relogin = self._approle or AppRole.from_env(self._env)
            self.logins += 1
        self._uses = 0
        return client

    # --- the token -----------------------------------------------------------------------

    def client(self, *, check: bool = True) -> VaultClient:
        """The client, its token renewed or replaced first when due (module docstring)."""
        if self._client is None:
            self._client = self._open()
        elif check and self._uses > 0 and self._clock() >= self._next_check:
            self._check_token(self._client)
        self._uses += 1
        return self._client

    def seconds_until_check(self) -> float:
        """Seconds until the token should next be checked (0: at the next call)."""
        return max(0.0, self._next_check - self._clock())

    def _check_token(self, client: VaultClient) -> None:
        now = self._clock()
        try:
            _, doc = client.request("GET", "auth/token/lookup-self")
        except VaultPermissionDenied:
            # Expired or revoked (a lookup of one's own token is always allowed otherwise).
            self._login_again(client, expired=True)
            return
        data = doc.get("data") if isinstance(doc, dict) else None
        data = data if isinstance(data, dict) else {}
        ttl = _natural(data.get("ttl"))
        full = _natural(data.get("period")) or _natural(data.get("creation_ttl")) or ttl
        if full == 0:  # a token that never expires (root, or created with no TTL)
            self._next_check = now + NO_EXPIRY_RECHECK
            return
        if ttl <= full / 3:
            renewed = _natural(self._renew(client)) if data.get("renewable") is True else 0
            # Extended, not just capped at its max TTL (TTLs are whole seconds: +1 of slack).
            if renewed > max(full / 3, ttl + 1):
                self.renewals += 1
                ttl = renewed
            elif self._relogin is not None:
                # Not renewable, or at its max TTL (the renewal could not extend it): a new
                # login before it runs out.
                self._login_again(client, expired=False)
                return
            else:
                # Nothing can extend it: look again when it has run out (then: the error).
                self._next_check = now + max(MIN_CHECK_INTERVAL, ttl)
                return
        self._next_check = now + max(MIN_CHECK_INTERVAL, ttl - full / 3)

    @staticmethod
    def _renew(client: VaultClient) -> Any:
        try:
            _, doc = client.request("POST", "auth/token/renew-self", body={}, idempotent=False)
        except VaultError:
            return 0  # not renewable after all: treated like a token at its max TTL
        auth = doc.get("auth") if isinstance(doc, dict) else None
        return auth.get("lease_duration") if isinstance(auth, dict) else 0

    def _login_again(self, client: VaultClient, *, expired: bool) -> None:
        if self._relogin is None:
            if expired:
                raise VaultPermissionDenied(
                    "the Vault token expired or was revoked",
                    hint="give the app a renewable or periodic token, or use AppRole "
                    "(VAULT_ROLE_ID + VAULT_SECRET_ID), which logs in again by itself",
                )
            return
        client.login_approle(self._relogin)
        self.logins += 1
        self._next_check = self._clock()  # learn the new token's TTL at the next call
        self._uses = 1

    # --- requests ------------------------------------------------------------------------

    def call(self, fn: Callable[[VaultClient], T]) -> T:
        """``fn(client)`` with a valid token; the client sends each request to the active
        node and fails over by itself (module docstring)."""
        return fn(self.client())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _natural(value: Any) -> int:
    """A TTL field of a token answer: a non-negative int (anything else counts as 0)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53:
        return value
    return 0


def _check_path(path: str) -> str:
    clean = path.strip().strip("/")
    if not clean:
        raise UsageError("--vault needs a KV path", hint="e.g. --vault apps/api/prod")
    return clean


def read_values(session: Session, path: str, *, mount: str = "secret") -> dict[str, str]:
    """The values at ``mount``/``path`` by variable name, in the layout the last push
    recorded (flat when none): what ``secretsafe vault pull`` writes to a file."""
    from secretsafe.vault.sync import pull

    clean = _check_path(path)
    missing: VaultNotFound | None = None
    try:
        values = session.call(lambda c: pull(c, path=clean, mount=mount))
    except VaultNotFound as exc:
        missing = exc
    if missing is not None:  # our own words (path and mount), with run's option names
        raise VaultNotFound(
            missing.message, hint="check the --vault path and --vault-mount (default: secret)"
        )
    return dict(values.reveal())


def current_versions(
    session: Session, paths: Sequence[str], *, mount: str = "secret"
) -> dict[str, int]:
    """``"mount/path"`` -> current KV version of each path and of the section sub-paths its
    metadata lists (0: nothing stored). Metadata reads only: no value is transferred. A
    poller compares two results to know that a value changed."""
    out: dict[str, int] = {}
    mnt = mount.strip("/")
    for path in paths:
        base = _check_path(path)
        meta = session.call(functools.partial(_metadata, mount=mnt, path=base))
        out[f"{mnt}/{base}"] = meta[0]
        for section in meta[1]:
            sub = f"{base}/{section}"
            out[f"{mnt}/{sub}"] = session.call(functools.partial(_metadata, mount=mnt, path=sub))[0]
    return out


def _metadata(client: VaultClient, *, mount: str, path: str) -> tuple[int, list[str]]:
    """(current version, sections recorded by push) of ``mount/metadata/path``."""
    status, doc = client.request(
        "GET", f"{mount}/metadata/{path}", path=f"{mount}/{path}", accept=(404,)
    )
    data = doc.get("data") if isinstance(doc, dict) else None
    if status == 404 or not isinstance(data, dict):
        return 0, []
    version = _natural(data.get("current_version"))
    custom = data.get("custom_metadata")
    listed = custom.get("secretsafe_sections") if isinstance(custom, dict) else None
    sections = [s for s in listed.split(",") if s] if isinstance(listed, str) else []
    return version, sections
