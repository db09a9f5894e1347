"""The click command tree. Each subcommand lives in its own module and is imported only when
it runs (or when help lists it)."""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> "module:attribute". Adding a command is one line here plus its module.
COMMANDS: dict[str, str] = {
    "keys": "secretsafe.cli.keys:keys",
    "init": "secretsafe.cli.init:init",
    "encrypt": "secretsafe.cli.files:encrypt",
    "decrypt": "secretsafe.cli.files:decrypt",
    "edit": "secretsafe.cli.files:edit",
    "set": "secretsafe.cli.files:set_",
    "unset": "secretsafe.cli.files:unset",
    "rotate": "secretsafe.cli.files:rotate",
    "recipients": "secretsafe.cli.files:recipients",
    "updatekeys": "secretsafe.cli.updatekeys:updatekeys",
    "ls": "secretsafe.cli.files:ls",
    "convert": "secretsafe.cli.convert:convert",
    "run": "secretsafe.cli.run:run",
    "check": "secretsafe.cli.check:check",
    "example": "secretsafe.cli.check:example",
    "schema": "secretsafe.cli.check:schema",
    "audit": "secretsafe.cli.audit:audit",
    "generate": "secretsafe.cli.generate:generate",
    "vault": "secretsafe.cli.vault:vault",
    "git": "secretsafe.cli.git:git",
}


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module_name, attr = self._lazy[cmd_name].split(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.startswith("secretsafe"):
                    return None  # command not built yet
                raise
            cmd = getattr(module, attr)
            if not isinstance(cmd, click.Command):
                raise TypeError(f"{self._lazy[cmd_name]} is not a click command")
            return cmd
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="secretsafe", prog_name="secretsafe")
def cli() -> None:
    """Encrypted .env files (SOPS + age), Vault/OpenBao sync, and startup validation."""
