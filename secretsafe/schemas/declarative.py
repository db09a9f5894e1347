"""Declarative schemas (TOML) for applications not written in Python.

A file like ``env.schema.toml`` gives the same checks as a Python schema::

    [schema]
    name = "NodeService"                 # shown in reports (default: the file name)
    env_prefix = ""                      # optional, as pydantic-settings' env_prefix
    case_sensitive = false               # optional
    environment_field = "node_env"       # the field that names the environment (for rules)
    default_rules = true                 # the production defaults of secretsafe.schemas.rules

    [fields.node_env]                    # a top-level variable: NODE_ENV
    type = "choice"
    choices = ["development", "staging", "production"]
    default = "development"

    [fields.port]                        # PORT
    type = "port"
    default = 3000

    [sections.database]                  # DATABASE__* variables
    description = "PostgreSQL connection"
    url = { type = "url", schemes = ["postgres", "postgresql"], secret = true }
    pool_size = { type = "int", default = 10, min = 1, max = 100 }

    [sections.auth]
    jwt_secret_key = { type = "secret", min_length = 32, description = "HMAC key" }

    [[rules]]                            # environment rules
    environment = "production"           # a name or a list
    require = { "vault.enabled" = true, "debug" = false }
    no_default_secrets = true

Field options: ``type`` (``str`` (default), ``int``, ``float``, ``bool``, ``port``, ``url``,
``secret``, ``choice``, ``list``), ``required`` (default: true unless a default is given),
``default``, ``description``, ``secret``, ``min_length`` (bytes for secrets), ``max_length``,
``min``, ``max``, ``choices``, ``schemes`` (for URLs), ``pattern``, ``min_entropy`` (bits),
``reject_weak`` (secrets; default true).
"""

from __future__ import annotations

import os
import threading
import tomllib
from typing import Annotated, Any, Literal

from secretsafe.errors import ConfigError

__all__ = ["load_toml_schema", "schema_from_mapping"]

_FIELD_KEYS = frozenset(
    {
        "type",
        "required",
        "default",
        "description",
        "secret",
        "min_length",
        "max_length",
        "min",
        "max",
        "choices",
        "schemes",
        "pattern",
        "min_entropy",
        "reject_weak",
    }
)
_TYPES = ("str", "int", "float", "bool", "port", "url", "secret", "choice", "list")
_SCHEMA_KEYS = frozenset(
    {"name", "env_prefix", "case_sensitive", "environment_field", "default_rules"}
)
_RULE_KEYS = frozenset({"environment", "require", "no_default_secrets", "message"})

_cache: dict[tuple[str, int, int], type[Any]] = {}
_lock = threading.Lock()


def load_toml_schema(path: str | os.PathLike[str]) -> type[Any]:
    """The settings class a TOML schema file describes (cached per file version)."""
    from secretsafe.files import read_text

    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such schema file", hint="check the --schema path") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the schema file ({exc.strerror})") from None
    key = (os.path.realpath(p), st.st_mtime_ns, st.st_size)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    text = read_text(p, what="schema file")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message gives line and column; schema files hold no secrets.
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    default_name = os.path.basename(p).split(".")[0].replace("-", "_").title().replace("_", "")
    cls = schema_from_mapping(doc, where=p, default_name=default_name or "Schema")
    with _lock:
        _cache[key] = cls
    return cls


def _err(where: str, what: str, hint: str | None = None) -> ConfigError:
    return ConfigError(f"{where}: {what}", hint=hint)


def _field(where: str, name: str, spec: Any) -> tuple[Any, Any]:
    from pydantic import Field, SecretStr

    from secretsafe.schemas.types import Port, SecretString, Url

    at = f"{where}: field {name!r}"
    if not isinstance(spec, dict):
        raise ConfigError(f'{at}: expected a table like {{ type = "str" }}')
    bad = set(spec) - _FIELD_KEYS
    if bad:
        raise ConfigError(
            f"{at}: unknown option(s) {', '.join(sorted(bad))}",
            hint=f"allowed: {', '.join(sorted(_FIELD_KEYS))}",
        )
    kind = spec.get("type", "choice" if "choices" in spec else "str")
    if kind not in _TYPES:
        raise ConfigError(f"{at}: unknown type {kind!r}", hint=f"use one of {', '.join(_TYPES)}")
    secret = bool(spec.get("secret", kind == "secret"))
    constraints: dict[str, Any] = {}
    ann: Any
    if kind in ("secret",) or (kind == "str" and secret):
        ann = SecretString(
            min_bytes=spec.get("min_length"),
            reject_weak=bool(spec.get("reject_weak", True)),
            min_entropy=spec.get("min_entropy"),
        )
        if "max_length" in spec:
            constraints["max_length"] = spec["max_length"]
    elif kind == "url":
        schemes = spec.get("schemes")
        if schemes is not None and not (
            isinstance(schemes, list) and all(isinstance(s, str) for s in schemes)
        ):
            raise ConfigError(f"{at}: schemes must be a list of strings")
        ann = Url(schemes=schemes, secret=secret)
    elif kind == "choice":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{at}: type choice needs choices = [...]")
        ann = Literal[tuple(choices)]
    elif kind == "list":
        ann = list[str]
    else:
        ann = {"str": str, "int": int, "float": float, "bool": bool, "port": Port}[kind]
        if secret:
            ann = SecretStr
        for opt, key in (("min_length", "min_length"), ("max_length", "max_length")):
            if opt in spec:
                constraints[key] = spec[opt]
        if "pattern" in spec:
            constraints["pattern"] = spec["pattern"]
    if "min" in spec:
        constraints["ge"] = spec["min"]
    if "max" in spec:
        constraints["le"] = spec["max"]
    required = bool(spec.get("required", "default" not in spec))
    if required and "default" in spec:
        raise ConfigError(f"{at}: required = true and a default contradict each other")
    extra: dict[str, Any] | None = {"secret": True} if secret else None
    default: Any = ... if required else spec.get("default")
    try:
        info = Field(
            default, description=spec.get("description"), json_schema_extra=extra, **constraints
        )
        if constraints:
            ann = Annotated[ann, info]
            info = Field(default, description=spec.get("description"), json_schema_extra=extra)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{at}: {exc}") from None
    return ann, info


def schema_from_mapping(doc: dict[str, Any], *, where: str, default_name: str) -> type[Any]:
    """Build the settings class from a parsed TOML document."""
    from pydantic import BaseModel, create_model

    from secretsafe.schemas import rules as rules_mod
    from secretsafe.schemas.settings import Settings

    bad_top = set(doc) - {"schema", "fields", "sections", "rules"}
    if bad_top:
        raise _err(
            where,
            f"unknown table(s) {', '.join(sorted(bad_top))}",
            "use [schema], [fields.NAME], [sections.NAME] and [[rules]]",
        )
    meta = doc.get("schema", {})
    if not isinstance(meta, dict) or set(meta) - _SCHEMA_KEYS:
        raise _err(
            where,
            "bad [schema] table",
            f"allowed keys: {', '.join(sorted(_SCHEMA_KEYS))}",
        )
    name = str(meta.get("name") or default_name)
    if not name.isidentifier():
        name = "".join(c for c in name.title() if c.isalnum()) or "Schema"
    fields: dict[str, Any] = {}
    for fname, spec in (doc.get("fields") or {}).items():
        fields[_ident(where, fname)] = _field(where, fname, spec)
    for sname, table in (doc.get("sections") or {}).items():
        if not isinstance(table, dict):
            raise _err(where, f"section {sname!r} must be a table")
        sub_fields: dict[str, Any] = {}
        description = None
        for key, value in table.items():
            if key == "description" and isinstance(value, str):
                description = value
                continue
            sub_fields[_ident(where, key)] = _field(where, f"{sname}.{key}", value)
        section_cls: type[BaseModel] = create_model(
            "".join(p.title() for p in sname.split("_")) or "Section", **sub_fields
        )
        section_cls.__doc__ = description
        all_default = all(not info.is_required() for _, info in sub_fields.values())
        from pydantic import Field

        if all_default:
            fields[_ident(where, sname)] = (
                section_cls,
                Field(default_factory=section_cls, description=description),
            )
        else:
            fields[_ident(where, sname)] = (section_cls, Field(description=description))
    if not fields:
        raise _err(where, "declares no fields", "add [fields.NAME] or [sections.NAME] tables")
    config: dict[str, Any] = {}
    if "env_prefix" in meta:
        config["env_prefix"] = str(meta["env_prefix"])
    if "case_sensitive" in meta:
        config["case_sensitive"] = bool(meta["case_sensitive"])
    base: type[Any] = Settings
    if config:
        base = type(
            name + "Base", (Settings,), {"model_config": {**Settings.model_config, **config}}
        )
    try:
        cls: type[Any] = create_model(name, __base__=base, **fields)
    except Exception as exc:  # noqa: BLE001 - pydantic rejects a bad schema in many ways
        raise _err(where, f"invalid schema ({type(exc).__name__}: {exc})") from None
    rules: list[rules_mod.Rule] = []
    if meta.get("default_rules", True):
        rules.extend(rules_mod.PRODUCTION)
    for i, rule in enumerate(doc.get("rules") or []):
        at = f"rules[{i}]"
        if not isinstance(rule, dict) or set(rule) - _RULE_KEYS:
            raise _err(where, f"bad {at}", f"allowed keys: {', '.join(sorted(_RULE_KEYS))}")
        envs = rule.get("environment")
        environments = (
            None if envs is None else (tuple(envs) if isinstance(envs, list) else (str(envs),))
        )
        for path, value in (rule.get("require") or {}).items():
            rules.append(
                rules_mod.Require(
                    str(path), value, environments=environments, message=rule.get("message")
                )
            )
        if rule.get("no_default_secrets"):
            rules.append(rules_mod.NoDefaultSecrets(environments=environments))
    cls.secretsafe_rules = tuple(rules)
    if meta.get("environment_field"):
        cls.secretsafe_environment_field = str(meta["environment_field"])
    cls.__module__ = "secretsafe.schemas.declarative"
    return cls


def _ident(where: str, name: str) -> str:
    if not name.isidentifier():
        raise _err(where, f"{name!r} is not a valid field name", "use letters, digits and _")
    return name.lower()
