"""``secretsafe init``: set the current git repository up (key, .sops.yaml, .gitignore,
pre-commit hooks, git merge/diff of encrypted files) and print what was done and what is
left to the user.

Everything goes to stdout: the report is the command's output. See :mod:`secretsafe.init`.
"""

from __future__ import annotations

from typing import Literal, cast

import click

__all__ = ["init"]

_MARK = {"created": "+", "updated": "+", "ok": "=", "differs": "!", "todo": "!"}


@click.command("init")
@click.argument("path", default=".", metavar="[PATH]")
@click.option(
    "--store",
    type=click.Choice(["auto", "keyring", "file"]),
    default="auto",
    show_default=True,
    help="Where a new age identity goes: the OS keyring when usable (auto), or the key file.",
)
def init(path: str, store: str) -> None:
    """Set up the git repository at PATH (default: here) the recommended way.

    Creates an age identity if you have none, a .sops.yaml creation rule for env files,
    .gitignore entries for plaintext env files, the pre-commit hooks and the git merge driver
    and diff for encrypted env files (as `secretsafe git setup`); prints the commands
    to encrypt and untrack plaintext env files already in git. Idempotent; never deletes a
    file or rewrites history.
    """
    from secretsafe.init import init as api

    report = api(path, store=cast("Literal['auto', 'keyring', 'file']", store))
    click.echo(f"secretsafe init: {report.root}")
    for step in report.steps:
        click.echo(f"  {_MARK[step.status]} {step.message}")
        for line in step.details:
            click.echo(f"      {line}")
    if not report.changed:
        click.echo("nothing to do: the repository is already set up")
    if any(s.status in ("differs", "todo") for s in report.steps):
        click.echo(
            "lines marked ! are left for you (secretsafe init never deletes a file, "
            "touches the git index or rewrites history)"
        )
