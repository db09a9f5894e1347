"""`secretsafe keys generate | show | import`: age identities.

Public keys go to stdout (so they can be captured: ``R=$(secretsafe keys generate)``); where
things were stored goes to stderr. Secret keys are read from stdin only, never from argv, and
never printed.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, cast

import click

from secretsafe.errors import UsageError

if TYPE_CHECKING:
    from secretsafe.keys import Store

_STORE = click.option(
    "--store",
    type=click.Choice(["auto", "keyring", "file"]),
    default="auto",
    show_default=True,
    help="Where to keep the identity: the OS keyring when usable (auto), or the sops key file.",
)


@click.group("keys")
def keys() -> None:
    """Manage age identities (the keys that decrypt your files)."""


@keys.command("generate")
@_STORE
def generate(store: str) -> None:
    """Create a new age identity and print its public key (recipient)."""
    from secretsafe import keys as api

    identity, location = api.generate(store=cast("Store", store))
    click.echo(identity.recipient)
    click.echo(f"secretsafe: stored the new identity in {location}", err=True)


@keys.command("show")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def show(fmt: str) -> None:
    """List the public keys of every identity found, with where each was found."""
    from secretsafe import keys as api

    identities = api.require_identities()
    if fmt == "json":
        data = [{"recipient": i.recipient, "source": i.source} for i in identities]
        click.echo(json.dumps(data, indent=2))
        return
    for ident in identities:
        click.echo(f"{ident.recipient}\t{ident.source}")


@keys.command("import")
@_STORE
# Swallows stray arguments so that a key pasted on the command line is refused without being
# echoed back (click's own "unexpected extra argument" error would print it).
@click.argument("extra", nargs=-1, metavar="< keys.txt")
def import_(store: str, extra: tuple[str, ...]) -> None:
    """Store identities read from stdin (a keys.txt or AGE-SECRET-KEY-1... lines).

    Example: secretsafe keys import < keys.txt
    """
    from secretsafe import keys as api

    if extra:
        raise UsageError(
            "keys import takes no arguments: it reads the identities from stdin",
            hint="a key on the command line ends up in shell history and process lists; "
            "run: secretsafe keys import < keys.txt",
        )
    stdin = sys.stdin
    if stdin is None or stdin.isatty():
        raise UsageError(
            "keys import reads the identities from stdin, not from a terminal or the command line",
            hint="secretsafe keys import < keys.txt",
        )
    text = stdin.read()
    given, new, location = api._import(text, store=cast("Store", store), environ=None)
    for ident in given:
        click.echo(ident.recipient)
    already = len(given) - len(new)
    note = f" ({already} already there)" if already else ""
    click.echo(
        f"secretsafe: imported {len(new)} identit{'y' if len(new) == 1 else 'ies'} into "
        f"{location}{note}",
        err=True,
    )
