"""Problem messages are rebuilt from the error type, constraint numbers and the schema, never
from pydantic's text (the rule in ``secretsafe.schemas.messages``)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any, Literal, get_args

import pytest
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_core import core_schema

import secretsafe
from secretsafe.cli import main
from secretsafe.schemas import SchemaValidationError, Url, check
from secretsafe.schemas.messages import _TEMPLATES, safe_message

VALUE = "  Zx9-derived-Leak-Qv7  "
PW = "Pw-derived-Leak-4711"


class StripQuoted(secretsafe.Settings):
    api_key: SecretStr

    @field_validator("api_key", mode="before")
    @classmethod
    def known_key(cls, v: str) -> str:
        raise ValueError(f"api key {v.strip()} is not known")


class ListElementQuoted(secretsafe.Settings):
    tokens: list[SecretStr]

    @field_validator("tokens")
    @classmethod
    def first_long(cls, v: list[SecretStr]) -> list[SecretStr]:
        raise ValueError(f"token {v[0].get_secret_value()} is revoked")


class ModelBeforeQuoted(secretsafe.Settings):
    password: SecretStr

    @model_validator(mode="before")
    @classmethod
    def check_all(cls, data: Any) -> Any:
        raise ValueError(f"bad input {str(data.get('password', '')).upper()}")


class ModelAfterQuoted(secretsafe.Settings):
    password: SecretStr

    @model_validator(mode="after")
    def check_all(self) -> ModelAfterQuoted:
        raise ValueError(f"password {self.password.get_secret_value()[::-1]} is reversed")


class Section(BaseModel):
    password: SecretStr
    user: str

    @field_validator("user")
    @classmethod
    def not_password(cls, v: str, info: Any) -> str:
        # A validator of a non-secret field quoting another field's secret.
        raise ValueError(f"user {v} must differ from {info.data['password'].get_secret_value()}")


class OtherFieldQuoted(secretsafe.Settings):
    db: Section


REPROS: list[tuple[type[Any], dict[str, str], list[str]]] = [
    (StripQuoted, {"API_KEY": VALUE}, [VALUE.strip()]),
    (ListElementQuoted, {"TOKENS": json.dumps([PW, "other-token-1"])}, [PW]),
    (ModelBeforeQuoted, {"PASSWORD": PW}, [PW.upper()]),
    (ModelAfterQuoted, {"PASSWORD": PW}, [PW[::-1]]),
    (OtherFieldQuoted, {"DB__PASSWORD": PW, "DB__USER": "app"}, [PW]),
]
IDS = [r[0].__name__ for r in REPROS]


def _module() -> types.ModuleType:
    mod = types.ModuleType("ss_message_repros")
    for schema, _, _ in REPROS:
        setattr(mod, schema.__name__, schema)
    return mod


@pytest.fixture
def repro_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ss_message_repros", _module())


def _assert_clean(text: str, derived: list[str]) -> None:
    for d in derived:
        assert d not in text


@pytest.mark.parametrize(("schema", "env", "derived"), REPROS, ids=IDS)
def test_derived_values_not_in_report_or_exception(
    schema: type[Any], env: dict[str, str], derived: list[str]
) -> None:
    report = check(schema, env)
    assert not report.ok
    _assert_clean(report.to_text() + report.to_json() + repr(report), derived)
    assert all("rejected by a validator (value_error)" in p.message for p in report.errors)
    with pytest.raises(SchemaValidationError) as info:
        secretsafe.load(schema, environ=env)
    exc = info.value
    _assert_clean(str(exc) + repr(exc) + repr(exc.args), derived)


@pytest.mark.usefixtures("repro_module")
@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize(("schema", "env", "derived"), REPROS, ids=IDS)
def test_derived_values_not_in_cli_check(  # noqa: PLR0917 - pytest parameters
    schema: type[Any],
    env: dict[str, str],
    derived: list[str],
    fmt: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    spec = f"ss_message_repros:{schema.__name__}"
    rc = main(["check", "--schema", spec, "-f", str(env_file), "--format", fmt])
    out, err = capsys.readouterr()
    assert rc == 3
    _assert_clean(out + err, derived)
    assert "value_error" in out + err


# --- the rule, over every error type pydantic-core knows ----------------------------------
CANARY = "cAnArY-msg-7f3a"
ALL_TYPES = sorted({*get_args(core_schema.ErrorType), *_TEMPLATES, "my_custom", "x y"})
CTX_KEYS = {k for _, keys in _TEMPLATES.values() for k in keys} | {
    "expected",
    "pattern",
    "schemes",
    "expected_schemes",
    "error",
    "tag",
    "class_name",
}


@pytest.mark.parametrize("etype", ALL_TYPES)
def test_no_error_type_shows_msg_or_string_ctx(etype: str) -> None:
    """Whatever pydantic (or a validator spoofing a built-in type) puts in ``msg`` and
    ``ctx``, the message holds none of it."""
    err = {"type": etype, "msg": f"{CANARY} {CANARY[::-1]}", "ctx": dict.fromkeys(CTX_KEYS, CANARY)}
    for info in (None, SecretStrField.model_fields["value"]):
        text = safe_message(err, info)
        assert CANARY not in text
        assert CANARY[::-1] not in text
        assert text


class SecretStrField(BaseModel):
    value: SecretStr = Field(min_length=3)


NUMBERS: list[tuple[str, dict[str, Any], str]] = [
    ("string_too_short", {"min_length": 8}, "must be at least 8 characters long"),
    ("too_long", {"max_length": 3}, "must have at most 3 items"),
    ("greater_than_equal", {"ge": 1}, "must be greater than or equal to 1"),
    ("less_than", {"lt": 2.5}, "must be less than 2.5"),
    ("secret_too_short", {"min_bytes": 32}, "must be at least 32 bytes long"),
    ("secret_entropy", {"min_entropy": 96.0}, "needs about 96 bits"),
    ("int_parsing", {}, "must be a valid integer"),
    ("missing", {}, "required but not set"),
    ("value_error", {"error": "x"}, "rejected by a validator (value_error)"),
    ("assertion_error", {"error": "x"}, "rejected by a validator (assertion_error)"),
    ("my_rule_failed", {}, "rejected by a validator (my_rule_failed)"),
    ("bad type name!", {}, "rejected by a validator (custom)"),
    ("string_too_short", {"min_length": "8"}, "is not valid (string_too_short)"),
]


@pytest.mark.parametrize(("etype", "ctx", "want"), NUMBERS)
def test_constraint_numbers_are_shown(etype: str, ctx: dict[str, Any], want: str) -> None:
    assert want in safe_message({"type": etype, "msg": CANARY, "ctx": ctx})


class Facts(secretsafe.Settings):
    mode: Literal["a", "b", "c"] = "a"
    code: str = Field("x", pattern=r"^[a-z]+$")
    addr: Url(schemes=("http", "https")) = "http://h"  # type: ignore[valid-type]
    dsn: Url(schemes=("postgres",), secret=True) | None = None  # type: ignore[valid-type]


SCHEMA_FACTS: list[tuple[str, str]] = [
    ("MODE", "must be one of: 'a', 'b' or 'c'"),
    ("CODE", "must match '^[a-z]+$'"),
    ("ADDR", "must be a URL with scheme http, https"),
    ("DSN", "must be a URL with scheme postgres"),
]


@pytest.mark.parametrize(("var", "want"), SCHEMA_FACTS)
def test_choices_pattern_and_schemes_come_from_the_schema(var: str, want: str) -> None:
    bad = {"MODE": "zz", "CODE": "ZZ9", "ADDR": "ftp://h", "DSN": "mysql://u:pw@h/db"}
    report = check(Facts, {var: bad[var]}, unknown="off")
    assert [p.message for p in report.errors] == [want]
