"""Compose-aware checks: read docker compose files (base + overlays) the way docker compose
merges and interpolates them, compute each service's environment with the file and line of
every variable, and report findings (hardcoded secrets, undefined ``${VAR}``, missing env files,
TLS verification switched off, the Docker socket mounted) and schema
problems. Nothing here prints a value: a message may quote what the user wrote in a compose
file (the template), never an interpolated result (see :mod:`secretsafe.compose.loader`).
Hostile input (any ``${A:-${A:-...}}`` depth, deep YAML, alias graphs, long ``extends``
chains) loads or gets one :class:`~secretsafe.errors.ComposeError` (exit 40).

- :func:`load_project` -> :class:`Project`; :func:`service_environment`;
- :func:`compose_findings`; :func:`check_compose` (with a schema) -> :class:`ComposeReport`.

PyYAML loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secretsafe.compose.findings import (
        RULES,
        ComposeReport,
        Finding,
        check_compose,
        compose_findings,
    )
    from secretsafe.compose.loader import Loc, Project, Service, load_project
    from secretsafe.compose.service import ServiceEnvironment, Variable, service_environment

__all__ = [
    "RULES",
    "ComposeReport",
    "Finding",
    "Loc",
    "Project",
    "Service",
    "ServiceEnvironment",
    "Variable",
    "check_compose",
    "compose_findings",
    "load_project",
    "service_environment",
]

# Imported on first use: `secretsafe run` imports secretsafe.compose.envparse (to expand
# ${VAR} in decrypted values) and must not pay for the loader, YAML model and findings.
_WHERE = {
    "RULES": "findings",
    "ComposeReport": "findings",
    "Finding": "findings",
    "check_compose": "findings",
    "compose_findings": "findings",
    "Loc": "loader",
    "Project": "loader",
    "Service": "loader",
    "load_project": "loader",
    "ServiceEnvironment": "service",
    "Variable": "service",
    "service_environment": "service",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
