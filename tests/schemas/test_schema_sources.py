"""Models that customise their sources are built by their own sources, exactly as Settings()
builds them, with the environment given to load() in place of os.environ (issue 13, item 3)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
)
from schema_models import environ_as as _environ

import secretsafe
from secretsafe.schemas import SchemaValidationError, check


class EnvOnly(BaseSettings):
    """Sources without init_settings: load()'s values must still come from environ=."""

    name: str = "default"
    port: int = 1

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings,)


def test_sources_without_init_settings_read_the_given_environ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NAME", "from-os-environ")
    got = secretsafe.load(EnvOnly, environ={"NAME": "given", "PORT": "7"})
    assert (got.name, got.port) == ("given", 7)
    got = secretsafe.load(EnvOnly, environ={})
    assert got.name == "default"  # os.environ is not read when environ= is given
    assert os.environ["NAME"] == "from-os-environ"  # and is left as it was


class PairsSource(EnvSettingsSource):
    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        if field_name == "top" and isinstance(value, str):
            return dict(pair.split("=", 1) for pair in value.split(","))
        return super().prepare_field_value(field_name, field, value, value_is_complex)


class WithPairs(BaseSettings):
    top: dict[int, str] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, PairsSource(settings_cls))


def test_custom_prepare_field_value_is_used() -> None:
    env = {"TOP": "1=apple,2=banana"}
    with _environ(env):
        expected = WithPairs()
    got = secretsafe.load(WithPairs, environ=env)
    assert got.top == expected.top == {1: "apple", 2: "banana"}


class FromEarlier(PydanticBaseSettingsSource):
    """Derives a value from what the sources before it produced (current_state)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        host = self.current_state.get("host")
        return {"url": f"http://{host}"} if host else {}


class WithState(BaseSettings):
    host: str = ""
    url: str = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, FromEarlier(settings_cls))


def test_current_state_of_earlier_sources_is_passed_on() -> None:
    env = {"HOST": "db.internal"}
    with _environ(env):
        expected = WithState()
    got = secretsafe.load(WithState, environ=env)
    assert got.url == expected.url == "http://db.internal"


def test_errors_from_custom_sources_are_reported_by_name() -> None:
    report = check(EnvOnly, {"PORT": "not-a-port-Canary-7f3a"})
    (p,) = report.problems
    assert (p.variable, p.kind) == ("PORT", "type")
    with pytest.raises(SchemaValidationError) as info:
        secretsafe.load(EnvOnly, environ={"PORT": "x-Canary-7f3a"})
    assert "Canary-7f3a" not in str(info.value)
