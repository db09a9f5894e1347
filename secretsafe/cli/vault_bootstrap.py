"""`secretsafe vault bootstrap` and `secretsafe vault unseal`.

Both print progress one line per action as it finishes, or, with ``--format json``, one JSON
report at the end (also when the run stops with an error: the finished steps, then the error).
No unseal key, token or secret id is ever printed: they go to SOPS-encrypted files only (see
:mod:`secretsafe.vault.bootstrap`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from secretsafe.errors import BootstrapError, DriftDetected, SecretsafeError, UsageError

if TYPE_CHECKING:
    from secretsafe.vault.bootstrap import StepResult

__all__ = ["bootstrap", "unseal"]

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: progress line by line; json: one machine report (no secret in either).",
)


def _error(err: SecretsafeError) -> dict[str, object]:
    # Messages of the error tree are built secret-free (names, paths, counts).
    return {
        "type": type(err).__name__,
        "exit_code": err.exit_code,
        "message": err.message,
        "hint": err.hint,
    }


@contextmanager
def _json_report(enabled: bool, doc: Callable[[], dict[str, object]]) -> Iterator[None]:
    """With ``--format json``: print ``doc()`` once the command ends, with ``ok`` and
    ``error`` (the error still goes to the one boundary in ``secretsafe.cli.main``)."""
    if not enabled:
        yield
        return
    try:
        yield
    except SecretsafeError as err:
        click.echo(json.dumps({**doc(), "ok": False, "error": _error(err)}, indent=2))
        raise
    click.echo(json.dumps({**doc(), "ok": True, "error": None}, indent=2))


@click.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bootstrap TOML file (nodes, init, mounts, apps).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Change mounts, policies, roles and secrets that exist with different settings.",
)
@click.option(
    "--print-policies", is_flag=True, help="Print each app's generated policy (HCL) and exit."
)
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
@_FORMAT
def bootstrap(
    *,
    config_path: Path,
    dry_run: bool,
    force: bool,
    print_policies: bool,
    timeout: float,
    fmt: str,
) -> None:
    """Bring a Vault/OpenBao server or raft cluster to the state the config declares.

    Initialises (unseal keys and root token go to a SOPS-encrypted file, never the terminal),
    unseals, joins raft nodes, enables kv-v2 mounts, writes least-privilege policies, creates
    an AppRole per app (its credentials, with every node in VAULT_ADDR, go to an encrypted
    file) and loads initial secrets. Re-running changes nothing that is already right. Exit 4
    when something exists with different settings (re-run with --force to change it).
    """
    from secretsafe.vault.bootstrap import bootstrap as run_bootstrap
    from secretsafe.vault.bootstrap import load_config
    from secretsafe.vault.bootstrap.runner import new_report
    from secretsafe.vault.policies import render_all

    as_json = fmt == "json"
    config = load_config(config_path)
    if print_policies:
        if dry_run or force:
            raise UsageError("--print-policies only prints; drop --dry-run/--force")
        if as_json:
            policies = [{"name": n, "hcl": h} for n, h in config.policies()]
            click.echo(json.dumps({"command": "bootstrap", "policies": policies}, indent=2))
        else:
            click.echo(render_all(config.policies()), nl=False)
        return

    def show(step: StepResult) -> None:
        click.echo(step.line())
        for line in step.diff:
            click.echo(f"           {line}")

    report = new_report(config, dry_run=dry_run)
    with _json_report(as_json, report.as_dict):
        if dry_run and not as_json:
            click.echo(f"dry run: plan for {', '.join(config.nodes)}")
        run_bootstrap(
            config,
            dry_run=dry_run,
            force=force,
            on_step=None if as_json else show,
            timeout=timeout,
            report=report,
        )
        if not as_json:
            counts = report.counts()
            if dry_run:
                click.echo(f"dry run: {counts['planned']} step(s) to do; nothing was changed")
            elif report.noop:
                click.echo("bootstrap: already up to date; nothing changed")
            else:
                click.echo(f"bootstrap: {counts['done']} step(s) done")
        if report.differences and not dry_run:
            names = ", ".join(f"{d.step} {d.target}".strip() for d in report.differences)
            where = "the report" if as_json else "the lines above"
            raise DriftDetected(
                f"{len(report.differences)} item(s) differ from the config: {names}",
                hint=f"re-run with --force to change them (see {where})",
            )


@click.command()
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bootstrap TOML file: unseal every node it lists with its keys file.",
)
@click.option(
    "--keys-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SOPS-encrypted keys file (default: the config's init.keys_file).",
)
@click.option(
    "--addr",
    "addrs",
    multiple=True,
    help="Node to unseal (repeatable; default: the config's nodes, else VAULT_ADDR).",
)
@click.option(
    "--ca-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CA bundle to trust (TLS is always verified).",
)
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
@_FORMAT
def unseal(
    *,
    config_path: Path | None,
    keys_file: Path | None,
    addrs: tuple[str, ...],
    ca_cert: Path | None,
    timeout: float,
    fmt: str,
) -> None:
    """Unseal every node from the encrypted keys file (decrypted in memory with your age
    identity). Nodes already unsealed are left alone; each node is reported on its own."""
    from secretsafe.vault.client import resolve_addr
    from secretsafe.vault.unseal import read_keys_file, unseal_all

    as_json = fmt == "json"
    report: list[dict[str, str]] = []
    active: list[str] = []

    def doc() -> dict[str, object]:
        return {"command": "unseal", "nodes": report, "active": active[0] if active else None}

    with _json_report(as_json, doc):
        nodes: list[str] = list(addrs)
        if config_path is not None:
            from secretsafe.vault.bootstrap import load_config

            config = load_config(config_path)
            nodes = nodes or list(config.nodes)
            keys_file = keys_file or config.keys_file
            ca_cert = ca_cert or config.ca_cert
        if keys_file is None:
            raise UsageError("missing --keys-file", hint="or pass --config with init.keys_file")
        if not nodes:
            nodes = [resolve_addr()]
        nodes = [resolve_addr(a) for a in nodes]
        keys = read_keys_file(keys_file)
        results = unseal_all(nodes, keys, timeout=timeout, ca_cert=ca_cert)
        failed: list[tuple[str, SecretsafeError]] = []
        for addr, res in zip(nodes, results, strict=True):
            if isinstance(res, SecretsafeError):
                failed.append((addr, res))
                report.append({"addr": addr, "status": "failed", "detail": res.message})
                if not as_json:
                    click.echo(f"   failed  unseal {addr}: {res}")
            else:
                status = "unchanged" if res.status == "already unsealed" else "done"
                report.append({"addr": addr, "status": status, "detail": res.status})
                if not as_json:
                    click.echo(f"{status:>9}  unseal {addr}: {res.status}")
        if not failed:
            from secretsafe.vault.cluster import find_leader

            # Unsealed is not yet serving: raft elects an active node a moment later.
            leader = find_leader(nodes, timeout=max(30.0, timeout), ca_cert=ca_cert)
            if leader is None:
                raise BootstrapError(
                    f"every node is unsealed but none became active in {max(30.0, timeout):.0f} s",
                    hint="check the nodes' logs (a raft cluster needs a majority of its nodes up)",
                )
            active.append(leader)
            if not as_json:
                click.echo(f"{'active':>9}  {leader}")
        if failed:
            first = failed[0][1]
            raise type(first)(
                f"{len(failed)} of {len(nodes)} node(s) could not be unsealed "
                f"(first: {failed[0][0]}: {first.message})",
                hint=first.hint,
            )
