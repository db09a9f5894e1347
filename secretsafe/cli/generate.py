"""`secretsafe generate`: a strong random secret, printed or written straight into an
encrypted file (so it never passes through a terminal, a shell history or argv)."""

from __future__ import annotations

import base64
import secrets
import string

import click

_ALNUM = string.ascii_letters + string.digits


def make_secret(nbytes: int, fmt: str) -> str:
    """``nbytes`` bytes of entropy from the OS CSPRNG, encoded as ``fmt``."""
    if fmt == "hex":
        return secrets.token_hex(nbytes)
    if fmt == "base64":
        return base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")
    if fmt == "urlsafe":
        return secrets.token_urlsafe(nbytes)
    # alnum: enough characters to carry nbytes of entropy (log2(62) ~ 5.95 bits each).
    length = -(-nbytes * 8 // 5)
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


@click.command()
@click.option(
    "--bytes",
    "nbytes",
    type=click.IntRange(16, 1024),
    default=32,
    show_default=True,
    help="Bytes of entropy (a JWT HMAC key wants at least 32).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["hex", "base64", "urlsafe", "alnum"]),
    default="urlsafe",
    show_default=True,
)
@click.option(
    "--into",
    "into",
    nargs=2,
    metavar="FILE KEY",
    default=None,
    help="Set KEY in the encrypted FILE to the new secret instead of printing it.",
)
def generate(nbytes: int, fmt: str, into: tuple[str, str] | None) -> None:
    """Generate a strong random secret (stdout, or straight into an encrypted file)."""
    value = make_secret(nbytes, fmt)
    if into is None:
        click.echo(value)
        return
    from secretsafe.dotenv import shown_name
    from secretsafe.envfile import set_value

    path, key = into
    set_value(path, key, value)
    click.echo(f"{shown_name(key)} set in {path} ({nbytes} random bytes, {fmt})", err=True)
