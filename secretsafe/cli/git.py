"""``secretsafe git setup | merge-driver | textconv``: encrypted env files in git.

``setup`` is for people; ``merge-driver`` and ``textconv`` are what git runs (see
:mod:`secretsafe.git`). Every line printed names files and variables, never values.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

__all__ = ["git"]


@click.group("git")
def git() -> None:
    """Merge and diff sops-encrypted env files in git by variable name."""


@git.command("setup")
@click.argument("path", default=".", metavar="[PATH]")
def setup(path: str) -> None:
    """Set up the git repository at PATH (default: here): .gitattributes entries and the
    repository's local git config for the secretsafe merge driver and diff. Idempotent;
    never touches the global git config."""
    from secretsafe.git.setup import setup as api

    report = api(path)
    click.echo(f"secretsafe git setup: {report.root}")
    for change in report.changes:
        click.echo(f"  {'=' if change.status == 'ok' else '+'} {change.message}")
    if not report.changed:
        click.echo("nothing to do: git already merges and diffs encrypted files with secretsafe")


@git.command("merge-driver")
@click.argument("base")
@click.argument("ours")
@click.argument("theirs")
@click.argument("path")
def merge_driver(base: str, ours: str, theirs: str, path: str) -> None:
    """Three-way merge of a sops file by variable (git runs it: %O %A %B %P). Writes the
    result into OURS; exit 1 on a conflict (OURS untouched; the names are printed)."""
    from secretsafe.git.merge import merge_driver as api
    from secretsafe.git.textconv import shown

    outcome = api(base, ours, theirs, path)
    path = shown(path)  # %P names a file of the branch being merged: anything may be in it
    if outcome.text_merge:
        _exit(0 if outcome.merged else 1)
    if outcome.merged:
        taken = ", ".join(shown(n) for n in outcome.taken)
        what = f"took {taken} from their side" if taken else "nothing to take from their side"
        key = "" if outcome.key_from == "ours" else "; written under their key (recipients changed)"
        click.echo(f"secretsafe: {path}: merged by variable, {what}{key}", err=True)
        return
    names = ", ".join(shown(n) for n in outcome.conflicts)
    click.echo(
        f"secretsafe: {path}: conflict in {names} (changed differently on both sides; values "
        "not shown); the file is left as your side",
        err=True,
    )
    click.echo(
        f"secretsafe: see both sides with: git log --merge -p -- {path}; set the right values "
        f"with: secretsafe set {path} NAME; then: git add {path}",
        err=True,
    )
    _exit(1)


@git.command("textconv")
@click.argument("file")
def textconv(file: str) -> None:
    """Print FILE for git diff: variable names with keyed fingerprints of their values
    (names only without a key). Never prints a value."""
    from secretsafe.files import read_bytes
    from secretsafe.git.textconv import textconv as api

    out = api(read_bytes(file, what="file"), path=file)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()


def _exit(code: int) -> NoReturn:
    raise click.exceptions.Exit(code)
