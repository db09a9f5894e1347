"""Each gap of plain pydantic-settings, reproduced, and secretsafe catching it."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from schema_models import PlainSettings, valid_env

from secretsafe.schemas import check

CANARY = "Canary-7f3a9c-DO-NOT-LEAK-xyz"


def _apply(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)


def test_gap_unknown_nested_name_is_silently_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**valid_env(), "DATABASE__NAME": "other"}  # a wrong name next to the right one
    _apply(monkeypatch, env)
    s = PlainSettings()  # pydantic-settings: fine, DATABASE__NAME is ignored without a word
    assert s.database.database == "app"
    report = check(PlainSettings, env)
    (p,) = report.problems
    assert (p.variable, p.kind, p.suggestions[0]) == (
        "DATABASE__NAME",
        "unknown",
        "DATABASE__DATABASE",
    )


def test_gap_wrong_name_only_says_field_required(monkeypatch: pytest.MonkeyPatch) -> None:
    env = valid_env()
    env["JWT_SECRET"] = env.pop("AUTH__JWT_SECRET_KEY")
    _apply(monkeypatch, env)
    with pytest.raises(ValidationError) as info:
        PlainSettings()
    assert "JWT_SECRET" not in str(info.value)  # no hint that the variable has the wrong name
    report = check(PlainSettings, env)
    by_var = {p.variable: p for p in report.problems}
    assert by_var["AUTH__JWT_SECRET_KEY"].kind == "missing"
    assert by_var["JWT_SECRET"].suggestions == ("AUTH__JWT_SECRET_KEY",)


def test_gap_typo_in_prefix_falls_back_to_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="APP_")
        level: int = 1

    _apply(monkeypatch, {"APPP_LEVEL": "3"})
    assert S().level == 1  # silently the default
    (p,) = check(S, {"APPP_LEVEL": "3"}).problems
    assert p.kind == "unknown"
    assert p.suggestions == ("APP_LEVEL",)


def test_gap_validation_error_holds_values_even_when_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__", hide_input_in_errors=True)
        port: int

    _apply(monkeypatch, {"PORT": CANARY})
    with pytest.raises(ValidationError) as info:
        S()
    assert CANARY not in str(info.value)  # hidden in the text...
    assert info.value.errors()[0]["input"] == CANARY  # ...but not in errors()
    assert CANARY in info.value.json()  # ...nor in json()
    report = check(S, {"PORT": CANARY})
    assert CANARY not in report.to_json()
    assert CANARY not in report.to_text()


def test_gap_default_validation_error_prints_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    env = valid_env()
    env["AUTH__JWT_SECRET_KEY"] = CANARY + " with space"  # the model's validator quotes it
    _apply(monkeypatch, env)
    with pytest.raises(ValidationError) as info:
        PlainSettings()
    assert CANARY in str(info.value)
    report = check(PlainSettings, env)
    assert report.problems[0].variable == "AUTH__JWT_SECRET_KEY"
    assert CANARY not in report.to_json()
    assert CANARY not in report.to_text()


def test_gap_cross_field_rule_runs_only_after_fields_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {**valid_env(), "ENVIRONMENT": "production", "DATABASE__PORT": "x"}
    _apply(monkeypatch, env)
    with pytest.raises(ValidationError) as info:
        PlainSettings()
    assert [e["loc"] for e in info.value.errors()] == [("database", "port")]  # no vault error
    report = check(PlainSettings, env)
    assert {(p.variable, p.kind) for p in report.problems} == {
        ("DATABASE__PORT", "type"),
        ("VAULT__ENABLED", "rule"),
    }


def test_json_report_never_has_input_keys() -> None:
    env = {**valid_env(), "DATABASE__PORT": CANARY}
    doc = json.loads(check(PlainSettings, env).to_json())
    assert all("input" not in p and "ctx" not in p for p in doc["problems"])
