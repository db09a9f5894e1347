"""Walk the steps: check every node, run the node steps, connect with an admin token, run the
server steps. For each step: ``plan()``, then each action is reported as it finishes --
applied (``done``), or only reported (``planned`` in a dry run, ``unchanged``, ``skipped``,
``differs`` unless ``force``)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from secretsafe.errors import BootstrapError, VaultError, VaultPermissionDenied, VaultUnreachable
from secretsafe.secret import Secret
from secretsafe.vault.bootstrap.config import BootstrapConfig
from secretsafe.vault.bootstrap.report import Action, BootstrapReport, OnStep, StepResult
from secretsafe.vault.bootstrap.state import State
from secretsafe.vault.bootstrap.steps import NODE_STEPS, SERVER_STEPS, Step

if TYPE_CHECKING:
    from secretsafe.vault.cluster import FailoverClient

__all__ = ["bootstrap", "plan"]

T = TypeVar("T")

# What a malformed server answer raises when a step indexes into it.
_ANSWER_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)


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
    report: BootstrapReport | None = None,
) -> BootstrapReport:
    """Bring the server to ``config`` (see :mod:`secretsafe.vault.bootstrap`). ``environ``
    replaces ``os.environ`` for the token lookup. ``report``: filled as the run goes (so a
    caller still has the finished steps when the run stops with an error)."""
    report = report if report is not None else new_report(config, dry_run=dry_run)
    state = State(
        config,
        dry_run=dry_run,
        force=force,
        environ=os.environ if environ is None else environ,
        timeout=timeout,
        failover_timeout=failover_timeout,
        results=report.steps,
    )

    def emit(result: StepResult) -> None:
        state.results.append(result)
        if on_step is not None:
            on_step(result)

    try:
        _check(state, emit)
        for step in NODE_STEPS:
            _walk(step, state, emit)
        state.client = _connect(state)
        for step in SERVER_STEPS:
            _walk(step, state, emit)
    finally:
        if state.client is not None:
            state.client.close()
    return report


def new_report(config: BootstrapConfig, *, dry_run: bool) -> BootstrapReport:
    """An empty report naming what the config declares (nodes, files, roles, paths)."""
    files = {"keys_file": str(config.keys_file)}
    apps = {
        a.name: {
            "role": a.name,
            "policy": a.policy,
            "mount": a.mount,
            "path": a.path,
            "credentials_file": str(a.credentials_file),
        }
        for a in config.apps
    }
    files.update({f"credentials:{a.name}": str(a.credentials_file) for a in config.apps})
    return BootstrapReport(dry_run=dry_run, nodes=config.nodes, files=files, apps=apps)


def _check(state: State, emit: OnStep) -> None:
    """Every node answers; an unreachable node stops the run before any change."""
    from secretsafe.vault.cluster import node_status

    c = state.config
    state.statuses = {a: node_status(a, timeout=state.timeout, ca_cert=c.ca_cert) for a in c.nodes}
    down = [a for a, s in state.statuses.items() if not s.reachable]
    if down:
        raise VaultUnreachable(
            f"cannot reach {', '.join(down)}; nothing was changed",
            hint="start the node(s) or fix [server] nodes in the config, then re-run",
        )
    emit(StepResult("check", f"{len(c.nodes)} node(s)", "unchanged", "all reachable", (), "check"))


def _walk(step: Step, state: State, emit: OnStep) -> None:
    for action in _answers(step, functools.partial(step.plan, state)):
        if _applies(action, state):
            detail = _answers(step, functools.partial(step.apply, state, action))
            emit(StepResult(action.step, action.target, "done", detail, (), step.NAME))
            continue
        detail = action.detail
        if action.status == "differs" and action.change is not None and not state.dry_run:
            detail += " (re-run with --force to change it)"
        emit(StepResult(action.step, action.target, action.status, detail, action.diff, step.NAME))


def _applies(action: Action, state: State) -> bool:
    if state.dry_run or action.change is None:
        return False
    return action.status == "planned" or (action.status == "differs" and state.force)


def _answers(step: Step, fn: Callable[[], T]) -> T:
    """For steps that read server answers (hvac dicts): a field missing or of the wrong type
    ends the step with one VaultError (35) naming it, never a traceback or "internal error".
    The answer is not quoted: it could hold anything."""
    if not step.READS_ANSWERS:
        return fn()
    try:
        return fn()
    except _ANSWER_ERRORS:
        pass
    # Raised outside the handler: the original may quote the answer.
    raise VaultError(
        f"unexpected answer from the server in the {step.NAME} step; stopped there",
        hint="check that [server] nodes point at OpenBao / Vault (not a proxy rewriting "
        "answers); re-run once fixed (finished steps are kept)",
    )


def _connect(state: State) -> FailoverClient | None:
    """An admin client with a working token; None when there is nothing to inspect (dry run
    of a fresh or sealed cluster: the server steps then plan from the config alone)."""
    from secretsafe.vault.cluster import connect_cluster

    c = state.config
    if state.dry_run and (state.fresh or any(r.status == "planned" for r in state.results)):
        return None
    candidates: list[str] = []
    if state.keys is not None and state.keys.root_token is not None:
        candidates.append(state.keys.root_token.reveal())
    for name in ("VAULT_TOKEN", "BAO_TOKEN"):
        if state.environ.get(name):
            candidates.append(state.environ[name].strip())
    if not candidates:
        raise BootstrapError(
            "no token to configure the server with: the keys file holds no root token "
            "(revoked) and VAULT_TOKEN is not set",
            hint="set VAULT_TOKEN to an admin token (or generate one with `bao operator "
            "generate-root` using the unseal keys)",
        )
    for token in candidates:
        client = connect_cluster(
            c.nodes,
            token=token,
            ca_cert=c.ca_cert,
            timeout=state.timeout,
            failover_timeout=state.failover_timeout,
            environ={},
        )
        try:
            client.call(client.hvac.auth.token.lookup_self, path="auth/token/lookup-self")
        except VaultPermissionDenied:
            client.close()
            continue
        except BaseException:
            client.close()
            raise
        state.root = Secret(token)
        return client
    raise BootstrapError(
        "every token found was rejected (the keys file's root token may have been revoked)",
        hint="set VAULT_TOKEN to an admin token and re-run",
    )
