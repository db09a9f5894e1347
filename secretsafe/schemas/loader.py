"""``secretsafe.load()`` and ``secretsafe.schemas.check()``: validate an environment against a
settings schema, reporting every problem at once and never a value.

Where values come from, lowest precedence first (a later source wins for the same name):

1. the schema's defaults;
2. the model's own ``model_config["env_file"]`` files, if it sets any (plaintext dotenv);
3. ``env_files``, in the order given (encrypted ones are decrypted in memory);
4. ``vault`` (an object with ``.read() -> Mapping[str, str]``, e.g. a VaultSource);
5. the process environment (``environ``; ``os.environ`` by default).

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
    ignored (``"off"``). See the module docstring for the order of sources.
    """
    env, sources = gather(schema, env_files=env_files, environ=environ, vault=vault)
    report, instance = evaluate(
        schema, env, environment=environment, unknown=unknown, sources=sources
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
) -> CheckReport:
    """Validate ``env`` (a complete name -> value mapping) against a schema: a class, or a
    spec string (``module:Class`` or a ``.toml`` schema path). Never raises for problems in
    ``env``; see :meth:`CheckReport.raise_for_problems`."""
    if isinstance(spec_or_model, str):
        from secretsafe.schemas.spec import load_spec

        schema: type[Any] = load_spec(spec_or_model)
    else:
        schema = spec_or_model
    report, _ = evaluate(schema, env, environment=environment, unknown=unknown, sources=sources)
    return report


# --------------------------------------------------------------------------- sources
def gather(
    schema: type[Any],
    *,
    env_files: Iterable[str | os.PathLike[str]] = (),
    environ: Mapping[str, str] | None = None,
    vault: VaultLike | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """The merged environment and, for each name, where its value came from."""
    env: dict[str, str] = {}
    sources: dict[str, str] = {}

    def add(values: Mapping[str, str], label: str) -> None:
        for k in values:
            env[k] = values[k]
            sources[k] = label

    for path in _config_env_files(schema):
        if os.path.isfile(path):
            add(read_env_file(path), os.fspath(path))
    for path in env_files:
        add(read_env_file(path), os.fspath(path))
    if vault is not None:
        add(vault.read(), "vault")
    process = os.environ if environ is None else environ
    for k in process:
        env[k] = process[k]
        sources.setdefault(k, "environment")
        if sources[k] != "environment":
            sources[k] = "environment"
    return env, sources


def _config_env_files(schema: type[Any]) -> list[str | os.PathLike[str]]:
    config = getattr(schema, "model_config", {}) or {}
    files = config.get("env_file")
    if not files:
        return []
    if isinstance(files, (str, os.PathLike)):
        return [files]
    return list(files)


def read_env_file(path: str | os.PathLike[str]) -> Mapping[str, str]:
    """The values of one env file: a SOPS-encrypted one decrypted in memory (native codec),
    a plaintext one parsed as dotenv."""
    from secretsafe.files import read_text
    from secretsafe.sops import decrypt_text, is_encrypted

    text = read_text(path, what="env file")
    if is_encrypted(text):
        return decrypt_text(text, path=path).values
    from secretsafe import dotenv

    return dotenv.loads(text, path=os.fspath(path))


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


def _construct(schema: type[Any], data: dict[str, Any]) -> Any:
    from pydantic import BaseModel

    fast = _fast.get(schema)
    if fast is None:
        with _lock:
            fast = _fast_path_ok(schema)
            _fast[schema] = fast
    if fast:
        # BaseModel.__init__ validates into the instance without BaseSettings.__init__, which
        # would read every settings source again (the environment, scanned once per field).
        # Validators, model_post_init and private attributes run as usual.
        instance = schema.__new__(schema)  # type: ignore[call-overload]
        BaseModel.__init__(instance, **data)
        return instance
    # Custom sources or __init__: pydantic-settings builds it, with our values as init
    # arguments (its highest precedence).
    return schema(**data)


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
) -> tuple[CheckReport, Any]:
    """Validate ``env``; return the report and the instance (``None`` when invalid)."""
    from pydantic import ValidationError

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
    data, json_errors = plan.build(env)
    problems: list[Problem] = []
    lookup = _EnvLookup(plan, env)

    for je in json_errors:
        leaf, _ = plan.leaf_for_loc(je.keys)
        problems.append(
            Problem(
                variable=je.variable,
                field=leaf.field_path if leaf else ".".join(je.keys),
                kind="type",
                message="must be valid JSON (a list or an object)",
                hint='for example ["a", "b"] or {"key": "value"}',
                source=src.get(je.variable),
            )
        )
    json_vars = {je.variable for je in json_errors}

    instance: Any = None
    raw_errors: list[Any] = []
    try:
        instance = _construct(schema, data)
    except ValidationError as exc:
        # errors() without input; the exception itself is dropped here so that nothing
        # raised later can chain to it (its text holds the values).
        raw_errors = exc.errors(include_url=False, include_input=False, include_context=True)
    invalid: set[tuple[str, ...]] = set()
    for err in raw_errors:
        for p, path in _translate(plan, err, lookup, src):
            if p.variable in json_vars and p.kind == "missing":
                continue
            problems.append(p)
            if path:
                invalid.add(path)

    # Unknown names.
    if unknown != "off":
        severity: Literal["error", "warning"] = "error" if unknown == "error" else "warning"
        for u in plan.find_unknown(env):
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

    def __init__(self, plan: SchemaPlan, env: Mapping[str, str]) -> None:
        self.plan = plan
        self.env = env
        self._norm: dict[str, str] | None = None

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
        extra = parts[len(leaf.keys) :] if len(parts) > len(leaf.keys) else ()
        field_path = leaf.field_path + "".join(f"[{p}]" for p in extra)
        path: tuple[str, ...] | None = leaf.path
    else:
        # An error below a JSON-valued section, or an unmodelled location.
        delim = plan.delimiter or "."
        name = delim.join(p.upper() if not plan.case_sensitive else p for p in parts)
        field_path = ".".join(parts)
        path = None
    # Never pydantic's text: see the rule in secretsafe.schemas.messages.
    message = safe_message(err, leaf.info if leaf is not None else None)
    hint: str | None
    if is_custom(etype):
        hint = CUSTOM_HINT
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
