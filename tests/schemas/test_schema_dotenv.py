"""A model's own ``env_file`` read as pydantic-settings reads it, and plaintext dotenv
extras following the model's ``extra`` (issue 13, item 2). Each case is compared with
``Model()`` in the same directory and environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

import secretsafe
from secretsafe.errors import SecretsafeError
from secretsafe.schemas import SchemaValidationError


def _both(schema: type[BaseSettings]) -> tuple[Any, Any]:
    """(pydantic-settings' result, load()'s), each an instance or the exception type."""
    try:
        expected: Any = schema()
    except ValidationError:
        expected = ValidationError
    try:
        got: Any = secretsafe.load(schema, environ=dict(os.environ))
    except SchemaValidationError:
        got = ValidationError
    return expected, got


def _model(**config: Any) -> type[BaseSettings]:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__", **config)
        name: str = "default"
        port: int = 1

    return S


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for k in ("NAME", "PORT", "OTHER", "HOST"):
        monkeypatch.delenv(k, raising=False)
    return tmp_path


def test_extras_in_a_model_env_file_follow_extra(here: Path) -> None:
    (here / ".env").write_text("NAME=n\nOTHER=x\n")
    expected, got = _both(_model(env_file=".env"))  # BaseSettings' default: extra="forbid"
    assert expected is got is ValidationError
    with pytest.raises(SchemaValidationError) as info:
        secretsafe.load(_model(env_file=".env"), environ={})
    assert [p.variable for p in info.value.report.problems] == ["OTHER"]

    expected, got = _both(_model(env_file=".env", extra="allow"))
    assert got.model_extra == expected.model_extra == {"other": "x"}
    assert got.name == expected.name == "n"

    expected, got = _both(_model(env_file=".env", extra="ignore"))
    assert got.model_dump() == expected.model_dump() == {"name": "n", "port": 1}


def test_extras_in_env_files_passed_to_load(here: Path) -> None:
    (here / "app.env").write_text("NAME=n\nOTHER=x\n")
    got = secretsafe.load(_model(extra="allow"), env_files=["app.env"], environ={})
    assert got.model_extra == {"other": "x"}
    with pytest.raises(SchemaValidationError):
        secretsafe.load(_model(), env_files=["app.env"], environ={})


def test_env_file_encoding(here: Path) -> None:
    (here / ".env").write_bytes("NAME=caf\xe9\n".encode("latin-1"))
    expected, got = _both(_model(env_file=".env", env_file_encoding="latin-1"))
    assert got.name == expected.name == "caf\xe9"


def test_home_in_env_file_path(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = here / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    (home / "app.env").write_text("PORT=7\n")
    expected, got = _both(_model(env_file="~/app.env"))
    assert got.port == expected.port == 7


def test_missing_model_env_file_is_ignored_but_a_given_one_is_an_error(here: Path) -> None:
    expected, got = _both(_model(env_file="absent.env"))
    assert got.model_dump() == expected.model_dump()
    with pytest.raises(SecretsafeError):
        secretsafe.load(_model(), env_files=["absent.env"], environ={})


def test_interpolation_as_python_dotenv_does_it(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST", "db")
    (here / ".env").write_text("NAME=${HOST}-app\n")
    expected, got = _both(_model(env_file=".env", extra="ignore"))
    assert got.name == expected.name == "db-app"
