"""``secretsafe convert``: a sops dotenv file to a nested sops YAML/JSON file and back
(:mod:`secretsafe.sops.convert`); values are decrypted in memory only."""

from __future__ import annotations

import click

__all__ = ["convert"]


@click.command()
@click.argument("src", metavar="SRC")
@click.option(
    "-o",
    "--output",
    "dst",
    required=True,
    metavar="DST",
    help="The file to write; its name gives the format: .enc.yaml / .enc.json, else dotenv.",
)
@click.option(
    "--schema",
    "spec",
    default=None,
    metavar="SPEC",
    help="module:Class or a .toml schema: nest with its env_nested_delimiter (default __).",
)
@click.option("--force", is_flag=True, help="Overwrite DST if it exists.")
def convert(src: str, dst: str, spec: str | None, force: bool) -> None:
    """Convert the sops file SRC: an .env.enc into a nested .enc.yaml/.enc.json
    (DATABASE__HOST becomes database: {host: ...}), or back. DST keeps SRC's recipients and
    every value is encrypted; nothing is decrypted to disk."""
    from secretsafe.sops.convert import convert_file

    delimiter = None
    if spec is not None:
        from secretsafe.schemas.loader import nested_delimiter
        from secretsafe.schemas.spec import load_spec

        delimiter = nested_delimiter(load_spec(spec))
    source, written, count = convert_file(src, dst, delimiter=delimiter, force=force)
    click.echo(f"converted {src} ({source}) -> {dst} ({written}): {count} variables", err=True)
