"""``secretsafe run``: the click command (help text, unusual invocations) and the fast path.

:func:`fast_main` parses the common forms by hand and runs without importing click, pydantic
or yaml: every container start pays for this command, so it must start about as fast as
``sops exec-env``. Anything it does not recognise returns ``None`` and click takes over.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["fast_main", "run"]  # noqa: F822 - `run` is built lazily by __getattr__

_BACKENDS = ("auto", "native", "sops")


def fast_main(args: list[str]) -> int | None:
    """Handle ``run [-f FILE]... [--override] [--expand] [--schema SPEC] [--backend B]
    [--] CMD...``.

    Returns ``None`` to let click handle the arguments (help, unknown flags, no command);
    otherwise it execs the command and never returns. Errors raise SecretsafeError.
    """
    files: list[str] = []
    override = False
    expand = False
    schema: str | None = None
    backend = "auto"
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, inline = arg.partition("=")
        if name in ("-f", "--file", "--schema", "--backend"):
            if eq:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                return None
            if name in ("-f", "--file"):
                files.append(value)
            elif name == "--schema":
                schema = value
            elif value in _BACKENDS:
                backend = value
            else:
                return None
        elif arg.startswith("-f") and len(arg) > 2:
            files.append(arg[2:])
        elif arg == "--override" and not eq:
            override = True
        elif arg == "--expand" and not eq:
            expand = True
        else:
            return None
        i += 1
    command = args[i:]
    if not command:
        return None
    # From here the process decrypts and execs within milliseconds: the cyclic garbage
    # collector only costs time (about 1.5 ms of the start-up), and nothing it could free
    # would outlive the exec. It is back on if this returns to a caller (an error).
    import gc

    from secretsafe.sops.aead import prefer_evp

    prefer_evp()  # AES-GCM without importing cryptography (secretsafe/sops/aead.py)
    gc.disable()
    try:
        _execute(files, command, override=override, schema=schema, backend=backend, expand=expand)
    finally:
        gc.enable()
    return 0  # not reached: _execute execs or raises


def _execute(
    files: Sequence[str],
    command: Sequence[str],
    *,
    override: bool,
    schema: str | None,
    backend: str,
    expand: bool = False,
) -> None:
    from secretsafe.run import build_environment, check_schema, default_files, exec_command

    env = build_environment(
        list(files) or default_files(),
        base_env=os.environ,
        override=override,
        backend=backend,
        expand=expand,
        warn=_warn,
    )
    if schema is not None:
        check_schema(schema, env)
    exec_command(command, env)


def _warn(line: str) -> None:
    import sys

    sys.stderr.write(line + "\n")


def __getattr__(name: str) -> Any:
    # The click command is built on first access so that the fast path never imports click.
    if name == "run":
        command = _build_command()
        globals()["run"] = command
        return command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build_command() -> Any:
    import click

    @click.command(
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
    )
    @click.option(
        "-f",
        "--file",
        "files",
        multiple=True,
        metavar="FILE",
        help="Encrypted .env file to load (repeatable; later files win). Default: ./.env.enc.",
    )
    @click.option(
        "--override",
        is_flag=True,
        help="Let the files' values win over variables already set in the environment.",
    )
    @click.option(
        "--expand/--no-expand",
        default=False,
        help="Expand ${VAR} in the values as docker compose expands an env_file "
        "(default: values as stored, as sops exec-env passes them).",
    )
    @click.option("--schema", metavar="SPEC", help="Validate the environment first (module:Class).")
    @click.option(
        "--backend",
        type=click.Choice(_BACKENDS),
        default="auto",
        show_default=True,
        help="Decrypt in process (native), with the sops binary (sops), or native with fallback.",
    )
    @click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
    def run(  # noqa: PLR0917 - click passes options positionally
        files: tuple[str, ...],
        override: bool,
        expand: bool,
        schema: str | None,
        backend: str,
        command: tuple[str, ...],
    ) -> None:
        """Decrypt FILEs in memory and exec COMMAND with their values in its environment.

        \b
        Precedence: later files win over earlier ones; variables already set in the
        environment win over the files unless --override is given.
        Values are passed as stored; --expand expands ${VAR} in them as docker compose
        expands an env_file (the environment, then earlier lines; $$ is a literal $).
        The command replaces secretsafe (signals reach it, its exit code is returned);
        127 if it is not found, 126 if it cannot be executed.

        \b
        Example: secretsafe run -f .env.enc -- docker compose up -d
        """
        if command and command[0] == "--":
            command = command[1:]
        if not command:
            raise click.UsageError("missing COMMAND (secretsafe run -f FILE -- CMD [ARGS])")
        _execute(
            files,
            command,
            override=override,
            schema=schema,
            backend=backend,
            expand=expand,
        )

    return run
