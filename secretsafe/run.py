"""``secretsafe run``: decrypt in memory, merge into the environment, exec the command.

Precedence (the same as ``dotenvx run`` and docker compose's ``.env`` handling):

- later ``-f`` files win over earlier ones;
- by default a variable already set in the environment wins over every file, so
  ``DEBUG=1 secretsafe run -- app`` works as people expect;
- with ``--override`` the files win over the environment (dotenvx ``--overload``).

Values are passed exactly as stored by default (what ``sops exec-env`` does). sops keeps no
quotes, so a stored ``$`` cannot be told from a reference: a generated password such as
``kq9#Vd2$mZ7pLw4!xR8s`` would silently lose ``$mZ7pLw4`` if it were expanded. ``--expand``
expands ``${VAR}`` in the values as docker compose expands an ``env_file``
(:mod:`secretsafe.compose.envparse`; ``$VAR``, ``${VAR:-default}``, ``${VAR:?message}``...,
``$$`` for a literal ``$``). A reference sees what the command would see for that name at
that point: the environment, then the lines before it (of this file and earlier ``-f`` files);
with ``--override``, those lines first. An unset ``${VAR}`` becomes ``""`` with a warning on
stderr (as compose warns); an unmet ``${VAR:?message}`` stops the command from starting.

``--vault PATH`` (repeatable) reads the values stored at a KV v2 path at start
(:func:`vault_values`) and takes part in the same precedence list as ``-f`` files, in
command-line order: ``run -f base.enc --vault apps/api/prod -f local.enc`` lets
``local.enc`` win over Vault, and Vault over ``base.enc``. The Vault address, token or AppRole
credentials are looked up in what the command would see at the first ``--vault``: the
environment and the ``-f`` files before it (so an encrypted credentials file written by
``vault bootstrap`` can be given with ``-f`` first). Those values are passed on to the command
like every other value of the files.

The command replaces the secretsafe process (``execvpe``): signals from a container runtime or
a terminal reach the app directly, and its exit code is the exit code. The plaintext values
exist only in this process's memory and then in the app's environment, never on disk.
``--redact``, ``--watch`` and ``--mount`` need a process that stays: :func:`run_supervised`
runs the command as a child instead (:mod:`secretsafe.supervise`); without them nothing of
that package is imported.
"""

from __future__ import annotations

import os
import sys

from secretsafe.errors import CommandError, CommandNotFound, FormatError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import NamedTuple, NoReturn

    from secretsafe.supervise.supervisor import Options as SuperviseOptions
    from secretsafe.vault.reader import Session
else:
    from secretsafe._namedtuple import NamedTuple  # typing's, without importing typing

__all__ = ["DEFAULT_FILE", "VaultPath", "build_environment", "default_files", "exec_command"]

#: Used when ``run`` gets no ``-f``: the file ``secretsafe encrypt .env`` writes.
DEFAULT_FILE = ".env.enc"


def default_files() -> list[str]:
    """``[".env.enc"]`` when it exists in the current directory; else a :class:`UsageError`."""
    if os.path.isfile(DEFAULT_FILE):
        return [DEFAULT_FILE]
    raise UsageError(
        f"no -f FILE given and no {DEFAULT_FILE} in the current directory",
        hint="pass -f path/to/.env.enc",
    )


class VaultPath(NamedTuple):
    """A ``--vault PATH`` source of ``run``: a KV v2 path (and its mount)."""

    path: str
    mount: str = "secret"


def build_environment(
    files: Sequence[str | os.PathLike[str] | VaultPath],
    *,
    base_env: Mapping[str, str],
    override: bool = False,
    backend: str = "auto",
    expand: bool = False,
    warn: Callable[[str], object] | None = None,
) -> dict[str, str]:
    """The child's environment: ``base_env`` merged with the decrypted ``files`` (and the
    values of :class:`VaultPath` items, in the same order), their ``${VAR}`` references
    expanded when ``expand`` (see the module docstring). ``warn`` gets one line per reference
    to an unset variable (names only)."""
    from_files: dict[str, str] = {}
    identities = None
    vault: Session | None = None
    try:
        for path in files:
            if isinstance(path, VaultPath):
                if vault is None:
                    # Credentials as the command would see them at this point.
                    seen = {**base_env, **from_files} if override else {**from_files, **base_env}
                    vault = vault_session(seen)
                values = vault_values(vault, path)
                label = f"vault:{path.mount.strip('/')}/{path.path.strip('/')}"
            else:
                if identities is None:
                    from secretsafe.keys import discover

                    # Discover once for every file (a key command or keyring lookup is not
                    # free).
                    identities = discover()
                from secretsafe.sops import decrypt_file_plain

                values = decrypt_file_plain(path, identities=identities, backend=backend)
                label = os.fspath(path)
            if expand and any("$" in v for v in values.values()):
                # Imported only when a value needs it: the common file pays nothing.
                values = _expanded(
                    label,
                    values,
                    from_files,
                    base_env=base_env,
                    override=override,
                    warn=warn,
                )
            from_files.update(values)
    finally:
        if vault is not None:
            vault.close()
    if override:
        return {**base_env, **from_files}
    return {**from_files, **base_env}


def vault_session(environ: Mapping[str, str]) -> Session:
    """The Vault session of ``run --vault``: address (a comma-separated node list), token or
    AppRole from ``environ`` (see :mod:`secretsafe.vault.reader`)."""
    from secretsafe.vault.reader import Session

    return Session(environ=environ)


def vault_values(session: Session, source: VaultPath) -> dict[str, str]:
    """The values stored at ``source``, by variable name (flat or sections layout)."""
    from secretsafe.vault.reader import read_values

    return read_values(session, source.path, mount=source.mount)


def _expanded(
    path: str,
    values: dict[str, str],
    earlier: dict[str, str],
    *,
    base_env: Mapping[str, str],
    override: bool,
    warn: Callable[[str], object] | None,
) -> dict[str, str]:
    """``values`` (one file, in order) with ``${VAR}`` expanded; ``earlier``: what the
    previous files set. Messages name the file, the variable and the reference, never a
    value (nor a ``:?`` message, written next to values)."""
    from secretsafe.compose.envparse import Chain, expand_values
    from secretsafe.errors import ComposeError

    acc = dict(earlier)
    lookup = Chain(acc, base_env) if override else base_env
    got = []
    for key, value in values.items():
        failed: ComposeError | None = None
        try:
            got += expand_values([(key, value, 0)], lookup=lookup, into=acc, where=f"{path}: {key}")
        except ComposeError as exc:
            failed = exc
        if failed is not None:  # raised outside the except block: no __context__
            raise FormatError(
                failed.message,
                hint="fix the ${...} syntax (use $$ for a literal $), or run without --expand",
            )
    out: dict[str, str] = {}
    for item in got:
        for ref in item.refs:
            if ref.failed:
                state = "empty" if ref.found else "not set"
                raise FormatError(
                    f"{path}: {item.name} uses ${{{ref.name}{ref.op}...}}, which requires "
                    f"{ref.name}, and it is {state}",
                    hint=f"set {ref.name} in the environment or an earlier -f file, "
                    "or run without --expand",
                )
            if ref.undefined and warn is not None:
                warn(
                    f"secretsafe run: {path}: {item.name} uses ${{{ref.name}}}, which is not "
                    "set: expanded to an empty string"
                )
        out[item.name] = item.value or ""
    return out


def check_schema(spec: str, env: Mapping[str, str]) -> None:
    """Validate ``env`` against the schema ``spec`` before the app starts."""
    try:
        from secretsafe.schemas import check
    except ImportError:
        raise UsageError(
            "--schema is not available in this build (secretsafe.schemas is missing)"
        ) from None
    check(spec, env).raise_for_problems()


def run_supervised(
    sources: Sequence[str | os.PathLike[str] | VaultPath],
    command: Sequence[str],
    *,
    options: SuperviseOptions,
    override: bool = False,
    schema: str | None = None,
    backend: str = "auto",
    expand: bool = False,
    warn: Callable[[str], object] | None = None,
) -> int:
    """``run --redact / --watch / --mount``: run ``command`` as a child of this process
    (:mod:`secretsafe.supervise`) and return its exit code. The values to redact and mount
    are those the sources add to the environment or change in it (an inherited variable
    that keeps its value is not one of them)."""
    from secretsafe.supervise.supervisor import Loaded, supervise
    from secretsafe.supervise.watch import VaultVersions

    base_env = dict(os.environ)
    current: dict[str, str] = {}

    def load() -> Loaded:
        env = build_environment(
            sources, base_env=base_env, override=override, backend=backend, expand=expand, warn=warn
        )
        if schema is not None:
            check_schema(schema, env)
        current.clear()
        current.update(env)
        return Loaded(env, {k: v for k, v in env.items() if base_env.get(k) != v})

    vault_paths = [(s.path, s.mount) for s in sources if isinstance(s, VaultPath)]
    versions = VaultVersions(vault_paths, lambda: current) if vault_paths else None
    try:
        return supervise(
            command,
            load=load,
            options=options,
            watch_files=[s for s in sources if not isinstance(s, VaultPath)],
            watch_versions=versions,
        )
    finally:
        if versions is not None:
            versions.close()


def exec_command(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Replace this process with ``argv``, looked up on ``env``'s PATH, in ``env``."""
    if not argv:
        raise UsageError("no command to run", hint="secretsafe run -f FILE -- CMD [ARGS]")
    command = argv[0]
    refuse_unpassable(env)
    # execvpe searches env's PATH itself and says FileNotFoundError when nothing matches.
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command, list(argv), dict(env))  # noqa: S606 - argv list, no shell
    except FileNotFoundError:
        hint = "check PATH"
        if "=" in command:
            hint = "no shell runs the command: put VAR=value in an env file, or use: env VAR=..."
        raise CommandNotFound(f"{_shown_command(command)}: command not found", hint=hint) from None
    except PermissionError:
        shown = _shown_command(command)
        raise CommandError(f"{shown}: permission denied (not executable)") from None
    except OSError as exc:
        raise CommandError(f"{_shown_command(command)}: cannot execute ({exc.strerror})") from None


def refuse_unpassable(env: Mapping[str, str]) -> None:
    """A :class:`FormatError` for a variable the OS cannot pass to a process (a NUL byte, an
    empty name or ``=`` in it, as a Vault key can be): execve would fail with a bare
    ValueError."""
    for name, value in env.items():
        if "\x00" in value or "\x00" in name or "=" in name or not name:
            shown = name.split("=", 1)[0].replace("\x00", "?")  # never what follows a '='
            raise FormatError(
                f"{shown!r}: cannot be passed to a process environment "
                "(a NUL byte, an empty name, or '=' in the name)",
                hint="fix the variable where it is set (its env file, or the Vault key)",
            )


def _shown_command(command: str) -> str:
    """The command a user typed, as an error may show it. ``VAR=value`` (shell syntax typed
    where a command goes) shows the name only; otherwise the command is shown when its last
    part passes the rule for typed names (:func:`secretsafe.dotenv.shown_name`): a value
    pasted here (spaces, a token) is described, not quoted."""
    from secretsafe.dotenv import looks_like_credential, shown_name

    name, eq, _ = command.partition("=")
    if eq:
        return f"{shown_name(name)}=..."
    base = os.path.basename(command)
    plain = command.isprintable() and " " not in command and not looks_like_credential(command)
    if plain and shown_name(base) == base:
        return command
    return "(the command given, not shown: it does not look like a command name)"
