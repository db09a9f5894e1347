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

Steps, in order, one module each under :mod:`secretsafe.vault.bootstrap.steps` with
``plan(state) -> list[Action]`` (reads, changes nothing) and ``apply(state, action)``; every
action is reported through the ``on_step`` callback as it finishes: ``done``, ``unchanged``,
``planned`` (dry run), ``differs`` or ``skipped``:

1. ``check``: every node answers (an unreachable node stops the run before any change);
2. ``init``: the first node if no node is initialised -- refused when the keys file already
   exists (it may hold another cluster's keys); the recipients are checked *before* init,
   because the shares exist only in that one response;
3. ``keys-file``: the shares and root token, SOPS-encrypted, 0600, written atomically;
4. ``unseal`` every initialised node, then ``join`` each fresh node to the active one and
   unseal it; ``raft``: wait until every node votes;
5. ``mount`` (kv-v2), ``policy`` (one least-privilege policy per app, see
   :mod:`secretsafe.vault.policies`), ``auth`` (AppRole), ``role`` per app;
6. ``credentials``: the app's role id and a new secret id, SOPS-encrypted for its recipients,
   with ``VAULT_ADDR`` listing every node (comma-separated, in config order); kept when the
   file already holds a valid pair (rewritten with the same pair if its node list is old);
7. ``secrets``: each app's env file pushed to its path with check-and-set (only when the path
   is empty, or with ``force``);
8. ``root-token``: revoked (and removed from the keys file) when ``revoke_root`` is set.

A mount, policy, role or secret that exists with different settings is reported as
``differs`` with the difference and changed only with ``force``. A mount of another type is
never replaced (that would destroy its data).

The config is validated by pydantic models (:mod:`.config`): every problem at once, one line
each, naming the key, never its value. The run's :class:`BootstrapReport` is also a JSON
document (``--format json``).

Token: the root token from the keys file, else ``VAULT_TOKEN`` / ``BAO_TOKEN``. Unseal keys,
tokens and secret ids never appear in a result, a message or argv.
"""

from __future__ import annotations

from secretsafe.vault.bootstrap.config import (
    AppConfig,
    BootstrapConfig,
    MountConfig,
    load_config,
    parse_duration,
)
from secretsafe.vault.bootstrap.report import Action, BootstrapReport, StepResult
from secretsafe.vault.bootstrap.runner import bootstrap, plan

__all__ = [
    "Action",
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
