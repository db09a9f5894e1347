"""secretsafe.load() / check(): every problem at once, by variable name."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from schema_models import STRONG_DB, STRONG_JWT, PlainSettings, Settings, valid_env

import secretsafe
from secretsafe.errors import ValidationFailed
from secretsafe.schemas import SchemaValidationError, check


def kinds(report: secretsafe.schemas.CheckReport) -> dict[str | None, str]:
    return {p.variable: p.kind for p in report.problems}


def test_load_valid_returns_the_model() -> None:
    s = secretsafe.load(Settings, environ=valid_env())
    assert isinstance(s, Settings)
    assert s.database.host == "db"
    assert s.auth.jwt_secret_key.get_secret_value() == STRONG_JWT
    assert STRONG_JWT not in repr(s)
    assert STRONG_DB not in str(s)


def test_every_problem_at_once_by_variable_name() -> None:
    env = valid_env()
    env["AUTH__JWT_SECRET_KEY"] = "tooshort"  # too short
    env["DATABASE__PORT"] = "fivefour"  # wrong type
    del env["DATABASE__HOST"]  # missing
    env["DATABASE__SSLMODE"] = "sometimes"  # not a choice
    env["VAULT__ADDR"] = "ftp://vault"  # bad scheme
    env["DATABASE__NAME"] = "app"  # unknown
    env["ENVIRONMENT"] = "production"  # rule: vault must be enabled
    report = check(Settings, env)
    assert not report.ok
    got = kinds(report)
    assert got["AUTH__JWT_SECRET_KEY"] == "too_short"
    assert got["DATABASE__PORT"] == "type"
    assert got["DATABASE__HOST"] == "missing"
    assert got["DATABASE__SSLMODE"] == "choice"
    assert got["VAULT__ADDR"] == "url"
    assert got["DATABASE__NAME"] == "unknown"
    assert got["VAULT__ENABLED"] == "rule"
    p = next(p for p in report.problems if p.variable == "AUTH__JWT_SECRET_KEY")
    assert p.field == "auth.jwt_secret_key"
    assert "32 bytes" in p.message
    with pytest.raises(SchemaValidationError) as info:
        secretsafe.load(Settings, environ=env)
    err = info.value
    assert isinstance(err, ValidationFailed)
    assert err.exit_code == 3
    for var in got:
        assert var is not None
        assert var in str(err)
    assert err.__cause__ is None
    assert err.__context__ is None


@pytest.mark.parametrize(
    ("wrong", "suggested"),
    [
        ("DATABASE__NAME", "DATABASE__DATABASE"),
        ("JWT_SECRET", "AUTH__JWT_SECRET_KEY"),
        ("VAULT_ENABLED", "VAULT__ENABLED"),
        ("DATBASE__HOST", "DATABASE__HOST"),
    ],
)
def test_unknown_names_with_did_you_mean(wrong: str, suggested: str) -> None:
    env = {**valid_env(), wrong: "x"}
    report = check(PlainSettings, env)
    (p,) = [p for p in report.problems if p.variable == wrong]
    assert p.kind == "unknown"
    assert p.suggestions[0] == suggested


def test_unrelated_variables_are_left_alone() -> None:
    env = {
        **valid_env(),
        "PATH": "/usr/bin",
        "HOME": "/root",
        "USER": "root",
        "HOSTNAME": "box",
        "POSTGRES_PASSWORD": "other-app",
        "GRAFANA_ADMIN_USER": "admin",
        "LANG": "C.UTF-8",
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
    }
    report = check(PlainSettings, env)
    assert report.ok, report.to_text()
    assert report.problems == ()


def test_unknown_strictness(caplog: pytest.LogCaptureFixture) -> None:
    env = {**valid_env(), "DATABASE__NAME": "app"}
    assert not check(PlainSettings, env).ok
    warn = check(PlainSettings, env, unknown="warning")
    assert warn.ok
    assert warn.warnings[0].variable == "DATABASE__NAME"
    assert check(PlainSettings, env, unknown="off").problems == ()
    with caplog.at_level(logging.WARNING, logger="secretsafe.schemas"):
        secretsafe.load(PlainSettings, environ=env, unknown="warning")
    assert "DATABASE__NAME" in caplog.text


def test_rules_are_reported_together_with_field_errors() -> None:
    # pydantic runs the after-validator only when every field is valid; the rule here is
    # reported in the same run as the field error.
    env = {**valid_env(), "ENVIRONMENT": "production", "DATABASE__PORT": "x"}
    report = check(PlainSettings, env)
    assert kinds(report) == {"DATABASE__PORT": "type", "VAULT__ENABLED": "rule"}


def test_custom_cross_field_rule() -> None:
    env = {**valid_env(), "DEBUG": "true", "VAULT__ENABLED": "true", "DATABASE__PORT": "x"}
    report = check(Settings, env)
    msgs = [p.message for p in report.problems if p.kind == "rule"]
    assert msgs == ["debug must be off when Vault is enabled"]


def test_production_rules_debug_and_default_secrets() -> None:
    env = {**valid_env(), "ENVIRONMENT": "prod", "DEBUG": "1", "VAULT__ENABLED": "true"}
    env["DATABASE__PASSWORD"] = "changeme"
    report = check(PlainSettings, env)
    got = kinds(report)
    assert got["DEBUG"] == "rule"
    assert got["DATABASE__PASSWORD"] in ("too_short", "rule")
    assert check(PlainSettings, env, environment="development").ok is False  # still too short
    env["DATABASE__PASSWORD"] = "changeme-changeme"
    report = check(PlainSettings, env, environment="production")
    assert {p.variable for p in report.problems if p.kind == "rule"} >= {"DATABASE__PASSWORD"}


def test_weak_secret_rejected_by_type() -> None:
    env = {**valid_env(), "AUTH__JWT_SECRET_KEY": "changeme" * 4}
    report = check(Settings, env)
    assert kinds(report)["AUTH__JWT_SECRET_KEY"] == "weak"


def test_missing_section_lists_each_variable() -> None:
    env = valid_env()
    for k in list(env):
        if k.startswith("DATABASE__"):
            del env[k]
    report = check(PlainSettings, env)
    assert {p.variable for p in report.problems} == {
        "DATABASE__HOST",
        "DATABASE__USER",
        "DATABASE__PASSWORD",
        "DATABASE__DATABASE",
    }


def test_env_prefix_case_and_aliases() -> None:
    from pydantic import AliasChoices, BaseModel, Field
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Sub(BaseModel):
        token: str = Field(validation_alias=AliasChoices("token", "api_token"))

    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__", env_prefix="APP_")
        sub: Sub
        level: int = 1

    ok = secretsafe.load(S, environ={"app_sub__api_token": "t", "APP_LEVEL": "3"})
    assert ok.sub.token == "t"
    assert ok.level == 3
    report = check(S, {"APP_SUB__TOKN": "t", "APP_LEVL": "2"})
    got = kinds(report)
    assert got["APP_SUB__TOKEN"] == "missing"
    assert got["APP_SUB__TOKN"] == "unknown"
    assert got["APP_LEVL"] == "unknown"
    (p,) = [p for p in report.problems if p.variable == "APP_LEVL"]
    assert p.suggestions == ("APP_LEVEL",)


def test_sources_precedence(tmp_path: Path) -> None:
    a = tmp_path / "a.env"
    b = tmp_path / "b.env"
    a.write_text("DATABASE__HOST=from-a\nDATABASE__USER=a\n", encoding="utf-8")
    b.write_text("DATABASE__HOST=from-b\n", encoding="utf-8")

    class FakeVault:
        def read(self) -> dict[str, str]:
            return {"DATABASE__USER": "from-vault", "DATABASE__DATABASE": "v"}

    base = {k: v for k, v in valid_env().items() if k not in ("DATABASE__HOST", "DATABASE__USER")}
    base["DATABASE__DATABASE"] = "from-environ"
    s = secretsafe.load(PlainSettings, env_files=[a, b], vault=FakeVault(), environ=base)
    assert s.database.host == "from-b"  # later file wins
    assert s.database.user == "from-vault"  # vault over files
    assert s.database.database == "from-environ"  # process environment over vault


def test_encrypted_env_file_is_decrypted_in_memory(
    tmp_path: Path, age_key: object, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    import subprocess

    plain = tmp_path / "app.env"
    plain.write_text("".join(f"{k}={v}\n" for k, v in valid_env().items()), encoding="utf-8")
    enc = tmp_path / ".env.enc"
    out = subprocess.run(
        [
            str(sops_bin),
            "--encrypt",
            "--age",
            age_key.recipient,  # type: ignore[attr-defined]
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
            str(plain),
        ],
        env=sops_env,
        capture_output=True,
        check=True,
    ).stdout
    enc.write_bytes(out)
    plain.unlink()
    assert STRONG_JWT.encode() not in out
    s = secretsafe.load(Settings, env_files=[enc], environ={})
    assert s.auth.jwt_secret_key.get_secret_value() == STRONG_JWT
    report = check(Settings, {})
    assert not report.ok
    problems = secretsafe.schemas.loader.gather(Settings, env_files=[enc], environ={})[1]
    assert problems["AUTH__JWT_SECRET_KEY"] == str(enc)


def test_source_is_reported(tmp_path: Path) -> None:
    f = tmp_path / "app.env"
    env = valid_env()
    env["DATABASE__PORT"] = "nope"
    f.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    with pytest.raises(SchemaValidationError) as info:
        secretsafe.load(PlainSettings, env_files=[f], environ={})
    (p,) = info.value.report.problems
    assert p.source == str(f)
    assert p.variable == "DATABASE__PORT"


def test_json_report_is_stable() -> None:
    import json

    env = {**valid_env(), "DATABASE__PORT": "x"}
    doc = json.loads(check(PlainSettings, env, environment="staging").to_json())
    assert doc["version"] == 1
    assert doc["ok"] is False
    assert doc["environment"] == "staging"
    assert doc["counts"] == {"error": 1, "warning": 0}
    assert set(doc["problems"][0]) == {
        "variable",
        "field",
        "kind",
        "severity",
        "message",
        "hint",
        "suggestions",
        "source",
    }


def test_check_accepts_spec_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parent)
    assert check("schema_models:PlainSettings", valid_env()).ok


def test_not_a_settings_class_is_a_usage_error() -> None:
    with pytest.raises(secretsafe.UsageError):
        secretsafe.load(dict, environ={})  # type: ignore[type-var]


def test_import_secretsafe_does_not_import_pydantic() -> None:
    import subprocess
    import sys

    code = (
        "import sys, secretsafe; "
        "assert 'pydantic' not in sys.modules and 'pydantic_settings' not in sys.modules; "
        "secretsafe.load; assert 'pydantic_settings' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
