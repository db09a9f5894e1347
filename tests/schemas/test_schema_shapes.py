"""The unknown-name check follows what pydantic-settings itself reads, for every field shape:
a valid variable is never refused, and a name nothing reads still is.

Each case builds the model with pydantic-settings (``Model()`` over the same environment) and
with ``load()`` (``unknown="error"``): both must give the same values.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Discriminator, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic_settings import BaseSettings, SettingsConfigDict
from schema_models import environ_as as _environ
from typing_extensions import TypedDict

import secretsafe
from secretsafe.schemas import check


def _same_as_pydantic(schema: type[BaseSettings], env: dict[str, str]) -> Any:
    with _environ(env):
        expected = schema()
    got = secretsafe.load(schema, environ=env)  # unknown="error": refuses a false unknown
    assert got.model_dump() == expected.model_dump()
    return got


class Item(BaseModel):
    name: str
    size: int = 1


class Cat(BaseModel):
    pet_type: Literal["cat"]
    color: str = "grey"


class Dog(BaseModel):
    pet_type: Literal["dog"]
    barks: bool = True


@dataclasses.dataclass
class StdSection:
    host: str = "localhost"
    port: int = 1


@pydantic_dataclass
class PydSection:
    level: int = 0


class Limits(TypedDict, total=False):
    cpu: int
    memory: int


def test_dict_of_models() -> None:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        values: dict[str, Item] = {}

    got = _same_as_pydantic(
        S, {"VALUES__A__NAME": "x", "VALUES__b__SIZE": "3", "VALUES__b__NAME": "y"}
    )
    assert got.values["a"].name == "x"


def test_discriminated_union_nested_in_a_union() -> None:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        pet: Annotated[Cat | Dog, Field(discriminator="pet_type")] | None = None

    # What older pydantic-settings read of a union differs; load() follows the installed one.
    _same_as_pydantic(S, {"PET__PET_TYPE": "cat", "PET__COLOR": "black"})
    _same_as_pydantic(S, {"PET__PET_TYPE": "dog", "PET__BARKS": "false"})


def test_stdlib_and_pydantic_dataclass_sections() -> None:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        std: StdSection = StdSection()
        pyd: PydSection = PydSection()

    got = _same_as_pydantic(S, {"STD__HOST": "db", "STD__PORT": "5", "PYD__LEVEL": "2"})
    assert (got.std.host, got.std.port, got.pyd.level) == ("db", 5, 2)


def test_nested_containers_inside_dict_values() -> None:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        groups: dict[str, dict[str, int]] = {}
        limits: dict[str, Limits] = {}

    env = {"GROUPS__A__X": "1", "GROUPS__B__Y": "2", "LIMITS__WEB__cpu": "2"}
    got = _same_as_pydantic(S, env)
    assert got.groups == {"a": {"x": 1}, "b": {"y": 2}}


def test_underscore_delimiter_with_prefix_and_incomplete_model() -> None:
    class Service(BaseModel):
        connector: Connector

    class Connector(BaseModel):
        apiKey: str = "orig"  # noqa: N815 - the shape under test
        endpoint: str = "orig"

    class S(BaseSettings):
        model_config = SettingsConfigDict(
            env_prefix="app_", env_nested_delimiter="_", case_sensitive=False
        )
        service: Service

    env = {"APP_SERVICE_CONNECTOR_apiKey": "k", "APP_SERVICE_CONNECTOR_endpoint": "e"}
    with warnings.catch_warnings():  # newer pydantic-settings warn about the incomplete field
        warnings.simplefilter("ignore")
        with _environ(env):
            expected = S()
        got = secretsafe.load(S, environ=env)
    assert got.model_dump() == expected.model_dump()


def test_extra_allow_section_reads_any_key() -> None:
    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        known: int = 0

    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        open: Open = Open()

    _same_as_pydantic(S, {"OPEN__KNOWN": "1", "OPEN__ANYTHING": "x"})


@pytest.mark.parametrize(
    ("env", "unknown"),
    [
        ({"VALUES__A__NAM": "x", "VALUES__A__NAME": "y"}, "VALUES__A__NAM"),
        ({"PET__PET_TYPE": "cat", "PET__COLOUR": "x"}, "PET__COLOUR"),
        ({"STD__HOSTNAME": "x"}, "STD__HOSTNAME"),
        ({"GROUPS__A__X__Y": "1"}, "GROUPS__A__X__Y"),
        ({"ITEMS__0__NAME": "x"}, "ITEMS__0__NAME"),
    ],
)
def test_names_nothing_reads_are_still_unknown(env: dict[str, str], unknown: str) -> None:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        values: dict[str, Item] = {}
        pet: Annotated[Cat | Dog, Field(discriminator="pet_type")] | None = None
        std: StdSection = StdSection()
        groups: dict[str, dict[str, int]] = {}
        items: list[Item] = []

    flagged = {p.variable for p in check(S, env).problems if p.kind == "unknown"}
    assert unknown in flagged


class BlackCat(BaseModel):
    pet_type: Literal["cat"]
    color: Literal["black"] = "black"
    black_name: str = "custom"


class WhiteCat(BaseModel):
    pet_type: Literal["cat"]
    color: Literal["white"]


def test_discriminated_union_inside_a_discriminated_union() -> None:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        pet: Annotated[
            Annotated[BlackCat | WhiteCat, Discriminator("color")] | Dog | None,
            Discriminator("pet_type"),
        ] = None

    got = _same_as_pydantic(S, {"PET__PET_TYPE": "cat", "PET__COLOR": "white"})
    assert got.pet == WhiteCat(pet_type="cat", color="white")
    got = _same_as_pydantic(
        S, {"PET__PET_TYPE": "cat", "PET__COLOR": "black", "PET__BLACK_NAME": "x"}
    )
    assert got.pet == BlackCat(pet_type="cat", black_name="x")
