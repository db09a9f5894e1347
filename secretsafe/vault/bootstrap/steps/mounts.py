"""``mount``: each declared kv-v2 secrets engine (description, ``max_versions``). A mount with
other settings is changed only with ``force``; a mount of another type is never replaced
(that would destroy its data)."""

from __future__ import annotations

import functools
import time
from typing import Any

from secretsafe.errors import SecretsafeError
from secretsafe.vault.bootstrap.config import MountConfig
from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State

NAME = "mounts"
READS_ANSWERS = True

#: How long a new or upgraded kv-v2 mount may answer "Upgrading from non-versioned ..."
UPGRADE_WAIT = 15.0


def plan(state: State) -> list[Action]:
    c = state.config
    if state.client is None:
        return [_enable(m) for m in c.mounts]
    h = state.server.hvac
    mounts: Any = state.call(h.sys.list_mounted_secrets_engines, path="sys/mounts")
    mounts = mounts.get("data", mounts)
    return [_compare(state, m, mounts.get(f"{m.path}/")) for m in c.mounts]


def _enable(m: MountConfig) -> Action:
    return Action("mount", f"{m.path}/", "planned", "enable kv-v2", change="enable", ref=m.path)


def _compare(state: State, m: MountConfig, cur: Any) -> Action:
    target = f"{m.path}/"
    if cur is None:
        return _enable(m)
    kind = cur.get("type")
    version = str((cur.get("options") or {}).get("version") or "1")
    if kind != "kv":
        return Action(
            "mount",
            target,
            "differs",
            f"a {kind} engine is mounted there, not kv-v2; never replaced "
            "(that would destroy its data): disable it yourself or pick another path",
        )
    diffs: list[str] = []
    if version != "2":
        diffs.append(f"kv version {version} -> 2 (upgrade keeps the data)")
    if (cur.get("description") or "") != m.description:
        diffs.append(f"description {cur.get('description') or ''!r} -> {m.description!r}")
    if m.max_versions is not None and version == "2":
        cfg = state.call(
            state.server.hvac.secrets.kv.v2.read_configuration,
            mount_point=m.path,
            path=f"{m.path}/config",
        )
        cur_max = int((cfg.get("data") or {}).get("max_versions") or 0)
        if cur_max != m.max_versions:
            diffs.append(f"max_versions {cur_max} -> {m.max_versions}")
    elif m.max_versions is not None:
        diffs.append(f"max_versions -> {m.max_versions}")
    if not diffs:
        return Action("mount", target, "unchanged", "kv-v2")
    change = "upgrade" if version != "2" else "tune"
    return Action("mount", target, "differs", "; ".join(diffs), change=change, ref=m.path)


def apply(state: State, action: Action) -> str:
    m = next(m for m in state.config.mounts if m.path == action.ref)
    h = state.server.hvac
    if action.change == "enable":
        # hvac's own `path=` would clash with call()'s label: bind it first.
        enable = functools.partial(
            h.sys.enable_secrets_engine,
            "kv",
            path=m.path,
            description=m.description or None,
            options={"version": "2"},
        )
        state.call(enable, path=f"sys/mounts/{m.path}", idempotent=False)
        _configure_max_versions(state, m)
        return "enabled kv-v2"
    state.call(
        h.sys.tune_mount_configuration,
        m.path,
        description=m.description,
        options={"version": "2"} if action.change == "upgrade" else None,
        path=f"sys/mounts/{m.path}/tune",
    )
    _configure_max_versions(state, m)
    return "changed: " + action.detail


def _configure_max_versions(state: State, m: MountConfig) -> None:
    """Set max_versions (or just wait until the mount answers): a new kv-v2 mount, or one
    upgraded from v1, answers 400 "Upgrading from non-versioned to versioned data" for
    a moment."""
    kv2 = state.server.hvac.secrets.kv.v2
    deadline = time.monotonic() + UPGRADE_WAIT
    while True:
        try:
            if m.max_versions is None:
                state.call(kv2.read_configuration, mount_point=m.path, path=f"{m.path}/config")
            else:
                state.call(
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
