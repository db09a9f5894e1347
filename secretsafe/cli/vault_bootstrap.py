"""`secretsafe vault bootstrap` and `secretsafe vault unseal`.

Both print progress one line per step as it finishes. No unseal key, token or secret id is
ever printed: they go to SOPS-encrypted files only (see :mod:`secretsafe.vault.bootstrap`).
"""

from __future__ import annotations

from pathlib import Path

import click

from secretsafe.errors import BootstrapError, DriftDetected, SecretsafeError, UsageError

__all__ = ["bootstrap", "unseal"]


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
def bootstrap(
    *, config_path: Path, dry_run: bool, force: bool, print_policies: bool, timeout: float
) -> None:
    """Bring a Vault/OpenBao server or raft cluster to the state the config declares.

    Initialises (unseal keys and root token go to a SOPS-encrypted file, never the terminal),
    unseals, joins raft nodes, enables kv-v2 mounts, writes least-privilege policies, creates
    an AppRole per app (its credentials go to an encrypted file) and loads initial secrets.
    Re-running changes nothing that is already right. Exit 4 when something exists with
    different settings (re-run with --force to change it).
    """
    from secretsafe.vault.bootstrap import StepResult, load_config
    from secretsafe.vault.bootstrap import bootstrap as run_bootstrap
    from secretsafe.vault.policies import render_all

    config = load_config(config_path)
    if print_policies:
        if dry_run or force:
            raise UsageError("--print-policies only prints; drop --dry-run/--force")
        click.echo(render_all(config.policies()), nl=False)
        return

    def show(step: StepResult) -> None:
        click.echo(step.line())
        for line in step.diff:
            click.echo(f"           {line}")

    if dry_run:
        click.echo(f"dry run: plan for {', '.join(config.nodes)}")
    report = run_bootstrap(config, dry_run=dry_run, force=force, on_step=show, timeout=timeout)
    counts = {s: sum(1 for r in report.steps if r.status == s) for s in ("done", "planned")}
    if dry_run:
        click.echo(f"dry run: {counts['planned']} step(s) to do; nothing was changed")
    elif report.noop:
        click.echo("bootstrap: already up to date; nothing changed")
    else:
        click.echo(f"bootstrap: {counts['done']} step(s) done")
    if report.differences and not dry_run:
        names = ", ".join(f"{d.step} {d.target}".strip() for d in report.differences)
        raise DriftDetected(
            f"{len(report.differences)} item(s) differ from the config: {names}",
            hint="re-run with --force to change them (see the lines above)",
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
def unseal(
    *,
    config_path: Path | None,
    keys_file: Path | None,
    addrs: tuple[str, ...],
    ca_cert: Path | None,
    timeout: float,
) -> None:
    """Unseal every node from the encrypted keys file (decrypted in memory with your age
    identity). Nodes already unsealed are left alone; each node is reported on its own."""
    from secretsafe.vault.client import resolve_addr
    from secretsafe.vault.unseal import read_keys_file, unseal_all

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
            click.echo(f"   failed  unseal {addr}: {res}")
        else:
            status = "unchanged" if res.status == "already unsealed" else "done"
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
        click.echo(f"{'active':>9}  {leader}")
    if failed:
        first = failed[0][1]
        raise type(first)(
            f"{len(failed)} of {len(nodes)} node(s) could not be unsealed "
            f"(first: {failed[0][0]}: {first.message})",
            hint=first.hint,
        )
