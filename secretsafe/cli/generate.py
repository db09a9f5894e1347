"""`secretsafe generate`: strong random secrets, printed or written straight into an
encrypted file (so they never pass through a terminal, a shell history or argv)."""

from __future__ import annotations

import base64
import secrets
import string

import click

_ALNUM = string.ascii_letters + string.digits
#: The symbols of the ``password`` format: URL-unreserved (RFC 3986), so a password needs no
#: percent-encoding in a connection URL; none is special in a .env value (no ``#``, ``$``,
#: quotes, ``\\``, space), nor to a shell inside a word (``~`` only at a word's start, ``-``
#: only as an argument's first character: a password never starts with either).
SYMBOLS = "-_.~"
_PASSWORD = _ALNUM + SYMBOLS
_CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS)


def _password(nbytes: int) -> str:
    """Upper, lower, digit and symbol each present (OpenSearch's password rules and the like),
    starting with a letter, carrying at least ``nbytes`` bytes of entropy: a letter, then
    log2(66) ~ 6.04 bits a character, drawn again until every class is present (so each
    accepted password is equally likely)."""
    length = max(-(-nbytes * 8 // 6) + 1, 8)
    while True:
        value = secrets.choice(string.ascii_letters) + "".join(
            secrets.choice(_PASSWORD) for _ in range(length - 1)
        )
        if all(any(c in cls for c in value) for cls in _CLASSES):
            return value


def make_secret(nbytes: int, fmt: str) -> str:
    """``nbytes`` bytes of entropy from the OS CSPRNG, encoded as ``fmt``."""
    if fmt == "hex":
        return secrets.token_hex(nbytes)
    if fmt == "base64":
        return base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")
    if fmt == "urlsafe":
        return secrets.token_urlsafe(nbytes)
    if fmt == "password":
        return _password(nbytes)
    # alnum: enough characters to carry nbytes of entropy (log2(62) ~ 5.95 bits each).
    length = -(-nbytes * 8 // 5)
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


@click.command()
@click.argument("keys", nargs=-1, metavar="[KEY...]")
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
    type=click.Choice(["hex", "base64", "urlsafe", "alnum", "password"]),
    default="urlsafe",
    show_default=True,
    help="password: letters, digits and -_.~ with one of each class at least (services with "
    "password rules, such as OpenSearch); starts with a letter.",
)
@click.option(
    "--into",
    "into",
    metavar="FILE",
    default=None,
    help="Set each KEY in the encrypted FILE to a new secret (one write; FILE is created "
    "if missing, for .sops.yaml's recipients or yours) instead of printing it.",
)
def generate(keys: tuple[str, ...], nbytes: int, fmt: str, into: str | None) -> None:
    """Generate strong random secrets: one on stdout, or one per KEY straight into an
    encrypted file with --into FILE KEY [KEY...]."""
    from secretsafe.errors import UsageError

    if into is None:
        if keys:
            raise UsageError(
                "KEY names are for --into", hint="secretsafe generate --into FILE KEY [KEY...]"
            )
        click.echo(make_secret(nbytes, fmt))
        return
    if not keys:
        raise UsageError("--into FILE needs at least one KEY", hint="--into FILE KEY [KEY...]")
    import os

    from secretsafe.dotenv import shown_name
    from secretsafe.envfile import update_values

    created = not os.path.lexists(into)
    update_values(into, {key: make_secret(nbytes, fmt) for key in keys}, create=True)
    shown = ", ".join(shown_name(k) for k in keys)
    what = "created" if created else "set in"
    click.echo(f"{shown} {what} {into} ({nbytes} random bytes each, {fmt})", err=True)
