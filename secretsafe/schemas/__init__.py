"""Startup validation of the environment against settings schemas.

- :func:`load` / :func:`check`: validate, reporting every problem at once by variable name,
  with did-you-mean for unknown names, and never a value;
- :class:`Settings`: a pydantic-settings base with safe defaults (its ``repr`` masks secrets
  by name, at every depth; :class:`~secretsafe.schemas.masking.MaskedRepr` does the same
  for a section of your own);
- secret-aware types (:func:`SecretString`, :func:`Url`, :data:`Port`) and building blocks
  (:class:`Database`, :class:`Redis`, :class:`Vault`, :class:`Auth`, :class:`SMTP`);
- :mod:`~secretsafe.schemas.rules`: cross-field and environment rules;
- :func:`load_spec`: ``module:Class`` or a declarative ``.toml`` schema.

Names are loaded on first use so that importing this package costs nothing until it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Light: no pydantic. report.py is safe to import eagerly (the CLI's error path uses it).
from secretsafe.schemas.report import CheckReport, Problem, SchemaValidationError

_LAZY: dict[str, str] = {
    "load": "secretsafe.schemas.loader",
    "check": "secretsafe.schemas.loader",
    "load_spec": "secretsafe.schemas.spec",
    "Settings": "secretsafe.schemas.settings",
    "SecretString": "secretsafe.schemas.types",
    "Url": "secretsafe.schemas.types",
    "Port": "secretsafe.schemas.types",
    "Database": "secretsafe.schemas.blocks",
    "Redis": "secretsafe.schemas.blocks",
    "Vault": "secretsafe.schemas.blocks",
    "Auth": "secretsafe.schemas.blocks",
    "SMTP": "secretsafe.schemas.blocks",
    "rules": "secretsafe.schemas.rules",
}

if TYPE_CHECKING:
    from secretsafe.schemas import rules
    from secretsafe.schemas.blocks import SMTP, Auth, Database, Redis, Vault
    from secretsafe.schemas.loader import check, load
    from secretsafe.schemas.settings import Settings
    from secretsafe.schemas.spec import load_spec
    from secretsafe.schemas.types import Port, SecretString, Url

__all__ = [
    "SMTP",
    "Auth",
    "CheckReport",
    "Database",
    "Port",
    "Problem",
    "Redis",
    "SchemaValidationError",
    "SecretString",
    "Settings",
    "Url",
    "Vault",
    "check",
    "load",
    "load_spec",
    "rules",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'secretsafe.schemas' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if name == "rules" else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
