"""``secretsafe vault bootstrap``: bring a Vault / OpenBao server (or raft cluster) from fresh,
sealed or already set up to the state a TOML file declares, changing nothing that is right.

Config (paths are relative to the config file)::

    [server]
    nodes = ["http://10.0.0.1:8200", "http://10.0.0.2:8200", "http://10.0.0.3:8200"]
    # ca_cert = "ca.pem"                   # TLS is always verified

    [init]
    shares = 5
    threshold = 3
    keys_file = "vault-keys.enc.env"       # SOPS, encrypted for the recipients below
    recipients = ["age1..."]               # who can unseal (and read app credentials)
    revoke_root = false                    # revoke the initial root token at the end

    [mounts.secret]                        # a kv-v2 mount at secret/
    description = "application secrets"
    max_versions = 10                      # optional

    [approle]
    mount = "approle"                      # optional

    [apps.api]
    path = "apps/api/prod"                 # KV path the app reads (read-only)
    mount = "secret"                       # optional, default "secret"
    layout = "flat"                        # or "sections" (SECTION__FIELD -> path/section)
    env_file = "api/.env.prod.enc"         # optional: initial values (SOPS dotenv)
    credentials_file = "api/approle.enc.env"   # default: "<app>-approle.enc.env"
    token_ttl = "1h"                       # optional AppRole settings
    token_max_ttl = "4h"
    secret_id_ttl = "0"                    # 0: no expiry
    recipients = ["age1..."]               # default: init.recipients

Steps, in order (each reports ``done``, ``unchanged``, ``planned`` (dry run), ``differs`` or
``skipped`` through the ``on_step`` callback as it finishes):

1. ``check``: every node answers (an unreachable node stops the run before any change);
2. ``init``: the first node if no node is initialised -- refused when the keys file already
   exists (it may hold another cluster's keys); the recipients are checked *before* init,
   because the shares exist only in that one response;
3. ``keys-file``: the shares and root token, SOPS-encrypted, 0600, written atomically;
4. ``unseal`` every initialised node, then ``join`` each fresh node to the active one and
   unseal it; ``raft``: wait until every node votes;
5. ``mount`` (kv-v2), ``policy`` (one least-privilege policy per app, see
   :mod:`secretsafe.vault.policies`), ``auth`` (AppRole), ``role`` per app;
6. ``credentials``: the app's role id and a new secret id, SOPS-encrypted for its recipients
   (kept when the file already holds a valid pair);
7. ``secrets``: each app's env file pushed to its path with check-and-set (only when the path
   is empty, or with ``force``);
8. ``root-token``: revoked (and removed from the keys file) when ``revoke_root`` is set.

A mount, policy, role or secret that exists with different settings is reported as
``differs`` with the difference and changed only with ``force``. A mount of another type is
never replaced (that would destroy its data).

Token: the root token from the keys file, else ``VAULT_TOKEN`` / ``BAO_TOKEN``. Unseal keys,
tokens and secret ids never appear in a result, a message or argv.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from secretsafe.errors import (
    BootstrapError,
    ConfigError,
    SecretsafeError,
    VaultError,
    VaultNotFound,
    VaultPermissionDenied,
    VaultUnreachable,
)
from secretsafe.files import read_text
from secretsafe.secret import Secret
from secretsafe.vault.policies import AppAccess, app_policy, check_name, check_path, policy_diff

__all__ = [
    "AppConfig",
    "BootstrapConfig",
    "BootstrapReport",
    "MountConfig",
    "StepResult",
    "bootstrap",
    "load_config",
    "parse_duration",
    "plan",
]

Status = Literal["done", "unchanged", "planned", "differs", "skipped"]
OnStep = Callable[["StepResult"], None]

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# --- config --------------------------------------------------------------------------------


def parse_duration(value: object, *, what: str) -> int:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h30m"``, ``"7d"`` (``0``: none)."""
    if isinstance(value, bool):
        raise ConfigError(f'{what}: expected a duration such as "1h", got {value!r}')
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(int(n) * _UNITS[u] for n, u in parts)
    raise ConfigError(
        f"{what}: {value!r} is not a duration", hint='use seconds or e.g. "30m", "1h", "7d"'
    )


@dataclass(frozen=True)
class MountConfig:
    path: str
    description: str = ""
    max_versions: int | None = None


@dataclass(frozen=True)
class AppConfig:
    name: str
    path: str
    mount: str = "secret"
    layout: Literal["flat", "sections"] = "flat"
    env_file: Path | None = None
    credentials_file: Path = Path("app-approle.enc.env")
    recipients: tuple[str, ...] = ()
    token_ttl: int = 3600
    token_max_ttl: int = 14400
    secret_id_ttl: int = 0
    secret_id_num_uses: int = 0

    @property
    def policy(self) -> str:
        return f"app-{self.name}"

    @property
    def access(self) -> AppAccess:
        return AppAccess(
            app=self.name, mount=self.mount, paths=(self.path,), children=self.layout == "sections"
        )

    def policy_hcl(self) -> str:
        return app_policy(self.access)


@dataclass(frozen=True)
class BootstrapConfig:
    source: Path
    nodes: tuple[str, ...]
    shares: int
    threshold: int
    keys_file: Path
    recipients: tuple[str, ...]
    revoke_root: bool = False
    ca_cert: Path | None = None
    mounts: tuple[MountConfig, ...] = ()
    approle_mount: str = "approle"
    apps: tuple[AppConfig, ...] = ()

    def policies(self) -> list[tuple[str, str]]:
        """(name, HCL) of every app policy, for ``--print-policies``."""
        return [(a.policy, a.policy_hcl()) for a in self.apps]


def _table(doc: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _unknown(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(extra)}",
            hint=f"allowed: {', '.join(sorted(allowed))}",
        )


def _str(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _int(table: Mapping[str, Any], key: str, where: str, default: int, *, lo: int, hi: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"{where}: {key} must be an integer from {lo} to {hi}")
    return value


def _recipients(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(
            f"{where}: recipients must be a non-empty list of age public keys",
            hint='e.g. recipients = ["age1..."] (`secretsafe keys show` prints yours)',
        )
    out: list[str] = []
    for r in value:
        if not isinstance(r, str) or not r.strip().startswith("age1"):
            raise ConfigError(f"{where}: recipient {r!r} is not an age public key (age1...)")
        out.append(r.strip())
    return tuple(out)


def _addr(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(
            f"{where}: node address {value!r} needs an http:// or https:// scheme",
            hint='e.g. nodes = ["https://vault.example:8200"]',
        )
    return value.rstrip("/")


# What a secret typed into the wrong key looks like: an age identity, a Vault/OpenBao token
# (service, batch, recovery; legacy s./b./r.), a PEM private key.
_SECRET_LIKE = re.compile(
    r"AGE-SECRET-KEY-1[0-9A-Za-z]*"
    r"|\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[^']*",
    re.IGNORECASE,
)
_HIDDEN = "<a value that looks like a secret key or token (not shown)>"


def _scrub(text: str | None) -> str | None:
    return _SECRET_LIKE.sub(_HIDDEN, text) if text else text


def load_config(path: str | os.PathLike[str]) -> BootstrapConfig:
    """Read and validate a bootstrap TOML file (errors name the file and the key).

    Every config error passes through one filter: a value that looks like a secret (an age
    secret key listed as a recipient, a token pasted as an address) is replaced by a
    description, whichever key and check produced the message."""
    p = Path(path)
    try:
        return _load_config(p)
    except ConfigError as exc:
        message, hint = _scrub(exc.message) or "", _scrub(exc.hint)
        if str(p) not in message:  # shared checks (names, paths) do not know the file
            message = f"{p}: {message}"
        if message == exc.message and hint == exc.hint:
            raise
        scrubbed = ConfigError(message, hint=hint)
    # Raised outside the handler: the original would stay reachable as __context__.
    raise scrubbed


def _load_config(p: Path) -> BootstrapConfig:
    text = read_text(p, what="bootstrap config")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    where = str(p)
    base = p.parent
    _unknown(doc, {"server", "init", "mounts", "approle", "apps"}, where)

    server = _table(doc, "server", where)
    _unknown(server, {"nodes", "ca_cert"}, f"{where}: [server]")
    raw_nodes = server.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise ConfigError(
            f"{where}: [server] nodes must list at least one address",
            hint='e.g. nodes = ["http://127.0.0.1:8200"]',
        )
    nodes = tuple(_addr(n, f"{where}: [server]") for n in raw_nodes)
    if len(set(nodes)) != len(nodes):
        raise ConfigError(f"{where}: [server] nodes lists an address twice")
    ca = server.get("ca_cert")
    ca_cert = base / _str(server, "ca_cert", f"{where}: [server]") if ca is not None else None

    init = _table(doc, "init", where)
    iw = f"{where}: [init]"
    _unknown(init, {"shares", "threshold", "keys_file", "recipients", "revoke_root"}, iw)
    shares = _int(init, "shares", iw, 5, lo=1, hi=255)
    threshold = _int(init, "threshold", iw, 3, lo=1, hi=255)
    if threshold > shares:
        raise ConfigError(f"{iw} threshold ({threshold}) is larger than shares ({shares})")
    if shares > 1 and threshold == 1:
        raise ConfigError(f"{iw} threshold must be at least 2 when shares > 1 (OpenBao's rule)")
    keys_file = base / _str(init, "keys_file", iw, "vault-keys.enc.env")
    recipients = _recipients(init.get("recipients"), iw)
    revoke_root = init.get("revoke_root", False)
    if not isinstance(revoke_root, bool):
        raise ConfigError(f"{iw} revoke_root must be true or false")

    mounts: list[MountConfig] = []
    for name, m in _table(doc, "mounts", where).items():
        mw = f"{where}: [mounts.{name}]"
        if not isinstance(m, dict):
            raise ConfigError(f"{mw} must be a table")
        _unknown(m, {"type", "description", "max_versions"}, mw)
        if m.get("type", "kv-v2") != "kv-v2":
            raise ConfigError(f'{mw} type must be "kv-v2" (the only type bootstrap manages)')
        desc = m.get("description", "")
        if not isinstance(desc, str):
            raise ConfigError(f"{mw} description must be a string")
        mv = m.get("max_versions")
        if mv is not None:
            mv = _int(m, "max_versions", mw, 0, lo=0, hi=1_000_000)
        mounts.append(
            MountConfig(path=check_path(name, what="mount"), description=desc, max_versions=mv)
        )

    approle = _table(doc, "approle", where)
    _unknown(approle, {"mount"}, f"{where}: [approle]")
    approle_mount = check_path(
        _str(approle, "mount", f"{where}: [approle]", "approle"), what="AppRole mount"
    )

    apps: list[AppConfig] = []
    mount_names = {m.path for m in mounts}
    for name, a in _table(doc, "apps", where).items():
        aw = f"{where}: [apps.{name}]"
        if not isinstance(a, dict):
            raise ConfigError(f"{aw} must be a table")
        _unknown(
            a,
            {
                "path", "mount", "layout", "env_file", "credentials_file", "recipients",
                "token_ttl", "token_max_ttl", "secret_id_ttl", "secret_id_num_uses",
            },
            aw,
        )  # fmt: skip
        check_name(name, what="app")
        app_mount = check_path(_str(a, "mount", aw, "secret"), what=f"{aw} mount")
        if app_mount not in mount_names:
            raise ConfigError(
                f"{aw} mount {app_mount!r} is not declared",
                hint=f"add a [mounts.{app_mount}] table",
            )
        layout = a.get("layout", "flat")
        if layout not in ("flat", "sections"):
            raise ConfigError(f'{aw} layout must be "flat" or "sections"')
        env_file = base / _str(a, "env_file", aw) if "env_file" in a else None
        creds = base / _str(a, "credentials_file", aw, f"{name}-approle.enc.env")
        apps.append(
            AppConfig(
                name=name,
                path=check_path(_str(a, "path", aw, f"apps/{name}"), what=f"{aw} path"),
                mount=app_mount,
                layout=layout,
                env_file=env_file,
                credentials_file=creds,
                recipients=_recipients(a["recipients"], aw) if "recipients" in a else recipients,
                token_ttl=parse_duration(a.get("token_ttl", "1h"), what=f"{aw} token_ttl"),
                token_max_ttl=parse_duration(
                    a.get("token_max_ttl", "4h"), what=f"{aw} token_max_ttl"
                ),
                secret_id_ttl=parse_duration(a.get("secret_id_ttl", 0), what=f"{aw} secret_id_ttl"),
                secret_id_num_uses=_int(a, "secret_id_num_uses", aw, 0, lo=0, hi=1_000_000),
            )
        )
    outputs = [keys_file.resolve()] + [a.credentials_file.resolve() for a in apps]
    if len(set(outputs)) != len(outputs):
        raise ConfigError(f"{where}: keys_file and every credentials_file must be distinct files")
    return BootstrapConfig(
        source=p,
        nodes=nodes,
        shares=shares,
        threshold=threshold,
        keys_file=keys_file,
        recipients=recipients,
        revoke_root=revoke_root,
        ca_cert=ca_cert,
        mounts=tuple(mounts),
        approle_mount=approle_mount,
        apps=tuple(apps),
    )


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    """One step's outcome. ``detail`` and ``diff`` name settings and variables, never values."""

    step: str
    target: str
    status: Status
    detail: str = ""
    diff: tuple[str, ...] = ()

    def line(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        target = f" {self.target}" if self.target else ""
        return f"{self.status:>9}  {self.step}{target}{detail}"


@dataclass
class BootstrapReport:
    dry_run: bool
    steps: list[StepResult] = field(default_factory=list)

    @property
    def differences(self) -> list[StepResult]:
        return [s for s in self.steps if s.status == "differs"]

    @property
    def changed(self) -> list[StepResult]:
        return [s for s in self.steps if s.status == "done"]

    @property
    def noop(self) -> bool:
        return all(s.status in ("unchanged", "skipped") for s in self.steps)


# --- the run -------------------------------------------------------------------------------


def plan(
    config: BootstrapConfig,
    *,
    on_step: OnStep | None = None,
    environ: Mapping[str, str] | None = None,
) -> BootstrapReport:
    """What :func:`bootstrap` would do; changes nothing (the server is only read)."""
    return bootstrap(config, dry_run=True, on_step=on_step, environ=environ)


def bootstrap(
    config: BootstrapConfig,
    *,
    dry_run: bool = False,
    force: bool = False,
    on_step: OnStep | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    failover_timeout: float = 30.0,
) -> BootstrapReport:
    """Bring the server to ``config`` (see the module docstring). ``environ`` replaces
    ``os.environ`` for the token lookup."""
    run = _Run(
        config,
        dry_run=dry_run,
        force=force,
        on_step=on_step,
        environ=os.environ if environ is None else environ,
        timeout=timeout,
        failover_timeout=failover_timeout,
    )
    try:
        run.execute()
    finally:
        run.close()
    return run.report


_Step = TypeVar("_Step", bound=Callable[..., None])


def _reads_answers(step: _Step) -> _Step:
    """For steps that read server answers (hvac dicts): a field missing or of the wrong type
    ends the step with one VaultError (35) naming it, never a traceback or "internal error".
    The answer is not quoted: it could hold anything."""

    @functools.wraps(step)
    def wrapper(self: _Run, *args: Any, **kwargs: Any) -> None:
        try:
            step(self, *args, **kwargs)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            name = step.__name__.removeprefix("step_")
        else:
            return
        # Raised outside the handler: the original may quote the answer.
        raise VaultError(
            f"unexpected answer from the server in the {name} step; stopped there",
            hint="check that [server] nodes point at OpenBao / Vault (not a proxy rewriting "
            "answers); re-run once fixed (finished steps are kept)",
        )

    return wrapper  # type: ignore[return-value]


class _Run:
    def __init__(
        self,
        config: BootstrapConfig,
        *,
        dry_run: bool,
        force: bool,
        on_step: OnStep | None,
        environ: Mapping[str, str],
        timeout: float,
        failover_timeout: float,
    ) -> None:
        self.c = config
        self.dry_run = dry_run
        self.force = force
        self.on_step = on_step
        self.environ = environ
        self.timeout = timeout
        self.failover_timeout = failover_timeout
        self.report = BootstrapReport(dry_run=dry_run)
        self.keys: Any = None  # KeysFile once known
        self.root: Secret | None = None
        self.client: Any = None  # FailoverClient once a token is known
        self.fresh = False  # True when this run (or its plan) initialises the cluster
        self.joined = 0

    # reporting
    def emit(
        self, step: str, target: str, status: Status, detail: str = "", diff: Sequence[str] = ()
    ) -> None:
        result = StepResult(step, target, status, detail, tuple(diff))
        self.report.steps.append(result)
        if self.on_step is not None:
            self.on_step(result)

    def would(self, step: str, target: str, detail: str) -> None:
        self.emit(step, target, "planned", detail)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    # --- steps ----------------------------------------------------------------------------
    def execute(self) -> None:
        from secretsafe.vault.cluster import node_status

        statuses = {
            a: node_status(a, timeout=self.timeout, ca_cert=self.c.ca_cert) for a in self.c.nodes
        }
        down = [a for a, s in statuses.items() if not s.reachable]
        if down:
            raise VaultUnreachable(
                f"cannot reach {', '.join(down)}; nothing was changed",
                hint="start the node(s) or fix [server] nodes in the config, then re-run",
            )
        self.emit("check", f"{len(self.c.nodes)} node(s)", "unchanged", "all reachable")
        initialised = [a for a, s in statuses.items() if s.initialized]
        self.step_init(statuses, initialised)
        self.step_keys_file(statuses)
        self.step_unseal_and_join(statuses)
        if not self.connect():
            self.plan_from_config()
            return
        self.step_raft()
        self.step_mounts()
        self.step_policies()
        self.step_auth()
        for app in self.c.apps:
            self.step_role(app)
        for app in self.c.apps:
            self.step_credentials(app)
        for app in self.c.apps:
            self.step_secrets(app)
        self.step_root_token()

    @_reads_answers
    def step_init(self, statuses: Mapping[str, Any], initialised: list[str]) -> None:
        first = self.c.nodes[0]
        if initialised:
            st = statuses[initialised[0]]
            if (st.shares, st.threshold) != (self.c.shares, self.c.threshold):
                self.emit(
                    "init",
                    initialised[0],
                    "differs",
                    f"initialised with {st.shares} shares, threshold {st.threshold}; the config "
                    f"says {self.c.shares}/{self.c.threshold} (rekeying is not automated: use "
                    "`bao operator rekey`, then update the config)",
                )
            else:
                self.emit("init", initialised[0], "unchanged", "initialised")
            return
        if self.c.keys_file.exists():
            raise BootstrapError(
                f"no node is initialised, but the keys file {self.c.keys_file} already exists; "
                "refusing to overwrite it (it may hold another cluster's keys)",
                hint="move it away if it is stale, or point [server] nodes at its cluster",
            )
        self.fresh = True
        detail = f"{self.c.shares} shares, threshold {self.c.threshold}"
        if self.dry_run:
            self.would("init", first, f"initialise ({detail})")
            return
        self._probe_recipients()
        from secretsafe.vault.client import translate_errors
        from secretsafe.vault.unseal import KeysFile, anonymous_client, write_keys_file

        client = anonymous_client(first, timeout=max(self.timeout, 30.0), ca_cert=self.c.ca_cert)
        with translate_errors("sys/init", addr=first):
            resp = client.sys.initialize(  # type: ignore[no-untyped-call]
                secret_shares=self.c.shares, secret_threshold=self.c.threshold
            )
        self.keys = KeysFile(
            path=self.c.keys_file,
            keys=tuple(Secret(k) for k in resp["keys"]),
            threshold=self.c.threshold,
            root_token=Secret(resp["root_token"]),
        )
        del resp
        self.emit("init", first, "done", f"initialised ({detail})")
        write_keys_file(self.keys, recipients=self.c.recipients)
        self.emit(
            "keys-file",
            str(self.c.keys_file),
            "done",
            f"{self.c.shares} unseal keys and the root token, encrypted for "
            f"{len(self.c.recipients)} recipient(s)",
        )

    def _probe_recipients(self) -> None:
        """Fail before init (when nothing is lost) if the keys file cannot be written."""
        from secretsafe.sops import encrypt_items
        from secretsafe.sops.model import Entry

        directory = self.c.keys_file.parent
        if not directory.is_dir() or not os.access(directory, os.W_OK):
            raise BootstrapError(
                f"cannot write the keys file in {directory}; nothing was initialised",
                hint="create the directory or fix its permissions",
            )
        try:
            encrypt_items(
                [Entry("PROBE", "probe")],
                recipients=list(self.c.recipients),
                path=self.c.keys_file,
            )
        except SecretsafeError as exc:
            raise BootstrapError(
                f"cannot encrypt for the declared recipients ({exc.message}); nothing was "
                "initialised",
                hint="fix [init] recipients",
            ) from None

    def step_keys_file(self, statuses: Mapping[str, Any]) -> None:
        if self.keys is not None or self.fresh:
            return
        from secretsafe.vault.unseal import read_keys_file

        sealed = [a for a, s in statuses.items() if s.sealed]
        token_in_env = bool(self.environ.get("VAULT_TOKEN") or self.environ.get("BAO_TOKEN"))
        if not self.c.keys_file.exists() and not sealed and token_in_env:
            self.emit(
                "keys-file",
                str(self.c.keys_file),
                "skipped",
                "missing; not needed (every node is unsealed and VAULT_TOKEN is set)",
            )
            return
        self.keys = read_keys_file(self.c.keys_file)
        self.emit(
            "keys-file",
            str(self.c.keys_file),
            "unchanged",
            f"{len(self.keys.keys)} unseal keys"
            + (", root token" if self.keys.root_token is not None else ""),
        )

    def step_unseal_and_join(self, statuses: Mapping[str, Any]) -> None:
        from secretsafe.vault.cluster import find_leader, join
        from secretsafe.vault.unseal import unseal_node

        initialised = [a for a in self.c.nodes if statuses[a].initialized]
        fresh_nodes = [a for a in self.c.nodes if not statuses[a].initialized]
        if self.fresh:
            # The first node was (or would be) initialised just now.
            initialised, fresh_nodes = [self.c.nodes[0]], list(self.c.nodes[1:])
        for addr in initialised:
            if self.dry_run and (self.fresh or statuses[addr].sealed):
                self.would("unseal", addr, f"unseal with {self.c.threshold} keys")
                continue
            res = unseal_node(addr, self.keys, timeout=self.timeout, ca_cert=self.c.ca_cert)
            status: Status = "unchanged" if res.status == "already unsealed" else "done"
            self.emit("unseal", addr, status, res.status)
        if not fresh_nodes:
            return
        leader = None
        if not self.dry_run:
            leader = find_leader(
                list(initialised), timeout=self.failover_timeout, ca_cert=self.c.ca_cert
            )
            if leader is None:
                raise BootstrapError(
                    f"no active node among {', '.join(initialised)} to join "
                    f"{', '.join(fresh_nodes)} to",
                    hint="check the initialised nodes' logs",
                )
        for addr in fresh_nodes:
            if self.dry_run:
                self.would("join", addr, "join the raft cluster, then unseal")
                continue
            assert leader is not None  # noqa: S101 - set above unless dry run
            join(addr, leader, timeout=self.timeout, ca_cert=self.c.ca_cert)
            self.emit("join", addr, "done", f"joined the raft cluster of {leader}")
            res = unseal_node(addr, self.keys, timeout=self.timeout, ca_cert=self.c.ca_cert)
            self.emit("unseal", addr, "done", res.status)
        self.joined = len(fresh_nodes)

    def connect(self) -> bool:
        """Find a working token; False when there is nothing to inspect (dry run of a fresh or
        sealed server)."""
        from secretsafe.vault.cluster import connect_cluster

        if self.dry_run and (self.fresh or any(s.status == "planned" for s in self.report.steps)):
            return False
        candidates: list[tuple[str, str]] = []
        if self.keys is not None and self.keys.root_token is not None:
            candidates.append(("the keys file's root token", self.keys.root_token.reveal()))
        for name in ("VAULT_TOKEN", "BAO_TOKEN"):
            if self.environ.get(name):
                candidates.append((name, self.environ[name].strip()))
        if not candidates:
            raise BootstrapError(
                "no token to configure the server with: the keys file holds no root token "
                "(revoked) and VAULT_TOKEN is not set",
                hint="set VAULT_TOKEN to an admin token (or generate one with `bao operator "
                "generate-root` using the unseal keys)",
            )
        for _source, token in candidates:
            client = connect_cluster(
                self.c.nodes,
                token=token,
                ca_cert=self.c.ca_cert,
                timeout=self.timeout,
                failover_timeout=self.failover_timeout,
                environ={},
            )
            try:
                client.call(client.hvac.auth.token.lookup_self, path="auth/token/lookup-self")
            except VaultPermissionDenied:
                client.close()
                continue
            self.client = client
            self.root = Secret(token)
            return True
        raise BootstrapError(
            "every token found was rejected (the keys file's root token may have been revoked)",
            hint="set VAULT_TOKEN to an admin token and re-run",
        )

    def plan_from_config(self) -> None:
        """Dry run against a fresh or sealed server: everything the config declares."""
        for m in self.c.mounts:
            self.would("mount", f"{m.path}/", "enable kv-v2")
        for app in self.c.apps:
            self.would("policy", app.policy, f"read-only on {app.mount}/{app.path}")
        if self.c.apps:
            self.would("auth", f"{self.c.approle_mount}/", "enable approle")
        for app in self.c.apps:
            self.would("role", app.name, f"policy {app.policy}")
        for app in self.c.apps:
            self.would("credentials", str(app.credentials_file), "issue a secret id")
        for app in self.c.apps:
            if app.env_file is not None:
                self.would("secrets", f"{app.mount}/{app.path}", f"load {app.env_file.name}")
        if self.c.revoke_root:
            self.would("root-token", "", "revoke")

    @_reads_answers
    def step_raft(self) -> None:
        from secretsafe.vault.cluster import raft_voters, wait_voters

        if len(self.c.nodes) < 2:
            return
        want = len(self.c.nodes)
        if self.dry_run:
            state = raft_voters(self.client)
        else:
            state = wait_voters(self.client, want, timeout=max(60.0, self.failover_timeout))
        voters = sum(1 for s in state.values() if s in ("leader", "voter"))
        status: Status = "done" if self.joined else "unchanged"
        if self.dry_run and voters < want:
            status = "planned"
        self.emit("raft", f"{want} nodes", status, f"{voters} voters")

    def _call(self, fn: Callable[..., Any], *args: Any, path: str, **kw: Any) -> Any:
        return self.client.call(fn, *args, path=path, **kw)

    @_reads_answers
    def step_mounts(self) -> None:
        h = self.client.hvac
        mounts = self._call(h.sys.list_mounted_secrets_engines, path="sys/mounts")
        mounts = mounts.get("data", mounts)
        for m in self.c.mounts:
            target = f"{m.path}/"
            cur = mounts.get(target)
            if cur is None:
                if self.dry_run:
                    self.would("mount", target, "enable kv-v2")
                    continue
                # hvac's own `path=` would clash with call()'s label: bind it first.
                enable = functools.partial(
                    h.sys.enable_secrets_engine,
                    "kv",
                    path=m.path,
                    description=m.description or None,
                    options={"version": "2"},
                )
                self._call(enable, path=f"sys/mounts/{m.path}", idempotent=False)
                self._configure_max_versions(m)
                self.emit("mount", target, "done", "enabled kv-v2")
                continue
            kind = cur.get("type")
            version = str((cur.get("options") or {}).get("version") or "1")
            if kind != "kv":
                self.emit(
                    "mount",
                    target,
                    "differs",
                    f"a {kind} engine is mounted there, not kv-v2; never replaced "
                    "(that would destroy its data): disable it yourself or pick another path",
                )
                continue
            diffs: list[str] = []
            if version != "2":
                diffs.append(f"kv version {version} -> 2 (upgrade keeps the data)")
            if (cur.get("description") or "") != m.description:
                diffs.append(f"description {cur.get('description') or ''!r} -> {m.description!r}")
            cur_max: int | None = None
            if m.max_versions is not None and version == "2":
                cfg = self._call(
                    h.secrets.kv.v2.read_configuration, mount_point=m.path, path=f"{m.path}/config"
                )
                cur_max = int((cfg.get("data") or {}).get("max_versions") or 0)
                if cur_max != m.max_versions:
                    diffs.append(f"max_versions {cur_max} -> {m.max_versions}")
            elif m.max_versions is not None:
                diffs.append(f"max_versions -> {m.max_versions}")
            if not diffs:
                self.emit("mount", target, "unchanged", "kv-v2")
                continue
            if not self.force or self.dry_run:
                self.emit("mount", target, "differs", "; ".join(diffs) + self._force_hint())
                continue
            options = {"version": "2"} if version != "2" else None
            self._call(
                h.sys.tune_mount_configuration,
                m.path,
                description=m.description,
                options=options,
                path=f"sys/mounts/{m.path}/tune",
            )
            self._configure_max_versions(m)
            self.emit("mount", target, "done", "changed: " + "; ".join(diffs))

    def _configure_max_versions(self, m: MountConfig) -> None:
        """Set max_versions (or just wait until the mount answers): a new kv-v2 mount, or one
        upgraded from v1, answers 400 "Upgrading from non-versioned to versioned data" for
        a moment."""
        import time

        kv2 = self.client.hvac.secrets.kv.v2
        deadline = time.monotonic() + 15
        while True:
            try:
                if m.max_versions is None:
                    self._call(kv2.read_configuration, mount_point=m.path, path=f"{m.path}/config")
                else:
                    self._call(
                        kv2.configure,
                        max_versions=m.max_versions,
                        mount_point=m.path,
                        path=f"{m.path}/config",
                    )
            except SecretsafeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            else:
                return

    def _force_hint(self) -> str:
        return "" if self.dry_run else " (re-run with --force to change it)"

    @_reads_answers
    def step_policies(self) -> None:
        from secretsafe.vault.policies import same_policy

        h = self.client.hvac
        for app in self.c.apps:
            desired = app.policy_hcl()
            try:
                cur = self._call(h.sys.read_policy, app.policy, path=f"sys/policy/{app.policy}")
                current: str | None = str(
                    (cur.get("data") or cur).get("rules") or (cur.get("data") or cur).get("policy")
                )
            except VaultNotFound:
                current = None
            if current is None:
                if self.dry_run:
                    self.would("policy", app.policy, f"read-only on {app.mount}/{app.path}")
                    continue
                self._write_policy(app.policy, desired)
                self.emit("policy", app.policy, "done", f"read-only on {app.mount}/{app.path}")
            elif same_policy(current, desired):
                self.emit("policy", app.policy, "unchanged", f"read-only on {app.mount}/{app.path}")
            elif not self.force or self.dry_run:
                self.emit(
                    "policy",
                    app.policy,
                    "differs",
                    "the policy on the server is not the generated one" + self._force_hint(),
                    policy_diff(app.policy, current, desired),
                )
            else:
                self._write_policy(app.policy, desired)
                self.emit("policy", app.policy, "done", "replaced with the generated policy")

    def _write_policy(self, name: str, hcl: str) -> None:
        self._call(
            self.client.hvac.sys.create_or_update_policy, name, hcl, path=f"sys/policy/{name}"
        )

    @_reads_answers
    def step_auth(self) -> None:
        if not self.c.apps:
            return
        h = self.client.hvac
        target = f"{self.c.approle_mount}/"
        methods = self._call(h.sys.list_auth_methods, path="sys/auth")
        methods = methods.get("data", methods)
        cur = methods.get(target)
        if cur is None:
            if self.dry_run:
                self.would("auth", target, "enable approle")
                return
            enable = functools.partial(
                h.sys.enable_auth_method, "approle", path=self.c.approle_mount
            )
            self._call(enable, path=f"sys/auth/{self.c.approle_mount}", idempotent=False)
            self.emit("auth", target, "done", "enabled approle")
        elif cur.get("type") != "approle":
            raise BootstrapError(
                f"a {cur.get('type')} auth method is mounted at {target}, not approle",
                hint="set [approle] mount to a free path",
            )
        else:
            self.emit("auth", target, "unchanged", "approle")

    def _role_settings(self, app: AppConfig) -> dict[str, Any]:
        return {
            "token_policies": [app.policy],
            "token_ttl": app.token_ttl,
            "token_max_ttl": app.token_max_ttl,
            "secret_id_ttl": app.secret_id_ttl,
            "secret_id_num_uses": app.secret_id_num_uses,
        }

    def _read_role(self, app: AppConfig) -> dict[str, Any] | None:
        if self.dry_run and not self._auth_exists():
            return None
        try:
            resp = self._call(
                self.client.hvac.auth.approle.read_role,
                app.name,
                mount_point=self.c.approle_mount,
                path=f"auth/{self.c.approle_mount}/role/{app.name}",
            )
        except VaultNotFound:
            return None
        data: dict[str, Any] = resp.get("data") or {}
        return data

    def _auth_exists(self) -> bool:
        return any(s.step == "auth" and s.status != "planned" for s in self.report.steps)

    @_reads_answers
    def step_role(self, app: AppConfig) -> None:
        want = self._role_settings(app)
        cur = self._read_role(app)
        if cur is None:
            if self.dry_run:
                self.would("role", app.name, f"policy {app.policy}")
                return
            self._write_role(app, want)
            self.emit("role", app.name, "done", f"created with policy {app.policy}")
            return
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
        if not diffs:
            self.emit("role", app.name, "unchanged", f"policy {app.policy}")
        elif not self.force or self.dry_run:
            self.emit("role", app.name, "differs", "; ".join(diffs) + self._force_hint())
        else:
            self._write_role(app, want)
            self.emit("role", app.name, "done", "changed: " + "; ".join(diffs))

    def _write_role(self, app: AppConfig, settings: Mapping[str, Any]) -> None:
        self._call(
            self.client.hvac.auth.approle.create_or_update_approle,
            app.name,
            mount_point=self.c.approle_mount,
            bind_secret_id=True,
            path=f"auth/{self.c.approle_mount}/role/{app.name}",
            **settings,
        )

    @_reads_answers
    def step_credentials(self, app: AppConfig) -> None:
        target = str(app.credentials_file)
        if self.dry_run and self._read_role(app) is None:
            self.would("credentials", target, "issue a secret id")
            return
        role_id = self._role_id(app)
        state = self._credentials_state(app, role_id)
        if state == "valid":
            self.emit("credentials", target, "unchanged", "role id and a valid secret id")
            return
        if state == "unreadable":
            self.emit(
                "credentials",
                target,
                "unchanged",
                "exists; not readable with your identities, so not verified (delete it to "
                "issue a new secret id)",
            )
            return
        reason = {"missing": "issue a secret id", "stale": "the secret id is no longer valid"}[
            state
        ]
        if self.dry_run:
            self.would("credentials", target, reason)
            return
        self._issue(app, role_id)
        self.emit(
            "credentials",
            target,
            "done",
            f"role id and a new secret id, encrypted for {len(app.recipients)} recipient(s)"
            + ("" if state == "missing" else f" ({reason})"),
        )

    def _role_id(self, app: AppConfig) -> str:
        resp = self._call(
            self.client.hvac.auth.approle.read_role_id,
            app.name,
            mount_point=self.c.approle_mount,
            path=f"auth/{self.c.approle_mount}/role/{app.name}/role-id",
        )
        return str(resp["data"]["role_id"])

    def _credentials_state(self, app: AppConfig, role_id: str) -> str:
        from secretsafe.errors import DecryptionError, NoIdentityError
        from secretsafe.sops import decrypt_file

        if not app.credentials_file.exists():
            return "missing"
        try:
            values = decrypt_file(app.credentials_file)
        except (DecryptionError, NoIdentityError):
            return "unreadable"
        if values.get("VAULT_ROLE_ID") != role_id or not values.get("VAULT_SECRET_ID"):
            return "stale"
        try:
            resp = self._call(
                self.client.hvac.auth.approle.read_secret_id,
                app.name,
                values["VAULT_SECRET_ID"],
                mount_point=self.c.approle_mount,
                path=f"auth/{self.c.approle_mount}/role/{app.name}/secret-id/lookup",
            )
        except VaultNotFound:
            return "stale"
        return (
            "valid" if resp and (resp.get("data") if isinstance(resp, dict) else True) else "stale"
        )

    def _issue(self, app: AppConfig, role_id: str) -> None:
        from secretsafe.sops import encrypt_values

        resp = self._call(
            self.client.hvac.auth.approle.generate_secret_id,
            app.name,
            metadata={"issued_by": "secretsafe vault bootstrap"},
            mount_point=self.c.approle_mount,
            path=f"auth/{self.c.approle_mount}/role/{app.name}/secret-id",
            idempotent=False,
        )
        values = {
            "VAULT_ADDR": self.c.nodes[0],
            "VAULT_ROLE_ID": role_id,
            "VAULT_SECRET_ID": str(resp["data"]["secret_id"]),
        }
        del resp
        if self.c.approle_mount != "approle":
            values["VAULT_APPROLE_MOUNT"] = self.c.approle_mount
        try:
            encrypt_values(values, app.credentials_file, recipients=list(app.recipients))
        finally:
            values.clear()

    def step_secrets(self, app: AppConfig) -> None:
        if app.env_file is None:
            return
        from secretsafe.sops import decrypt_file
        from secretsafe.vault import sync

        target = f"{app.mount}/{app.path}"
        values = decrypt_file(app.env_file)
        if self.dry_run and not any(
            s.step == "mount" and s.target == f"{app.mount}/" and s.status != "planned"
            for s in self.report.steps
        ):
            self.would("secrets", target, f"load {len(values)} variables from {app.env_file.name}")
            return
        p = sync.plan(
            self.client, values, path=app.path, mount=app.mount, layout=app.layout, prune=False
        )
        base_exists = p.paths[0].exists
        if not p.has_changes:
            self.emit("secrets", target, "unchanged", f"{len(values)} variables")
            return
        if base_exists and (not self.force or self.dry_run):
            self.emit(
                "secrets",
                target,
                "differs",
                f"{p.summary()} vs {app.env_file.name}" + self._force_hint(),
                p.lines(push=True),
            )
            return
        if self.dry_run:
            self.would("secrets", target, f"load {len(values)} variables from {app.env_file.name}")
            return
        result = sync.push(
            self.client,
            values,
            path=app.path,
            mount=app.mount,
            layout=app.layout,
            source={
                "source": app.env_file.name,
                "fingerprint": sync.file_fingerprint(app.env_file),
            },
        )
        verb = "loaded" if not base_exists else "updated"
        self.emit(
            "secrets", target, "done", f"{verb} {len(values)} variables ({result.plan.summary()})"
        )

    @_reads_answers
    def step_root_token(self) -> None:
        if not self.c.revoke_root:
            if self.keys is not None and self.keys.root_token is not None:
                self.emit(
                    "root-token",
                    "",
                    "skipped",
                    "kept in the keys file (set revoke_root = true to revoke it)",
                )
            return
        if self.keys is None or self.keys.root_token is None:
            self.emit("root-token", "", "unchanged", "revoked")
            return
        if self.dry_run:
            self.would("root-token", "", "revoke it and remove it from the keys file")
            return
        from secretsafe.vault.unseal import KeysFile, write_keys_file

        root = self.keys.root_token.reveal()
        try:
            if self.root is not None and self.root.reveal() == root:
                self._call(
                    self.client.hvac.auth.token.revoke_self,
                    path="auth/token/revoke-self",
                    idempotent=False,
                )
            else:
                self._call(
                    self.client.hvac.auth.token.revoke,
                    root,
                    path="auth/token/revoke",
                    idempotent=False,
                )
        except VaultPermissionDenied:
            pass  # already revoked (a failed earlier run): drop it from the file all the same
        write_keys_file(
            KeysFile(path=self.keys.path, keys=self.keys.keys, threshold=self.keys.threshold),
            recipients=self.c.recipients,
        )
        self.emit("root-token", "", "done", "revoked and removed from the keys file")
