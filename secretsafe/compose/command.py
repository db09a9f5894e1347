"""``secretsafe check --compose FILE [--compose OVERLAY]... (--service NAME | --all)``.

The CLI module (:mod:`secretsafe.cli.check`) parses the options and calls :func:`run_check`.

Interpolation sees what ``docker compose`` would see when started as
``secretsafe run -f ENV_FILE... -- docker compose up``: the project ``.env`` (next to the first
compose file; ``--compose-env-file FILE...`` replace it, as compose's ``--env-file``), then
each ``--env-file`` (decrypted in memory), then the process environment (unless
``--no-environ``). Services whose profiles are not enabled (``--profile``, else
``COMPOSE_PROFILES``) are left out, as ``docker compose config`` leaves them out.

Which services get a schema check:

- ``--service NAME`` (repeatable) with ``--schema SPEC``: those services against SPEC;
- ``--service NAME`` without ``--schema``: against the service's ``secretsafe.schema`` label,
  if it has one (compose findings only otherwise);
- ``--all``: every service with a ``secretsafe.schema`` label, each against its own schema
  (``labels: {secretsafe.schema: "app.settings:Settings"}``; a ``.toml`` path is relative to
  the project directory). ``secretsafe.environment`` sets the environment the rules run for;
- ``--schema`` alone: every service that sets a variable of the schema's namespace (one it
  declares, or one under its sections);
- neither: the schema check of every service with a label.

Compose findings (hardcoded secrets, TLS off, the Docker socket, unresolved variables, missing
env files) always cover every enabled service of the stack: a pre-deploy check gives the whole
picture in one run. Overlay overrides are counted on one line, not listed as findings.

Exit 0 when no finding is an error (warnings are printed), 3 otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Literal

from secretsafe.errors import UsageError, ValidationFailed

if TYPE_CHECKING:
    from secretsafe.compose.loader import Project

__all__ = ["run_check"]


def run_check(
    *,
    compose: Sequence[str],
    services: Sequence[str] = (),
    all_services: bool = False,
    spec: str | None = None,
    env_files: Sequence[str] = (),
    environment: str | None = None,
    fmt: str = "text",
    unknown: Literal["error", "warning", "off"] = "error",
    no_environ: bool = False,
    profiles: Sequence[str] | None = None,
    compose_env_files: Sequence[str] = (),
    out: IO[str] | None = None,
) -> None:
    from secretsafe.audit import report as render
    from secretsafe.compose.findings import (
        SCHEMA_LABEL,
        SEVERITIES,
        check_compose,
        namespace_services,
        schema_label,
    )
    from secretsafe.compose.loader import load_project
    from secretsafe.schemas.loader import read_env_file

    stream = out if out is not None else sys.stdout
    if all_services and services:
        raise UsageError("--all and --service cannot be combined", hint="pass one of them")
    if all_services and spec:
        raise UsageError(
            "--all checks each service against its own secretsafe.schema label",
            hint="drop --schema, or pass --service NAME with it",
        )
    values = [(os.fspath(f), read_env_file(f)) for f in env_files]
    project = load_project(
        compose,
        environ={} if no_environ else None,
        env_values=values,
        profiles=profiles,
        dotenv=list(compose_env_files) if compose_env_files else True,
    )
    if all_services:
        names = [n for n, s in project.services.items() if schema_label(s)[0]]
        if not names:
            raise UsageError(
                f"no service has a {SCHEMA_LABEL} label",
                hint=f'add labels: {{{SCHEMA_LABEL}: "module:Class"}} to a service, or '
                "pass --service NAME --schema SPEC",
            )
    elif services:
        names = list(dict.fromkeys(services))
        for n in names:
            project.service(n)  # a clear error for an unknown name
    elif spec:
        # Every service that sets a variable of the schema's namespace.
        names = namespace_services(project, spec)
        if not names:
            raise UsageError(
                f"no service sets a variable that {spec} declares",
                hint="pass --service NAME with --schema, or check the variable names",
            )
    else:
        names = list(project.services)
    _resolve_label_paths(project)
    report = check_compose(
        project, services=names, spec=spec, environment=environment, unknown=unknown
    )
    errors = [f for f in report.findings if f.severity == "error"]
    counts = {sev: sum(1 for f in report.findings if f.severity == sev) for sev in SEVERITIES}
    if fmt == "json":
        doc = {"tool": "secretsafe check", **report.to_dict()}
        stream.write(render.to_json(doc))
    elif fmt == "sarif":
        stream.write(render.to_sarif(report.findings))
    else:
        schemas = [f"{n} ({report.schemas[n]})" for n in names if n in report.schemas]
        total = len(project.services)
        checked = f"{total} service{'s' if total != 1 else ''}"
        if schemas:
            checked += ", schema: " + ", ".join(schemas)
        status = "failed" if errors else "ok"
        summary = (
            f"{status}: {checked}: {counts['error']} errors, {counts['warning']} warnings, "
            f"{counts['note']} notes"
        )
        notes = [line for line in (report.overrides_line(),) if line]
        if report.disabled:
            notes.append(
                f"profiles: {len(report.disabled)} services not enabled, not checked: "
                + ", ".join(report.disabled)
            )
        stream.write(render.to_text(report.findings, notes=notes, summary=summary))
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        raise ValidationFailed(
            f"check: {len(errors)} {noun} in {', '.join(report.files)}",
            hint="each is listed above with its file and line",
        )


def _resolve_label_paths(project: Project) -> None:
    """A ``.toml`` schema path in a label is relative to the project directory."""
    from secretsafe.compose.findings import SCHEMA_LABEL

    for svc in project.services.values():
        setting = svc.labels.get(SCHEMA_LABEL)
        if setting is None or not setting.value:
            continue
        value = setting.value
        if value.endswith(".toml") and not os.path.isabs(value):
            candidate = os.path.join(project.project_dir, value)
            if os.path.isfile(candidate):
                svc.labels[SCHEMA_LABEL] = setting._replace(value=candidate)
