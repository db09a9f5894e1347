"""``secretsafe check``, ``secretsafe example`` and ``secretsafe schema``."""

from __future__ import annotations

import json

import click

__all__ = ["check", "example", "schema"]

_SCHEMA_HELP = "module:Class (a pydantic-settings model) or a declarative .toml schema file"


@click.command()
@click.option("--schema", "spec", default=None, metavar="SPEC", help=_SCHEMA_HELP)
@click.option(
    "--env-file",
    "-f",
    "env_files",
    multiple=True,
    metavar="FILE",
    help="env file (encrypted or plaintext); repeatable, later files win",
)
@click.option("--environment", "-e", default=None, help="environment the rules run for")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="sarif: with --compose only",
)
@click.option(
    "--unknown",
    type=click.Choice(["error", "warning", "off"]),
    default="error",
    show_default=True,
    help="how to treat variables in the schema's namespace that map to no field",
)
@click.option(
    "--no-environ",
    is_flag=True,
    help="ignore the process environment: check the files alone",
)
@click.option(
    "--compose",
    "compose",
    multiple=True,
    metavar="FILE",
    help="compose file; repeat for overlays (base first), merged as docker compose does",
)
@click.option(
    "--service", "services", multiple=True, metavar="NAME", help="with --compose; repeatable"
)
@click.option(
    "--all",
    "all_services",
    is_flag=True,
    help="with --compose: every service with a secretsafe.schema label",
)
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    metavar="NAME",
    help="with --compose: enable a profile, as docker compose --profile (default: "
    "COMPOSE_PROFILES)",
)
@click.option(
    "--compose-env-file",
    "compose_env_files",
    multiple=True,
    metavar="FILE",
    help="with --compose: read FILE instead of the project .env, as docker compose --env-file",
)
def check(  # noqa: PLR0917 - click passes options positionally
    spec: str | None,
    env_files: tuple[str, ...],
    environment: str | None,
    fmt: str,
    unknown: str,
    no_environ: bool,
    compose: tuple[str, ...],
    services: tuple[str, ...],
    all_services: bool,
    profiles: tuple[str, ...],
    compose_env_files: tuple[str, ...],
) -> None:
    """Validate the environment (and env files) against a schema: exit 0 when valid, 3 with
    every problem listed otherwise. Values are never printed.

    With --compose: the environment of each service as docker compose builds it (base and
    overlays merged, env_file entries read, ${VAR} resolved), plus compose findings, each
    with its file and line."""
    from secretsafe.errors import UsageError

    if compose:
        from secretsafe.compose.command import run_check

        run_check(
            compose=compose,
            services=services,
            all_services=all_services,
            spec=spec,
            env_files=env_files,
            environment=environment,
            fmt=fmt,
            unknown=unknown,  # type: ignore[arg-type]
            no_environ=no_environ,
            profiles=profiles or None,
            compose_env_files=compose_env_files,
        )
        return
    if services or all_services or profiles or compose_env_files:
        raise UsageError("--service, --all, --profile and --compose-env-file need --compose FILE")
    if spec is None:
        raise UsageError("missing option --schema", hint="pass --schema module:Class or FILE.toml")
    if fmt == "sarif":
        raise UsageError("--format sarif needs --compose", hint="use text or json")
    from secretsafe.schemas.loader import evaluate, gather
    from secretsafe.schemas.report import finish
    from secretsafe.schemas.spec import load_spec

    model = load_spec(spec)
    env, sources = gather(model, env_files=env_files, environ={} if no_environ else None)
    report, _ = evaluate(
        model,
        env,
        environment=environment,
        unknown=unknown,  # type: ignore[arg-type]
        sources=sources,
    )
    finish(report, fmt=fmt)


@click.command()
@click.option("--schema", "spec", required=True, metavar="SPEC", help=_SCHEMA_HELP)
@click.option("--output", "-o", default=None, metavar="FILE", help="write here instead of stdout")
def example(spec: str, output: str | None) -> None:
    """Print a .env.example: every variable by section, with type, default and whether it is
    required. Secrets are marked and left empty."""
    from secretsafe.schemas.generate import env_example
    from secretsafe.schemas.spec import load_spec

    write_output(env_example(load_spec(spec)), output)


def write_output(text: str, output: str | None) -> None:
    """``text`` to the file ``output`` (atomic, 0644: it holds no secret values), else stdout."""
    if output:
        from secretsafe.files import atomic_write

        atomic_write(output, text, mode=0o644)
    else:
        click.echo(text, nl=False)


@click.command()
@click.option("--schema", "spec", required=True, metavar="SPEC", help=_SCHEMA_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json-schema", "names", "json", "markdown"]),
    default="json-schema",
    show_default=True,
    help="JSON Schema; variable names one a line; variables as JSON; a Markdown table",
)
def schema(spec: str, fmt: str) -> None:
    """Print the schema: JSON Schema (with x-env-variables), the variable names, or a Markdown
    table for docs."""
    from secretsafe.schemas import generate
    from secretsafe.schemas.spec import load_spec

    model = load_spec(spec)
    if fmt == "json-schema":
        click.echo(json.dumps(generate.json_schema(model), indent=2))
    elif fmt == "names":
        for v in generate.variable_names(model):
            click.echo(v["variable"])
    elif fmt == "json":
        click.echo(json.dumps(generate.variable_names(model), indent=2))
    else:
        click.echo(generate.markdown_table(model), nl=False)
