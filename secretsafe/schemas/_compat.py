"""Every private pydantic / pydantic-settings helper secretsafe uses, in one place.

pydantic-settings moves and renames its private helpers between minor versions (2.6 has one
flat ``sources`` module; 2.7 split it into a package; ``_validate_by_name_enabled`` and
``_is_model_or_dataclass`` appeared in 2.16). Nothing outside this module imports a private
name: each helper below is the installed version's own when it has it, else a small
equivalent written here.

``FLOOR`` is the oldest pydantic-settings the schema tests run against (``scripts/test-compat``);
the floor in ``pyproject.toml`` is the same. ``FAST_BUILDER`` says whether the installed
version is one whose ``EnvSettingsSource.explode_env_vars`` the fast builder in
:mod:`secretsafe.schemas.names` mirrors; on any other version pydantic-settings' own source
builds the input (exact, slower).
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import threading
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, get_args, get_origin

import pydantic_settings
from pydantic import AliasChoices, AliasPath, BaseModel
from pydantic.dataclasses import is_pydantic_dataclass

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo
    from pydantic_settings import EnvSettingsSource

__all__ = [
    "FAST_BUILDER",
    "FLOOR",
    "VERSION",
    "EnvNoneType",
    "alias_names",
    "annotation_is_complex",
    "deep_update",
    "environ_override",
    "extract_field_info",
    "field_annotation_and_metadata",
    "is_model_or_dataclass",
    "is_union",
    "literal_has_numeric_enum",
    "model_config_of",
    "model_fields_of",
    "parse_env_vars",
    "stdlib_dataclass_fields",
    "strip_annotated",
    "union_has_strict_types",
    "unwrap_optional",
    "validate_by_alias_enabled",
    "validate_by_name_enabled",
]


def _version(text: str) -> tuple[int, int, int]:
    parts = [int(m.group()) if (m := re.match(r"\d+", p)) else 0 for p in text.split(".")[:3]]
    major, minor, micro = [*parts, 0, 0, 0][:3]
    return major, minor, micro


VERSION = _version(str(pydantic_settings.__version__))
FLOOR = (2, 6, 0)

# Where the private helpers live, newest layout first.
_MODULES = (
    "pydantic_settings.sources.utils",
    "pydantic_settings.sources.base",
    "pydantic_settings.sources.types",
    "pydantic_settings.sources",
)


_found: dict[str, Any] = {}


def _find(name: str) -> Any:
    """The installed version's helper ``name`` (``None`` if it has none), looked up once."""
    try:
        return _found[name]
    except KeyError:
        pass
    found = None
    for module in _MODULES:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        found = getattr(mod, name, None)
        if found is not None:
            break
    _found[name] = found
    return found


# --------------------------------------------------------------------------- annotations
def is_union(annotation: Any) -> bool:
    origin = get_origin(annotation)
    return origin is typing.Union or origin is types.UnionType


def strip_annotated(annotation: Any) -> Any:
    """``Annotated[T, ...]`` -> ``T`` (repeatedly)."""
    while get_origin(annotation) is typing.Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def unwrap_optional(annotation: Any) -> Any:
    """``T | None`` -> ``T``; any other annotation unchanged (pydantic-settings' rule)."""
    if is_union(annotation):
        args = get_args(annotation)
        if len(args) == 2 and type(None) in args:
            return next(a for a in args if a is not type(None))
    return annotation


def is_model_or_dataclass(annotation: Any) -> bool:
    """A pydantic model or pydantic dataclass: what pydantic-settings explodes into fields."""
    return isinstance(annotation, type) and (
        issubclass(annotation, BaseModel) or is_pydantic_dataclass(annotation)
    )


def model_fields_of(model: type[Any]) -> Mapping[str, FieldInfo]:
    """The fields of a pydantic model or pydantic dataclass ({} for anything else)."""
    fields = getattr(model, "__pydantic_fields__", None)
    if fields is None:
        fields = getattr(model, "model_fields", None)
    return fields or {}


def model_config_of(model: Any) -> Mapping[str, Any]:
    config = getattr(model, "model_config", None) or getattr(model, "__pydantic_config__", None)
    return config or {}


def validate_by_alias_enabled(config: Mapping[str, Any]) -> bool:
    return config.get("validate_by_alias") is not False


def validate_by_name_enabled(config: Mapping[str, Any]) -> bool:
    """pydantic's resolution: ``validate_by_name``, else ``populate_by_name``, else on when
    aliases are off (pydantic >= 2.14 no longer writes the resolved value back)."""
    by_name = config.get("validate_by_name")
    if by_name is not None:
        return bool(by_name)
    populate = config.get("populate_by_name")
    if populate is not None:
        return bool(populate)
    return config.get("validate_by_alias") is False


def alias_names(
    name: str, info: FieldInfo, *, by_alias: bool = True, by_name: bool = False
) -> tuple[str, ...]:
    """The input keys pydantic validates a field from: its alias(es) (the first string
    element of an ``AliasPath``), and its name when there is no alias or ``by_name``."""
    if not by_alias or not (info.alias or info.validation_alias):
        return (name,)
    out: list[str] = []
    alias = info.validation_alias if info.validation_alias is not None else info.alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    for choice in choices:
        if isinstance(choice, str):
            out.append(choice)
        elif isinstance(choice, AliasPath) and choice.path and isinstance(choice.path[0], str):
            out.append(choice.path[0])
    if by_name and name not in out:
        out.append(name)
    return tuple(dict.fromkeys(out)) or (name,)


def field_annotation_and_metadata(info: FieldInfo) -> tuple[Any, list[Any]]:
    """A field's annotation without ``Annotated``/``Optional``, and its metadata."""
    found = _find("_get_field_annotation_and_metadata")
    if found is not None:
        return found(info)  # type: ignore[no-any-return]
    return strip_annotated(unwrap_optional(info.annotation)), list(info.metadata)


def literal_has_numeric_enum(annotation: Any) -> bool:
    found = _find("_literal_has_numeric_enum")
    return bool(found(annotation)) if found is not None else False


def union_has_strict_types(annotation: Any) -> bool:
    found = _find("_union_has_strict_types")
    return bool(found(annotation)) if found is not None else False


def annotation_is_complex(annotation: Any, metadata: list[Any], init_state: Any) -> bool:
    found = _find("_annotation_is_complex")
    try:
        return bool(found(annotation, metadata, init_state))
    except TypeError:  # before 2.13: no init_state argument
        return bool(found(annotation, metadata))


# --------------------------------------------------------------------------- sources
def parse_env_vars(
    env: Mapping[str, str | None],
    case_sensitive: bool,
    ignore_empty: bool,
    parse_none_str: str | None,
) -> Mapping[str, Any]:
    found: Callable[..., Mapping[str, Any]] = _find("parse_env_vars")
    return found(env, case_sensitive, ignore_empty, parse_none_str)


def extract_field_info(
    src: EnvSettingsSource,
    info: FieldInfo,
    name: str,
    config: Mapping[str, Any] | None = None,
) -> list[tuple[str, str, bool]]:
    """``(input key, env name, value is complex)`` for each name the source reads a field
    from; the model's own config decides aliases from 2.16 on (older versions take none)."""
    if config is not None:
        try:
            return list(src._extract_field_info(info, name, config))
        except TypeError:
            pass
    return list(src._extract_field_info(info, name))


def _env_none_type() -> type[Any]:
    found = _find("EnvNoneType")

    if found is None:  # pragma: no cover - every supported version has one

        class _Never:
            pass

        return _Never
    return found  # type: ignore[no-any-return]


EnvNoneType: type[Any] = _env_none_type()


def deep_update(mapping: dict[Any, Any], *updates: dict[Any, Any]) -> dict[Any, Any]:
    """pydantic's recursive dict merge (what pydantic-settings merges JSON and nested
    variables with)."""
    updated = mapping.copy()
    for update in updates:
        for k, v in update.items():
            if k in updated and isinstance(updated[k], dict) and isinstance(v, dict):
                updated[k] = deep_update(updated[k], v)
            else:
                updated[k] = v
    return updated


def stdlib_dataclass_fields(model: Any) -> tuple[str, ...]:
    """Field names of a plain (non-pydantic) dataclass, which pydantic validates by name."""
    if isinstance(model, type) and dataclasses.is_dataclass(model):
        return tuple(f.name for f in dataclasses.fields(model))
    return ()


# The fast builder mirrors EnvSettingsSource.explode_env_vars and _coerce_env_val_strict of
# these versions (the differential tests compare the two); elsewhere pydantic-settings' own
# source builds the input.
_FAST_RANGE = ((2, 16, 0), (2, 17, 0))


def _fast_builder_available() -> bool:
    from pydantic_settings import EnvSettingsSource

    needed = ("_coerce_env_val_strict", "_raw_union_is_complex", "_decode_union_value")
    low, high = _FAST_RANGE
    return low <= VERSION < high and all(hasattr(EnvSettingsSource, m) for m in needed)


FAST_BUILDER = _fast_builder_available()


# --------------------------------------------------------------------------- environ hook
_environ: ContextVar[Mapping[str, str] | None] = ContextVar("secretsafe_environ", default=None)
_hook_lock = threading.Lock()
_hooked = False


def _install_environ_hook() -> None:
    """Once per process: ``EnvSettingsSource._load_env_vars`` reads the mapping given to
    :func:`environ_override` in this context instead of ``os.environ`` (and ``os.environ``,
    exactly as before, everywhere else). Sources that override ``_load_env_vars`` (dotenv,
    a user's own) are untouched."""
    global _hooked  # noqa: PLW0603 - a one-time patch, guarded by the lock
    from pydantic_settings import EnvSettingsSource

    with _hook_lock:
        if _hooked:
            return
        original = EnvSettingsSource._load_env_vars

        def _load_env_vars(self: EnvSettingsSource) -> Mapping[str, str | None]:
            env = _environ.get()
            if env is None:
                return original(self)
            return parse_env_vars(
                env, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
            )

        EnvSettingsSource._load_env_vars = _load_env_vars  # type: ignore[method-assign]
        _hooked = True


@contextmanager
def environ_override(env: Mapping[str, str]) -> Iterator[None]:
    """pydantic-settings' environment sources read ``env`` (not ``os.environ``) inside this
    block, in this thread or task only."""
    _install_environ_hook()
    token = _environ.set(env)
    try:
        yield
    finally:
        _environ.reset(token)
