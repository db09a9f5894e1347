"""Distinctive secret values planted in every kind of invalid input appear nowhere: not in
the report (text, JSON), the exception (str, repr, args, chain), logs or CLI output."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from schema_models import PlainSettings, Settings, valid_env

import secretsafe
from secretsafe.cli import main
from secretsafe.schemas import SchemaValidationError, check

C = {
    "short": "CanaryShort1",
    "type": "Canary-port-2x",
    "url": "ftp://canary-url-3:pw@host",
    "choice": "canary-choice-4",
    "weak": "changeme-canary-5",
    "validator": "Canary 6 with spaces in the secret value!!",
    "json": '["canary-json-7"',
    "unknown": "canary-unknown-8",
    "bool": "canary-bool-9",
    "dbpw": "Canary-db-password-10",
}


def planted() -> dict[str, str]:
    env = valid_env()
    env["DATABASE__PASSWORD"] = C["short"]
    env["DATABASE__PORT"] = C["type"]
    env["VAULT__ADDR"] = C["url"]
    env["DATABASE__SSLMODE"] = C["choice"]
    env["AUTH__JWT_SECRET_KEY"] = C["weak"] + "-" * 20
    env["DEBUG"] = C["bool"]
    env["DATABASE__NAME"] = C["unknown"]
    env["ENVIRONMENT"] = "production"
    return env


def planted_plain() -> dict[str, str]:
    env = valid_env()
    env["AUTH__JWT_SECRET_KEY"] = C["validator"]
    env["DATABASE__PASSWORD"] = C["dbpw"]
    env["DATABASE__PORT"] = C["type"]
    env["JWT_SECRET"] = C["unknown"]
    return env


def chain_text(exc: BaseException) -> str:
    out = []
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out += [str(e), repr(e), repr(e.args)]
        stack += [e.__cause__, e.__context__]
    return "\n".join(out)


def assert_clean(text: str) -> None:
    for value in C.values():
        assert value not in text, value
        assert value.strip('["') not in text, value


@pytest.mark.parametrize(("schema", "make"), [(Settings, planted), (PlainSettings, planted_plain)])
def test_no_value_in_reports_exceptions_or_logs(
    schema: type[Any], make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env = make()
    report = check(schema, env)
    assert len(report.errors) >= 3
    assert_clean(report.to_json())
    assert_clean(report.to_text())
    assert_clean(repr(report))
    with caplog.at_level(logging.DEBUG), pytest.raises(SchemaValidationError) as info:
        secretsafe.load(schema, environ=env, unknown="warning")
    assert_clean(chain_text(info.value))
    assert_clean(caplog.text)
    assert info.value.__context__ is None
    assert info.value.__cause__ is None


def test_json_list_value_not_leaked() -> None:
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        hosts: list[str]

    report = check(S, {"HOSTS": C["json"]})
    assert [p.kind for p in report.problems] == ["type"]
    assert_clean(report.to_json())


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_check_output_is_clean(
    fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in planted().items()), encoding="utf-8")
    monkeypatch.chdir(Path(__file__).parent)
    rc = main(["check", "--schema", "schema_models:Settings", "-f", str(env_file), "--format", fmt])
    assert rc == 3
    out, err = capsys.readouterr()
    assert_clean(out + err)
    if fmt == "json":
        assert json.loads(out)["ok"] is False


def test_settings_repr_masks_secrets() -> None:
    s = secretsafe.load(Settings, environ=valid_env())
    text = repr(s) + str(s) + repr(s.database) + f"{s}"
    for v in valid_env().values():
        if "password" in v.lower() or len(v) >= 16:
            assert v not in text
