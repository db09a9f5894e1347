"""``secrets``: each app's encrypted env file pushed to its KV path with check-and-set -- when
the path is empty; values that differ are shown by name and written only with ``force``."""

from __future__ import annotations

from secretsafe.vault.bootstrap.config import AppConfig
from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State

NAME = "secrets"
READS_ANSWERS = False


def plan(state: State) -> list[Action]:
    return [_compare(state, app) for app in state.config.apps if app.env_file is not None]


def _compare(state: State, app: AppConfig) -> Action:
    from secretsafe.sops import decrypt_file
    from secretsafe.vault import sync

    assert app.env_file is not None  # noqa: S101 - filtered by plan()
    target = f"{app.mount}/{app.path}"
    if state.client is None:
        return Action("secrets", target, "planned", f"load {app.env_file.name}", change="load")
    values = decrypt_file(app.env_file)
    load = Action(
        "secrets",
        target,
        "planned",
        f"load {len(values)} variables from {app.env_file.name}",
        change="load",
        ref=app.name,
    )
    if state.dry_run and not state.exists("mount", f"{app.mount}/"):
        return load
    p = sync.plan(
        state.server, values, path=app.path, mount=app.mount, layout=app.layout, prune=False
    )
    if not p.has_changes:
        return Action("secrets", target, "unchanged", f"{len(values)} variables")
    if not p.paths[0].exists:
        return load
    return Action(
        "secrets",
        target,
        "differs",
        f"{p.summary()} vs {app.env_file.name}",
        tuple(p.lines(push=True)),
        change="update",
        ref=app.name,
    )


def apply(state: State, action: Action) -> str:
    from secretsafe.sops import decrypt_file
    from secretsafe.vault import sync

    app = next(a for a in state.config.apps if a.name == action.ref)
    assert app.env_file is not None  # noqa: S101 - only apps with an env file are planned
    values = decrypt_file(app.env_file)
    result = sync.push(
        state.server,
        values,
        path=app.path,
        mount=app.mount,
        layout=app.layout,
        source={"source": app.env_file.name, "fingerprint": sync.file_fingerprint(app.env_file)},
    )
    verb = "loaded" if action.change == "load" else "updated"
    return f"{verb} {len(values)} variables ({result.plan.summary()})"
