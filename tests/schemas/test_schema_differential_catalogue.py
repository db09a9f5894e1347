"""Differential test over the behaviours pydantic-settings' own tests/test_settings.py covers
(cases written here, in the same spirit: aliases, prefixes, case rules, nesting, JSON values,
unions, discriminators, dataclasses, dicts of models, enums, None strings, empty values,
max split, custom sources, env files).

Each case runs ``Model()`` with the environment in ``os.environ`` and ``load(Model,
environ=env)`` with the unknown-name check on. Agreement is one of:

- same values (``model_dump``, the extras and ``model_fields_set``);
- both raise;
- load() reports unknown names, and removing them does not change pydantic's values
  (a *verified* unknown: pydantic-settings ignored them; only ``model_fields_set`` may
  differ, as pydantic counts a section "set" when any variable under it is);
- a documented rule: a name under an entry of a ``dict[str, Model]`` that no field of the
  model reads (``D__X__V9``) is refused, although pydantic-settings creates the entry ``x``
  from the model's defaults.

The counts are printed (``-s``) for the closing note of issue 13.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args

import pytest
from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic_settings import BaseSettings, SettingsConfigDict
from schema_models import environ_as as _environ

import secretsafe
from secretsafe.schemas import SchemaValidationError


def _pydantic(schema: type[BaseSettings], env: dict[str, str]) -> Any:
    with _environ(env):
        try:
            s = schema()
        except Exception as exc:  # pydantic's ValidationError or SettingsError: "raised"
            return ("raised", type(exc).__name__)
    return _state(s)


def _state(s: BaseSettings) -> Any:
    return (s.model_dump(mode="json"), s.model_extra, sorted(s.model_fields_set))


# --------------------------------------------------------------------------- the shapes
class Sub(BaseModel):
    v1: str = "d1"
    v2: int = 2


class Deep(BaseModel):
    sub: Sub = Sub()
    flag: bool = False


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class IntChoice(enum.IntEnum):
    ONE = 1
    TWO = 2


class A(BaseModel):
    kind: Literal["a"]
    x: int = 0


class B(BaseModel):
    kind: Literal["b"]
    y: str = ""


@dataclasses.dataclass
class StdDc:
    host: str = "h"
    port: int = 1


@pydantic_dataclass
class PydDc:
    level: int = 0


class OpenSub(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int = 0


def _m(fields: dict[str, Any], **config: Any) -> type[BaseSettings]:
    """A settings class with ``fields`` ({name: (annotation, default)}) and ``config``."""
    ns: dict[str, Any] = {"__annotations__": {}}
    for name, (ann, default) in fields.items():
        ns["__annotations__"][name] = ann
        if default is not ...:
            ns[name] = default
    ns["model_config"] = SettingsConfigDict(**config)
    return type("M", (BaseSettings,), ns)


NESTED = {"env_nested_delimiter": "__"}

MODELS: dict[str, Callable[[], type[BaseSettings]]] = {
    "plain": lambda: _m({"apple": (str, "x"), "count": (int, 0), "on": (bool, False)}),
    "required": lambda: _m({"apple": (str, ...)}),
    "prefix": lambda: _m({"apple": (str, "x")}, env_prefix="FOO_"),
    "prefix_cs": lambda: _m({"apple": (str, "x")}, env_prefix="foo_", case_sensitive=True),
    "case_sensitive": lambda: _m({"apple": (str, "x"), "Banana": (str, "y")}, case_sensitive=True),
    "alias": lambda: _m({"apple": (str, Field("x", validation_alias="fruit"))}),
    "alias_choices": lambda: _m(
        {"apple": (str, Field("x", validation_alias=AliasChoices("fruit", "pome")))}
    ),
    "alias_path": lambda: _m({"apple": (str, Field("x", validation_alias=AliasPath("fruits", 0)))}),
    "populate_by_name": lambda: _m(
        {"apple": (str, Field("x", alias="fruit"))}, populate_by_name=True
    ),
    "nested": lambda: _m({"sub": (Sub, Sub()), "top": (int, 0)}, **NESTED),
    "nested_required": lambda: _m({"sub": (Sub, ...)}, **NESTED),
    "deep": lambda: _m({"deep": (Deep, Deep())}, **NESTED),
    "deep_prefix": lambda: _m({"deep": (Deep, Deep())}, env_prefix="APP_", **NESTED),
    "nested_no_delim": lambda: _m({"sub": (Sub, Sub())}),
    "optional_section": lambda: _m({"sub": (Sub | None, None)}, **NESTED),
    "list": lambda: _m({"items": (list[int], []), "names": (set[str], set())}),
    "dict": lambda: _m({"d": (dict[str, int], {})}, **NESTED),
    "dict_models": lambda: _m({"d": (dict[str, Sub], {})}, **NESTED),
    "dict_nested": lambda: _m({"d": (dict[str, dict[str, int]], {})}, **NESTED),
    "list_models": lambda: _m({"items": (list[Sub], [])}, **NESTED),
    "union_scalar": lambda: _m({"u": (int | str, 0)}),
    "union_complex": lambda: _m({"u": (list[int] | dict[str, int] | None, None)}, **NESTED),
    "discriminated": lambda: _m(
        {"pet": (Annotated[A | B, Field(discriminator="kind")] | None, None)}, **NESTED
    ),
    "callable_discriminator": lambda: _m(
        {
            "pet": (
                Annotated[
                    Annotated[A, Tag("a")] | Annotated[B, Tag("b")],
                    Discriminator(
                        # dicts when validating, model instances when dumping
                        lambda v: v.get("kind", "a") if isinstance(v, dict) else v.kind
                    ),
                ]
                | None,
                None,
            )
        },
        **NESTED,
    ),
    "std_dataclass": lambda: _m({"dc": (StdDc, StdDc())}, **NESTED),
    "pyd_dataclass": lambda: _m({"dc": (PydDc, PydDc())}, **NESTED),
    "extra_allow_section": lambda: _m({"o": (OpenSub, OpenSub())}, **NESTED),
    "enum": lambda: _m({"color": (Color, Color.RED), "n": (IntChoice, IntChoice.ONE)}),
    "enum_names": lambda: _m({"color": (Color, Color.RED)}, env_parse_enums=True),
    "literal": lambda: _m({"mode": (Literal["a", "b"], "a"), "n": (Literal[1, 2], 1)}),
    "none_str": lambda: _m(
        {"x": (int | None, 1), "sub": (Sub | None, None)}, env_parse_none_str="null", **NESTED
    ),
    "ignore_empty": lambda: _m({"apple": (str, "x"), "n": (int, 1)}, env_ignore_empty=True),
    "max_split": lambda: _m(
        {"d": (dict[str, str], {}), "sub": (Sub, Sub())},
        env_nested_delimiter="_",
        env_nested_max_split=1,
    ),
    "underscore_delim": lambda: _m({"sub": (Sub, Sub())}, env_nested_delimiter="_"),
    "secret": lambda: _m({"token": (SecretStr, SecretStr("d")), "sub": (Sub, Sub())}, **NESTED),
    "strict": lambda: _m({"n": (int, 0), "b": (bool, False)}, strict=True),
    "forbid_extra": lambda: _m({"sub": (Sub, Sub())}, extra="forbid", **NESTED),
    "ignore_extra": lambda: _m({"sub": (Sub, Sub())}, extra="ignore", **NESTED),
}

ENVS: dict[str, list[dict[str, str]]] = {
    "plain": [
        {},
        {"APPLE": "a", "COUNT": "3", "ON": "yes"},
        {"apple": "lower", "Count": "4"},
        {"COUNT": "nope"},
        {"ON": "maybe"},
        {"APPLES": "typo"},
    ],
    "required": [{}, {"APPLE": "a"}, {"apple": ""}],
    "prefix": [{"FOO_APPLE": "a"}, {"foo_apple": "b"}, {"APPLE": "c"}, {"FOO_APLE": "typo"}],
    "prefix_cs": [{"foo_apple": "a"}, {"FOO_APPLE": "b"}, {"foo_Apple": "c"}],
    "case_sensitive": [{"apple": "a", "Banana": "b"}, {"APPLE": "a"}, {"banana": "b"}],
    "alias": [{"FRUIT": "f"}, {"APPLE": "a"}, {"fruit": "f"}],
    "alias_choices": [{"FRUIT": "f"}, {"POME": "p"}, {"FRUIT": "f", "POME": "p"}],
    "alias_path": [{"FRUITS": '["a", "b"]'}, {"FRUITS": "[]"}, {"FRUITS": "not json"}],
    "populate_by_name": [{"FRUIT": "f"}, {"APPLE": "a"}],
    "nested": [
        {"SUB__V1": "a", "SUB__V2": "5"},
        {"SUB": '{"v1": "j"}'},
        {"SUB": '{"v1": "j"}', "SUB__V2": "9"},
        {"sub__v1": "lower"},
        {"SUB__V3": "typo"},
        {"SUB__V2": "x"},
        {"SUB": "not json"},
        {"TOP": "1", "SUB__V1": "a"},
    ],
    "nested_required": [{}, {"SUB__V1": "a"}, {"SUB": "{}"}],
    "deep": [
        {"DEEP__SUB__V1": "a", "DEEP__FLAG": "1"},
        {"DEEP__SUB": '{"v2": 7}'},
        {"DEEP__SUB__V9": "typo"},
        {"DEEP": '{"sub": {"v1": "j"}}', "DEEP__SUB__V2": "3"},
    ],
    "deep_prefix": [{"APP_DEEP__SUB__V1": "a"}, {"APP_DEEP__FLAG": "true"}, {"DEEP__FLAG": "1"}],
    "nested_no_delim": [{"SUB": '{"v1": "a"}'}, {"SUB__V1": "ignored"}],
    "optional_section": [{}, {"SUB__V1": "a"}, {"SUB": "null"}, {"SUB": '{"v2": 1}'}],
    "list": [{"ITEMS": "[1, 2]"}, {"ITEMS": "[]", "NAMES": '["a"]'}, {"ITEMS": "1,2"}],
    "dict": [{"D": '{"a": 1}'}, {"D__A": "1", "D__B": "2"}, {"D": '{"a": 1}', "D__B": "2"}],
    "dict_models": [
        {"D__X__V1": "a"},
        {"D__X__V1": "a", "D__Y__V2": "3"},
        {"D": '{"x": {"v1": "j"}}'},
        {"D__X__V9": "typo"},
    ],
    "dict_nested": [{"D__A__X": "1"}, {"D__A__X": "1", "D__B__Y": "2"}, {"D__A": '{"x": 1}'}],
    "list_models": [{"ITEMS": '[{"v1": "a"}]'}, {"ITEMS__0__V1": "a"}, {"ITEMS": '[{"v2": "x"}]'}],
    "union_scalar": [{"U": "1"}, {"U": "abc"}],
    "union_complex": [{"U": "[1, 2]"}, {"U": '{"a": 1}'}, {"U__A": "1"}, {"U": "x"}],
    "discriminated": [
        {"PET__KIND": "a", "PET__X": "3"},
        {"PET__KIND": "b", "PET__Y": "s"},
        {"PET": '{"kind": "a"}'},
        {"PET__KIND": "c"},
        {"PET__KIND": "a", "PET__Z": "typo"},
    ],
    "callable_discriminator": [{"PET__KIND": "b", "PET__Y": "s"}, {"PET__X": "1"}],
    "std_dataclass": [
        {"DC__HOST": "x", "DC__PORT": "2"},
        {"DC": '{"host": "j"}'},
        {"DC__NOPE": "1"},
    ],
    "pyd_dataclass": [{"DC__LEVEL": "3"}, {"DC": '{"level": 4}'}],
    "extra_allow_section": [{"O__A": "1", "O__B": "x"}, {"O__ANY": "y"}],
    "enum": [{"COLOR": "blue", "N": "2"}, {"COLOR": "green"}, {"N": "3"}],
    "enum_names": [{"COLOR": "BLUE"}, {"COLOR": "blue"}, {"COLOR": "RED"}],
    "literal": [{"MODE": "b", "N": "2"}, {"MODE": "c"}, {"N": "3"}],
    "none_str": [{"X": "null"}, {"X": "5"}, {"SUB": "null"}, {"SUB__V1": "null"}],
    "ignore_empty": [{"APPLE": "", "N": ""}, {"APPLE": "a"}],
    "max_split": [{"D_A_B": "x"}, {"SUB_V1": "a"}, {"SUB_V2": "3"}],
    "underscore_delim": [{"SUB_V1": "a", "SUB_V2": "4"}, {"SUB_V3": "typo"}],
    "secret": [{"TOKEN": "t", "SUB__V1": "a"}],
    "strict": [{"N": "5", "B": "true"}, {"N": "x"}],
    "forbid_extra": [{"SUB__V1": "a"}, {"SUB__V3": "x"}, {"OTHER": "1"}],
    "ignore_extra": [{"SUB__V1": "a"}, {"SUB__V3": "x"}],
}

CASES = [(name, i) for name in MODELS for i in range(len(ENVS[name]))]
_counts: dict[str, int] = {}


def _outcome(schema: type[BaseSettings], env: dict[str, str]) -> str:
    expected = _pydantic(schema, env)
    try:
        got = secretsafe.load(schema, environ=env)
    except SchemaValidationError as exc:
        if expected[0] == "raised":
            return "both raise"
        unknown = {p.variable for p in exc.report.problems if p.kind == "unknown"}
        others = [p for p in exc.report.problems if p.kind != "unknown"]
        if unknown and not others:
            reduced = _pydantic(schema, {k: v for k, v in env.items() if k not in unknown})
            if reduced[:2] == expected[:2]:
                return "verified unknown"
            if _only_default_entries(schema, expected, reduced):
                return "documented: typo under a dict entry"
            return f"unverified unknown {sorted(unknown)}"
        return f"load raised, pydantic did not: {[p.line() for p in exc.report.problems]}"
    if expected[0] == "raised":
        return "pydantic raised, load did not"
    return (
        "same values" if _state(got) == expected else f"values differ: {_state(got)} != {expected}"
    )


def _only_default_entries(schema: type[BaseSettings], full: Any, reduced: Any) -> bool:
    """``full`` differs from ``reduced`` only by dict entries equal to a model's defaults."""
    if full[0] == "raised" or reduced[0] == "raised" or full[1] != reduced[1]:
        return False
    for name, value in full[0].items():
        if value == reduced[0].get(name):
            continue
        member = get_args(schema.model_fields[name].annotation)
        if not isinstance(value, dict) or len(member) != 2:
            return False
        default = member[1]().model_dump(mode="json")
        extra = {k: v for k, v in value.items() if reduced[0][name].get(k) != v}
        if any(v != default for v in extra.values()):
            return False
    return True


@pytest.mark.parametrize(("model", "index"), CASES)
def test_load_agrees_with_pydantic_settings(model: str, index: int) -> None:
    schema = MODELS[model]()
    env = ENVS[model][index]
    outcome = _outcome(schema, env)
    _counts[outcome] = _counts.get(outcome, 0) + 1
    allowed = (
        "same values",
        "both raise",
        "verified unknown",
        "documented: typo under a dict entry",
    )
    assert outcome in allowed, (model, env, outcome)


def test_zz_report_counts() -> None:
    print(f"\ndifferential catalogue: {len(CASES)} constructions: {json.dumps(_counts)}")
