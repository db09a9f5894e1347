"""load() as a drop-in for Settings(): error names people can set, memory, and the standard
variables of Vault/Redis/database clients (issue 13)."""

from __future__ import annotations

import gc
import weakref

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

import secretsafe
from secretsafe.schemas import Redis, Vault, check


# --------------------------------------------------------------------------- error names
class Item(BaseModel):
    name: str


class Holder(BaseModel):
    items: list[Item] = []


class WithLists(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__")
    items: list[Item] = []
    holder: Holder = Holder()
    tags: list[str] = []


@pytest.mark.parametrize(
    ("env", "variable", "field"),
    [
        ({"ITEMS": '[{"nam": 1}]'}, "ITEMS", "items[0][name]"),
        ({"HOLDER__ITEMS": '[{"x": 1}]'}, "HOLDER__ITEMS", "holder.items[0][name]"),
        ({"HOLDER": '{"items": [{}]}'}, "HOLDER__ITEMS", "holder.items[0][name]"),
    ],
)
def test_error_inside_a_list_names_the_variable_that_is_set(
    env: dict[str, str], variable: str, field: str
) -> None:
    (p,) = check(WithLists, env).problems
    assert (p.variable, p.field, p.kind) == (variable, field, "missing")
    assert "__0__" not in (p.hint or "")
    assert p.hint is not None
    assert f"JSON value of {variable}" in p.hint


@pytest.mark.parametrize("name", ["tags", "TAGS", "Tags"])
def test_invalid_json_in_any_spelling_is_one_problem(name: str) -> None:
    (p,) = check(WithLists, {name: "[not json"}).problems
    assert (p.variable, p.kind) == (name, "type")


# --------------------------------------------------------------------------- memory
def _load_a_new_class() -> weakref.ref[type[BaseSettings]]:
    class Section(BaseModel):
        x: int = 1

    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        section: Section = Section()

    secretsafe.load(S, environ={"SECTION__X": "2"})
    check(S, {"SECTION__Y": "2"})
    return weakref.ref(S)


def test_classes_passed_to_load_are_collected() -> None:
    refs = [_load_a_new_class() for _ in range(10)]
    gc.collect()
    assert [r for r in refs if r() is not None] == []


def test_a_subclass_gets_its_own_plan() -> None:
    class Base(BaseSettings):
        a: int = 0

    class Sub(Base):
        b: int = 0

    secretsafe.load(Base, environ={})
    assert secretsafe.load(Sub, environ={"B": "2"}).b == 2
    assert check(Base, {"B": "2"}).ok  # B is not Base's: not in its namespace, no typo


# --------------------------------------------------------------------------- standard vars
class Stack(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__")
    vault: Vault = Vault()
    redis: Redis = Redis()


def test_standard_client_variables_next_to_sections_are_not_unknown() -> None:
    env = {
        "VAULT_ADDR": "http://127.0.0.1:8200",
        "VAULT_TOKEN": "t",
        "VAULT_NAMESPACE": "ns",
        "BAO_ADDR": "http://127.0.0.1:8200",
        "REDIS_URL": "redis://localhost",
        "DATABASE_URL": "postgres://x",
        "PGPASSWORD": "p",
    }
    report = check(Stack, env)
    assert report.problems == ()


def test_other_near_names_still_point_at_the_section_field() -> None:
    (p,) = check(Stack, {"VAULT_ROLE_ID": "r"}).problems
    assert (p.variable, p.kind, p.suggestions[:1]) == (
        "VAULT_ROLE_ID",
        "unknown",
        ("VAULT__ROLE_ID",),
    )
