"""``secretsafe.load()`` and ``secretsafe.schemas.check()``: validate an environment against a
settings schema, reporting every problem at once and never a value.

Where values come from, lowest precedence first (a later source wins for the same name):

1. the schema's defaults;
2. the model's own ``model_config["env_file"]`` files, if it sets any (plaintext dotenv);
3. ``env_files``, in the order given (encrypted ones are decrypted in memory);
4. ``vault`` (an object with ``.read() -> Mapping[str, str]``, e.g. a VaultSource);
5. the process environment (``environ``; ``os.environ`` by default).

Then a secret field's ``NAME_FILE`` variable, from any of these, is replaced by ``NAME`` with
the content of the file it names (:mod:`secretsafe.schemas.field_files`: the postgres-image
convention; ``NAME`` and ``NAME_FILE`` together are an error).

A model that customises its sources (``settings_customise_sources``, a custom ``__init__``,
secrets/JSON/TOML/YAML sources) is built by its own sources, in its own order, exactly as
``Settings()`` builds it: only where its environment sources would read ``os.environ`` they
read the merged mapping above instead. (Sources it leaves out, it leaves out here too.)

This is the precedence of ``secretsafe run`` too: what is already in the environment wins
over files, so a value exported by an operator or an orchestrator overrides the defaults kept
in a file. Pass ``environ={}`` to use the files (and Vault) only.

Problem messages never hold a value, nor anything derived from one: they are rebuilt from the
error type, constraint numbers and the schema (the rule is in
:mod:`secretsafe.schemas.messages`); pydantic's own text is never shown.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from secretsafe.errors import ConfigError, UsageError
from secretsafe.schemas.messages import CUSTOM_HINT, is_custom, safe_message
from secretsafe.schemas.report import CheckReport, Problem, sort_problems

if TYPE_CHECKING:
    from secretsafe.schemas.names import Leaf, SchemaPlan

__all__ = ["VaultLike", "check", "evaluate", "load", "read_env_file"]

log = logging.getLogger("secretsafe.schemas")

T = TypeVar("T")
Strictness = Literal["error", "warning", "off"]


class VaultLike(Protocol):
    def read(self) -> Mapping[str, str]: ...


# --------------------------------------------------------------------------- public API
def load(
    schema: type[T],
    *,
    env_files: Iterable[str | os.PathLike[str]] = (),
    environ: Mapping[str, str] | None = None,
    environment: str | None = None,
    vault: VaultLike | None = None,
    unknown: Strictness = "error",
) -> T:
    """Build ``schema`` from the environment, or raise one
    :class:`~secretsafe.schemas.SchemaValidationError` listing every problem.

    ``schema``: any pydantic-settings ``BaseSettings`` subclass (or a class from a declarative
    schema). ``unknown``: what a variable in the schema's namespace that maps to no field is:
    an ``"error"``, a ``"warning"`` (logged on the ``secretsafe.schemas`` logger, by name) or
    ignored (``"off"``). The variables standard clients read next to a Vault/Redis/database
    section (``VAULT_ADDR``, ``REDIS_URL``, ``PGPASSWORD``, ...: the documented list is
    :data:`secretsafe.schemas.names.WELL_KNOWN_VARS`) are never reported. See the module
    docstring for the order of sources; with a :class:`~secretsafe.schemas.Vault` section,
    ``VAULT__ENABLED`` decides whether ``vault`` is read at all.
    """
    dotenv: dict[str, str] = {}
    env, sources = gather(
        schema, env_files=env_files, environ=environ, vault=vault, dotenv_out=dotenv
    )
    report, instance = evaluate(
        schema, env, environment=environment, unknown=unknown, sources=sources, dotenv=dotenv
    )
    for p in report.warnings:
        log.warning("%s", p.line())
    report.raise_for_problems()
    return instance  # type: ignore[no-any-return]


def check(
    spec_or_model: str | type[Any],
    env: Mapping[str, str],
    *,
    environment: str | None = None,
    unknown: Strictness = "error",
    sources: Mapping[str, str] | None = None,
    read_files: bool = True,
) -> CheckReport:
    """Validate ``env`` (a complete name -> value mapping) against a schema: a class, or a
    spec string (``module:Class`` or a ``.toml`` schema path). Never raises for problems in
    ``env``; see :meth:`CheckReport.raise_for_problems`. ``NAME_FILE`` variables of secret
    fields are read as :func:`load` reads them; ``read_files=False`` (the paths are inside a
    container) only counts such a field as set."""
    if isinstance(spec_or_model, str):
        from secretsafe.schemas.spec import load_spec

        schema: type[Any] = load_spec(spec_or_model)
    else:
        schema = spec_or_model
    report, _ = evaluate(
        schema,
        env,
        environment=environment,
        unknown=unknown,
        sources=sources,
        read_files=read_files,
    )
    return report


# --------------------------------------------------------------------------- sources
def gather(
    schema: type[Any],
    *,
    env_files: Iterable[str | os.PathLike[str]] = (),
    environ: Mapping[str, str] | None = None,
    vault: VaultLike | None = None,
    dotenv_out: dict[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """The merged environment and, for each name, where its value came from.

    The model's own ``model_config["env_file"]`` files are found and read as pydantic-settings
    reads them (``~``, ``env_file_encoding``, a missing file ignored, python-dotenv's
    ``${VAR}`` interpolation, search depth where the installed version has it), except that
    a SOPS-encrypted one is decrypted in memory. ``env_files`` are secretsafe's own: a
    missing one is an error, and values are taken literally, as sops and ``secretsafe run``
    take them (no ``${VAR}`` interpolation; docker compose interpolates its own env files).
    ``dotenv_out`` receives the values of the plaintext files (dotenv semantics: what
    pydantic-settings would add as extras)."""
    env: dict[str, str] = {}
    sources: dict[str, str] = {}

    def add(values: Mapping[str, str], label: str, *, plain: bool = False) -> None:
        for k in values:
            env[k] = values[k]
            sources[k] = label
        if plain and dotenv_out is not None:
            dotenv_out.update(values)

    delimiter = nested_delimiter(schema)
    for model_file in _config_env_files(schema):
        encrypted = _encrypted_file(model_file, delimiter)
        if encrypted is not None:
            add(encrypted, model_file)
        else:
            add(_pydantic_dotenv(schema, model_file), model_file, plain=True)
    for path in env_files:
        text = _read(path)
        add(_values(text, path, delimiter), os.fspath(path), plain=not _is_encrypted(text))
    process = os.environ if environ is None else environ
    if vault is not None:
        vault = _vault_as_configured(schema, vault, {**env, **process})
    if vault is not None:
        add(vault.read(), "vault")
    for k in process:
        env[k] = process[k]
        sources.setdefault(k, "environment")
        if sources[k] != "environment":
            sources[k] = "environment"
    return env, sources


def _vault_as_configured(
    schema: type[Any], vault: VaultLike, env: Mapping[str, str]
) -> VaultLike | None:
    """When the model has a :class:`~secretsafe.schemas.Vault` section, the app's own switch
    decides: ``VAULT__ENABLED`` false (the default) -> Vault is not read (``None``), even with
    ``VAULT_ADDR`` set; enabled -> the section's ``addr`` and AppRole credentials are used
    where the :class:`~secretsafe.vault.source.VaultSource` sets none of its own. ``env``:
    every source but Vault, merged."""
    import dataclasses

    from pydantic import ValidationError

    from secretsafe.schemas import _compat as compat
    from secretsafe.schemas.blocks import Vault
    from secretsafe.schemas.names import plan_for

    _require_settings(schema)
    found = [
        (name, ann)
        for name, info in schema.model_fields.items()
        if isinstance(ann := compat.strip_annotated(compat.unwrap_optional(info.annotation)), type)
        and issubclass(ann, Vault)
    ]
    if len(found) != 1:
        return vault
    name, block = found[0]
    data, _ = plan_for(schema).build(env)
    info = schema.model_fields[name]
    keys = (info.validation_alias, info.alias, name)
    raw = next((data[k] for k in keys if isinstance(k, str) and k in data), None)
    if raw is None:
        default = info.get_default(call_default_factory=True, validated_data={})
        section = default if isinstance(default, Vault) else None
    else:
        try:
            section = block.model_validate(raw)
        except ValidationError:
            # The report names the section's problems; connecting with them would not help.
            return None
    if section is None or not section.enabled:
        return None
    from secretsafe.vault.client import AppRole
    from secretsafe.vault.source import VaultSource

    if not isinstance(vault, VaultSource):
        return vault
    changes: dict[str, Any] = {}
    if vault.addr is None and vault.client is None and "addr" in section.model_fields_set:
        changes["addr"] = str(section.addr).rstrip("/")
    if vault.approle is None and section.role_id and section.secret_id is not None:
        changes["approle"] = AppRole(
            role_id=section.role_id, secret_id=section.secret_id.get_secret_value()
        )
    return dataclasses.replace(vault, **changes) if changes else vault


def _config_env_files(schema: type[Any]) -> list[str]:
    config = getattr(schema, "model_config", {}) or {}
    files = config.get("env_file")
    if not files:
        return []
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    return [os.path.expanduser(os.fspath(f)) for f in files]


def nested_delimiter(schema: type[Any]) -> str | None:
    """The model's ``env_nested_delimiter``: a sops JSON/YAML file's nested keys are joined
    with it, so ``database: {host: ...}`` reaches the field ``database.host`` (``None``: the
    default ``__``)."""
    config = getattr(schema, "model_config", {}) or {}
    delimiter = config.get("env_nested_delimiter")
    return delimiter if isinstance(delimiter, str) and delimiter else None


def _encrypted_file(path: str, delimiter: str | None = None) -> Mapping[str, str] | None:
    """The decrypted values of a model env file that is SOPS-encrypted, else ``None``."""
    from secretsafe.files import read_bytes

    if not os.path.isfile(path):
        return None
    try:
        text = read_bytes(path, what="env file").decode("utf-8")
    except UnicodeDecodeError:
        return None  # sops writes UTF-8: a plaintext file in its env_file_encoding
    return _values(text, path, delimiter) if _is_encrypted(text) else None


def _pydantic_dotenv(schema: type[Any], path: str) -> dict[str, str]:
    """One plaintext model env file, found and parsed by pydantic-settings itself, names as
    written."""
    from pydantic_settings import DotEnvSettingsSource

    source = DotEnvSettingsSource(schema, env_file=path, case_sensitive=True)
    return {k: v for k, v in source.env_vars.items() if v is not None}


def _read(path: str | os.PathLike[str]) -> str:
    """The file's text; a UTF-8 BOM is kept in a sops file (sops encrypted the first key with
    it) and dropped from a plaintext one."""
    from secretsafe.files import read_text

    text = read_text(path, what="env file", keep_bom=True)
    return text if _is_encrypted(text) else text.removeprefix("\ufeff")


def _is_encrypted(text: str) -> bool:
    """A sops file of any format secretsafe reads (dotenv, JSON, YAML)."""
    from secretsafe.sops import is_sops_file

    return is_sops_file(text)


def _values(
    text: str, path: str | os.PathLike[str], delimiter: str | None = None
) -> Mapping[str, str]:
    if _is_encrypted(text):
        from secretsafe.sops import decrypt_text

        return decrypt_text(text, path=path, delimiter=delimiter).values
    from secretsafe import dotenv

    return dotenv.loads(text, path=os.fspath(path))


def read_env_file(path: str | os.PathLike[str]) -> Mapping[str, str]:
    """The values of one env file: a SOPS-encrypted one decrypted in memory (native codec;
    a JSON/YAML one flattened to ``SECTION__FIELD``), a plaintext one parsed as dotenv."""
    return _values(_read(path), path)


# --------------------------------------------------------------------------- validation
_fast: weakref.WeakKeyDictionary[type[Any], bool] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _fast_path_ok(schema: type[Any]) -> bool:
    """The schema builds from the environment alone, exactly as BaseSettings() would: no
    custom ``__init__`` or ``settings_customise_sources``, no file or secrets-dir sources."""
    from pydantic_settings import BaseSettings

    cfg = schema.model_config
    if schema.__init__ is not BaseSettings.__init__:
        return False
    own = getattr(schema.settings_customise_sources, "__func__", None)
    if own is not BaseSettings.settings_customise_sources.__func__:  # type: ignore[attr-defined]
        return False
    keys = (
        "secrets_dir",
        "cli_parse_args",
        "json_file",
        "toml_file",
        "yaml_file",
        "pyproject_toml_table_header",
        "nested_model_default_partial_update",
    )
    return not any(cfg.get(k) for k in keys)


def _is_fast(schema: type[Any]) -> bool:
    fast = _fast.get(schema)
    if fast is None:
        with _lock:
            fast = _fast_path_ok(schema)
            _fast[schema] = fast
    return fast


def _construct(schema: type[Any], data: dict[str, Any], env: Mapping[str, str]) -> Any:
    from pydantic import BaseModel

    if _is_fast(schema):
        # BaseModel.__init__ validates into the instance without BaseSettings.__init__, which
        # would read every settings source again (the environment, scanned once per field).
        # Validators, model_post_init and private attributes run as usual.
        instance = schema.__new__(schema)  # type: ignore[call-overload]
        BaseModel.__init__(instance, **data)
        return instance
    # Custom sources or __init__, file or secrets sources: the model builds itself exactly as
    # Settings() would (its own sources, their order and current_state, a custom
    # prepare_field_value), with ``env`` where its environment sources read os.environ.
    from secretsafe.schemas._compat import environ_override

    with environ_override(env):
        return schema()


def _require_settings(schema: Any) -> None:
    from pydantic_settings import BaseSettings

    if not (isinstance(schema, type) and issubclass(schema, BaseSettings)):
        raise UsageError(
            f"{getattr(schema, '__name__', schema)!s} is not a pydantic-settings model",
            hint="pass a subclass of pydantic_settings.BaseSettings or secretsafe.Settings",
        )
    if not schema.model_config.get("env_nested_delimiter"):
        log.debug("%s has no env_nested_delimiter: nested fields read JSON only", schema)


def evaluate(
    schema: type[Any],
    env: Mapping[str, str],
    *,
    environment: str | None = None,
    unknown: Strictness = "error",
    sources: Mapping[str, str] | None = None,
    dotenv: Mapping[str, str] | None = None,
    read_files: bool = True,
) -> tuple[CheckReport, Any]:
    """Validate ``env``; return the report and the instance (``None`` when invalid).

    ``NAME_FILE`` variables fill secret fields from files (:mod:`~secretsafe.schemas.field_files`);
    ``read_files=False`` does not read them (paths inside a container) and only counts the
    field as set.

    ``dotenv``: the values of plaintext env files among ``env``; as in pydantic-settings,
    those no field reads are extra inputs (an error under ``extra="forbid"``, attributes
    under ``extra="allow"``)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from secretsafe.schemas import field_files
    from secretsafe.schemas import rules as rules_mod
    from secretsafe.schemas.names import plan_for

    _require_settings(schema)
    if unknown not in ("error", "warning", "off"):
        raise UsageError(f"unknown={unknown!r}", hint="use 'error', 'warning' or 'off'")
    plan = plan_for(schema)
    rules = rules_mod.rules_of(schema)
    bad = rules_mod.check_rule_fields(plan, rules)
    if bad:
        raise ConfigError(
            f"{schema.__name__}: rules name fields the schema does not have: {', '.join(bad)}",
            hint="fix the field paths in secretsafe_rules (dotted attribute names)",
        )
    src = sources or {}
    normalised = plan.normalise(env)  # one pass over the environment, shared below
    # NAME_FILE variables of secret fields (secretsafe.schemas.field_files); None when unset.
    files = field_files.resolve(plan, env, normalised, src, read=read_files)
    if files is not None:
        env, normalised, src = files.env, files.normalised, files.sources
        if dotenv:
            dotenv = {k: v for k, v in dotenv.items() if plan.norm(k) not in files.consumed}
    data, json_errors = plan.build(env, normalised)
    if not _is_fast(schema):
        # The model's own sources parse the values (a custom prepare_field_value may accept
        # what is not JSON); what they refuse is reported from their SettingsError.
        json_errors = []
    elif dotenv and schema.model_config.get("extra", "forbid") != "ignore":
        data = {**plan.dotenv_extras(dotenv), **data}
    problems: list[Problem] = list(files.problems) if files is not None else []
    lookup = _EnvLookup(plan, env, normalised)

    for je in json_errors:
        leaf, _ = plan.leaf_for_loc(je.keys)
        problems.append(
            Problem(
                # The spelling that is in the environment (names are case-insensitive).
                variable=lookup.name_of(leaf) if leaf is not None else je.variable,
                field=leaf.field_path if leaf else ".".join(je.keys),
                kind="type",
                message="must be valid JSON (a list or an object)",
                hint='for example ["a", "b"] or {"key": "value"}',
                source=src.get(je.variable),
            )
        )
    # A variable dropped for bad JSON is also "missing" to pydantic: one problem is enough.
    json_vars = {plan.norm(je.variable) for je in json_errors}
    # So is a field whose NAME_FILE was reported (or, read_files=False, trusted).
    quiet = json_vars | files.unfilled if files is not None else json_vars

    instance: Any = None
    raw_errors: list[Any] = []
    # Variables already reported for bad JSON are left out, as the fast builder leaves them.
    source_env = (
        {k: v for k, v in env.items() if plan.norm(k) not in json_vars} if json_vars else env
    )
    source_error: str | None = None
    try:
        instance = _construct(schema, data, source_env)
    except ValidationError as exc:
        # errors() without input; the exception itself is dropped here so that nothing
        # raised later can chain to it (its text holds the values).
        raw_errors = exc.errors(include_url=False, include_input=False, include_context=True)
    except SettingsError as exc:
        # A settings source failed to parse a value: its message names the field and the
        # source; its cause may hold the value and is dropped.
        match = re.search(r'field "([^"]+)" from source "([^"]+)"', str(exc))
        source_error = f"{match.group(1)}:{match.group(2)}" if match else ":"
    if source_error is not None:
        field_name, _, source_name = source_error.partition(":")
        leaf = next((lf for lf in plan.leaves if lf.path == (field_name,)), None)
        problems.append(
            Problem(
                variable=lookup.name_of(leaf) if leaf is not None else None,
                field=field_name or None,
                kind="type",
                message=f"could not be parsed by the settings source {source_name or '?'}",
                hint="check the value's format against the field's type",
                source=src.get(lookup.name_of(leaf)) if leaf is not None else None,
            )
        )
    invalid: set[tuple[str, ...]] = set()
    for err in raw_errors:
        for p, path in _translate(plan, err, lookup, src):
            if p.variable and plan.norm(p.variable) in quiet and p.kind == "missing":
                continue
            problems.append(p)
            if path:
                invalid.add(path)

    # Unknown names.
    if unknown != "off":
        severity: Literal["error", "warning"] = "error" if unknown == "error" else "warning"
        for u in plan.find_unknown(env, normalised):
            problems.append(_unknown_problem(plan, schema, u, severity, src.get(u.variable)))

    # Rules, on the raw input, whether or not the fields validated.
    set_paths = {leaf.path for leaf in plan.leaves if lookup.is_set(leaf)}
    env_name = environment
    env_leaf = rules_mod.environment_field(plan, schema)
    if env_name is None and env_leaf is not None:
        raw_env = lookup.raw(env_leaf)
        if raw_env is not None:
            env_name = raw_env
        elif not env_leaf.info.is_required():
            default = env_leaf.info.get_default(call_default_factory=True, validated_data={})
            env_name = str(getattr(default, "value", default)) if default is not None else None
    ctx = rules_mod.RuleContext(
        plan,
        data,
        instance=instance,
        invalid=invalid,
        set_paths=set_paths,
        environment=env_name,
    )
    for rule in rules_mod.applicable(plan, rules):
        if rule.applies(ctx):
            problems.extend(rule.evaluate(ctx))

    problems = _dedupe(problems)
    report = CheckReport(
        schema=getattr(schema, "__name__", str(schema)),
        problems=sort_problems(problems),
        environment=env_name,
        variables=len(set_paths),
    )
    return report, (instance if report.ok else None)


class _EnvLookup:
    """Finds a leaf's variable in the environment, honouring case rules."""

    def __init__(
        self, plan: SchemaPlan, env: Mapping[str, str], normalised: dict[str, str] | None = None
    ) -> None:
        self.plan = plan
        self.env = env
        self._norm: dict[str, str] | None = normalised

    def _normalised(self) -> dict[str, str]:
        if self._norm is None:
            self._norm = {self.plan.norm(k): k for k in self.env}
        return self._norm

    def name_of(self, leaf: Leaf) -> str:
        """The spelling of the leaf's variable as it appears in the environment, else the
        canonical one."""
        actual = self._normalised().get(self.plan.norm(leaf.variable))
        return actual if actual is not None else leaf.variable

    def raw(self, leaf: Leaf) -> str | None:
        actual = self._normalised().get(self.plan.norm(leaf.variable))
        return None if actual is None else self.env[actual]

    def is_set(self, leaf: Leaf) -> bool:
        return self.plan.norm(leaf.variable) in self._normalised()


_KIND_BY_TYPE = {
    "missing": "missing",
    "string_too_short": "too_short",
    "too_short": "too_short",
    "secret_too_short": "too_short",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "literal_error": "choice",
    "enum": "choice",
    "url_invalid": "url",
    "url_scheme": "url",
    "url_parsing": "url",
    "url_syntax_violation": "url",
    "url_too_long": "url",
    "url_type": "url",
    "greater_than": "range",
    "greater_than_equal": "range",
    "less_than": "range",
    "less_than_equal": "range",
    "multiple_of": "range",
    "string_pattern_mismatch": "pattern",
    "secret_weak": "weak",
    "secret_entropy": "weak",
    "extra_forbidden": "unknown",
}
_BOOL_HINT = "use true or false (also 1/0, yes/no, on/off)"


def _translate(
    plan: SchemaPlan,
    err: Mapping[str, Any],
    lookup: _EnvLookup,
    src: Mapping[str, str],
) -> list[tuple[Problem, tuple[str, ...] | None]]:
    loc = tuple(err.get("loc", ()))
    etype = str(err.get("type", ""))
    kind = _KIND_BY_TYPE.get(etype)
    if kind is None:
        kind = (
            "type"
            if etype.endswith(("_parsing", "_type")) or etype.startswith("json_")
            else "invalid"
        )
    leaf, parts = plan.leaf_for_loc(loc)
    if leaf is None and etype == "missing":
        # A whole section is missing: report each required variable in it.
        out: list[tuple[Problem, tuple[str, ...] | None]] = []
        for sub in plan.leaves:
            if _under(plan, sub, parts) and sub.required:
                name = lookup.name_of(sub)
                out.append(
                    (
                        Problem(
                            variable=name,
                            field=sub.field_path,
                            kind="missing",
                            message="required but not set",
                            hint=f"set {name}",
                            source=None,
                        ),
                        sub.path,
                    )
                )
        if out:
            return out
    if leaf is not None:
        name = lookup.name_of(leaf)
        extra: tuple[str, ...] = parts[len(leaf.keys) :] if len(parts) > len(leaf.keys) else ()
        field_path = leaf.field_path + "".join(f"[{_key_shown(p)}]" for p in extra)
        path: tuple[str, ...] | None = leaf.path
    else:
        # An error below a JSON-valued section, or an unmodelled location.
        delim = plan.delimiter or "."
        shown = [_key_shown(p) for p in parts]
        name = delim.join(p.upper() if not plan.case_sensitive else p for p in shown)
        field_path = ".".join(shown)
        path = None
        extra = ()
    # Never pydantic's text: see the rule in secretsafe.schemas.messages.
    message = safe_message(err, leaf.info if leaf is not None else None)
    hint: str | None
    if is_custom(etype):
        hint = CUSTOM_HINT
    elif kind == "missing" and leaf is not None and extra:
        # Inside the variable's JSON value (a list item, a dict entry): the variable is set,
        # and ITEMS__0__NAME is nothing pydantic-settings reads; the field path says where.
        message = "a required key is missing from its JSON value"
        hint = f"add the key at {field_path} to the JSON value of {name}"
    elif kind == "missing":
        hint = f"set {name}"
    elif etype == "bool_parsing":
        hint = _BOOL_HINT
    elif kind == "too_short" and leaf is not None and leaf.secret:
        hint = "generate one with: secretsafe generate"
    elif kind == "unknown":
        hint = "remove it or check the spelling"
    elif kind == "weak":
        hint = f"set {name} to a strong random value"
    else:
        hint = None
    return [
        (
            Problem(
                # A model-level error has no location: null, as the JSON report documents.
                variable=name or None,
                field=field_path or None,
                kind=kind,
                message=message,
                hint=hint,
                source=src.get(name),
            ),
            path,
        )
    ]


def _key_shown(key: str) -> str:
    """A location key inside a JSON value (a list index, a dict key, a field name) as a
    message may show it: dict keys are part of the value, so only an index or a name that
    :func:`secretsafe.dotenv.shown_name` would show as it is; anything else is ``?``."""
    from secretsafe.dotenv import shown_name

    return key if key.isdigit() or shown_name(key) == key else "?"


def _under(plan: SchemaPlan, leaf: Leaf, parts: tuple[str, ...]) -> bool:
    return any(keys[: len(parts)] == parts for keys, other in plan.by_keys.items() if other is leaf)


def _unknown_problem(
    plan: SchemaPlan,
    schema: type[Any],
    u: Any,
    severity: Literal["error", "warning"],
    source: str | None,
) -> Problem:
    if u.suggestions:
        hint = f"rename it to {u.suggestions[0]}"
    elif u.why == "section" and plan.delimiter:
        head = u.variable.rsplit(plan.delimiter, 1)[0]
        names = [
            leaf.variable.rsplit(plan.delimiter, 1)[-1]
            for leaf in plan.leaves
            if leaf.variable.upper().startswith(head.upper() + plan.delimiter)
        ]
        hint = f"{head} has: {', '.join(names)}" if names else "remove it"
    else:
        hint = "remove it or check the spelling"
    return Problem(
        variable=u.variable,
        field=None,
        kind="unknown",
        message=f"is not a variable of {schema.__name__}",
        hint=hint,
        severity=severity,
        suggestions=u.suggestions,
        source=source,
    )


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str | None, str, str]] = set()
    out: list[Problem] = []
    # An unknown reported by name beats the same name reported as extra_forbidden.
    for p in sorted(problems, key=lambda p: p.field is not None and p.kind == "unknown"):
        key = (p.variable.upper() if p.variable else None, p.kind, p.message)
        ukey = (p.variable.upper() if p.variable else None, "unknown", "")
        if p.kind == "unknown":
            if ukey in seen:
                continue
            seen.add(ukey)
        if key in seen:
            continue
        seen.add(key)
        out.append(p)
    return out
