"""``secretsafe updatekeys [PATH...]``: every sops file's recipients and key groups made equal
to its ``.sops.yaml`` creation rule, all files or none (:mod:`secretsafe.sops.updatekeys`)."""

from __future__ import annotations

import click

__all__ = ["updatekeys"]


@click.command()
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.option("--dry-run", is_flag=True, help="Print the plan per file; write nothing.")
def updatekeys(paths: tuple[str, ...], dry_run: bool) -> None:
    """Make each sops file's recipients equal to its .sops.yaml creation rule.

    \b
    Default PATHs: every sops file (dotenv, JSON, YAML) under the repository root that a
    creation rule matches (.git and git-ignored paths skipped).
    A member added: the same data key is wrapped for them; only metadata lines change.
    A member removed: a new data key, every value re-encrypted, in the same write.
    All files or none: if one cannot be updated (no key to unwrap it, permissions, a
    broken file) nothing is written and the error names it, with its usual exit code
    (10 file, 13 format, 14 config, 20/21 key, 22 integrity, 23 unsupported).
    """
    from secretsafe.sops.updatekeys import apply, plan

    plans = plan(list(paths) or None)
    if not plans:
        click.echo("no sops file that a .sops.yaml creation rule matches", err=True)
        return
    for p in plans:
        click.echo(p.describe())
    if dry_run:
        changing = sum(1 for p in plans if p.changed)
        click.echo(f"dry run: {changing} of {len(plans)} files would change", err=True)
        return
    written = apply(plans)
    click.echo(f"updated {len(written)} of {len(plans)} files", err=True)
