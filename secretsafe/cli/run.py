"""``secretsafe run``: the click command (help text, unusual invocations) and the fast path.

:func:`fast_main` parses the common forms by hand and runs without importing click, pydantic
or yaml: every container start pays for this command, so it must start about as fast as
``sops exec-env``. Anything it does not recognise returns ``None`` and click takes over.
"""

from __future__ import annotations

import os

from secretsafe.run import VaultPath

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["fast_main", "run"]  # noqa: F822 - `run` is built lazily by __getattr__

_BACKENDS = ("auto", "native", "sops")


def fast_main(args: list[str]) -> int | None:
    """Handle ``run [-f FILE | --vault PATH]... [--vault-mount M] [--override] [--expand]
    [--schema SPEC] [--backend B] [--] CMD...``.

    Returns ``None`` to let click handle the arguments (help, unknown flags, no command);
    otherwise it execs the command and never returns. Errors raise SecretsafeError.
    """
    files: list[str | VaultPath] = []
    override = False
    expand = False
    schema: str | None = None
    backend = "auto"
    mount: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, inline = arg.partition("=")
        if name in ("-f", "--file", "--vault", "--vault-mount", "--schema", "--backend"):
            if eq:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                return None
            if name in ("-f", "--file"):
                files.append(value)
            elif name == "--vault":
                files.append(VaultPath(value))
            elif name == "--vault-mount":
                mount = value
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
    sources = _with_mount(files, mount)
    # From here the process decrypts and execs within milliseconds: the cyclic garbage
    # collector only costs time (about 1.5 ms of the start-up), and nothing it could free
    # would outlive the exec. It is back on if this returns to a caller (an error).
    import gc

    from secretsafe.sops.aead import prefer_evp

    prefer_evp()  # AES-GCM without importing cryptography (secretsafe/sops/aead.py)
    gc.disable()
    try:
        _execute(sources, command, override=override, schema=schema, backend=backend, expand=expand)
    finally:
        gc.enable()
    return 0  # not reached: _execute execs or raises


def _with_mount(sources: Sequence[str | VaultPath], mount: str | None) -> list[str | VaultPath]:
    """``--vault-mount`` applies to every ``--vault`` path, wherever it was given."""
    if mount is None:
        return list(sources)
    return [VaultPath(s.path, mount) if isinstance(s, VaultPath) else s for s in sources]


def _execute(
    files: Sequence[str | VaultPath],
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


_ORDER = "secretsafe.run.sources"


def _ordered_command(click: Any) -> Any:
    """A click command class that records the order of ``-f`` and ``--vault`` (click groups
    the values of each option and loses how they interleave)."""

    class OrderedCommand(click.Command):  # type: ignore[misc]
        def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
            takes_value = {
                opt
                for p in self.params
                if isinstance(p, click.Option)
                and not p.is_flag
                and not p.count
                # an option whose value is optional (--redact) takes none before an option
                and not isinstance(p.flag_value, str)
                for opt in p.opts
            }
            ctx.meta[_ORDER] = _source_order(args, takes_value)
            result: list[str] = super().parse_args(ctx, args)
            return result

    return OrderedCommand


def _source_order(args: Sequence[str], takes_value: set[str]) -> list[str]:
    """``"f"`` / ``"vault"`` per source option in ``args``, in order (options end at ``--``
    or the first argument that is not an option nor an option's value)."""
    order: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break
        name, eq, _ = arg.partition("=")
        if name in ("-f", "--file", "--vault") or (arg.startswith("-f") and name != "-f"):
            order.append("vault" if name == "--vault" else "f")
        if name in takes_value and not eq:
            i += 1  # skip the value
        i += 1
    return order


def _in_order(files: Sequence[str], vault_paths: Sequence[str]) -> list[str | VaultPath]:
    """``files`` and ``vault_paths`` merged in command-line order (recorded by the command
    class; plain concatenation when called without it)."""
    import click

    ctx = click.get_current_context(silent=True)
    order = ctx.meta.get(_ORDER) if ctx is not None else None
    wanted = ["f"] * len(files) + ["vault"] * len(vault_paths)
    if not order or sorted(order) != sorted(wanted):
        order = wanted
    f_iter, v_iter = iter(files), iter(vault_paths)
    return [next(f_iter) if kind == "f" else VaultPath(next(v_iter)) for kind in order]


def _supervise(
    sources: Sequence[str | VaultPath],
    command: Sequence[str],
    *,
    override: bool,
    schema: str | None,
    backend: str,
    expand: bool,
    redact: str | None,
    watch: bool,
    stop_timeout: float,
    mount_dir: str | None,
    mount_names: str | None,
    allow_disk: bool,
) -> int:
    """``run --redact / --watch / --mount``: secretsafe stays as the command's parent."""
    from secretsafe.errors import UsageError
    from secretsafe.run import default_files, run_supervised
    from secretsafe.supervise.supervisor import Options

    if mount_dir is None and (mount_names is not None or allow_disk):
        raise UsageError("--mount-names and --allow-disk go with --mount DIR")
    names = None
    if mount_names is not None:
        names = [n.strip() for n in mount_names.split(",") if n.strip()]
    options = Options(
        redact=redact,
        watch=watch,
        stop_timeout=stop_timeout,
        mount=mount_dir,
        mount_names=names,
        allow_disk=allow_disk,
    )
    return run_supervised(
        list(sources) or default_files(),
        command,
        options=options,
        override=override,
        schema=schema,
        backend=backend,
        expand=expand,
        warn=_warn,
    )


def _redact_mode_type() -> Any:
    import click

    class RedactMode(click.ParamType[str]):
        name = "values|names"

        def convert(self, value: Any, param: Any, ctx: Any) -> str:
            if value in ("values", "names"):
                return str(value)
            # The word is not echoed: it may be the command (or anything) typed after --redact.
            return self.fail("takes =values or =names (put -- before the command)", param, ctx)

    return RedactMode()


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
        cls=_ordered_command(click),
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
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
        "--vault",
        "vault_paths",
        multiple=True,
        metavar="PATH",
        help="KV v2 path to read at start (repeatable; takes part in the -f precedence in "
        "command-line order). Address, token or AppRole from the environment and earlier -f "
        "files; VAULT_ADDR may list several nodes, comma-separated.",
    )
    @click.option(
        "--vault-mount",
        default=None,
        metavar="MOUNT",
        help="KV v2 mount of the --vault paths (default: secret).",
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
    @click.option(
        "--redact",
        type=_redact_mode_type(),
        metavar="[=values|names]",
        is_flag=False,
        flag_value="values",
        default=None,
        help="Supervise COMMAND and replace every value of the sources (6 characters or "
        "more; also base64, URL- and JSON-encoded) in its output by *** "
        "(--redact=names: by <NAME>). A terminal stays a terminal (a pty).",
    )
    @click.option(
        "--watch",
        is_flag=True,
        help="Supervise COMMAND and restart it when a -f file (or a --vault path's version) "
        "changes; new values are validated first (--schema), the old command keeps running "
        "if they are not valid.",
    )
    @click.option(
        "--stop-timeout",
        type=click.FloatRange(min=0),
        default=10.0,
        show_default=True,
        metavar="SECONDS",
        help="--watch: time between SIGTERM and SIGKILL when restarting.",
    )
    @click.option(
        "--mount",
        "mount_dir",
        metavar="DIR",
        help="Supervise COMMAND with the values as 0400 files DIR/NAME (RAM-backed DIR) and "
        "NAME_FILE=DIR/NAME in its environment; removed when it exits.",
    )
    @click.option(
        "--mount-names",
        metavar="A,B",
        help="--mount: only these names (comma-separated; default: every value).",
    )
    @click.option(
        "--allow-disk",
        is_flag=True,
        help="--mount: accept a DIR on a disk-backed filesystem.",
    )
    @click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
    def run(  # noqa: PLR0917 - click passes options positionally
        files: tuple[str, ...],
        vault_paths: tuple[str, ...],
        vault_mount: str | None,
        override: bool,
        expand: bool,
        schema: str | None,
        backend: str,
        redact: str | None,
        watch: bool,
        stop_timeout: float,
        mount_dir: str | None,
        mount_names: str | None,
        allow_disk: bool,
        command: tuple[str, ...],
    ) -> int:
        """Decrypt FILEs in memory and exec COMMAND with their values in its environment.

        \b
        Precedence: later files win over earlier ones; variables already set in the
        environment win over the files unless --override is given.
        Values are passed as stored; --expand expands ${VAR} in them as docker compose
        expands an env_file (the environment, then earlier lines; $$ is a literal $).
        The command replaces secretsafe (signals reach it, its exit code is returned);
        127 if it is not found, 126 if it cannot be executed.
        With --redact, --watch or --mount, secretsafe stays as its parent instead: it
        passes signals (INT TERM HUP QUIT USR1 USR2 WINCH) and stdin on and exits with
        the command's code (128+N after signal N).

        \b
        Example: secretsafe run -f .env.enc -- docker compose up -d
        """
        if command and command[0] == "--":
            command = command[1:]
        if not command:
            raise click.UsageError("missing COMMAND (secretsafe run -f FILE -- CMD [ARGS])")
        sources = _with_mount(_in_order(files, vault_paths), vault_mount)
        if redact is not None or watch or mount_dir is not None:
            return _supervise(
                sources,
                command,
                override=override,
                schema=schema,
                backend=backend,
                expand=expand,
                redact=redact,
                watch=watch,
                stop_timeout=stop_timeout,
                mount_dir=mount_dir,
                mount_names=mount_names,
                allow_disk=allow_disk,
            )
        if mount_names is not None or allow_disk:
            raise click.UsageError("--mount-names and --allow-disk go with --mount DIR")
        _execute(
            sources,
            command,
            override=override,
            schema=schema,
            backend=backend,
            expand=expand,
        )
        return 0  # not reached: _execute execs or raises

    return run
