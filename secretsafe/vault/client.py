"""Connection, authentication, error translation and retries for Vault / OpenBao.

Everything else in :mod:`secretsafe.vault` talks to the server through :class:`VaultClient`
(from :func:`connect`). hvac and requests are imported inside functions only.

Address: ``addr=`` > ``VAULT_ADDR`` > ``BAO_ADDR`` (no silent default: a missing address is an
error that says what to set). Each may list the nodes of a cluster, comma-separated
(``VAULT_ADDR=https://v1:8200,https://v2:8200,https://v3:8200``); ``addr=`` also takes a list,
and ``nodes=`` adds more. See "Clusters" below.

Token, first found wins:

1. ``token=``
2. ``approle=`` (an :class:`AppRole`; logs in and uses the returned token)
3. ``VAULT_TOKEN``, then ``BAO_TOKEN``
4. AppRole from the environment: ``VAULT_ROLE_ID`` / ``VAULT_ROLE_ID_FILE`` together with
   ``VAULT_SECRET_ID`` / ``VAULT_SECRET_ID_FILE`` (``VAULT_APPROLE_MOUNT``, default ``approle``)
5. ``~/.vault-token`` (what ``bao login`` / ``vault login`` write)
6. the OS keyring: service ``secretsafe``, username ``vault-token:<addr>``

Namespace: ``namespace=`` > ``VAULT_NAMESPACE`` > ``BAO_NAMESPACE``. TLS: verification is
always on; ``ca_cert=`` > ``VAULT_CACERT`` > ``BAO_CACERT`` names a CA bundle to trust.
``VAULT_SKIP_VERIFY`` / ``BAO_SKIP_VERIFY`` are refused with a clear error rather than ignored
or honoured silently.

Transport: secretsafe's own KV calls use :meth:`VaultClient.request`, plain ``http.client``
keep-alive connections (no hvac/requests import on push, pull, diff or at startup); hvac is
available as ``client.hvac`` for everything else, with the same settings.

Errors (both paths; :func:`translate_errors` for hvac calls made elsewhere)::

    connection refused / reset, timeout, DNS      -> VaultUnreachable (30)
    TLS verification failure                      -> VaultUnreachable (30), says to pass a CA
    503 / 501 (sealed, not initialised)           -> VaultSealed (31)
    401 / 403 (policy denial, bad/expired token)  -> VaultPermissionDenied (32)
    404 (no secret at path, no such mount)        -> VaultNotFound (33)
    400 "check-and-set parameter did not match"   -> VaultConflict (34)
    other 400, 429, 5xx                           -> VaultError (35)

Vault answers a bare 403 "permission denied" for an expired token too: after a 403 the client
looks its token up once, and reports "expired, revoked or invalid" when that fails as well.
Every translated error is raised outside the handler (no ``__cause__`` nor ``__context__``
holding the original). Server-provided text (response bodies, the
``errors`` strings) is never quoted -- a proxy that echoes the request body would print the
pushed values: it only selects the error class, and recognised Vault phrases
(``_KNOWN_PHRASES``) are named in our own words. Every request goes through
:class:`~secretsafe.vault.transport.Transport`: overall deadline per operation (retries and
backoff included; default :func:`default_deadline`), 32 MiB answer cap, redirects only to
configured nodes and never https -> http.

Retries (bounded: ``retries`` extra attempts, exponential backoff with jitter, capped at 2 s):

- connection refused, DNS failure, connect timeout (the request never reached a server):
  always;
- read timeouts and connections dropped mid-answer: only for idempotent calls (reads; a
  write may have been applied); a kept-alive connection closed while idle is re-opened and
  the request sent once more (it never reached the server);
- 503 sealed / standby, 500, 502, 504, 429: always (a KV write is atomic, so a failed write
  had no effect);
- standby redirects: a standby answers 307 to the active node; the client follows it (up to
  3 hops, method and body kept; only to configured nodes, never https -> http). During
  failover the target may be the dead leader: the resulting connection error is retried
  like any other, reaching the new leader.

Never retried: 400 (including CAS conflicts), 401, 403, 404.

Clusters (more than one node configured):

- every request goes to the **active node**, found with ``sys/health`` (200: active and
  unsealed) over the node list before the first request and again when it was last
  confirmed more than 5 s ago (a leader can step down without a request failing); nothing
  is sent while no node answers as active; reads included, so a client never
  reads from a standby that trails the active node (OpenBao 2.7 standbys serve reads from
  local state 50-105 ms behind: a read right after an acknowledged write could return the
  previous value, and a check-and-set checked there could fail falsely);
- after a connection error, a 5xx, a sealed or standby answer the active node is looked up
  again, and a redirect that a standby answers moves the client to the node it names;
- such failures are retried, beyond ``retries``, for up to ``failover`` seconds (default
  :data:`DEFAULT_FAILOVER`, 10 s: a raft election takes 1.5-2.7 s on OpenBao 2.7, and a
  node restart a few seconds), always within the overall deadline. A single-node client
  (with ``retries`` > 0) waits the same way for answers that show an election (a standby
  without an active node), not for a refused connection (a typo should fail fast).

A write whose answer was lost may have been applied: KV writes carry check-and-set, so a
retry can never apply twice; :mod:`secretsafe.vault.kv` reads the result back from the active
node to say whether it was written.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import ssl
import sys
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from secretsafe.errors import (
    ConfigError,
    SecretsafeError,
    UsageError,
    VaultConflict,
    VaultError,
    VaultNotFound,
    VaultPermissionDenied,
    VaultSealed,
    VaultUnreachable,
)
from secretsafe.files import check_private, read_text
from secretsafe.vault.transport import (
    NETWORK_ERRORS,
    ConnectTimeout,
    DnsError,
    HTTPException,
    Transport,
    check_header,
    netloc,
)

if TYPE_CHECKING:
    import hvac

__all__ = [
    "DEFAULT_FAILOVER",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "KEYRING_SERVICE",
    "AppRole",
    "VaultClient",
    "connect",
    "keyring_username",
    "require_hvac",
    "resolve_addr",
    "resolve_addrs",
    "translate_errors",
]

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3
# Seconds a call keeps looking for an active node (see "Clusters" in the module docstring).
DEFAULT_FAILOVER = 10.0
_PROBE_TIMEOUT = 2.0
# Seconds a cluster client trusts its active node without asking again.
_RECHECK = 5.0
_FAILOVER_PAUSE = 0.05
# A node that fails a probe is not the active one, whatever the failure.
_PROBE_ERRORS: tuple[type[BaseException], ...] = (*NETWORK_ERRORS, SecretsafeError)
# Short: the next request should reach a new leader soon after it is elected.
_FAILOVER_PAUSE_MAX = 0.25
_BACKOFF_BASE = 0.2
_BACKOFF_MAX = 2.0
KEYRING_SERVICE = "secretsafe"
# Server error text is never quoted: a proxy or hostile server can echo the request (token,
# values) into it. These known Vault/OpenBao phrases are recognised and named instead.
_KNOWN_PHRASES = (
    "active cluster node not found",
    "node not active",
    "permission denied",
    "invalid token",
    "missing client token",
    "unsupported path",
    "invalid path",
    "no handler for route",
    "route entry not found",
    "check-and-set parameter required",
    "check-and-set parameter did not match",
    "version does not match",
    "request body too large",
    "too many strings",
    "rate limit quota exceeded",
    "security barrier not initialized",
    "vault is sealed",
    "vault is not initialized",
    "raft storage is not ready",
    "no data provided",
    "failed to parse json input",
    "invalid role id or secret id",
    "invalid secret id",
)

Retry = Literal["never", "always", "idempotent"]


def keyring_username(addr: str) -> str:
    """The keyring username under which a token for ``addr`` is stored."""
    return f"vault-token:{addr}"


@dataclass(frozen=True)
class AppRole:
    """AppRole credentials. Each of role id and secret id comes from a value or a file
    (files holding a secret id must be private: mode 0600)."""

    role_id: str | None = None
    secret_id: str | None = field(default=None, repr=False)
    role_id_file: str | os.PathLike[str] | None = None
    secret_id_file: str | os.PathLike[str] | None = None
    mount: str = "approle"

    def __repr__(self) -> str:
        return (
            f"AppRole(role_id={'<set>' if self.role_id else None}, "
            f"role_id_file={self.role_id_file!r}, secret_id=<hidden>, "
            f"secret_id_file={self.secret_id_file!r}, mount={self.mount!r})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AppRole | None:
        """AppRole from ``VAULT_ROLE_ID[_FILE]`` + ``VAULT_SECRET_ID[_FILE]``, or None."""
        role = environ.get("VAULT_ROLE_ID") or None
        role_file = environ.get("VAULT_ROLE_ID_FILE") or None
        secret = environ.get("VAULT_SECRET_ID") or None
        secret_file = environ.get("VAULT_SECRET_ID_FILE") or None
        if not (role or role_file) and not (secret or secret_file):
            return None
        if not (role or role_file) or not (secret or secret_file):
            raise UsageError(
                "AppRole needs both a role id and a secret id",
                hint="set VAULT_ROLE_ID (or VAULT_ROLE_ID_FILE) and VAULT_SECRET_ID "
                "(or VAULT_SECRET_ID_FILE)",
            )
        return cls(
            role_id=role,
            secret_id=secret,
            role_id_file=role_file,
            secret_id_file=secret_file,
            mount=environ.get("VAULT_APPROLE_MOUNT") or "approle",
        )

    def credentials(self) -> tuple[str, str]:
        """(role id, secret id), reading the files where given."""
        role = self.role_id
        if role is None and self.role_id_file is not None:
            role = read_text(self.role_id_file, what="role id file").strip()
        secret = self.secret_id
        if secret is None and self.secret_id_file is not None:
            check_private(self.secret_id_file, what="secret id file")
            secret = read_text(self.secret_id_file, what="secret id file").strip()
        if not role or not secret:
            raise UsageError(
                "AppRole needs both a role id and a secret id",
                hint="pass role_id/role_id_file and secret_id/secret_id_file",
            )
        return role, secret


def resolve_addr(addr: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The server address from ``addr``, ``VAULT_ADDR`` or ``BAO_ADDR`` (the first one when
    they list several)."""
    return resolve_addrs(addr, environ)[0]


def resolve_addrs(
    addr: str | Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The node addresses from ``addr`` (a string, comma-separated, or a list of them), else
    ``VAULT_ADDR``, else ``BAO_ADDR``; without duplicates, in the order given."""
    env = os.environ if environ is None else environ
    given = [addr] if isinstance(addr, str) else list(addr or ())
    if not any(a.strip() for a in given):
        given = [env.get("VAULT_ADDR") or env.get("BAO_ADDR") or ""]
    out: list[str] = []
    for item in given:
        for part in item.split(","):
            value = part.strip().rstrip("/")
            if not value:
                continue
            if not value.startswith(("http://", "https://")):
                raise UsageError(
                    f"Vault address {value!r} has no http:// or https:// scheme",
                    hint="use e.g. https://vault.example:8200 (several: comma-separated)",
                )
            if value not in out:
                out.append(value)
    if not out:
        raise UsageError(
            "no Vault address",
            hint="set VAULT_ADDR (or BAO_ADDR), or pass --addr https://vault.example:8200",
        )
    return out


def require_hvac() -> Any:
    """The hvac module, or a UsageError naming the extra that provides it."""
    import importlib.util

    # requests carries hvac's calls (through the transport's adapter): both must be there.
    if importlib.util.find_spec("hvac") is None or importlib.util.find_spec("requests") is None:
        raise UsageError(
            "this command needs hvac, which is not installed",
            hint="pip install 'secretsafe[vault]'",
        )
    try:
        import hvac
    except ImportError:  # present but broken (a missing dependency of its own)
        raise UsageError(
            "this command needs hvac, which could not be imported",
            hint="pip install 'secretsafe[vault]'",
        ) from None
    return hvac


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def _token_file() -> Path:
    return Path.home() / ".vault-token"


def _keyring_token(addr: str) -> str | None:
    try:
        import keyring

        token = keyring.get_password(KEYRING_SERVICE, keyring_username(addr))
    except Exception:  # noqa: BLE001 - no usable keyring backend means "no token there"
        return None
    return token or None


def _resolve_token(
    addr: str, token: str | None, approle: AppRole | None, env: Mapping[str, str]
) -> tuple[str | None, AppRole | None, str]:
    """(token, approle to log in with, where it came from)."""
    if token:
        return token, None, "token argument"
    if approle is not None:
        return None, approle, "AppRole"
    for name in ("VAULT_TOKEN", "BAO_TOKEN"):
        value = env.get(name)
        if value:
            return value.strip(), None, name
    env_role = AppRole.from_env(env)
    if env_role is not None:
        return None, env_role, "AppRole (VAULT_ROLE_ID/VAULT_SECRET_ID)"
    path = _token_file()
    if os.path.exists(path):
        # files.read_text: a named pipe or device here is refused, never blocks start-up.
        value = read_text(path, what="Vault token file").strip()
        if value:
            return value, None, "~/.vault-token"
    value = _keyring_token(addr)
    if value:
        return value, None, "OS keyring"
    return None, None, "none"


class _HttpError(Exception):
    """A non-2xx answer from the light transport (status and the server's error strings)."""

    def __init__(self, status: int, errors: list[str]) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors


class VaultClient:
    """One authenticated connection to a Vault / OpenBao server.

    Every request goes through one :class:`~secretsafe.vault.transport.Transport` (TLS,
    timeouts, overall deadline, size cap, redirect policy, proxies). :meth:`request` is the
    fast path every secretsafe KV call uses: JSON in and out, bounded retries and translated
    errors, without ``import hvac`` (about 180 ms) on push/pull/diff.

    ``hvac`` is an :class:`hvac.Client` for everything else, built on first use with the same
    address, token and namespace and a ``requests`` session routed through the same
    transport; run its calls through :meth:`call` to get the same retries, deadline and error
    translation.
    """

    def __init__(
        self,
        *,
        addr: str,
        namespace: str | None,
        retries: int,
        token_source: str,
        token: str | None = None,
        verify: bool | str = True,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float | None = None,
        nodes: Sequence[str] = (),
        transport: Transport | None = None,
        failover: float = DEFAULT_FAILOVER,
    ) -> None:
        if token is not None:
            check_token(token, token_source)
        if namespace:
            check_header("X-Vault-Namespace", namespace)
        self._hvac: hvac.Client | None = None
        self._token = token
        self._transport = transport or Transport(
            verify=verify,
            timeout=timeout,
            deadline=deadline if deadline is not None else default_deadline(timeout, retries),
            nodes=(addr, *nodes),
        )
        self.addr = addr
        self.nodes: tuple[str, ...] = tuple(dict.fromkeys(n.rstrip("/") for n in (addr, *nodes)))
        self._transport.allow(*self.nodes)
        self.failover = float(failover)
        # A cluster client sends every request to the active node: found before the first
        # request and again after any sign that it changed.
        self._locate_first = len(self.nodes) > 1
        self._active_at = 0.0  # when a node last answered as the active one
        self._answered = True  # whether any node answered the last search for the active one
        self.namespace = namespace
        self.retries = retries
        self.token_source = token_source
        self.failovers = 0  # how many times the client moved to another node

    @classmethod
    def anonymous(
        cls,
        addr: str,
        *,
        verify: bool | str = True,
        timeout: float = DEFAULT_TIMEOUT,
        deadline: float | None = None,
        retries: int = 1,
    ) -> VaultClient:
        """A client without a token, for the unauthenticated ``sys/`` endpoints of one node
        (init, unseal, join, health)."""
        return cls(
            addr=addr.rstrip("/"),
            namespace=None,
            retries=retries,
            token_source="none",  # noqa: S106 - where a token came from; here: nowhere
            verify=verify,
            timeout=timeout,
            deadline=deadline if deadline is not None else timeout * (retries + 1),
        )

    @property
    def cluster(self) -> bool:
        """More than one node configured: requests follow the active node."""
        return len(self.nodes) > 1

    def switch_to(self, addr: str) -> None:
        """Send the next requests to ``addr`` (one of :attr:`nodes`)."""
        addr = addr.rstrip("/")
        if addr != self.addr:
            self.failovers += 1
            self.addr = addr
            if self._hvac is not None:
                self._hvac.url = addr

    def locate_active(self) -> str | None:
        """Ask the nodes (the current one first) which one is active: one ``sys/health``
        request each, unauthenticated, until one answers 200 (active, unsealed). Moves the
        client there and returns its address; None when no node is active now."""
        # Never from https to http: the token and values would travel in clear.
        secure = self.nodes[0].startswith("https:")
        order = [
            n
            for n in (self.addr, *(n for n in self.nodes if n != self.addr))
            if not (secure and n.startswith("http:"))
        ]
        probe = min(self._transport.timeout, _PROBE_TIMEOUT)
        self._answered = False
        for node in order:
            if self._transport.remaining() <= 0:
                return None
            try:
                answer = self._transport.exchange(
                    "GET",
                    node + "/v1/sys/health",
                    None,
                    {"Accept": "application/json"},
                    timeout=probe,
                    follow=False,
                )
            except _PROBE_ERRORS:
                continue  # down, or answering nonsense: not the active node
            self._answered = True
            if answer.status == 200:
                self.switch_to(node)
                self._active_at = time.monotonic()
                return node
        return None

    def __repr__(self) -> str:
        return (
            f"VaultClient(addr={self.addr!r}, namespace={self.namespace!r}, "
            f"token=<hidden>, token_source={self.token_source!r})"
        )

    @property
    def transport(self) -> Transport:
        return self._transport

    # --- hvac, built lazily ----------------------------------------------------------------

    @property
    def hvac(self) -> hvac.Client:
        if self._hvac is None:
            require_hvac()
            import hvac

            # verify is passed explicitly so hvac's own env lookups never switch it off; the
            # session's adapter applies the transport's TLS settings anyway.
            self._hvac = hvac.Client(
                url=self.addr,
                token=self._token,
                verify=self._transport.verify,
                timeout=self._transport.timeout,  # type: ignore[arg-type]  # float seconds
                namespace=self.namespace,
                session=self._transport.session(),
            )
        return self._hvac

    def set_token(self, token: str) -> None:
        check_token(token, "the token")
        self._token = token
        if self._hvac is not None:
            self._hvac.token = token

    # --- calls -----------------------------------------------------------------------------

    def call(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        path: str | None = None,
        idempotent: bool = True,
        **kwargs: Any,
    ) -> T:
        """Run ``fn(*args, **kwargs)`` (an hvac call, or :meth:`request`'s transport) with
        bounded retries and translated errors, all within one overall deadline. ``path``
        names the Vault path in messages; ``idempotent=False`` for writes whose retry after a
        timeout could apply them twice."""
        attempt = 0
        failover_ends: float | None = None
        pause = _FAILOVER_PAUSE
        with self._transport.operation():
            while True:
                if self.cluster and time.monotonic() - self._active_at > _RECHECK:
                    # A leader can step down without any request failing: a long-lived
                    # client confirms the active node now and then (one sys/health).
                    self._locate_first = True
                if self._locate_first:
                    self._locate_first = self.locate_active() is None
                no_active = self._locate_first and self.cluster
                error: SecretsafeError
                retry: Retry
                if no_active:
                    # Never send to a node not known to be active: a standby would answer
                    # reads (and check check-and-set versions) from state behind the leader.
                    error, retry = self._no_active_node(), "always"
                else:
                    try:
                        return fn(*args, **kwargs)
                    except SecretsafeError:
                        raise
                    except Exception as exc:
                        classified = _classify(exc, path=path, addr=self.addr)
                        if classified is None:
                            raise
                        error, retry = classified
                # Decided and raised outside the handler: the original exception (hvac's
                # carries the server's text) must not stay reachable as __context__.
                retryable = retry == "always" or (retry == "idempotent" and idempotent)
                if retryable and self._leader_may_have_changed(error):
                    # An election or a node restart: look for the active node again and keep
                    # trying for up to `failover` seconds (not counted against `retries`).
                    now = time.monotonic()
                    if failover_ends is None:
                        failover_ends = now + self.failover
                    if now < failover_ends:
                        self._locate_first = self.cluster
                        if no_active or not self.cluster:
                            # Nothing to try yet: wait a little (bounded, growing).
                            if pause >= self._transport.remaining():
                                raise error
                            time.sleep(pause)
                            pause = min(pause * 2, _FAILOVER_PAUSE_MAX)
                        continue
                if not retryable or attempt >= self.retries:
                    if isinstance(error, VaultPermissionDenied) and not self._token_valid():
                        error = _token_rejected(path)
                    raise error
                delay = _backoff(attempt)
                if delay >= self._transport.remaining():
                    raise self._transport.deadline_error(self.addr) from None
                time.sleep(delay)
                attempt += 1

    def _no_active_node(self) -> VaultSealed | VaultUnreachable:
        if not self._answered:
            return VaultUnreachable(
                f"cannot reach any of the {len(self.nodes)} Vault nodes ({', '.join(self.nodes)})",
                hint="check VAULT_ADDR / --addr and that the servers are running",
            )
        return VaultSealed(
            f"no active node among {', '.join(self.nodes)} (a leader election, or most nodes "
            "down or sealed)",
            hint="check that a majority of the nodes run and are unsealed; the vault "
            "commands' --failover SECONDS waits longer for an election",
        )

    def _leader_may_have_changed(self, error: SecretsafeError) -> bool:
        """Failures after which another node may be (or soon become) the active one."""
        if not self.cluster and self.retries == 0:
            return False  # one node and no retries asked for: fail fast
        if isinstance(error, VaultSealed):
            # One node that is simply sealed waits for an operator: fail fast there.
            return self.cluster or "standby" in error.message
        if isinstance(error, VaultUnreachable):
            return self.cluster and "TLS" not in error.message
        if type(error) is VaultError:
            text = error.message.lower()
            return "server error" in text and (
                self.cluster or "active cluster node not found" in text or "node not active" in text
            )
        return False

    def request(
        self,
        method: str,
        api_path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        path: str | None = None,
        idempotent: bool = True,
        accept: Collection[int] = (),
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        """``method`` ``/v1/<api_path>`` with a JSON ``body``; returns (status, parsed JSON or
        None). Statuses in ``accept`` are returned instead of raised."""
        return self.call(
            self._send,
            method,
            api_path,
            body=body,
            params=params,
            accept=tuple(accept),
            content_type=content_type,
            path=path or api_path,
            idempotent=idempotent,
        )

    def _send(
        self,
        method: str,
        api_path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        accept: tuple[int, ...] = (),
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        target = "/v1/" + api_path.lstrip("/")
        if params:
            target += "?" + urllib.parse.urlencode(params)
        headers = {"X-Vault-Request": "true", "Accept": "application/json"}
        if self._token:
            headers["X-Vault-Token"] = self._token
        if self.namespace:
            headers["X-Vault-Namespace"] = self.namespace
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = content_type
        answer = self._transport.exchange(method, self.addr + target, data, headers)
        if self.cluster and netloc(answer.url) != netloc(self.addr):
            # A standby redirected us: its target is the active node now.
            moved = next((n for n in self.nodes if netloc(n) == netloc(answer.url)), None)
            if moved is not None:
                self.switch_to(moved)
        status = answer.status
        doc: Any = None
        if answer.body:
            try:
                doc = json.loads(answer.body)
            except (ValueError, RecursionError):  # RecursionError: nested too deep
                doc = None  # the body is never quoted: it could hold anything
        if 200 <= status < 300 or status in accept:
            return status, doc
        errors = doc.get("errors") if isinstance(doc, dict) else None
        raise _HttpError(status, [str(e) for e in errors] if isinstance(errors, list) else [])

    def _token_valid(self) -> bool:
        """After a 403: can the token still look itself up? (Vault answers a bare
        "permission denied" both for a policy denial and for an expired token.)"""
        try:
            self._send("GET", "auth/token/lookup-self")
        except Exception:  # noqa: BLE001 - any failure here means "not usable"
            return False
        return True

    def token_ttl(self) -> int | None:
        """Seconds left on the token (None: never expires). One request."""
        _, doc = self.request("GET", "auth/token/lookup-self")
        data = doc.get("data") if isinstance(doc, dict) else None
        ttl = data.get("ttl") if isinstance(data, dict) else None
        if ttl is None or ttl == 0:
            return None
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 < ttl < 2**53:
            raise VaultError(f"unexpected answer from {self.addr} to a token lookup")
        return ttl

    def login_approle(self, role: AppRole) -> None:
        """Log in with AppRole and use the returned token."""
        role_id, secret_id = role.credentials()
        mount = role.mount.strip("/")
        _, doc = self.request(
            "POST",
            f"auth/{mount}/login",
            body={"role_id": role_id, "secret_id": secret_id},
            path=f"auth/{mount}/login",
            idempotent=False,
        )
        auth = doc.get("auth") if isinstance(doc, dict) else None
        token = auth.get("client_token") if isinstance(auth, dict) else None
        if not token or not isinstance(token, str):
            raise VaultError(f"AppRole login at auth/{mount}/login returned no token")
        check_token(token, f"the AppRole login at auth/{mount}/login")
        self.set_token(token)

    def close(self) -> None:
        self._transport.close()
        if self._hvac is not None:
            with contextlib.suppress(Exception):
                self._hvac.adapter.close()

    def __enter__(self) -> VaultClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_deadline(timeout: float, retries: int) -> float:
    """The overall deadline of one operation when none is given: every attempt may use its
    whole timeout, plus the longest backoff between attempts."""
    return timeout * (retries + 1) + _BACKOFF_MAX * retries


def _deadline_for(deadline: float | None, timeout: float, retries: int, failover: float) -> float:
    """The given deadline, else :func:`default_deadline`, at least ``failover + timeout``
    for a cluster: room to wait out an election and then make the request."""
    if deadline is not None:
        return deadline
    return max(default_deadline(timeout, retries), failover + timeout)


def check_token(token: str, source: str) -> None:
    """A token must be a header-safe string; the error names where it came from, never it."""
    if not token or any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in token):
        raise UsageError(
            f"the Vault token from {source} holds a space, line break or other character "
            "no token has; it was not used",
            hint="re-copy the token without surrounding whitespace",
        )


def _backoff(attempt: int) -> float:
    delay: float = min(_BACKOFF_MAX, _BACKOFF_BASE * (2**attempt))
    # Jitter spreads concurrent clients apart; not a security use of random.
    return delay * (0.5 + random.random() / 2)  # noqa: S311


def connect(
    *,
    addr: str | Sequence[str] | None = None,
    token: str | None = None,
    namespace: str | None = None,
    ca_cert: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    approle: AppRole | None = None,
    environ: Mapping[str, str] | None = None,
    deadline: float | None = None,
    nodes: Sequence[str] = (),
    failover: float = DEFAULT_FAILOVER,
) -> VaultClient:
    """Open a connection (no request is made unless AppRole login is needed).

    ``addr``: one address, several comma-separated, or a list (default ``VAULT_ADDR``, then
    ``BAO_ADDR``). ``nodes``: more addresses of the cluster. With more than one node in all,
    requests follow the active node (module docstring, "Clusters").
    ``environ`` replaces ``os.environ`` for the lookups documented in the module docstring.
    ``deadline``: seconds one operation may take in all, retries included (default
    :func:`default_deadline`). ``failover``: seconds a call keeps looking for an active node
    through an election (default :data:`DEFAULT_FAILOVER`).
    """
    env = os.environ if environ is None else environ
    addresses = resolve_addrs(addr, env)
    for node in nodes:
        addresses += [a for a in resolve_addrs(node, env) if a not in addresses]
    address = addresses[0]
    if _first(env, "VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY") not in (None, "", "0", "false"):
        raise ConfigError(
            "VAULT_SKIP_VERIFY is set, but secretsafe never disables TLS verification",
            hint="unset it and pass --ca-cert (or VAULT_CACERT) with the CA that signed the "
            "server's certificate",
        )
    ns = namespace or _first(env, "VAULT_NAMESPACE", "BAO_NAMESPACE")
    ca = ca_cert or _first(env, "VAULT_CACERT", "BAO_CACERT")
    verify: bool | str = True
    if ca:
        ca_path = Path(ca)
        if not ca_path.is_file():
            raise UsageError(f"CA bundle {ca_path}: no such file", hint="check --ca-cert")
        verify = str(ca_path)
    if timeout <= 0:
        raise UsageError("timeout must be positive")
    if retries < 0:
        raise UsageError("retries must be 0 or more")
    if deadline is not None and deadline <= 0:
        raise UsageError("deadline must be positive")
    if failover < 0:
        raise UsageError("failover must be 0 or more")

    resolved, role, source = _resolve_token(address, token, approle, env)
    vc = VaultClient(
        addr=address,
        namespace=ns,
        retries=retries,
        token_source=source,
        token=resolved,
        verify=verify,
        timeout=timeout,
        deadline=_deadline_for(deadline, timeout, retries, failover if len(addresses) > 1 else 0),
        nodes=addresses[1:],
        failover=failover,
    )
    if role is not None:
        vc.login_approle(role)
    elif resolved is None:
        raise VaultPermissionDenied(
            f"no Vault token for {address}",
            hint="set VAULT_TOKEN (or BAO_TOKEN), run `bao login`, or set VAULT_ROLE_ID and "
            "VAULT_SECRET_ID for AppRole",
        )
    return vc


@contextlib.contextmanager
def translate_errors(path: str | None = None, *, addr: str | None = None) -> Iterator[None]:
    """Turn hvac / requests exceptions raised inside the block into the secretsafe tree
    (raised ``from None``). ``path`` is named in the message."""
    try:
        yield
    except SecretsafeError:
        raise
    except Exception as exc:
        classified = _classify(exc, path=path, addr=addr)
        if classified is None:
            raise
        error, original = classified[0], exc
    else:
        return
    # A generator context manager re-raises inside the caller's handling of ``exc``, so
    # Python makes ``exc`` the ``__context__`` of ``error`` whatever we do: empty it first
    # (its text, hvac's ``errors``/``text``/``json`` may quote the server or the request).
    _scrub(original)
    raise error from None


def _scrub(exc: BaseException) -> None:
    """Empty an exception that is about to be hidden behind a translated one: its args, every
    attribute, its traceback and its own chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        following = current.__cause__ or current.__context__
        current.args = (type(current).__name__,)
        for name in list(vars(current)):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(current, name, None)
        current.__traceback__ = None
        current.__cause__ = current.__context__ = None
        current = following


def _token_rejected(path: str | None) -> VaultPermissionDenied:
    return VaultPermissionDenied(
        f"the Vault token was rejected{_where(path)}: it is expired, revoked or invalid",
        hint="log in again (`bao login`, a fresh VAULT_TOKEN, or a new AppRole secret id)",
    )


def _where(path: str | None) -> str:
    return f" at {path}" if path else ""


_TLS_HINT = "pass --ca-cert (or set VAULT_CACERT) with the CA that signed the server's certificate"


def _classify(
    exc: BaseException, *, path: str | None, addr: str | None
) -> tuple[SecretsafeError, Retry] | None:
    """The secretsafe error for a transport or server failure and whether it may be retried;
    None for exceptions that are not such failures (bugs propagate)."""
    server = addr or "the Vault server"
    where = _where(path)
    if isinstance(exc, _HttpError):
        return _classify_status(exc.status, exc.errors, path=path, addr=addr)
    if isinstance(exc, ssl.SSLError):
        return VaultUnreachable(f"TLS verification failed for {server}", hint=_TLS_HINT), "never"
    if isinstance(exc, ConnectTimeout):
        return _timed_out(server, where), "always"
    if isinstance(exc, TimeoutError):
        # The request may have reached the server: only idempotent calls are retried.
        return _timed_out(server, where), "idempotent"
    if isinstance(exc, ConnectionRefusedError | DnsError):
        return _unreachable(server), "always"
    if isinstance(exc, HTTPException) and not isinstance(exc, OSError):
        # Too many or too long header lines, a bad status line: not Vault, or a broken proxy.
        return VaultError(
            f"{server} sent an answer that is not valid HTTP{where}",
            hint="check that the address points at Vault / OpenBao",
        ), "never"
    if isinstance(exc, OSError | HTTPException):
        return _unreachable(server), "idempotent"

    rx = sys.modules.get("requests.exceptions")
    if rx is not None and isinstance(exc, rx.RequestException):
        if isinstance(exc, rx.SSLError):
            return VaultUnreachable(
                f"TLS verification failed for {server}", hint=_TLS_HINT
            ), "never"
        if isinstance(exc, rx.Timeout):
            # ConnectTimeout: nothing was sent; ReadTimeout: a write may have been applied.
            retry: Retry = "always" if isinstance(exc, rx.ConnectTimeout) else "idempotent"
            return _timed_out(server, where), retry
        if isinstance(exc, rx.ConnectionError | rx.TooManyRedirects):
            return _unreachable(server), "always"
        return VaultError(f"request to {server} failed{where} ({type(exc).__name__})"), "never"
    hx = sys.modules.get("hvac.exceptions")
    if hx is not None and isinstance(exc, hx.VaultError):
        status = _HVAC_STATUS.get(type(exc).__name__, 0)
        errors = exc.errors if isinstance(exc.errors, list) else [exc.errors] if exc.errors else []
        return _classify_status(status, [str(e) for e in errors], path=path, addr=addr)
    return None


_HVAC_STATUS = {
    "InvalidRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "InvalidPath": 404,
    "RateLimitExceeded": 429,
    "InternalServerError": 500,
    "VaultNotInitialized": 501,
    "BadGateway": 502,
    "VaultDown": 503,
}


def _timed_out(server: str, where: str) -> VaultUnreachable:
    return VaultUnreachable(
        f"timed out talking to {server}{where}",
        hint="check the address and the network, or raise --timeout",
    )


def _unreachable(server: str) -> VaultUnreachable:
    return VaultUnreachable(
        f"cannot reach {server}", hint="check VAULT_ADDR / --addr and that the server is running"
    )


def _classify_status(
    status: int, errors: list[str], *, path: str | None, addr: str | None
) -> tuple[SecretsafeError, Retry]:
    server = addr or "the Vault server"
    where = _where(path)
    # The server's text only classifies the error; the message shows our own words for the
    # phrases we recognise (a proxy may echo the request body -- the pushed values -- as
    # its "error").
    low = " ".join(e for e in errors if e).lower()
    known = [phrase for phrase in _KNOWN_PHRASES if phrase in low]
    detail = f": {'; '.join(known)}" if known else ""
    if status in (501, 503):
        state = "not initialised" if "not initialized" in low or status == 501 else "sealed"
        if "standby" in low:
            state = "a standby with no active node"
        return (
            VaultSealed(
                f"{server} is {state}",
                hint="unseal it (`secretsafe vault unseal`) or initialise it "
                "(`secretsafe vault bootstrap`)",
            ),
            "always",
        )
    if status in (401, 403):
        if "invalid token" in low or "expired" in low or "bad token" in low:
            return _token_rejected(path), "never"
        policy_path = path or "the path"
        return (
            VaultPermissionDenied(
                f"permission denied{where}",
                hint=f"check that the token's policies grant the needed capabilities on "
                f"{policy_path} (`bao token lookup` lists them; `bao policy read NAME` shows "
                "one); an expired token also gives this",
            ),
            "never",
        )
    if status == 404:
        if "no handler for route" in low or "route entry not found" in low:
            return (
                VaultNotFound(
                    f"no secrets engine mounted{where}",
                    hint="check --mount (`bao secrets list`), or enable kv-v2 there",
                ),
                "never",
            )
        return VaultNotFound(f"nothing stored{where}", hint="check --path and --mount"), "never"
    if status == 400:
        if "check-and-set parameter did not match" in low:
            return (
                VaultConflict(
                    f"check-and-set conflict{where}: the secret changed since it was read",
                    hint="someone else wrote it; re-run (see the changes with `secretsafe vault "
                    "diff`)",
                ),
                "never",
            )
        return VaultError(f"Vault rejected the request{where} (HTTP 400){detail}"), "never"
    if status == 429:
        return VaultError(f"rate limited by {server}{where}", hint="retry later"), "always"
    if status in (500, 502, 504):
        return VaultError(f"server error ({status}) from {server}{where}{detail}"), "always"
    return VaultError(
        f"unexpected answer ({status or 'error'}) from {server}{where}{detail}"
    ), "never"
