"""Resolve a schema spec: ``module:Class`` (a pydantic-settings model importable from the
current directory or ``PYTHONPATH``) or the path of a declarative ``.toml`` schema."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from secretsafe.errors import ConfigError

__all__ = ["load_spec"]


def load_spec(spec: str) -> type[Any]:
    """The settings class ``spec`` names. Every failure is a :class:`ConfigError` (exit 14)."""
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty schema spec", hint="pass module:Class or a .toml schema file")
    if spec.endswith(".toml") or (os.sep in spec and ":" not in spec) or os.path.isfile(spec):
        from secretsafe.schemas.declarative import load_toml_schema

        return load_toml_schema(spec)
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"schema spec {spec!r} is not module:Class",
            hint="for example app.settings:Settings, or a path ending in .toml",
        )
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigError(
                f"schema module {module_name!r} not found",
                hint="run from the project directory or add it to PYTHONPATH",
            ) from None
        raise ConfigError(
            f"schema module {module_name!r} failed to import: it needs {exc.name!r}",
            hint="install the missing package",
        ) from None
    except SyntaxError as exc:
        raise ConfigError(
            f"schema module {module_name!r} has a syntax error at line {exc.lineno}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - importing user code can fail in any way
        # Only the type: the message could quote a value read at import time.
        raise ConfigError(
            f"schema module {module_name!r} failed to import ({type(exc).__name__})",
            hint="import it with python to see the error",
        ) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f"{module_name!r} has no attribute {attr!r}",
                hint="check the class name after the colon",
            ) from None
    from pydantic_settings import BaseSettings

    if not (isinstance(obj, type) and issubclass(obj, BaseSettings)):
        raise ConfigError(
            f"{spec} is not a pydantic-settings model",
            hint="subclass secretsafe.Settings or pydantic_settings.BaseSettings",
        )
    return obj
