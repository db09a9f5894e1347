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

Which options apply to which type: ``min_length``/``max_length`` to ``str`` and ``secret``;
``pattern`` to a plain (not secret) ``str``; ``min``/``max`` to ``int``, ``float`` and
``port``; ``choices`` to ``choice``; ``schemes`` to ``url``; ``min_entropy`` and
``reject_weak`` to secrets (``type = "secret"``, or ``str`` with ``secret = true``).
``type``, ``required``, ``default``, ``description`` and ``secret`` apply to every type.

The file itself is validated by a pydantic model (:class:`SchemaFile`): a wrong type, an
unknown key or an option that does not apply to the field's type is a
:class:`~secretsafe.errors.ConfigError` (exit 14) on one line naming the file and the key,
for example ``env.schema.toml: fields.port.min: must be a number``. Values are never quoted
(a ``default`` may be a secret).
"""

from __future__ import annotations

import json
import os
import threading
import tomllib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

from secretsafe.errors import ConfigError

__all__ = ["SchemaFile", "load_toml_schema", "schema_from_mapping"]

_TYPES = ("str", "int", "float", "bool", "port", "url", "secret", "choice", "list")
FieldType = Literal["str", "int", "float", "bool", "port", "url", "secret", "choice", "list"]

_cache: dict[tuple[str, int, int], type[Any]] = {}
_lock = threading.Lock()


# --------------------------------------------------------------------------- the file format
def _fail(etype: str, message: str) -> PydanticCustomError:
    # Our own messages (prefix "schema_"): constant text, never the value.
    return PydanticCustomError(f"schema_{etype}", message)


def _number(v: Any) -> int | float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail("number", "must be a number")
    return v


def _scalar(v: Any) -> str | int | float | bool:
    if not isinstance(v, (str, int, float, bool)):
        raise _fail("scalar", "must be a string, number or boolean")
    return v


def _choices(v: Any) -> list[str | int | float | bool]:
    if not isinstance(v, list) or not v:
        raise _fail("choices", "must be a non-empty list")
    return [_scalar(x) for x in v]


def _strings(v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _fail("strings", "must be a list of strings")
    return v


def _names(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _fail("names", "must be a name or a list of names")
    return tuple(v)


def _default(v: Any) -> Any:
    if isinstance(v, list):
        return [_scalar(x) for x in v]
    return _scalar(v)


def _require(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _fail("require", 'must be a table like { "vault.enabled" = true }')
    return {k: _scalar(x) for k, x in v.items()}


def _pattern(v: Any) -> str:
    from pydantic import TypeAdapter

    if not isinstance(v, str):
        raise _fail("pattern", "must be a string")
    try:
        # The regex engine pydantic validates with decides what is valid.
        TypeAdapter(Annotated[str, Field(pattern=v)])
    except Exception:  # noqa: BLE001 - any compile error means the same to the user
        raise _fail("pattern", "is not a valid regular expression") from None
    return v


Number = Annotated[int | float, PlainValidator(_number)]
Count = Annotated[int, Field(ge=0)]

_OPTIONS_BY_TYPE: dict[str, frozenset[str]] = {
    "str": frozenset({"min_length", "max_length", "pattern"}),
    "secret": frozenset({"min_length", "max_length", "min_entropy", "reject_weak"}),
    "int": frozenset({"min", "max"}),
    "float": frozenset({"min", "max"}),
    "port": frozenset({"min", "max"}),
    "url": frozenset({"schemes"}),
    "choice": frozenset({"choices"}),
    "bool": frozenset(),
    "list": frozenset(),
}
_SPECIFIC = frozenset().union(*_OPTIONS_BY_TYPE.values())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FieldSpec(_Strict):
    """One ``[fields.NAME]`` table (or a key of a ``[sections.NAME]`` table)."""

    type: FieldType | None = None
    required: bool | None = None
    default: Annotated[Any, PlainValidator(_default)] = None
    description: str | None = None
    secret: bool | None = None
    min_length: Count | None = None
    max_length: Count | None = None
    min: Number | None = None
    max: Number | None = None
    choices: Annotated[list[Any], PlainValidator(_choices)] | None = None
    schemes: Annotated[list[str], PlainValidator(_strings)] | None = None
    pattern: Annotated[str, PlainValidator(_pattern)] | None = None
    min_entropy: Annotated[float, Field(ge=0)] | None = None
    reject_weak: bool | None = None

    @property
    def kind(self) -> str:
        return self.type or ("choice" if self.choices is not None else "str")

    @property
    def is_secret(self) -> bool:
        return self.secret if self.secret is not None else self.kind == "secret"

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        kind = self.kind
        as_secret = "secret" if kind == "secret" or (kind == "str" and self.is_secret) else kind
        allowed = _OPTIONS_BY_TYPE[as_secret]
        if self.is_secret and kind in ("int", "float", "port"):
            # Read as a masked string (SecretStr): number constraints cannot apply.
            as_secret, allowed = f"{kind} with secret = true", frozenset()
        wrong = sorted((self.model_fields_set & _SPECIFIC) - allowed)
        if wrong:
            raise PydanticCustomError(
                "schema_option",
                "{options} does not apply to type {kind}",
                {"options": ", ".join(wrong), "kind": as_secret},
            )
        if kind == "choice" and self.choices is None:
            raise _fail("option", 'type choice needs choices = ["a", "b"]')
        if self.required and self.has_default:
            raise _fail("option", "required = true and a default contradict each other")
        for low, high in (("min", "max"), ("min_length", "max_length")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise PydanticCustomError(
                    "schema_option", "{low} is greater than {high}", {"low": low, "high": high}
                )
        return self


class SchemaMeta(_Strict):
    """The ``[schema]`` table."""

    name: str | None = None
    env_prefix: str | None = None
    case_sensitive: bool | None = None
    environment_field: str | None = None
    default_rules: bool = True


class RuleSpec(_Strict):
    """One ``[[rules]]`` table."""

    environment: Annotated[tuple[str, ...], PlainValidator(_names)] | None = None
    require: Annotated[dict[str, Any], PlainValidator(_require)] = Field(default_factory=dict)
    no_default_secrets: bool = False
    message: str | None = None


class SectionSpec(_Strict):
    """One ``[sections.NAME]`` table: an optional ``description`` and the fields."""

    description: str | None = None
    fields: dict[str, FieldSpec] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise _fail("table", "must be a table")
        desc = data.get("description")
        if isinstance(desc, str):  # a table named "description" is a field of that name
            rest = {k: v for k, v in data.items() if k != "description"}
            return {"description": desc, "fields": rest}
        return {"fields": data}


class SchemaFile(_Strict):
    """A declarative schema file (see the module docstring)."""

    meta: SchemaMeta = Field(default_factory=SchemaMeta, alias="schema")
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    sections: dict[str, SectionSpec] = Field(default_factory=dict)
    rules: list[RuleSpec] = Field(default_factory=list)


_ALLOWED_KEYS: dict[type[BaseModel], str] = {
    SchemaFile: "schema, fields, sections, rules",
    SchemaMeta: ", ".join(SchemaMeta.model_fields),
    RuleSpec: ", ".join(RuleSpec.model_fields),
    FieldSpec: ", ".join(FieldSpec.model_fields),
}


def _key(part: Any) -> str:
    text = str(part)
    # TOML keys may hold any character: quote odd ones so the message stays one line.
    return text if text.replace("_", "a").replace("-", "a").isalnum() else json.dumps(text)


def _where(loc: tuple[Any, ...]) -> tuple[str, type[BaseModel]]:
    """``fields.port.min`` for an error location, and the table model its last key is in."""
    head = loc[0] if loc else None
    if head == "sections" and len(loc) > 2 and loc[2] == "fields":
        loc = loc[:2] + loc[3:]  # SectionSpec's internal level
    tables: dict[str, type[BaseModel]] = {
        "schema": SchemaMeta,
        "rules": RuleSpec,
        "fields": FieldSpec,
        "sections": FieldSpec if len(loc) > 2 else SectionSpec,
    }
    model = tables.get(str(head), SchemaFile)
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int) and parts:
            parts[-1] += f"[{part}]"
        else:
            parts.append(_key(part))
    return ".".join(parts), model


def _file_error(where: str, exc: Any) -> ConfigError:
    """One line for the first problem of a schema file; the message never quotes a value."""
    from secretsafe.schemas.messages import safe_message

    errors = exc.errors(include_url=False, include_input=False, include_context=True)
    err = errors[0]
    etype = str(err["type"])
    path, model = _where(tuple(err["loc"]))
    if etype == "extra_forbidden":
        message, hint = "unknown key", f"allowed: {_ALLOWED_KEYS.get(model, '')}"
    elif etype == "literal_error" and path.endswith(".type"):
        message, hint = "unknown type", f"use one of {', '.join(_TYPES)}"
    elif etype.startswith("schema_"):
        message, hint = str(err["msg"]), None  # ours: built from key names only
    elif etype in ("model_type", "dict_type", "model_attributes_type"):
        message, hint = "must be a table", None
    else:
        message, hint = safe_message(err), None
    more = len(errors) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return ConfigError(f"{where}: {path or 'file'}: {message}{suffix}", hint=hint)


def parse_schema_file(doc: Any, *, where: str) -> SchemaFile:
    """``doc`` (a parsed TOML document) as a :class:`SchemaFile`, or a ConfigError."""
    from pydantic import ValidationError

    try:
        return SchemaFile.model_validate(doc)
    except ValidationError as exc:
        raise _file_error(where, exc) from None


# --------------------------------------------------------------------------- loading
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


def _field(where: str, name: str, spec: FieldSpec) -> tuple[Any, Any]:
    from pydantic import SecretStr

    from secretsafe.schemas.types import Port, SecretString, Url

    kind = spec.kind
    secret = spec.is_secret
    constraints: dict[str, Any] = {}
    ann: Any
    if kind == "secret" or (kind == "str" and secret):
        ann = SecretString(
            min_bytes=spec.min_length,
            reject_weak=spec.reject_weak if spec.reject_weak is not None else True,
            min_entropy=spec.min_entropy,
        )
        if spec.max_length is not None:
            constraints["max_length"] = spec.max_length
    elif kind == "url":
        ann = Url(schemes=spec.schemes, secret=secret)
    elif kind == "choice":
        ann = Literal[tuple(spec.choices or ())]
    elif kind == "list":
        ann = list[str]
    else:
        ann = {"str": str, "int": int, "float": float, "bool": bool, "port": Port}[kind]
        if secret:
            ann = SecretStr
        for opt in ("min_length", "max_length", "pattern"):
            if getattr(spec, opt) is not None:
                constraints[opt] = getattr(spec, opt)
    if spec.min is not None:
        constraints["ge"] = spec.min
    if spec.max is not None:
        constraints["le"] = spec.max
    required = spec.required if spec.required is not None else not spec.has_default
    extra: dict[str, Any] | None = {"secret": True} if secret else None
    default: Any = ... if required else spec.default
    try:
        info = Field(default, description=spec.description, json_schema_extra=extra)
        if constraints:
            ann = Annotated[ann, Field(**constraints)]
    except (TypeError, ValueError):
        raise _err(where, f"{name}: options do not fit type {kind}") from None
    return ann, info


def schema_from_mapping(doc: dict[str, Any], *, where: str, default_name: str) -> type[Any]:
    """Build the settings class from a parsed TOML document."""
    from pydantic import create_model

    from secretsafe.schemas import rules as rules_mod
    from secretsafe.schemas.masking import MaskedRepr
    from secretsafe.schemas.settings import Settings

    spec = parse_schema_file(doc, where=where)
    meta = spec.meta
    name = meta.name or default_name
    if not name.isidentifier():
        name = "".join(c for c in name.title() if c.isalnum()) or "Schema"
    fields: dict[str, Any] = {}
    for fname, fspec in spec.fields.items():
        fields[_ident(where, f"fields.{_key(fname)}", fname)] = _field(
            where, f"fields.{_key(fname)}", fspec
        )
    for sname, section in spec.sections.items():
        at = f"sections.{_key(sname)}"
        sub_fields: dict[str, Any] = {
            _ident(where, f"{at}.{_key(k)}", k): _field(where, f"{at}.{_key(k)}", v)
            for k, v in section.fields.items()
        }
        try:
            section_cls: type[BaseModel] = create_model(
                "".join(p.title() for p in sname.split("_")) or "Section",
                __base__=MaskedRepr,
                **sub_fields,
            )
        except Exception as exc:  # noqa: BLE001 - pydantic rejects a bad schema in many ways
            raise _err(where, f"{at}: invalid ({type(exc).__name__})") from None
        section_cls.__doc__ = section.description
        all_default = all(not info.is_required() for _, info in sub_fields.values())
        if all_default:
            fields[_ident(where, at, sname)] = (
                section_cls,
                Field(default_factory=section_cls, description=section.description),
            )
        else:
            fields[_ident(where, at, sname)] = (
                section_cls,
                Field(description=section.description),
            )
    if not fields:
        raise _err(where, "declares no fields", "add [fields.NAME] or [sections.NAME] tables")
    config: dict[str, Any] = {}
    if meta.env_prefix is not None:
        config["env_prefix"] = meta.env_prefix
    if meta.case_sensitive is not None:
        config["case_sensitive"] = meta.case_sensitive
    base: type[Any] = Settings
    if config:
        base = type(
            name + "Base", (Settings,), {"model_config": {**Settings.model_config, **config}}
        )
    try:
        cls: type[Any] = create_model(name, __base__=base, **fields)
    except Exception as exc:  # noqa: BLE001 - pydantic rejects a bad schema in many ways
        # The type only: pydantic's text can quote a default, which may be a secret.
        raise _err(where, f"invalid schema ({type(exc).__name__})") from None
    rules: list[rules_mod.Rule] = []
    if meta.default_rules:
        rules.extend(rules_mod.PRODUCTION)
    for rule in spec.rules:
        for path, value in rule.require.items():
            rules.append(
                rules_mod.Require(path, value, environments=rule.environment, message=rule.message)
            )
        if rule.no_default_secrets:
            rules.append(rules_mod.NoDefaultSecrets(environments=rule.environment))
    cls.secretsafe_rules = tuple(rules)
    if meta.environment_field:
        cls.secretsafe_environment_field = meta.environment_field
    cls.__module__ = "secretsafe.schemas.declarative"
    return cls


def _ident(where: str, at: str, name: str) -> str:
    if not name.isidentifier():
        raise _err(where, f"{at}: not a valid field name", "use letters, digits and _")
    return name.lower()
