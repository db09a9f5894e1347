"""Environment variable names of a settings schema: the name <-> field mapping, a fast builder of
the nested input dict, and detection of unknown names with "did you mean".

How a variable maps to a field is pydantic-settings' own rule (``EnvSettingsSource``): the
field's env name is ``env_prefix + field name`` (or its validation alias / alias choices,
without the prefix), nested fields are joined with ``env_nested_delimiter``, and names are
compared lower-cased unless ``case_sensitive``. :class:`SchemaPlan` computes everything that
depends only on the schema once per class, then :meth:`SchemaPlan.build` routes each variable
to its field in one pass over the environment. pydantic-settings instead scans the whole
environment once per field and re-resolves nested fields for every variable; the result is
the same dict (a differential property test checks it), built several times faster.

Where a schema uses a feature the fast builder does not model, the plan says so
(``exact=False``) and the loader falls back to pydantic-settings' own source code.
"""

from __future__ import annotations

import re
import threading
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args, get_origin

# pydantic is loaded already when this module is (it is imported lazily, by load() and
# check()): module-level imports cost nothing here, and a `from pydantic import ...` in a
# function costs microseconds on every call of the hot paths below.
from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from typing_extensions import is_typeddict

from secretsafe.schemas import _compat as compat

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings, EnvSettingsSource

__all__ = ["WELL_KNOWN_VARS", "JsonValueError", "Leaf", "SchemaPlan", "Unknown", "plan_for"]

# Variables every process has; never treated as typos of a schema's names.
_SYSTEM_VARS = frozenset(
    [
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "PWD",
        "OLDPWD",
        "TERM",
        "LANG",
        "LANGUAGE",
        "HOSTNAME",
        "HOSTTYPE",
        "TMPDIR",
        "TMP",
        "TEMP",
        "TZ",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "MAIL",
        "DISPLAY",
        "SHLVL",
        "COLUMNS",
        "LINES",
        "UID",
        "GID",
        "EUID",
        "PPID",
        "OSTYPE",
        "MACHTYPE",
        "COLORTERM",
        "LS_COLORS",
        "LESSOPEN",
        "LESSCLOSE",
        "SSH_AUTH_SOCK",
        "SSH_AGENT_PID",
        "SSH_CLIENT",
        "SSH_CONNECTION",
        "SSH_TTY",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_CACHE_HOME",
        "XDG_RUNTIME_DIR",
        "XDG_SESSION_ID",
        "XDG_SESSION_TYPE",
        "XDG_DATA_DIRS",
        "XDG_CONFIG_DIRS",
        "DBUS_SESSION_BUS_ADDRESS",
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PYTHONHASHSEED",
        "PIP_NO_CACHE_DIR",
        "NODE_ENV",
        "NODE_OPTIONS",
        "NODE_PATH",
        "NPM_CONFIG_PREFIX",
        "JAVA_HOME",
        "GOPATH",
        "GOROOT",
        "CI",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "LC_ALL",
        "LC_CTYPE",
        "_",
    ]
)

# Variables the standard clients of a stack's services read (the vault/bao CLIs, hvac, sops;
# redis-cli and most Redis clients; libpq and most database drivers). They sit next to a
# VAULT/REDIS/DATABASE section legitimately, so they are never reported as misspellings of its
# fields; any other near name (VAULT_ROLE_ID) still is, with the section's field suggested.
WELL_KNOWN_VARS = frozenset(
    [
        *(
            f"{tool}_{name}"
            for tool in ("VAULT", "BAO")
            for name in (
                "ADDR",
                "TOKEN",
                "NAMESPACE",
                "CACERT",
                "CAPATH",
                "CLIENT_CERT",
                "CLIENT_KEY",
                "SKIP_VERIFY",
                "TLS_SERVER_NAME",
                "FORMAT",
                "AGENT_ADDR",
                "CLIENT_TIMEOUT",
                "MAX_RETRIES",
            )
        ),
        "REDIS_URL",
        "REDISCLI_AUTH",
        "DATABASE_URL",
        *(
            f"PG{name}"
            for name in (
                "HOST",
                "HOSTADDR",
                "PORT",
                "USER",
                "PASSWORD",
                "PASSFILE",
                "DATABASE",
                "SSLMODE",
                "SSLROOTCERT",
                "APPNAME",
                "CONNECT_TIMEOUT",
                "OPTIONS",
                "SERVICE",
            )
        ),
    ]
)

_NEVER_TYPOS = frozenset({n.upper() for n in _SYSTEM_VARS} | WELL_KNOWN_VARS)

# Words people use for the same setting; used only to rank suggestions.
_SYNONYMS: dict[str, frozenset[str]] = {
    "name": frozenset({"database", "db", "dbname", "db_name", "database_name"}),
    "db": frozenset({"database", "dbname", "name"}),
    "dbname": frozenset({"database", "db", "name"}),
    "pass": frozenset({"password"}),
    "passwd": frozenset({"password"}),
    "pwd": frozenset({"password"}),
    "pw": frozenset({"password"}),
    "username": frozenset({"user"}),
    "login": frozenset({"user", "username"}),
    "user": frozenset({"username"}),
    "secret": frozenset({"secret_key", "jwt_secret_key", "key"}),
    "key": frozenset({"secret_key", "api_key"}),
    "uri": frozenset({"url", "dsn"}),
    "dsn": frozenset({"url", "uri"}),
    "url": frozenset({"uri", "dsn", "addr", "address"}),
    "addr": frozenset({"url", "address", "host"}),
    "address": frozenset({"addr", "url", "host"}),
    "hostname": frozenset({"host"}),
    "server": frozenset({"host"}),
    "enable": frozenset({"enabled"}),
    "on": frozenset({"enabled"}),
    "ttl": frozenset({"expires", "expiry", "lifetime"}),
}


class JsonValueError(ValueError):
    """A variable that must hold JSON (a list, a dict, a whole section) does not.

    Carries the variable name only: ``json.JSONDecodeError.doc`` would hold the value.
    """

    def __init__(self, variable: str, keys: tuple[str, ...]) -> None:
        super().__init__(variable)
        self.variable = variable
        self.keys = keys


@dataclass(frozen=True, slots=True)
class Leaf:
    """One settable variable of the schema (a scalar or JSON-valued field)."""

    variable: str  # canonical name as documented, e.g. AUTH__JWT_SECRET_KEY
    path: tuple[str, ...]  # attribute names from the root, e.g. ("auth", "jwt_secret_key")
    keys: tuple[str, ...]  # input keys (aliases) pydantic uses in error locations
    info: FieldInfo = field(repr=False)
    secret: bool
    section: tuple[str, ...]  # the variable's parent, e.g. ("AUTH",)

    @property
    def field_path(self) -> str:
        return ".".join(self.path)

    @property
    def required(self) -> bool:
        return self.info.is_required()


@dataclass(frozen=True, slots=True)
class Unknown:
    """A variable in the schema's namespace that maps to no field."""

    variable: str
    suggestions: tuple[str, ...]
    why: str  # "prefix" | "section" | "similar"


def _unwrap(annotation: Any) -> Any:
    return compat.strip_annotated(compat.unwrap_optional(annotation))


def _model_members(annotation: Any) -> list[type[Any]]:
    """The pydantic models (or pydantic dataclasses) a field can hold, through Optional/unions."""
    ann = _unwrap(annotation)
    if compat.is_model_or_dataclass(ann):
        return [ann]
    out: list[type[Any]] = []
    if not compat.is_union(ann):
        # list[Item], dict[str, Item]: one JSON value (or open keys), never a section.
        return out
    for arg in get_args(ann):
        member = compat.strip_annotated(arg)
        if compat.is_model_or_dataclass(member):
            out.append(member)
    return out


def _is_dict(annotation: Any) -> bool:
    ann = _unwrap(annotation)
    origin = get_origin(ann)
    return ann is dict or (isinstance(origin, type) and issubclass(origin, dict))


def _is_secret_annotation(annotation: Any) -> bool:
    stack = [annotation]
    while stack:
        ann = stack.pop()
        if ann in (SecretStr, SecretBytes):
            return True
        if isinstance(ann, type) and issubclass(ann, (SecretStr, SecretBytes)):
            return True
        stack.extend(get_args(ann))
    return False


def is_secret_field(info: FieldInfo) -> bool:
    """A field holds a secret when its type is SecretStr/SecretBytes (possibly Optional) or it
    is marked ``json_schema_extra={"secret": True}``."""
    extra = info.json_schema_extra
    if isinstance(extra, dict) and extra.get("secret") is True:
        return True
    return _is_secret_annotation(info.annotation) or any(
        _is_secret_annotation(m) for m in info.metadata if isinstance(m, type)
    )


def is_secret_leaf(leaf: Leaf) -> bool:
    """A secret by type (SecretStr, SecretString, ``secret=True``) or by name
    (:func:`secretsafe.secret.is_secret_name`: a plain ``password: str`` is one too)."""
    from secretsafe.secret import is_secret_name

    return leaf.secret or is_secret_name(leaf.variable)


def _tokens(name: str) -> tuple[str, ...]:
    return tuple(t for t in re.split(r"[_\-.]+", name.lower()) if t)


_QUIET: Any = None


def _quiet_source_class() -> Any:
    """An ``EnvSettingsSource`` that reads no environment (built once: a class statement
    per schema would cost more than the rest of a small schema's plan)."""
    global _QUIET  # noqa: PLW0603 - a lazily built class, cached
    if _QUIET is None:
        from pydantic_settings import EnvSettingsSource

        class _Quiet(EnvSettingsSource):
            def _load_env_vars(self) -> Mapping[str, str | None]:
                return {}

        _QUIET = _Quiet
    return _QUIET


class _Builder:
    """A pydantic-settings ``EnvSettingsSource`` for this schema, used for its per-field
    decisions (memoised) and as the exact fallback. It never reads ``os.environ`` itself."""

    def __init__(self, schema: type[BaseSettings]) -> None:
        self.src: EnvSettingsSource = _quiet_source_class()(schema)
        self._next: dict[tuple[int, str], Any] = {}
        self._tables: dict[int, dict[str, FieldInfo]] = {}
        self._complex: dict[int, tuple[bool, bool]] = {}
        self._coerce: dict[int, bool] = {}
        self._ci_tables: dict[int, dict[str, tuple[str, Any]]] = {}
        self._unwrapped: dict[int, Any] = {}
        self._keep: list[Any] = []  # keeps memo keys' objects alive (ids stay unique)

    def next_field(self, target: Any, key: str) -> Any:
        memo = (id(target), key)
        try:
            return self._next[memo]
        except KeyError:
            found = self._next_field(target, key)
            self._next[memo] = found
            self._keep.append(target)
            return found

    def _next_field(self, target: Any, key: str) -> Any:
        """``EnvSettingsSource.next_field`` (of the versions the fast builder mirrors, see
        ``compat.FAST_BUILDER``) with one lookup table per model, not a scan of its fields
        (each through ``_extract_field_info``) per variable."""
        if not target:
            return None
        annotation = target.annotation if isinstance(target, FieldInfo) else target
        origin = get_origin(annotation)
        if isinstance(origin, type) and issubclass(origin, dict):
            args = get_args(annotation)
            return args[-1] if args else None
        for member in get_args(annotation):
            found = self._next_field(member, key)
            if found:
                return found
        if annotation is not BaseModel and compat.is_model_or_dataclass(annotation):
            table = self._tables.get(id(annotation))
            if table is None:
                table = self._tables[id(annotation)] = self._table(annotation)  # type: ignore[arg-type]
                self._keep.append(annotation)
            return table.get(key if self.src.case_sensitive else key.lower())
        return None

    def _table(self, model: type[Any]) -> dict[str, FieldInfo]:
        cs = self.src.case_sensitive
        config = compat.model_config_of(model)
        table: dict[str, FieldInfo] = {}
        # The first field (in order) that has the key as its name or one of its env names.
        for name, info in compat.model_fields_of(model).items():
            for _, env_name, _ in compat.extract_field_info(self.src, info, name, config):
                for candidate in (name, env_name):
                    table.setdefault(candidate if cs else candidate.lower(), info)
        return table

    def field_is_complex(self, info: Any) -> tuple[bool, bool]:
        memo = id(info)
        hit = self._complex.get(memo)
        if hit is None:
            hit = self.src._field_is_complex(info)
            self._complex[memo] = hit
            self._keep.append(info)
        return hit

    def needs_coercion(self, info: Any) -> bool:
        """Whether ``_coerce_env_val_strict`` could change a value for this field."""
        memo = id(info)
        hit = self._coerce.get(memo)
        if hit is None:
            hit = False
            if isinstance(info, FieldInfo):
                ann, _ = compat.field_annotation_and_metadata(info)
                hit = bool(self.src.config.get("strict")) or bool(
                    (compat.is_union(ann) and compat.union_has_strict_types(ann))
                    or compat.literal_has_numeric_enum(ann)
                )
            self._coerce[memo] = hit
            self._keep.append(info)
        return hit

    def coerce(self, info: Any, value: Any) -> Any:
        if not self.needs_coercion(info):
            return value
        return self.src._coerce_env_val_strict(info, value)

    def unwrapped(self, info: Any) -> Any:
        memo = id(info)
        try:
            return self._unwrapped[memo]
        except KeyError:
            ann = _unwrap(info.annotation)
            self._unwrapped[memo] = ann
            self._keep.append(info)
            return ann

    def replace_ci(self, info: Any, values: dict[str, Any]) -> dict[str, Any]:
        """``_replace_field_names_case_insensitively`` with a per-model lookup table."""
        ann = self.unwrapped(info)
        if not compat.is_model_or_dataclass(ann):
            return dict(values)
        table = self._ci_tables.get(id(ann))
        if table is None:
            table = {}
            by_alias = compat.validate_by_alias_enabled(compat.model_config_of(ann))
            for name, sub in compat.model_fields_of(ann).items():
                aliases = compat.alias_names(name, sub, by_alias=by_alias)
                for alias in aliases:
                    table.setdefault(alias.lower(), (alias, sub))
            self._ci_tables[id(ann)] = table
            self._keep.append(ann)
        out: dict[str, Any] = {}
        for name, value in values.items():
            hit = table.get(name.lower())
            if hit is None:
                out[name] = value
                continue
            key, sub = hit
            if isinstance(value, dict) and compat.is_model_or_dataclass(self.unwrapped(sub)):
                out[key] = self.replace_ci(sub, value)
            else:
                out[key] = value
        return out


@dataclass(slots=True)
class _Top:
    name: str
    info: FieldInfo
    infos: list[tuple[str, str, bool]]  # (input key, env name, value is complex)
    is_dict: bool = False


class SchemaPlan:
    """Everything about a schema's variable names that does not depend on the environment."""

    def __init__(self, schema: type[BaseSettings]) -> None:
        self.schema = schema
        self._builder = _Builder(schema)
        src = self._builder.src
        self.case_sensitive: bool = bool(src.case_sensitive)
        self.prefix: str = src.env_prefix or ""
        self.delimiter: str | None = src.env_nested_delimiter or None
        self.ignore_empty: bool = bool(src.env_ignore_empty)
        self.parse_none_str: str | None = src.env_parse_none_str
        self._by_name = compat.validate_by_name_enabled(src.config)
        self.exact = compat.FAST_BUILDER and self._fast_builder_applies(schema)

        self._tops: list[_Top] = []
        self._prefix_owner: dict[str, list[tuple[int, str]]] = {}
        for name, info in schema.model_fields.items():
            infos = compat.extract_field_info(src, info, name)
            index = len(self._tops)
            self._tops.append(_Top(name, info, infos, _is_dict(info.annotation)))
            if self.delimiter:
                for _, env_name, _ in infos:
                    self._prefix_owner.setdefault(env_name, []).append(
                        (index, env_name + self.delimiter)
                    )

        self.leaves: list[Leaf] = []
        self.sections: dict[str, tuple[str, ...]] = {}  # normalised section var -> path
        self.known: set[str] = set()
        self.by_keys: dict[tuple[str, ...], Leaf] = {}
        self._walk()
        cfg = schema.model_config
        # pydantic-settings: split(delimiter, (env_nested_max_split or 0) - 1).
        self._maxsplit = int(cfg.get("env_nested_max_split") or 0) - 1
        self._below_memo: dict[tuple[int, str], tuple[Any, ...] | None] = {}
        self._keep: list[Any] = []  # keeps memo keys' objects alive (ids stay unique)
        self._norm_index: dict[str, str] = {}
        self._token_index: dict[str, set[str]] = {}
        for leaf in self.leaves:
            self._norm_index.setdefault(leaf.variable.replace("_", "").lower(), leaf.variable)
            for tok in set(_tokens(leaf.variable)):
                self._token_index.setdefault(tok, set()).add(leaf.variable)
        self._top_leaves = [leaf.variable for leaf in self.leaves if not leaf.section]
        self._top_lengths = {len(v) for v in self._top_leaves}
        self._section_names = {self._display(k): v for k, v in self.sections.items() if len(v) == 1}

    # -- names -------------------------------------------------------------------------
    def norm(self, name: str) -> str:
        return name if self.case_sensitive else name.lower()

    def _display(self, name: str) -> str:
        return name if self.case_sensitive else name.upper()

    @staticmethod
    def _fast_builder_applies(schema: type[BaseSettings]) -> bool:
        from pydantic import AliasPath

        cfg = schema.model_config
        if cfg.get("env_parse_enums") or cfg.get("env_prefix_target", "variable") != "variable":
            return False
        if cfg.get("env_nested_max_split"):
            return False

        def has_alias_path(model: type[Any], seen: set[int]) -> bool:
            if id(model) in seen:
                return False
            seen.add(id(model))
            fields = getattr(model, "__pydantic_fields__", None) or {}
            for info in fields.values():
                alias = info.validation_alias
                choices = getattr(alias, "choices", None)
                if isinstance(alias, AliasPath) or (
                    choices and any(isinstance(c, AliasPath) for c in choices)
                ):
                    return True
                for member in _model_members(info.annotation):
                    if has_alias_path(member, seen):
                        return True
            return False

        return not has_alias_path(schema, set())

    def _walk(self) -> None:
        delim = self.delimiter

        def visit(  # noqa: PLR0917 - a local recursive helper
            info: FieldInfo,
            names: list[str],  # normalised env names of this node (all spellings)
            display: str,
            path: tuple[str, ...],
            keys_variants: Sequence[tuple[str, ...]],
            section: tuple[str, ...],
            depth: int,
        ) -> None:
            members = _model_members(info.annotation) if delim else []
            for n in names:
                self.known.add(n)
            if members and depth < 8:
                self.sections[self.norm(names[0])] = path
                for n in names:
                    self.sections.setdefault(n, path)
                for model in members:
                    config = compat.model_config_of(model)
                    by_alias = compat.validate_by_alias_enabled(config)
                    by_name = compat.validate_by_name_enabled(config)
                    for sub_name, sub in compat.model_fields_of(model).items():
                        aliases = compat.alias_names(
                            sub_name, sub, by_alias=by_alias, by_name=by_name
                        )
                        # A nested field's env names are its name and aliases (what
                        # _extract_field_info gives for it, at a fraction of the cost).
                        segs = {self.norm(sub_name)}
                        segs.update(self.norm(a) for a in aliases)
                        child_names = [n + delim + s for n in names for s in sorted(segs)]  # type: ignore[operator]
                        canonical = aliases[0] if aliases else sub_name
                        child_display = display + delim + self._display(canonical)  # type: ignore[operator]
                        child_keys = [
                            (*kv, a) for kv in keys_variants for a in {*aliases, sub_name}
                        ]
                        visit(
                            sub,
                            child_names,
                            child_display,
                            (*path, sub_name),
                            child_keys,
                            (*section, display),
                            depth + 1,
                        )
                return
            leaf = Leaf(
                variable=display,
                path=path,
                keys=keys_variants[0],
                info=info,
                secret=is_secret_field(info),
                section=section,
            )
            self.leaves.append(leaf)
            for kv in keys_variants:
                self.by_keys.setdefault(kv, leaf)

        for top in self._tops:
            names = [env for _, env, _ in top.infos]
            display = self._display(top.infos[0][1])
            keys = [(k,) for k, _, _ in top.infos]
            if top.name not in {k for (k,) in keys}:
                keys.append((top.name,))
            visit(top.info, names, display, (top.name,), keys, (), 0)

    # -- lookups -------------------------------------------------------------------------
    def leaf_for_loc(self, loc: Iterable[int | str]) -> tuple[Leaf | None, tuple[str, ...]]:
        """The leaf a pydantic error location points at (longest matching prefix), and the
        location's string parts."""
        parts = tuple(str(p) for p in loc)
        for end in range(len(parts), 0, -1):
            leaf = self.by_keys.get(parts[:end])
            if leaf is not None:
                return leaf, parts
        return None, parts

    # -- the fast builder -----------------------------------------------------------------
    def parse_env(
        self, env: Mapping[str, str], normalised: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """pydantic-settings' ``parse_env_vars``; ``normalised`` (normalised name -> name, as
        :meth:`normalise` gives) saves a pass over the environment in the common case."""
        if normalised is not None and not self.ignore_empty and self.parse_none_str is None:
            # parse_env_vars without its two options: names normalised, the last one wins.
            return {n: env[k] for n, k in normalised.items()}
        return dict(
            compat.parse_env_vars(env, self.case_sensitive, self.ignore_empty, self.parse_none_str)
        )

    def normalise(self, env: Iterable[str]) -> dict[str, str]:
        """Normalised name -> the name as spelled in ``env`` (the last spelling wins)."""
        if self.case_sensitive:
            return {k: k for k in env}
        return {k.lower(): k for k in env}

    def build(
        self, env: Mapping[str, str], normalised: Mapping[str, str] | None = None
    ) -> tuple[dict[str, Any], list[JsonValueError]]:
        """The input dict pydantic-settings' EnvSettingsSource would produce for ``env``, and
        the variables whose JSON could not be decoded (pydantic-settings stops at the first,
        with a SettingsError; we report each by name and drop it)."""
        if not self.exact:
            return self._build_reference(env)
        deep_update = compat.deep_update
        EnvNoneType = compat.EnvNoneType  # noqa: N806 - the class, under its own name

        b = self._builder
        src = b.src
        env_vars = self.parse_env(env, normalised)
        delim = self.delimiter
        routed: dict[int, list[tuple[str, Any, list[str]]]] = {}
        if delim:
            owners = self._prefix_owner
            for name, value in env_vars.items():
                pos = name.find(delim)
                if pos < 0:
                    continue
                hits: dict[int, list[str]] = {}
                while pos >= 0:
                    for index, prefix in owners.get(name[:pos], ()):
                        hits.setdefault(index, []).append(prefix)
                    pos = name.find(delim, pos + 1)
                for index, prefixes in hits.items():
                    routed.setdefault(index, []).append((name, value, prefixes))

        errors: list[JsonValueError] = []

        def explode(index: int) -> dict[str, Any]:
            top = self._tops[index]
            order = [env + delim for _, env, _ in top.infos]  # type: ignore[operator]
            is_dict = top.is_dict
            result: dict[str, Any] = {}
            for name, env_val, matched in routed.get(index, ()):
                for prefix in order:  # the first of the field's names that matched
                    if prefix in matched:
                        break
                *keys, last_key = name[len(prefix) :].split(delim)
                env_var: Any = result
                target: Any = top.info
                parent = top.info
                for key in keys:
                    target = b.next_field(target, key)
                    if _is_fieldinfo(target):
                        parent = target
                    if isinstance(env_var, dict):
                        env_var = env_var.setdefault(key, {})
                target = b.next_field(target, last_key)
                if (target or is_dict) and env_val:
                    try:
                        env_val = self._decode_leaf(  # noqa: PLW2901 - as pydantic-settings
                            target, parent, last_key, env_val
                        )
                    except ValueError:
                        errors.append(JsonValueError(name, (top.name, *keys, last_key)))
                        continue
                if isinstance(env_var, dict) and (
                    last_key not in env_var
                    or not isinstance(env_val, EnvNoneType)
                    or env_var[last_key] == {}
                ):
                    env_var[last_key] = b.coerce(target, env_val)
            return result

        data: dict[str, Any] = {}
        for index, top in enumerate(self._tops):
            raw = None
            key = ""
            value_is_complex = False
            for key, env_name, value_is_complex in top.infos:  # noqa: B007 - read after loop
                raw = env_vars.get(env_name)
                if raw is not None:
                    break
            if not (value_is_complex or (self._by_name and key == top.name)):
                pkey, _, pcomplex = top.infos[0]
                if not pcomplex:
                    key = pkey
            is_complex, allow_failure = b.field_is_complex(top.info)
            prepared: Any = None
            if is_complex or value_is_complex:
                if isinstance(raw, EnvNoneType):
                    prepared = raw
                elif raw is None:
                    built = explode(index) if delim else {}
                    prepared = built or None
                else:
                    try:
                        raw = src.decode_complex_value(top.name, top.info, raw)
                    except ValueError:
                        if not allow_failure:
                            errors.append(
                                JsonValueError(self._display(top.infos[0][1]), (top.name,))
                            )
                            continue
                    if isinstance(raw, dict):
                        prepared = deep_update(raw, explode(index) if delim else {})
                    else:
                        prepared = raw
            elif raw is not None:
                prepared = b.coerce(top.info, raw)
            if prepared is None:
                continue
            if self.parse_none_str is not None:
                if isinstance(prepared, dict):
                    prepared = src._replace_env_none_type_values(prepared)
                elif isinstance(prepared, EnvNoneType):
                    prepared = None
            if not self.case_sensitive and isinstance(prepared, dict):
                data[key] = b.replace_ci(top.info, prepared)
            else:
                data[key] = prepared
        return data, errors

    def _decode_leaf(self, target: Any, parent: Any, last_key: str, env_val: Any) -> Any:
        b = self._builder
        src = b.src
        if _is_fieldinfo(target):
            is_complex, allow_failure = b.field_is_complex(target)
        elif target:
            is_complex = compat.annotation_is_complex(target, [], getattr(src, "_init_state", None))
            allow_failure = True
            if not is_complex and src._raw_union_is_complex(target):
                return src._decode_union_value(last_key, parent, env_val)
        else:
            is_complex, allow_failure = True, True
        if is_complex:
            try:
                return src.decode_complex_value(
                    last_key,
                    target if _is_fieldinfo(target) else None,  # type: ignore[arg-type]
                    env_val,
                )
            except ValueError:
                if not allow_failure:
                    raise
        return env_val

    def _build_reference(
        self, env: Mapping[str, str]
    ) -> tuple[dict[str, Any], list[JsonValueError]]:
        """pydantic-settings' own EnvSettingsSource over ``env`` (exact, slower)."""
        from pydantic_settings import EnvSettingsSource, SettingsError

        values = dict(env)

        class _Given(EnvSettingsSource):
            def _load_env_vars(self) -> Mapping[str, str | None]:
                return compat.parse_env_vars(
                    values, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
                )

        try:
            return _Given(self.schema)(), []
        except SettingsError as exc:
            # The message names the field; its cause may hold the value: drop it.
            match = re.search(r'field "([^"]+)"', str(exc))
            name = match.group(1) if match else "?"
        return {}, [JsonValueError(self._display(self.prefix + name), (name,))]

    def dotenv_extras(self, values: Mapping[str, str]) -> dict[str, Any]:
        """What pydantic-settings' ``DotEnvSettingsSource`` adds for ``values`` (a dotenv
        file's) beyond the fields: the variables no field reads, keyed as it keys them."""
        from pydantic_settings import DotEnvSettingsSource, SettingsError

        given = dict(values)

        class _Given(DotEnvSettingsSource):
            def _load_env_vars(self) -> Mapping[str, str | None]:
                return compat.parse_env_vars(
                    given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
                )

        try:
            data = _Given(self.schema, env_file=None)()
        except SettingsError:
            return {}  # a value's bad JSON: the environment source reports it by name
        fields = {k for top in self._tops for k, _, _ in top.infos} | {t.name for t in self._tops}
        return {k: v for k, v in data.items() if k not in fields}

    # -- unknown names ---------------------------------------------------------------------
    def find_unknown(
        self, env: Iterable[str], normalised: Mapping[str, str] | None = None
    ) -> list[Unknown]:
        """Variables that belong to the schema's namespace but map to no field.
        ``normalised``: :meth:`normalise` of ``env``, if already at hand."""
        out: list[Unknown] = []
        norm_prefix = self.norm(self.prefix)
        section_prefixes = (
            tuple(n + self.delimiter for n in self.sections) if self.delimiter else ()
        )
        # This loop sees every variable of the process: keep the common path cheap.
        known = self.known
        delim = self.delimiter
        pairs = (normalised if normalised is not None else self.normalise(env)).items()
        for n, name in pairs:
            if n in known:
                continue
            read = self.reads(n) if delim and delim in n else None
            if read:
                continue
            if norm_prefix and n.startswith(norm_prefix):
                out.append(Unknown(name, self.suggest(name), "prefix"))
            elif read is False or (section_prefixes and n.startswith(section_prefixes)):
                out.append(Unknown(name, self.suggest(name), "section"))
            elif name.upper() not in _NEVER_TYPOS:
                similar = self._similar(name)
                if similar:
                    out.append(Unknown(name, similar, "similar"))
        return out

    def reads(self, name: str) -> bool | None:
        """Whether pydantic-settings would read the (normalised) nested variable ``name``
        into a field: ``EnvSettingsSource.explode_env_vars`` puts every ``TOP<delim>a<delim>b``
        into the input dict at ``top.a.b``; the value reaches a field when each key is a
        field of the model there (a pydantic model or dataclass, a stdlib dataclass, a
        TypedDict), any key of a dict, any member of a union, or anything below a type that
        is not fully known (``Any``, a forward reference, ``extra="allow"``).

        ``None`` when the name is under no field at all."""
        delim = self.delimiter
        if not delim:
            return None
        owned: bool | None = None
        pos = name.find(delim)
        while pos >= 0:
            for index, prefix in self._prefix_owner.get(name[:pos], ()):
                owned = False
                rest = name[len(prefix) :]
                keys = rest.split(delim, self._maxsplit) if rest else []
                if keys and self._accepts(self._tops[index].info.annotation, keys, 0):
                    return True
            pos = name.find(delim, pos + 1)
        return owned

    def _accepts(self, annotation: Any, keys: list[str], depth: int) -> bool:
        if depth == len(keys):
            return True
        below = self._below(annotation, keys[depth])
        if below is None:
            return True
        return any(self._accepts(sub, keys, depth + 1) for sub in below)

    def _below(self, annotation: Any, key: str) -> tuple[Any, ...] | None:
        """The annotations ``key`` leads to under ``annotation``: ``()`` when no field takes
        it, ``None`` when anything is accepted (an open or not fully known type)."""
        memo = (id(annotation), key)
        try:
            return self._below_memo[memo]
        except KeyError:
            pass
        found = _below(annotation, key, self.case_sensitive)
        self._below_memo[memo] = found
        self._keep.append(annotation)
        return found

    def _similar(self, name: str) -> tuple[str, ...]:
        """Declared names ``name`` is probably a misspelling of (empty if unrelated)."""
        upper = name.upper()
        low = name.lower()
        hits: list[tuple[float, str]] = []
        exact = self._norm_index.get(low.replace("_", ""))
        if exact is not None:
            hits.append((1.0, exact))
        index = self._token_index
        toks = low.split("_")
        if "" in toks:
            toks = [t for t in toks if t]
        if len(toks) >= 2 and toks[0] in index and all(t in index for t in toks):
            sets = [index[t] for t in toks]
            if sets:
                common = set.intersection(*sets)
                for var in common:
                    extra = len(_tokens(var)) - len(toks)
                    hits.append((0.9 - 0.02 * extra, var))
        if self.delimiter and self.delimiter in upper:
            head, _, rest = upper.partition(self.delimiter)
            for section in _difflib().get_close_matches(head, self._section_names, n=2, cutoff=0.8):
                hits.extend((0.85 * r, var) for r, var in self._rank(section, rest))
        elif (
            len(upper) >= 4
            and self._top_lengths
            and not self._top_lengths.isdisjoint(range(len(upper) - 2, len(upper) + 3))
        ):
            # Length filter first: this runs for every unrelated variable.
            tops = [v for v in self._top_leaves if abs(len(v) - len(upper)) <= 2]
            for var in _difflib().get_close_matches(upper, tops, n=2, cutoff=0.85):
                hits.append((0.8, var))
        return _best(hits) if hits else ()

    def _rank(self, section_var: str, rest: str) -> list[tuple[float, str]]:
        """Leaves under ``section_var`` ranked by how well their remaining name matches
        ``rest`` (edit similarity, shared words, synonyms)."""
        start = section_var + (self.delimiter or "")
        cands = [leaf.variable for leaf in self.leaves if leaf.variable.startswith(start)]
        words = set(_tokens(rest))
        syn = set().union(*(_SYNONYMS.get(w, frozenset()) for w in words)) if words else set()
        out: list[tuple[float, str]] = []
        for var in cands:
            tail = var[len(start) :]
            score = _difflib().SequenceMatcher(None, rest, tail).ratio()
            tail_l = tail.lower()
            if tail_l in syn:
                score = max(score, 0.9)
            elif words and words <= set(_tokens(tail)):
                score = max(score, 0.8)
            out.append((score, var))
        return out

    def suggest(self, name: str) -> tuple[str, ...]:
        """Closest declared names for a variable already known to be in the namespace."""
        upper = name.upper() if not self.case_sensitive else name
        hits: list[tuple[float, str]] = [(s, v) for s, v in ((1.0, x) for x in self._similar(name))]
        if self.delimiter and self.delimiter in upper:
            section, _, rest = upper.rpartition(self.delimiter)
            if self.norm(section) in self.sections:
                hits.extend(self._rank(section, rest))
        for var in _difflib().get_close_matches(
            upper, [leaf.variable for leaf in self.leaves], 3, 0.6
        ):
            hits.append((0.7, var))
        return _best(hits, cutoff=0.5)


def _best(hits: list[tuple[float, str]], *, cutoff: float = 0.0, n: int = 3) -> tuple[str, ...]:
    best: dict[str, float] = {}
    for score, var in hits:
        if score >= cutoff and score > best.get(var, -1.0):
            best[var] = score
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked:
        return ()
    # Only names about as good as the best one: a long list of weak guesses is noise.
    top = ranked[0][1]
    return tuple(var for var, score in ranked[:n] if score >= top - 0.1)


_CLOSED_ORIGINS = (list, tuple, set, frozenset)


def _below(annotation: Any, key: str, case_sensitive: bool) -> tuple[Any, ...] | None:
    """See :meth:`SchemaPlan._below` (uncached)."""
    ann = compat.strip_annotated(annotation)
    if ann is Any or ann is object or isinstance(ann, (str, typing.ForwardRef, typing.TypeVar)):
        return None
    if compat.is_union(ann):
        out: list[Any] = []
        for member in get_args(ann):
            sub = _below(member, key, case_sensitive)
            if sub is None:
                return None
            out.extend(sub)
        return tuple(out)
    origin = get_origin(ann)
    if ann is dict or (isinstance(origin, type) and issubclass(origin, Mapping)):
        args = get_args(ann)
        return (args[-1],) if args else None
    if origin is typing.Literal or (
        isinstance(origin, type) and issubclass(origin, _CLOSED_ORIGINS)
    ):
        return ()
    want = key if case_sensitive else key.lower()

    def same(name: str) -> bool:
        return (name if case_sensitive else name.lower()) == want

    if compat.is_model_or_dataclass(ann):
        config = compat.model_config_of(ann)
        by_alias = compat.validate_by_alias_enabled(config)
        by_name = compat.validate_by_name_enabled(config)
        hits = tuple(
            info.annotation
            for name, info in compat.model_fields_of(ann).items()
            if same(name)
            or any(
                same(a) for a in compat.alias_names(name, info, by_alias=by_alias, by_name=by_name)
            )
        )
        return None if not hits and config.get("extra") == "allow" else hits
    if isinstance(ann, type) and (compat.stdlib_dataclass_fields(ann) or is_typeddict(ann)):
        try:
            hints = typing.get_type_hints(ann)
        except (NameError, TypeError):  # not fully defined: accept rather than refuse
            return None
        names = compat.stdlib_dataclass_fields(ann) or tuple(hints)
        return tuple(hints.get(n, Any) for n in names if same(n))
    if isinstance(ann, type) or origin is not None:
        return ()  # a scalar or a container read as one value (JSON)
    return None


def _difflib() -> Any:
    # Only suggestions need it: not imported on an application's start-up path otherwise.
    import difflib

    return difflib


def _is_fieldinfo(obj: Any) -> bool:
    return isinstance(obj, FieldInfo)


_PLAN_ATTR = "__secretsafe_plan__"
_plans_lock = threading.Lock()


def plan_for(schema: type[BaseSettings]) -> SchemaPlan:
    """The (cached) plan of a schema class.

    Kept in the class's own ``__dict__`` (not inherited by subclasses): the plan refers to
    its class, so a cache keyed by the class, even a weak one, would keep every class passed
    to ``load()`` alive; a class <-> plan cycle is collected with the class."""
    plan = schema.__dict__.get(_PLAN_ATTR)
    if plan is None:
        with _plans_lock:
            plan = schema.__dict__.get(_PLAN_ATTR)
            if plan is None:
                plan = SchemaPlan(schema)
                type.__setattr__(schema, _PLAN_ATTR, plan)
    return plan
