"""Canaries for the channels of load()/check() added by issue 13: keys inside JSON values in
error locations, settings sources' parse errors, dotenv extras, the Vault switch."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from reliability_support import CANARY, Tally, exception_texts

import secretsafe
from secretsafe.errors import SecretsafeError
from secretsafe.schemas import check


class Item(BaseModel):
    name: str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int = 0


class Shapes(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="forbid")
    d: dict[str, Item] = {}
    items: list[Item] = []
    strict: Strict = Strict()


class Failing(EnvSettingsSource):
    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        if value is not None:
            raise ValueError(f"cannot parse {value}")
        return value


class Custom(BaseSettings):
    token: str = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (Failing(settings_cls),)


CASES: dict[str, tuple[type[BaseSettings], dict[str, str]]] = {
    "json key of a dict entry": (Shapes, {"D": json.dumps({CANARY: {}})}),
    "json key inside a list item": (Shapes, {"ITEMS": json.dumps([{CANARY: 1}])}),
    "json key of a strict section": (Shapes, {"STRICT": json.dumps({CANARY: 1})}),
    "json value of a list": (Shapes, {"ITEMS": json.dumps([CANARY])}),
    "bad json": (Shapes, {"items": "[" + CANARY}),
    "custom source parse error": (Custom, {"TOKEN": CANARY}),
}


def _leaks(texts: list[str]) -> bool:
    return any(CANARY in t for t in texts)


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_canary_in_reports_or_errors(name: str, tally: Tally) -> None:
    schema, env = CASES[name]
    report = check(schema, env)
    tally.check(
        f"{name}: report",
        "canary in the report" if _leaks([report.to_text(), report.to_json()]) else None,
        note="check runs",
    )
    try:
        secretsafe.load(schema, environ=env)
    except SecretsafeError as exc:
        tally.check(
            f"{name}: raised",
            "canary in the error" if _leaks(exception_texts(exc)) else None,
            note="raised",
        )
    else:
        tally.fail(f"{name}: raised", "expected a validation failure")
    tally.assert_clean()


def test_dotenv_extras_never_echo_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tally: Tally
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.env").write_text(f"OTHER={CANARY}\n")

    class S(BaseSettings):
        model_config = SettingsConfigDict(env_file="app.env")
        name: str = ""

    try:
        secretsafe.load(S, environ={})
    except SecretsafeError as exc:
        tally.check(
            "dotenv extra under extra=forbid",
            "canary in the error" if _leaks(exception_texts(exc)) else None,
            note="raised",
        )
    else:
        tally.fail("dotenv extra under extra=forbid", "expected a validation failure")
    assert os.environ.get("OTHER") is None
    tally.assert_clean()
