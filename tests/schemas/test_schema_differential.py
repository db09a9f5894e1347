"""load() builds the same model as pydantic-settings' own BaseSettings() for valid
environments generated at random over nested schemas (aliases, prefix, case rules, lists,
optional sections, JSON sections, unrelated variables)."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

import secretsafe


class Pool(BaseModel):
    size: int = 5
    timeout: float = 1.5


class Database(BaseModel):
    host: str
    port: int = 5432
    password: SecretStr
    options: list[str] = []
    pool: Pool = Pool()


class Auth(BaseModel):
    jwt_secret_key: SecretStr = Field(validation_alias=AliasChoices("jwt_secret_key", "jwt_key"))
    issuer: str = "me"


class Features(BaseModel):
    beta: bool = False
    names: dict[str, int] = {}


def make_schema(prefix: str, case_sensitive: bool) -> type[BaseSettings]:
    class Schema(BaseSettings):
        model_config = SettingsConfigDict(
            env_nested_delimiter="__", env_prefix=prefix, case_sensitive=case_sensitive
        )
        debug: bool = False
        name: str = Field("app", validation_alias="APP_NAME" if case_sensitive else "app_name")
        database: Database
        auth: Auth
        features: Features | None = None
        tags: list[int] = []

    return Schema


SCHEMAS = {(p, c): make_schema(p, c) for p in ("", "MYAPP_") for c in (False, True)}

text = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="\\"),
    min_size=1,
    max_size=12,
)


def _case(draw: Any, name: str, case_sensitive: bool) -> str:
    if case_sensitive:
        return name
    return draw(st.sampled_from([name, name.lower(), name.title()]))


@st.composite
def environments(draw: Any) -> tuple[tuple[str, bool], dict[str, str]]:
    prefix = draw(st.sampled_from(["", "MYAPP_"]))
    cs = draw(st.booleans())
    p = prefix

    def n(name: str) -> str:
        return _case(draw, p + name if not name.startswith("!") else name[1:], cs)

    env: dict[str, str] = {}
    if draw(st.booleans()):
        env[n("debug" if cs else "DEBUG")] = draw(st.sampled_from(["true", "0", "yes", "off"]))
    if draw(st.booleans()):
        env[n("!APP_NAME" if cs else "!app_name")] = draw(text)
    sect = "database" if cs else "DATABASE"
    if draw(st.booleans()):
        # The whole section as JSON, with nested variables on top.
        env[n(sect)] = json.dumps({"host": draw(text), "password": draw(text)})
    else:
        env[n(f"{sect}__host" if cs else f"{sect}__HOST")] = draw(text)
        env[n(f"{sect}__password" if cs else f"{sect}__PASSWORD")] = draw(text)
    if draw(st.booleans()):
        env[n(f"{sect}__port" if cs else f"{sect}__PORT")] = str(draw(st.integers(1, 65535)))
    if draw(st.booleans()):
        env[n(f"{sect}__options" if cs else f"{sect}__OPTIONS")] = json.dumps(
            draw(st.lists(text, max_size=3))
        )
    if draw(st.booleans()):
        env[n(f"{sect}__pool__size" if cs else f"{sect}__POOL__SIZE")] = str(
            draw(st.integers(0, 99))
        )
    auth = "auth" if cs else "AUTH"
    key = draw(st.sampled_from(["jwt_secret_key", "jwt_key"]))
    env[n(f"{auth}__{key}" if cs else f"{auth}__{key.upper()}")] = draw(text)
    if draw(st.booleans()):
        env[n(f"{auth}__issuer" if cs else f"{auth}__ISSUER")] = draw(text)
    if draw(st.booleans()):
        feat = "features" if cs else "FEATURES"
        env[n(f"{feat}__beta" if cs else f"{feat}__BETA")] = draw(st.sampled_from(["1", "false"]))
        for k in draw(st.lists(st.sampled_from(["a", "b"]), max_size=2, unique=True)):
            env[n(f"{feat}__names__{k}")] = str(draw(st.integers(0, 9)))
    if draw(st.booleans()):
        env[n("tags" if cs else "TAGS")] = json.dumps(draw(st.lists(st.integers(0, 9), max_size=3)))
    # Unrelated variables, some sharing a prefix with the schema's names.
    for i in range(draw(st.integers(0, 5))):
        env[f"OTHER_{i}"] = draw(text)
    return (prefix, cs), env


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(environments())
def test_load_matches_pydantic_settings(case: tuple[tuple[str, bool], dict[str, str]]) -> None:
    key, env = case
    schema = SCHEMAS[key]
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)
    try:
        expected = schema()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    got = secretsafe.load(schema, environ=env, unknown="off")
    assert type(got) is schema
    assert got == expected
    assert got.model_fields_set == expected.model_fields_set
    assert got.model_dump(mode="python") == expected.model_dump(mode="python")
