"""Cross-field and environment rules, evaluated on the raw input.

pydantic runs a model's ``@model_validator(mode="after")`` only once every field is valid, so
a broken rule shows up only after the field errors are fixed. secretsafe's rules read each
field from the raw input instead (coerced to the field's type when it is valid), so they are
reported together with the field errors. A rule that needs a field which is itself missing
or invalid is skipped: that field's own problem is already in the report.

Declare them on a schema::

    class Settings(secretsafe.Settings):
        secretsafe_rules = (
            *rules.PRODUCTION,                                   # the defaults below
            rules.Require("smtp.enabled", True, environments=("production",)),
            rules.Check(lambda c: c.value("redis.db") != c.value("cache.db"),
                        "redis.db and cache.db must differ", fields=("redis.db", "cache.db")),
        )

A schema without ``secretsafe_rules`` gets :data:`PRODUCTION`: when the environment is
production, ``DEBUG`` must be false, ``VAULT__ENABLED`` must be true (each only if the schema
has that field), and no secret may keep its default or a well-known weak value.

The environment is the ``environment=`` argument (``--environment``), else the value of the
schema's environment field: ``secretsafe_environment_field`` if the class sets it, else the
first top-level field named ``environment``, ``env``, ``app_env``, ``stage`` or ``node_env``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from secretsafe.schemas.report import Problem
from secretsafe.schemas.types import is_weak

if TYPE_CHECKING:
    from secretsafe.schemas.names import Leaf, SchemaPlan

__all__ = [
    "INVALID",
    "MISSING",
    "PRODUCTION",
    "Check",
    "NoDefaultSecrets",
    "Require",
    "Rule",
    "RuleContext",
    "environment_matches",
]


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __bool__(self) -> bool:
        return False


#: A field that is neither set nor has a default.
MISSING: Any = _Sentinel("MISSING")
#: A field whose raw value does not validate (its own problem is reported).
INVALID: Any = _Sentinel("INVALID")

_ENV_ALIASES: dict[str, frozenset[str]] = {
    "production": frozenset({"production", "prod", "live"}),
    "staging": frozenset({"staging", "stage"}),
    "development": frozenset({"development", "dev", "local"}),
    "test": frozenset({"test", "testing", "ci"}),
}

ENVIRONMENT_FIELDS = ("environment", "env", "app_env", "stage", "node_env")


def environment_matches(current: str | None, wanted: Iterable[str]) -> bool:
    """Whether ``current`` is one of ``wanted`` (``prod`` counts as ``production``, ...)."""
    if current is None:
        return False
    cur = current.strip().lower()
    for want in wanted:
        w = want.lower()
        if cur == w or cur in _ENV_ALIASES.get(w, ()):
            return True
    return False


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RuleContext:
    """What a rule sees: typed values of fields by dotted path, from the raw input."""

    def __init__(
        self,
        plan: SchemaPlan,
        data: Mapping[str, Any],
        *,
        instance: Any = None,
        invalid: Iterable[tuple[str, ...]] = (),
        set_paths: Iterable[tuple[str, ...]] = (),
        environment: str | None = None,
    ) -> None:
        self.plan = plan
        self.environment = environment
        self._data = data
        self._instance = instance
        self._invalid = set(invalid)
        self._set = set(set_paths)
        self._leaves = {leaf.path: leaf for leaf in plan.leaves}
        self._cache: dict[tuple[str, ...], Any] = {}

    def leaf(self, path: str) -> Leaf | None:
        return self._leaves.get(tuple(path.split(".")))

    def variable(self, path: str) -> str:
        leaf = self.leaf(path)
        return leaf.variable if leaf else path

    def is_set(self, path: str) -> bool:
        """Whether the environment sets this field (rather than it taking its default)."""
        return tuple(path.split(".")) in self._set

    def value(self, path: str) -> Any:
        """The field's value, typed; :data:`MISSING` or :data:`INVALID` when it has none."""
        key = tuple(path.split("."))
        if key in self._cache:
            return self._cache[key]
        leaf = self._leaves.get(key)
        if leaf is None:
            raise KeyError(f"no field {path!r} in the schema")
        value = self._compute(leaf)
        self._cache[key] = value
        return value

    def _compute(self, leaf: Leaf) -> Any:
        if any(leaf.path[: i + 1] in self._invalid for i in range(len(leaf.path))):
            return INVALID
        if self._instance is not None:
            obj = self._instance
            for name in leaf.path:
                obj = getattr(obj, name, MISSING)
                if obj is None or obj is MISSING:
                    return MISSING if obj is MISSING else None
            return obj
        raw = self._raw(leaf)
        if raw is MISSING:
            if leaf.info.is_required():
                return MISSING
            return leaf.info.get_default(call_default_factory=True, validated_data={})
        return _validate_one(leaf, raw)

    def _raw(self, leaf: Leaf) -> Any:
        for keys, other in self.plan.by_keys.items():
            if other is not leaf:
                continue
            node: Any = self._data
            for k in keys:
                if not isinstance(node, Mapping) or k not in node:
                    node = MISSING
                    break
                node = node[k]
            if node is not MISSING:
                return node
        return MISSING


def _validate_one(leaf: Leaf, raw: Any) -> Any:
    from typing import Annotated

    from pydantic import TypeAdapter, ValidationError

    try:
        adapter: TypeAdapter[Any] = TypeAdapter(
            Annotated[leaf.info.annotation, leaf.info]  # type: ignore[arg-type]
        )
        return adapter.validate_python(raw)
    except ValidationError:
        return INVALID
    except Exception:  # noqa: BLE001 - an unusual annotation: treat as not evaluable
        return INVALID


class Rule(ABC):
    """A check over several fields. ``environments``: only when the environment is one of
    these (``None``: always)."""

    environments: tuple[str, ...] | None = None
    optional: bool = False  # skip silently when the schema lacks the fields

    def applies(self, ctx: RuleContext) -> bool:
        return self.environments is None or environment_matches(ctx.environment, self.environments)

    @abstractmethod
    def fields(self) -> tuple[str, ...]:
        """Dotted field paths the rule reads (checked against the schema)."""

    @abstractmethod
    def evaluate(self, ctx: RuleContext) -> Iterable[Problem]: ...

    def _when(self) -> str:
        if not self.environments:
            return ""
        return f" when the environment is {' or '.join(self.environments)}"


@dataclass(frozen=True)
class Require(Rule):
    """``field`` must equal ``equals`` (for example ``vault.enabled`` must be true)."""

    field: str
    equals: Any
    environments: tuple[str, ...] | None = ("production",)
    message: str | None = None
    hint: str | None = None
    optional: bool = False

    def fields(self) -> tuple[str, ...]:
        return (self.field,)

    def evaluate(self, ctx: RuleContext) -> Iterable[Problem]:
        value = ctx.value(self.field)
        if value is INVALID or value == self.equals:
            return []
        var = ctx.variable(self.field)
        want = _env_text(self.equals)
        return [
            Problem(
                variable=var,
                field=self.field,
                kind="rule",
                message=self.message or f"must be {want}{self._when()}",
                hint=self.hint or f"set {var}={want}",
            )
        ]


@dataclass(frozen=True)
class NoDefaultSecrets(Rule):
    """Secrets must be set explicitly, to something other than their default and other than
    a placeholder or well-known weak value. ``fields=None``: every secret field."""

    only: tuple[str, ...] | None = None
    environments: tuple[str, ...] | None = ("production",)

    def fields(self) -> tuple[str, ...]:
        return self.only or ()

    def evaluate(self, ctx: RuleContext) -> Iterable[Problem]:
        paths = self.only or tuple(leaf.field_path for leaf in ctx.plan.leaves if leaf.secret)
        out: list[Problem] = []
        for path in paths:
            leaf = ctx.leaf(path)
            if leaf is None:
                continue
            value = ctx.value(path)
            if value is INVALID or value is MISSING or value is None:
                continue
            text = _reveal(value)
            default = leaf.info.get_default(call_default_factory=False)
            default_text = _reveal(default) if default is not None else None
            if not ctx.is_set(path) and default_text is not None:
                msg = f"uses the schema's default{self._when()}"
            elif default_text is not None and text == default_text:
                msg = f"is set to the schema's default value{self._when()}"
            elif is_weak(text):
                msg = f"is a placeholder or a well-known weak value{self._when()}"
            else:
                continue
            out.append(
                Problem(
                    variable=leaf.variable,
                    field=path,
                    kind="rule",
                    message=msg,
                    hint=f"set {leaf.variable} to a strong random value",
                )
            )
        return out


@dataclass(frozen=True)
class Check(Rule):
    """A custom cross-field rule: ``test(ctx)`` returns True when the rule holds.

    Skipped while any of ``fields`` is missing or invalid (those are reported already).
    """

    test: Callable[[RuleContext], bool]
    message: str
    fields_: tuple[str, ...] = ()
    environments: tuple[str, ...] | None = None
    hint: str | None = None
    variable: str | None = None

    def __init__(
        self,
        test: Callable[[RuleContext], bool],
        message: str,
        *,
        fields: Iterable[str] = (),
        environments: Iterable[str] | None = None,
        hint: str | None = None,
        variable: str | None = None,
    ) -> None:
        object.__setattr__(self, "test", test)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "fields_", tuple(fields))
        object.__setattr__(
            self, "environments", tuple(environments) if environments is not None else None
        )
        object.__setattr__(self, "hint", hint)
        object.__setattr__(self, "variable", variable)

    def fields(self) -> tuple[str, ...]:
        return self.fields_

    def evaluate(self, ctx: RuleContext) -> Iterable[Problem]:
        for path in self.fields_:
            if ctx.value(path) in (MISSING, INVALID):
                return []
        try:
            ok = bool(self.test(ctx))
        except Exception as exc:  # noqa: BLE001 - a rule's own bug must not hide other problems
            ok = False
            message = f"rule could not be evaluated ({type(exc).__name__}): {self.message}"
        else:
            message = self.message
        if ok:
            return []
        first = self.fields_[0] if self.fields_ else None
        var = self.variable or (ctx.variable(first) if first else None)
        return [
            Problem(
                variable=var,
                field=",".join(self.fields_) or None,
                kind="rule",
                message=message + self._when(),
                hint=self.hint,
            )
        ]


def _reveal(value: Any) -> str:
    getter = getattr(value, "get_secret_value", None)
    if callable(getter):
        return str(getter())
    return str(value)


#: The default rules of every schema that does not set ``secretsafe_rules``.
PRODUCTION: tuple[Rule, ...] = (
    Require("debug", False, optional=True),
    Require("vault.enabled", True, optional=True),
    NoDefaultSecrets(),
)


def rules_of(schema: type[Any]) -> tuple[Rule, ...]:
    declared = getattr(schema, "secretsafe_rules", None)
    if declared is None:
        return PRODUCTION
    return tuple(declared)


def check_rule_fields(plan: SchemaPlan, rules: Iterable[Rule]) -> list[str]:
    """Field paths that rules name but the schema lacks (for a clear ConfigError)."""
    known = {leaf.field_path for leaf in plan.leaves}
    bad: list[str] = []
    for rule in rules:
        if rule.optional:
            continue
        bad.extend(p for p in rule.fields() if p not in known)
    return bad


def applicable(plan: SchemaPlan, rules: Iterable[Rule]) -> list[Rule]:
    known = {leaf.field_path for leaf in plan.leaves}
    return [r for r in rules if not r.optional or all(p in known for p in r.fields())]


def environment_field(plan: SchemaPlan, schema: type[Any]) -> Leaf | None:
    name = getattr(schema, "secretsafe_environment_field", None)
    candidates = (name,) if name else ENVIRONMENT_FIELDS
    for cand in candidates:
        for leaf in plan.leaves:
            if leaf.path == (cand,):
                return leaf
    return None
