"""`secretsafe vault ...`: push, pull, diff, put, dev (here) and bootstrap, unseal (lazy)."""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from secretsafe.cli.app import LazyGroup
from secretsafe.errors import DriftDetected, SecretsafeError, UsageError
from secretsafe.secret import SecretValues

if TYPE_CHECKING:
    from secretsafe.secret import Secret
    from secretsafe.vault.client import VaultClient
    from secretsafe.vault.put import PutResult
    from secretsafe.vault.sync import Outcome, Plan

F = TypeVar("F", bound=Callable[..., Any])

SUBCOMMANDS = {
    "bootstrap": "secretsafe.cli.vault_bootstrap:bootstrap",
    "unseal": "secretsafe.cli.vault_bootstrap:unseal",
}


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
def vault() -> None:
    """Vault / OpenBao: push, pull and diff env files; put one value; bootstrap a server; a
    local dev server.

    Connection: VAULT_ADDR or BAO_ADDR; token from VAULT_TOKEN, BAO_TOKEN, AppRole
    (VAULT_ROLE_ID + VAULT_SECRET_ID), ~/.vault-token or the OS keyring.
    """


def connection_options(fn: Callable[..., None]) -> Callable[..., None]:
    """--addr, --namespace, --ca-cert, --timeout, --retries, --deadline, --failover, --node,
    given to ``fn`` as ``connect``:
    a function that opens the connection (commands connect only once their input is valid)."""

    @functools.wraps(fn)
    def wrapper(
        *,
        addr: tuple[str, ...],
        namespace: str | None,
        ca_cert: Path | None,
        timeout: float,
        retries: int,
        deadline: float | None,
        nodes: tuple[str, ...],
        failover: float,
        **kwargs: Any,
    ) -> None:
        def connect() -> VaultClient:
            from secretsafe.vault.client import connect as open_client

            return open_client(
                addr=addr or None,
                namespace=namespace,
                ca_cert=ca_cert,
                timeout=timeout,
                retries=retries,
                deadline=deadline,
                nodes=nodes,
                failover=failover,
            )

        fn(connect=connect, **kwargs)

    options = [
        click.option(
            "--addr",
            multiple=True,
            help="Server address; repeat it (or comma-separate) for the nodes of a cluster "
            "(default: VAULT_ADDR, then BAO_ADDR, which may list several too). With several "
            "nodes every request goes to the active node.",
        ),
        click.option("--namespace", help="Vault namespace (default: VAULT_NAMESPACE)."),
        click.option(
            "--ca-cert",
            type=click.Path(dir_okay=False, path_type=Path),
            help="CA bundle to trust (default: VAULT_CACERT). TLS is always verified.",
        ),
        click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds."),
        click.option(
            "--retries",
            type=click.IntRange(0, 10),
            default=3,
            show_default=True,
            help="Retries on connection failure, 5xx, sealed, standby redirects.",
        ),
        click.option(
            "--deadline",
            type=click.FloatRange(min=0, min_open=True),
            help="Seconds one operation may take in all, retries included "
            "(default: timeout x (retries + 1) + 2 s per retry; with several nodes at least "
            "failover + timeout).",
        ),
        click.option(
            "--failover",
            type=click.FloatRange(min=0),
            default=10.0,
            show_default=True,
            help="Seconds to keep looking for the active node during a leader election or a "
            "node restart (a raft election takes 1.5-3 s), within the deadline.",
        ),
        click.option(
            "--node",
            "nodes",
            multiple=True,
            help="Another node of the cluster (repeatable; same as another --addr); redirects "
            "elsewhere, or from https to http, are refused.",
        ),
    ]
    decorated: Callable[..., None] = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def _target_options(fn: F) -> F:
    fn = click.option(
        "--mapping",
        type=click.Path(dir_okay=False, path_type=Path),
        help="TOML file mapping env files to paths: handle them all at once.",
    )(fn)
    fn = click.option("--mount", default="secret", show_default=True, help="KV v2 mount.")(fn)
    return click.option("--path", "vault_path", help="KV path, e.g. apps/api/prod.")(fn)


def _layout_option(default: str | None) -> Callable[[F], F]:
    return click.option(
        "--layout",
        type=click.Choice(["flat", "sections"]),
        default=default,
        show_default=default is not None,
        help="flat: every variable at --path; sections: SECTION__FIELD -> PATH/section, field.",
    )


def _format_option(fn: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: a machine-readable report on stdout (names, versions, outcomes; never values).",
    )(fn)


def _error_doc(error: SecretsafeError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"kind": type(error).__name__, "exit_code": error.exit_code, "message": str(error)}


def _echo_json(doc: object) -> None:
    import json

    click.echo(json.dumps(doc, indent=2, sort_keys=True))


def _need_target(
    file: Path | None, vault_path: str | None, mapping: Path | None, *, file_ok: bool
) -> None:
    if mapping is not None:
        if vault_path is not None or file is not None:
            raise UsageError("--mapping replaces FILE and --path; pass one or the other")
        return
    if vault_path is None:
        raise UsageError("missing --path", hint="e.g. --path apps/api/prod, or --mapping FILE")
    if file_ok and file is None:
        raise UsageError("missing FILE", hint="the encrypted env file, e.g. .env.prod.enc")


def _print_plan(p: Plan, *, push: bool, prefix: str = "") -> None:
    for line in p.lines(push=push):
        click.echo(f"{prefix}{line}")


def _many_report(outcomes: Sequence[Outcome], verb: str) -> None:
    failed = [o for o in outcomes if o.error is not None]
    for o in failed:
        click.echo(f"{o.entry.file}: {o.error}", err=True)
    if failed:
        first = failed[0].error
        assert first is not None  # noqa: S101 - filtered above
        raise type(first)(
            f"{len(failed)} of {len(outcomes)} {verb} failed (first: {failed[0].entry.file})",
            hint="the others completed; see the lines above",
        )


@vault.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@_target_options
@_layout_option("flat")
@click.option("--prune", is_flag=True, help="Remove keys that are not in the file.")
@click.option("--dry-run", is_flag=True, help="Show the plan by variable name; change nothing.")
@click.option(
    "--max-pairs",
    type=click.IntRange(1),
    default=498,
    show_default=True,
    help="Most key/value pairs per write (the server's JSON limit).",
)
@_format_option
@connection_options
def push(
    *,
    file: Path | None,
    vault_path: str | None,
    mount: str,
    mapping: Path | None,
    layout: str,
    prune: bool,
    dry_run: bool,
    max_pairs: int,
    fmt: str,
    connect: Callable[[], VaultClient],
) -> None:
    """Decrypt FILE in memory and write its values to KV v2 at --path (check-and-set).

    All or nothing: when a write fails, what this push wrote is rolled back, and the
    message says what is true -- nothing written, which path is still written (with its
    version), or outcome unknown (check with `secretsafe vault diff`). With several nodes
    (--addr repeated, or VAULT_ADDR comma-separated) writes go to the active node and wait
    out a leader election (--failover).
    """
    from secretsafe.vault import sync

    _need_target(file, vault_path, mapping, file_ok=True)
    if mapping is not None:
        entries = sync.load_mapping(mapping)
        with connect() as client:
            outcomes = sync.push_many(client, entries, prune=prune, dry_run=dry_run)
        if fmt == "json":
            _echo_json(
                [
                    {"file": str(o.entry.file), **_push_doc(o.result, o.error, o.entry.path)}
                    for o in outcomes
                ]
            )
        else:
            for o in outcomes:
                if isinstance(o.result, sync.PushResult):
                    _report_push(o.result, label=f"{o.entry.file} -> ")
        _many_report(outcomes, "pushes")
        return
    assert file is not None  # noqa: S101 - checked above
    assert vault_path is not None  # noqa: S101 - checked above
    with connect() as client:
        try:
            result = sync.push_file(
                client,
                file,
                path=vault_path,
                mount=mount,
                layout=layout,  # type: ignore[arg-type]
                prune=prune,
                dry_run=dry_run,
                max_pairs=max_pairs,
            )
        except SecretsafeError as exc:
            if fmt == "json":
                _echo_json(_push_doc(None, exc, vault_path))
            raise
    if fmt == "json":
        _echo_json(_push_doc(result, None, vault_path))
    else:
        _report_push(result, label="")


def _push_doc(result: Any, error: SecretsafeError | None, path: str) -> dict[str, Any]:
    """The JSON report of one push: outcome, versions and names (never values)."""
    from secretsafe.vault import kv, sync

    if error is not None:
        failure = sync.failure_of(error)
        if failure is not None:
            outcome: str = failure.outcome
        elif kv.outcome_unknown(error):
            outcome = "unknown"
        else:
            outcome = "not written"
        return {
            "path": path.strip("/"),
            "outcome": outcome,
            "failed_path": failure.failed_path if failure else None,
            "versions": dict(failure.written) if failure else {},
            "rolled_back": list(failure.rolled_back) if failure else [],
            "error": _error_doc(error),
        }
    p = result.plan
    if result.dry_run:
        outcome = "dry run"
    elif result.versions:
        outcome = "written"
    else:
        outcome = "up to date"
    return {
        "mount": p.mount,
        "path": p.path,
        "layout": p.layout,
        "outcome": outcome,
        "versions": dict(result.versions),
        "added": list(p.added),
        "changed": list(p.changed),
        "removed" if p.prune else "only_in_vault": list(p.removed),
        "unchanged": len(p.unchanged),
        "warnings": list(result.warnings),
        "error": None,
    }


def _report_push(result: Any, *, label: str) -> None:
    p = result.plan
    where = f"{p.mount}/{p.path}"
    prefix = f"{label}" if label else ""
    _print_plan(p, push=True, prefix=prefix)
    if result.dry_run:
        click.echo(f"{prefix}dry run: {where}: {p.summary()}; nothing written")
    elif not result.versions:
        click.echo(f"{prefix}{where}: up to date ({p.summary()})")
    else:
        versions = ", ".join(f"{path} v{v}" for path, v in sorted(result.versions.items()))
        click.echo(f"{prefix}pushed to {p.mount}: {versions} ({p.summary()})")
    for warning in result.warnings:
        click.echo(f"secretsafe: warning: {warning}", err=True)


@vault.command()
@_target_options
@_layout_option(None)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Encrypted SOPS file to write (0600, atomic).",
)
@click.option("--version", "version", type=click.IntRange(1), help="Pull this KV version.")
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    help="age recipient (repeatable; default: .sops.yaml rules, else your own keys).",
)
@_format_option
@connection_options
def pull(
    *,
    vault_path: str | None,
    mount: str,
    mapping: Path | None,
    layout: str | None,
    output: Path | None,
    version: int | None,
    recipients: tuple[str, ...],
    fmt: str,
    connect: Callable[[], VaultClient],
) -> None:
    """Read --path and encrypt it straight to a SOPS file; plaintext never touches disk."""
    from secretsafe.vault import sync

    _need_target(None, vault_path, mapping, file_ok=False)
    if mapping is not None:
        if output is not None or version is not None:
            raise UsageError("--mapping writes each mapped file; drop -o/--version")
        entries = sync.load_mapping(mapping)
        with connect() as client:
            outcomes = sync.pull_many(client, entries, recipients=recipients or None)
        if fmt == "json":
            _echo_json(
                [
                    _pull_doc(
                        o.entry.mount,
                        o.entry.path,
                        o.entry.file,
                        o.result if isinstance(o.result, SecretValues) else None,
                        o.error,
                    )
                    for o in outcomes
                ]
            )
        for o in outcomes:
            if fmt != "json" and isinstance(o.result, SecretValues):
                where = f"{o.entry.mount}/{o.entry.path}"
                click.echo(f"{where} -> {o.entry.file} ({len(o.result)} variables)")
        _many_report(outcomes, "pulls")
        return
    if output is None:
        raise UsageError("missing -o/--output", hint="e.g. -o .env.prod.enc")
    assert vault_path is not None  # noqa: S101 - checked above
    with connect() as client:
        values = sync.pull_to_file(
            client,
            output,
            path=vault_path,
            mount=mount,
            layout=layout,  # type: ignore[arg-type]
            version=version,
            recipients=recipients or None,
        )
    if fmt == "json":
        _echo_json(_pull_doc(mount, vault_path, output, values, None))
        return
    click.echo(f"{mount.strip('/')}/{vault_path.strip('/')} -> {output} ({len(values)} variables)")


def _pull_doc(
    mount: str,
    path: str,
    output: Path,
    values: SecretValues | None,
    error: SecretsafeError | None,
) -> dict[str, Any]:
    """The JSON report of one pull: where from, where to, the variable names (no values)."""
    return {
        "mount": mount.strip("/"),
        "path": path.strip("/"),
        "output": str(output),
        "variables": sorted(values) if values is not None else [],
        "error": _error_doc(error),
    }


@vault.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@_target_options
@_layout_option("flat")
@_format_option
@connection_options
def diff(
    *,
    file: Path | None,
    vault_path: str | None,
    mount: str,
    mapping: Path | None,
    layout: str,
    fmt: str,
    connect: Callable[[], VaultClient],
) -> None:
    """Compare FILE with --path by variable name (values compared, never shown).

    Exit 0 when equal, 4 on drift.
    """
    from secretsafe.vault import sync

    _need_target(file, vault_path, mapping, file_ok=True)
    plans: list[tuple[str, Plan]] = []
    if mapping is not None:
        entries = sync.load_mapping(mapping)
        with connect() as client:
            outcomes = sync.diff_many(client, entries)
        for o in outcomes:
            if isinstance(o.result, sync.Plan):
                plans.append((str(o.entry.file), o.result))
        _emit_diff(plans, fmt)
        _many_report(outcomes, "diffs")
    else:
        assert file is not None  # noqa: S101 - checked above
        assert vault_path is not None  # noqa: S101 - checked above
        with connect() as client:
            p = sync.diff_file(
                client,
                file,
                path=vault_path,
                mount=mount,
                layout=layout,  # type: ignore[arg-type]
            )
        plans.append((str(file), p))
        _emit_diff(plans, fmt)
    drifted = [name for name, p in plans if p.drift]
    if drifted:
        raise DriftDetected(
            f"drift between {', '.join(drifted)} and Vault",
            hint="`secretsafe vault push` (or pull) to reconcile",
        )


def _emit_diff(plans: Sequence[tuple[str, Plan]], fmt: str) -> None:
    if fmt == "json":
        import json

        doc = [
            {
                "file": name,
                "mount": p.mount,
                "path": p.path,
                "added": list(p.added),
                "changed": list(p.changed),
                "only_in_vault": list(p.removed),
                "unchanged": len(p.unchanged),
                "drift": p.drift,
            }
            for name, p in plans
        ]
        click.echo(json.dumps(doc, indent=2))
        return
    for name, p in plans:
        label = f"{name} vs {p.mount}/{p.path}"
        if not p.drift:
            click.echo(f"{label}: no drift ({len(p.unchanged)} variables)")
            continue
        click.echo(f"{label}:")
        for n in p.added:
            click.echo(f"  + {n} (only in the file)")
        for n in p.changed:
            click.echo(f"  ~ {n} (values differ)")
        for n in p.removed:
            click.echo(f"  - {n} (only in Vault)")


# Most bytes a value on stdin may have (a secret, not a file: anything larger is a mistake).
_MAX_VALUE = 1024 * 1024


def _value_from_stdin() -> Secret:
    """The value to put: stdin (one trailing line break dropped), or a hidden prompt typed
    twice when stdin is a terminal. Never from argv."""
    from secretsafe.secret import Secret

    stream = sys.stdin.buffer
    if stream.isatty():
        typed: str = click.prompt("value", hide_input=True, confirmation_prompt=True, err=True)
        return Secret(typed)
    raw = stream.read(_MAX_VALUE + 1)
    if len(raw) > _MAX_VALUE:
        raise UsageError(
            f"the value on stdin is larger than {_MAX_VALUE // 1024} KiB",
            hint='pipe the value itself, e.g. `printf %s "$NEW" | secretsafe vault put ...`',
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the value on stdin is not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    if not text:
        raise UsageError(
            "no value on stdin",
            hint="pipe it in: `secretsafe generate --length 32 | secretsafe vault put PATH KEY`",
        )
    return Secret(text)


@vault.command()
@click.argument("vault_path", metavar="PATH")
@click.argument("key", metavar="KEY")
# Catches a value typed after KEY, so that the refusal does not quote it (click's would).
@click.argument("extra", nargs=-1, metavar="")
@click.option("--mount", default="secret", show_default=True, help="KV v2 mount.")
@click.option(
    "--cas",
    type=click.IntRange(0),
    help="The version PATH must be at (the one you reviewed); default: the version read "
    "just before writing.",
)
@_format_option
@connection_options
def put(
    *,
    vault_path: str,
    key: str,
    extra: tuple[str, ...],
    mount: str,
    cas: int | None,
    fmt: str,
    connect: Callable[[], VaultClient],
) -> None:
    """Set KEY at PATH to the value read from stdin, keeping the other keys (one-value rotation).

    The value is never an argument (argv is visible to other users): pipe it in, or type it
    at the hidden prompt. Written with check-and-set: when someone else changed PATH since it
    was read (or since --cas), nothing is written and the exit code is 34. After a failure
    the message says what is true: not written, or outcome unknown (run the same put again:
    'up to date' means the value is there). With a sections layout, SECTION__FIELD is set at
    PATH/section.
    """
    from secretsafe.vault.put import put_value

    if extra:
        raise UsageError(
            "vault put takes PATH and KEY only; the value is read from stdin, never from an "
            "argument (it was not used, and nothing was written)",
            hint='pipe it in: `printf %s "$VALUE" | secretsafe vault put PATH KEY`',
        )
    value = _value_from_stdin()
    with connect() as client:
        try:
            result = put_value(client, vault_path, key, value, mount=mount, cas=cas)
        except SecretsafeError as exc:
            if fmt == "json":
                _echo_json(_put_doc(mount, vault_path, key, None, exc))
            raise
    if fmt == "json":
        _echo_json(_put_doc(mount, vault_path, key, result, None))
        return
    where = f"{result.mount}/{result.path}"
    from secretsafe.dotenv import shown_name

    if result.outcome == "up to date":
        click.echo(f"{where}: {shown_name(key)} up to date (version {result.version})")
    else:
        was = "new key" if result.created else f"was version {result.previous_version}"
        click.echo(f"{where}: {shown_name(key)} written (version {result.version}, {was})")


def _put_doc(
    mount: str, path: str, key: str, result: PutResult | None, error: SecretsafeError | None
) -> dict[str, Any]:
    """The JSON report of one put: where, the outcome and versions (never the value)."""
    from secretsafe.dotenv import shown_name
    from secretsafe.vault import kv

    if result is not None:
        return {
            "mount": result.mount,
            "path": result.path,
            "key": shown_name(key),
            "field": result.key,
            "outcome": result.outcome,
            "version": result.version,
            "previous_version": result.previous_version,
            "created": result.created,
            "error": None,
        }
    outcome = "unknown" if error is not None and kv.outcome_unknown(error) else "not written"
    return {
        "mount": mount.strip("/"),
        "path": path.strip("/"),
        "key": shown_name(key),
        "outcome": outcome,
        "error": _error_doc(error),
    }


class _Terminated(Exception):
    pass


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


@vault.command()
@click.option("--port", type=click.IntRange(1, 65535), help="Port on 127.0.0.1 (default: free).")
@click.option("--tls", is_flag=True, help="Serve HTTPS with a generated CA (also exported).")
def dev(port: int | None, tls: bool) -> None:
    """Run a local OpenBao dev server (in memory) until Ctrl-C.

    Prints the two lines to export. The token stays out of ~/.vault-token.
    """
    from secretsafe.vault.dev import start_dev_server

    server = start_dev_server(port=port, tls=tls, die_with_parent=True)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        for line in server.export_lines():
            click.echo(line)
        click.echo(
            f"# OpenBao dev server (pid {server.pid}), kv-v2 at secret/; in memory, for "
            "development only. Ctrl-C stops it.",
            err=True,
        )
        sys.stdout.flush()
        code = server.process.wait()
        raise SecretsafeError(f"the dev server exited (status {code})")
    except (_Terminated, KeyboardInterrupt):
        click.echo("# stopping the dev server", err=True)
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
