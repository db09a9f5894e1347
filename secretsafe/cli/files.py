"""``secretsafe encrypt | decrypt | edit | set | unset | rotate | recipients | ls``.

Each command parses its arguments, calls :mod:`secretsafe.envfile` and prints; errors are
raised and turned into one line and an exit code by :func:`secretsafe.cli.main`.
Status lines go to stderr so that stdout carries only what a command outputs (``decrypt``).
"""

from __future__ import annotations

import sys

import click

from secretsafe.errors import UsageError

__all__ = ["decrypt", "edit", "encrypt", "ls", "recipients", "rotate", "set_", "unset"]

_backend_option = click.option(
    "--backend",
    type=click.Choice(["auto", "native", "sops"]),
    default="auto",
    show_default=True,
    help="native: in process; sops: the sops binary; auto: native, sops when needed.",
)


@click.command()
@click.argument("file", default=".env", metavar="[FILE]")
@click.option("-o", "--output", metavar="DST", help="Where to write (default: FILE.enc).")
@click.option(
    "-r",
    "--recipient",
    "recipient_list",
    multiple=True,
    metavar="AGE1...",
    help="Encrypt for this age recipient (repeatable). Default: .sops.yaml, else your key.",
)
@click.option("--force", is_flag=True, help="Overwrite DST if it exists.")
@_backend_option
def encrypt(
    file: str, output: str | None, recipient_list: tuple[str, ...], force: bool, backend: str
) -> None:
    """Encrypt a plaintext .env FILE (default .env) to FILE.enc (SOPS dotenv format)."""
    from secretsafe.envfile import encrypt_file

    dst = encrypt_file(
        file, output, recipients=list(recipient_list) or None, backend=backend, force=force
    )
    click.echo(f"encrypted {file} -> {dst}", err=True)
    click.echo(
        f"commit {dst}; keep {file} out of git, or delete it: secretsafe decrypt {dst}",
        err=True,
    )


@click.command()
@click.argument("file", default=".env.enc", metavar="[FILE]")
@click.option("-o", "--output", metavar="DST", help="Write the plaintext here (mode 0600).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "dotenv", "json", "sops"]),
    default="auto",
    show_default=True,
    help="dotenv: quoted .env; json: an object; sops: what `sops decrypt` prints; "
    "auto: dotenv, or json when a name cannot be written in a .env file.",
)
@_backend_option
def decrypt(file: str, output: str | None, fmt: str, backend: str) -> None:
    """Decrypt FILE (default .env.enc) to stdout, or to DST with -o."""
    from secretsafe.envfile import decrypt_document, render, resolve_format, write_plaintext

    if output is not None:
        written = write_plaintext(file, output, fmt=fmt, backend=backend)  # type: ignore[arg-type]
        _note_json_fallback(file, fmt, written)
        click.echo(f"decrypted {file} -> {output} (mode 0600)", err=True)
        return
    _, doc = decrypt_document(file, backend=backend)
    chosen = resolve_format(doc, fmt)  # type: ignore[arg-type]
    _note_json_fallback(file, fmt, chosen)
    sys.stdout.write(render(doc, fmt=chosen))
    sys.stdout.flush()


def _note_json_fallback(file: str, asked: str, chosen: str) -> None:
    if asked == "auto" and chosen == "json":
        click.echo(
            f"{file}: a variable name cannot be written in a .env file (sops allows any name "
            "without '='); printed as JSON",
            err=True,
        )


@click.command()
@click.argument("file")
@click.option(
    "--editor",
    metavar="CMD",
    help="Editor command (default: $VISUAL, $EDITOR, vi, which need a terminal).",
)
@_backend_option
def edit(file: str, editor: str | None, backend: str) -> None:
    """Edit the decrypted FILE in $EDITOR; re-encrypt it if it changed.

    \b
    $VISUAL, $EDITOR and vi start only when stdin and stdout are a terminal (they draw the
    plaintext); for a scripted edit pass the command with --editor.
    """
    from secretsafe.envfile import edit_file

    changed = edit_file(file, editor=editor, backend=backend)
    click.echo(f"{file}: {'saved' if changed else 'no changes'}", err=True)


@click.command(name="set")
@click.argument("file")
@click.argument("key")
# Swallows stray arguments so that a value typed after KEY is refused without being echoed
# back (click's "unexpected extra argument" error would print it).
@click.argument("extra", nargs=-1, metavar="< VALUE")
@click.option(
    "--create",
    is_flag=True,
    help="Create FILE if it is missing (recipients from .sops.yaml, else your key; "
    "JSON/YAML by a .json/.yaml name, else dotenv).",
)
@_backend_option
def set_(file: str, key: str, extra: tuple[str, ...], create: bool, backend: str) -> None:
    """Set KEY in FILE to the value read from stdin (never from argv).

    \b
    One trailing newline is removed, so `echo value | secretsafe set F KEY` works.
    In a sops YAML/JSON file KEY is the name run and load() see: DATABASE__HOST sets
    database.host (new keys lower-case); the value is stored as a string.
    Only KEY's line changes (with the sops MAC and lastmodified lines).
    Example: printf %s "$TOKEN" | secretsafe set .env.enc API_TOKEN
    """
    import os

    from secretsafe.envfile import set_value, update_values

    if extra or "=" in key:
        # KEY=VALUE or KEY VALUE: a value is on the command line, so quote no argument.
        raise UsageError(
            "set takes FILE and KEY only (a variable name, without =VALUE); "
            "the value is read from stdin",
            hint="a value in argv ends up in shell history and process lists; run: "
            'printf %s "$VALUE" | secretsafe set FILE KEY',
        )
    from secretsafe.dotenv import shown_name

    value = _read_stdin_value()
    if create and not os.path.lexists(file):
        update_values(file, {key: value}, backend=backend, create=True)
        click.echo(f"{file}: created with {shown_name(key)}", err=True)
        return
    new = set_value(file, key, value, backend=backend)
    click.echo(f"{file}: {'added' if new else 'updated'} {shown_name(key)}", err=True)


def _read_stdin_value() -> str:
    stream = sys.stdin
    if stream is None or stream.isatty():
        raise UsageError(
            "the value is read from stdin, and stdin is a terminal",
            hint='pipe it in: printf %s "$VALUE" | secretsafe set FILE KEY',
        )
    data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read().encode()
    try:
        value = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the value on stdin is not valid UTF-8") from None
    if value.endswith("\r\n"):
        return value[:-2]
    return value.removesuffix("\n")


@click.command()
@click.argument("file")
@click.argument("key")
@_backend_option
def unset(file: str, key: str, backend: str) -> None:
    """Remove KEY from FILE (in YAML/JSON: its flattened name, e.g. DATABASE__HOST)."""
    from secretsafe.dotenv import shown_name
    from secretsafe.envfile import unset_value

    unset_value(file, key, backend=backend)
    click.echo(f"{file}: removed {shown_name(key)}", err=True)


@click.command()
@click.argument("file")
@_backend_option
def rotate(file: str, backend: str) -> None:
    """Re-encrypt FILE under a new data key (same recipients)."""
    from secretsafe.envfile import rotate as rotate_file

    rotate_file(file, backend=backend)
    click.echo(f"{file}: rotated the data key", err=True)


@click.group()
def recipients() -> None:
    """List, add or remove the age recipients of an encrypted file."""


@recipients.command(name="list")
@click.argument("file")
def list_(file: str) -> None:
    """Print FILE's age recipients, one a line (key groups separated by a blank line)."""
    from secretsafe.envfile import list_recipients

    groups = list_recipients(file)
    click.echo("\n\n".join("\n".join(g) for g in groups))


@recipients.command()
@click.argument("file")
@click.argument("recipient", nargs=-1, required=True)
@click.option(
    "--group", type=click.IntRange(min=1), default=1, show_default=True, help="Key group."
)
@_backend_option
def add(file: str, recipient: tuple[str, ...], group: int, backend: str) -> None:
    """Let RECIPIENT(s) decrypt FILE too: the data key is wrapped for them, so only the
    file's metadata lines change (every value keeps its ciphertext)."""
    from secretsafe.envfile import add_recipients

    added = add_recipients(file, list(recipient), group=group - 1, backend=backend)
    if added:
        click.echo(f"{file}: added {', '.join(added)}", err=True)
    else:
        click.echo(f"{file}: already a recipient; nothing changed", err=True)


@recipients.command()
@click.argument("file")
@click.argument("recipient", nargs=-1, required=True)
@_backend_option
def remove(file: str, recipient: tuple[str, ...], backend: str) -> None:
    """Re-encrypt FILE without RECIPIENT(s), under a new data key (the removed key knew the
    old one).

    Old copies (git history) stay readable by the removed key: change the values too.
    """
    from secretsafe.envfile import remove_recipients
    from secretsafe.keys import validate_recipient

    # Validate first: remove_recipients quotes recipients it does not find, and a secret key
    # pasted here by mistake must not be echoed.
    wanted = [validate_recipient(r) for r in recipient]
    remove_recipients(file, wanted, backend=backend)
    click.echo(f"{file}: removed {', '.join(wanted)}", err=True)  # validated public keys


@click.command()
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {name, state}.")
def ls(file: str, as_json: bool) -> None:
    """List the variable names of the encrypted FILE and whether each value is stored
    encrypted, plaintext (the file's rules leave it so) or empty. Nothing is decrypted and
    no key is needed."""
    from secretsafe.dotenv import shown_name
    from secretsafe.sops import read_encrypted
    from secretsafe.sops.listing import names

    listed = names(read_encrypted(file), file)
    if as_json:
        import json

        rows = [{"name": shown_name(n.name), "state": n.state} for n in listed]
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(shown_name(n.name)) for n in listed), default=0)
    for n in listed:
        click.echo(f"{shown_name(n.name):<{width}}  {n.state}")
