"""load() and ``check -f`` read sops JSON and YAML files made by the real sops: nested maps
flattened with the model's ``env_nested_delimiter``, validated against a nested model, and
the same settings as the equivalent sops dotenv file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

import secretsafe
from secretsafe.schemas import SchemaValidationError
from secretsafe.schemas.loader import gather
from tests.conftest import AgeKey
from tests.sops.sops_files import (
    CANARY,
    FLAT,
    FLAT_JSON,
    NESTED,
    dotenv_text,
    sops_encrypt,
    yaml_text,
)
from tests.sops.sops_files import sops_files as made_by_sops

SECRETSAFE = str(Path(sys.executable).parent / "secretsafe")


class Options(BaseModel):
    sslmode: str


class Database(BaseModel):
    host: str
    port: int
    password: SecretStr
    replicas: list[str]
    options: Options


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__")

    database: Database
    debug: bool = False
    ratio: float = 1.0


class DottedSettings(AppSettings):
    model_config = SettingsConfigDict(env_nested_delimiter=".")


@pytest.fixture
def sops_files(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> dict[str, Path]:
    return made_by_sops(sops_bin, sops_env, age_key, tmp_path)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_load_validates_a_nested_sops_file(sops_files: dict[str, Path], fmt: str) -> None:
    s = secretsafe.load(AppSettings, env_files=[sops_files[fmt]], environ={})
    assert s.database.host == "db"
    assert s.database.port == 5432
    assert s.database.password.get_secret_value() == CANARY
    assert s.database.replicas == ["r1", "r2"]
    assert s.database.options.sslmode == "require"
    assert s.debug is True
    assert s.ratio == 0.5
    # The variables of the equivalent sops dotenv file, the same instance, and the one
    # pydantic-settings itself builds from those variables.
    dotenv, variables = (
        (sops_files["dotenv"], FLAT) if fmt == "yaml" else (sops_files["dotenv_json"], FLAT_JSON)
    )
    assert gather(AppSettings, env_files=[sops_files[fmt]], environ={})[0] == variables
    flat = secretsafe.load(AppSettings, env_files=[dotenv], environ={})
    assert s.model_dump() == flat.model_dump()
    by_pydantic = AppSettings.model_validate(_pydantic_input(AppSettings, variables))
    assert s.model_dump() == by_pydantic.model_dump()


def _pydantic_input(model: type[BaseSettings], env: dict[str, str]) -> dict[str, Any]:
    """What pydantic-settings itself makes of ``env`` as the process environment."""
    from pydantic_settings import EnvSettingsSource

    source = EnvSettingsSource(model)
    source.env_vars = {k.lower(): v for k, v in env.items()}
    return source()


def test_load_uses_the_model_delimiter(sops_files: dict[str, Path]) -> None:
    s = secretsafe.load(DottedSettings, env_files=[sops_files["yaml"]], environ={})
    assert s.database.options.sslmode == "require"
    assert s.database.password.get_secret_value() == CANARY
    env, sources = gather(DottedSettings, env_files=[sops_files["yaml"]], environ={})
    assert "DATABASE.OPTIONS.SSLMODE" in env
    assert sources["DATABASE.HOST"] == str(sops_files["yaml"])


def test_nested_file_problems_name_the_variable(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> None:
    bad = {"database": {**NESTED["database"], "port": "fivefour", "extra": CANARY}}
    path = sops_encrypt(
        sops_bin, sops_env, age_key, yaml_text(bad), fmt="yaml", dst=tmp_path / "bad.enc.yaml"
    )
    with pytest.raises(SchemaValidationError) as info:
        secretsafe.load(AppSettings, env_files=[path], environ={})
    text = str(info.value)
    assert "DATABASE__PORT" in text
    assert "DATABASE__EXTRA" in text
    assert CANARY not in text
    assert "fivefour" not in text


def test_model_env_file_may_be_a_sops_yaml_file(sops_files: dict[str, Path]) -> None:
    class FromConfig(AppSettings):
        model_config = SettingsConfigDict(
            env_nested_delimiter="__", env_file=str(sops_files["yaml"])
        )

    s = secretsafe.load(FromConfig, environ={})
    assert s.database.password.get_secret_value() == CANARY


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_check_cli_reads_a_nested_sops_file(
    sops_files: dict[str, Path], tmp_path: Path, fmt: str
) -> None:
    (tmp_path / "nested_app_settings.py").write_text(
        "from tests.schemas.test_schema_sops_files import AppSettings\n", encoding="utf-8"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).parents[2])]),
    }
    r = subprocess.run(
        [
            SECRETSAFE,
            "check",
            *("--schema", "nested_app_settings:AppSettings"),
            *("-f", str(sops_files[fmt]), "--no-environ"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert CANARY not in r.stdout + r.stderr


def test_load_reads_a_sops_dotenv_file_whose_plaintext_had_a_bom(
    sops_bin: Path, sops_env: dict[str, str], age_key: AgeKey, tmp_path: Path
) -> None:
    """sops encrypts the BOM with the first key: dropping it on read breaks the MAC."""
    plain = "\ufeff" + dotenv_text(FLAT)
    path = sops_encrypt(
        sops_bin, sops_env, age_key, plain, fmt="dotenv", dst=tmp_path / "bom.env.enc"
    )
    env, _ = gather(AppSettings, env_files=[path], environ={})
    assert env["DATABASE__PASSWORD"] == CANARY
    assert env["\ufeffDATABASE__HOST"] == "db"  # the key as sops decrypts it
