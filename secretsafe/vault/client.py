"""Connection, authentication, error translation and retries for Vault / OpenBao.

Everything else in :mod:`secretsafe.vault` talks to the server through :class:`VaultClient`
(from :func:`connect`). hvac and requests are imported inside functions only.

Address: ``addr=`` > ``VAULT_ADDR`` > ``BAO_ADDR`` (no silent default: a missing address is an
error that says what to set).

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

Errors (see :func:`translate_errors`)::

    requests ConnectionError / Timeout / DNS      -> VaultUnreachable (30)
    requests SSLError                             -> VaultUnreachable (30), says to pass a CA
    503 / 501 (sealed, not initialised)           -> VaultSealed (31)
    401 / 403 (policy denial, bad/expired token)  -> VaultPermissionDenied (32)
    404 (no secret at path, no such mount)        -> VaultNotFound (33)
    400 "check-and-set parameter did not match"   -> VaultConflict (34)
    other 400, 429, 5xx                           -> VaultError (35)

Every translated error is raised ``from None``: hvac exceptions carry the response body.

Retries (bounded: ``retries`` extra attempts, exponential backoff with jitter, capped at 2 s):

- connection refused / reset / DNS failure (the request never reached a server): always;
- timeouts: only for idempotent calls (reads; a write may have been applied);
- 503 sealed / standby, 500, 502, 429: always (Vault applies a KV write atomically, so a
  failed write had no effect);
- standby redirects: a standby answers 307 to the active node; requests follows it (method and
  body kept). During failover the target may be the dead leader: the resulting connection error
  or redirect loop is retried like any connection failure, so the call lands on the new leader.

Never retried: 400 (including CAS conflicts), 403, 404.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
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

if TYPE_CHECKING:
    import hvac

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "KEYRING_SERVICE",
    "AppRole",
    "VaultClient",
    "connect",
    "keyring_username",
    "resolve_addr",
    "translate_errors",
]

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3
_BACKOFF_BASE = 0.2
_BACKOFF_MAX = 2.0
KEYRING_SERVICE = "secretsafe"
# Server messages are quoted in errors for diagnosis; KV never echoes request data, but the
# quote is bounded anyway.
_MAX_SERVER_MESSAGE = 200

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
    """The server address from ``addr``, ``VAULT_ADDR`` or ``BAO_ADDR``."""
    env = os.environ if environ is None else environ
    value = addr or env.get("VAULT_ADDR") or env.get("BAO_ADDR")
    if not value:
        raise UsageError(
            "no Vault address",
            hint="set VAULT_ADDR (or BAO_ADDR), or pass --addr https://vault.example:8200",
        )
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise UsageError(
            f"Vault address {value!r} has no http:// or https:// scheme",
            hint="use e.g. https://vault.example:8200",
        )
    return value


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
    with contextlib.suppress(OSError):
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value, None, "~/.vault-token"
    value = _keyring_token(addr)
    if value:
        return value, None, "OS keyring"
    return None, None, "none"


class VaultClient:
    """One authenticated connection to a Vault / OpenBao server.

    ``hvac`` is the underlying :class:`hvac.Client` (for calls this class does not wrap); run
    those through :meth:`call` to get retries and translated errors.
    """

    def __init__(
        self,
        client: hvac.Client,
        *,
        addr: str,
        namespace: str | None,
        retries: int,
        token_source: str,
    ) -> None:
        self.hvac = client
        self.addr = addr
        self.namespace = namespace
        self.retries = retries
        self.token_source = token_source

    def __repr__(self) -> str:
        return (
            f"VaultClient(addr={self.addr!r}, namespace={self.namespace!r}, "
            f"token=<hidden>, token_source={self.token_source!r})"
        )

    def call(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        path: str | None = None,
        idempotent: bool = True,
        **kwargs: Any,
    ) -> T:
        """Run ``fn(*args, **kwargs)`` (an hvac call) with bounded retries and translated
        errors. ``path`` names the Vault path in messages; ``idempotent=False`` for writes
        whose retry after a timeout could apply them twice."""
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except SecretsafeError:
                raise
            except Exception as exc:
                classified = _classify(exc, path=path, addr=self.addr)
                if classified is None:
                    raise
                error, retry = classified
                retryable = retry == "always" or (retry == "idempotent" and idempotent)
                if not retryable or attempt >= self.retries:
                    if isinstance(error, VaultPermissionDenied) and not self._token_valid():
                        error = _token_rejected(path)
                    raise error from None
            time.sleep(_backoff(attempt))
            attempt += 1

    def _token_valid(self) -> bool:
        """After a 403: can the token still look itself up? (Vault answers a bare
        "permission denied" both for a policy denial and for an expired token.)"""
        try:
            self.hvac.auth.token.lookup_self()
        except Exception:  # noqa: BLE001 - any failure here means "not usable"
            return False
        return True

    def token_ttl(self) -> int | None:
        """Seconds left on the token (None: never expires). One request."""
        data = self.call(self.hvac.auth.token.lookup_self, path="auth/token/lookup-self")
        ttl = data["data"].get("ttl")
        return int(ttl) if ttl else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.hvac.adapter.close()

    def __enter__(self) -> VaultClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _backoff(attempt: int) -> float:
    delay: float = min(_BACKOFF_MAX, _BACKOFF_BASE * (2**attempt))
    # Jitter spreads concurrent clients apart; not a security use of random.
    return delay * (0.5 + random.random() / 2)  # noqa: S311


def connect(
    *,
    addr: str | None = None,
    token: str | None = None,
    namespace: str | None = None,
    ca_cert: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    approle: AppRole | None = None,
    environ: Mapping[str, str] | None = None,
    pool_size: int = 16,
) -> VaultClient:
    """Open a connection (no request is made unless AppRole login is needed).

    ``environ`` replaces ``os.environ`` for the lookups documented in the module docstring.
    ``pool_size`` bounds the HTTP connections kept for concurrent requests.
    """
    env = os.environ if environ is None else environ
    address = resolve_addr(addr, env)
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

    resolved, role, source = _resolve_token(address, token, approle, env)

    import hvac
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # verify is passed explicitly so hvac's own env lookups never switch it off.
    client = hvac.Client(
        url=address,
        token=resolved,
        verify=verify,
        timeout=timeout,  # type: ignore[arg-type]  # requests takes float seconds
        namespace=ns,
        session=session,
    )
    vc = VaultClient(client, addr=address, namespace=ns, retries=retries, token_source=source)
    if role is not None:
        role_id, secret_id = role.credentials()
        vc.call(
            client.auth.approle.login,
            role_id=role_id,
            secret_id=secret_id,
            mount_point=role.mount,
            use_token=True,
            path=f"auth/{role.mount}/login",
            idempotent=False,
        )
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
        raise classified[0] from None


def _server_messages(exc: Any) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list | tuple):
        text = "; ".join(str(e) for e in errors if e)
    elif isinstance(errors, str):
        text = errors
    else:
        text = ""
    text = " ".join(text.split())
    if len(text) > _MAX_SERVER_MESSAGE:
        text = text[: _MAX_SERVER_MESSAGE - 3] + "..."
    return text


def _token_rejected(path: str | None) -> VaultPermissionDenied:
    return VaultPermissionDenied(
        f"the Vault token was rejected{_where(path)}: it is expired, revoked or invalid",
        hint="log in again (`bao login`, a fresh VAULT_TOKEN, or a new AppRole secret id)",
    )


def _where(path: str | None) -> str:
    return f" at {path}" if path else ""


def _classify(
    exc: BaseException, *, path: str | None, addr: str | None
) -> tuple[SecretsafeError, Retry] | None:
    """The secretsafe error for a third-party exception and whether it may be retried;
    None for exceptions that are not hvac/requests failures."""
    import hvac.exceptions as hx
    import requests.exceptions as rx

    server = addr or "the Vault server"
    where = _where(path)
    if isinstance(exc, rx.SSLError):
        return (
            VaultUnreachable(
                f"TLS verification failed for {server}",
                hint="pass --ca-cert (or set VAULT_CACERT) with the CA that signed the server's "
                "certificate",
            ),
            "never",
        )
    if isinstance(exc, rx.Timeout):
        # ConnectTimeout: nothing was sent; ReadTimeout: a write may have been applied.
        retry: Retry = "always" if isinstance(exc, rx.ConnectTimeout) else "idempotent"
        return (
            VaultUnreachable(
                f"timed out talking to {server}{where}",
                hint="check the address and the network, or raise --timeout",
            ),
            retry,
        )
    if isinstance(exc, rx.ConnectionError | rx.TooManyRedirects):
        return (
            VaultUnreachable(
                f"cannot reach {server}",
                hint="check VAULT_ADDR / --addr and that the server is running",
            ),
            "always",
        )
    if isinstance(exc, rx.RequestException):
        return VaultError(f"request to {server} failed{where} ({type(exc).__name__})"), "never"
    if not isinstance(exc, hx.VaultError):
        return None

    msg = _server_messages(exc)
    low = msg.lower()
    if isinstance(exc, hx.VaultDown | hx.VaultNotInitialized):
        state = "not initialised" if "not initialized" in low else "sealed"
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
    if isinstance(exc, hx.Forbidden | hx.Unauthorized):
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
    if isinstance(exc, hx.InvalidPath):
        if "no handler for route" in low or "route entry not found" in low:
            return (
                VaultNotFound(
                    f"no secrets engine mounted{where}",
                    hint="check --mount (`bao secrets list`), or enable kv-v2 there",
                ),
                "never",
            )
        return (
            VaultNotFound(f"nothing stored{where}", hint="check --path and --mount"),
            "never",
        )
    if isinstance(exc, hx.InvalidRequest):
        if "check-and-set parameter did not match" in low:
            return (
                VaultConflict(
                    f"check-and-set conflict{where}: the secret changed since it was read",
                    hint="someone else wrote it; re-run (see the changes with `secretsafe vault "
                    "diff`)",
                ),
                "never",
            )
        detail = f": {msg}" if msg else ""
        return VaultError(f"Vault rejected the request{where}{detail}"), "never"
    if isinstance(exc, hx.RateLimitExceeded):
        return VaultError(f"rate limited by {server}{where}", hint="retry later"), "always"
    if isinstance(exc, hx.InternalServerError | hx.BadGateway):
        detail = f": {msg}" if msg else ""
        return VaultError(f"server error from {server}{where}{detail}"), "always"
    detail = f": {msg}" if msg else ""
    return VaultError(f"unexpected Vault error{where}{detail}"), "never"
