"""``NAME_FILE`` variables (the postgres-image convention): a secret field's value read from
the file a variable names, in load(), check() and ``secretsafe check``; every problem
reported at once, by variable name, never with the file's content."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from schema_models import STRONG_DB, STRONG_JWT, PlainSettings, Settings, valid_env

import secretsafe
from secretsafe.cli import main
from secretsafe.files import MAX_FILE_BYTES
from secretsafe.schemas import SchemaValidationError, check

#: The value kept in files; a planted value no message may show.
FILE_VALUE = "fIlE-cAnArY-" + STRONG_DB


def env_with_file(path: Path | str) -> dict[str, str]:
    env = valid_env()
    del env["DATABASE__PASSWORD"]
    env["DATABASE__PASSWORD_FILE"] = str(path)
    return env


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def problems_of(schema: type[BaseSettings], env: dict[str, str]) -> list[tuple[str | None, str]]:
    return [(p.variable, p.kind) for p in check(schema, env).problems]


@pytest.mark.parametrize("schema", [PlainSettings, Settings], ids=["pydantic", "secretsafe"])
def test_load_reads_the_secret_from_the_file(tmp_path: Path, schema: type[BaseSettings]) -> None:
    f = write(tmp_path / "db_password", FILE_VALUE + "\n")
    s = secretsafe.load(schema, environ=env_with_file(f))
    assert s.database.password.get_secret_value() == FILE_VALUE  # type: ignore[attr-defined]


#: file content -> the value (one trailing newline removed: see field_files' docstring)
NEWLINES = [
    ("v", "v"),
    ("v\n", "v"),
    ("v\r\n", "v"),
    ("v\n\n", "v\n"),
    ("\n", ""),
    ("", ""),
    ("a\nb\n", "a\nb"),
    (" v \n", " v "),
    ("v\r", "v\r"),
]


@pytest.mark.parametrize(("content", "value"), NEWLINES)
def test_exactly_one_trailing_newline_is_removed(tmp_path: Path, content: str, value: str) -> None:
    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        token: SecretStr

    f = write(tmp_path / "token", content)
    s = secretsafe.load(S, environ={"TOKEN_FILE": str(f)})
    assert s.token.get_secret_value() == value


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("content", "value"), NEWLINES)
def test_same_as_the_postgres_entrypoint_up_to_one_newline(
    tmp_path: Path, content: str, value: str
) -> None:
    """The postgres image's ``file_env`` reads ``$(< file)``: the same value whenever the file
    ends with at most one newline; it strips them all, where secretsafe strips one."""
    f = write(tmp_path / "v", content)
    out = subprocess.run(
        ["bash", "-c", 'v="$(< "$1")"; printf %s "$v"', "bash", str(f)],
        capture_output=True,
        check=True,
    ).stdout.decode()
    if content.endswith("\n\n") or content == "\n":
        assert out == value.rstrip("\n")  # bash removes every trailing newline
    elif content.endswith("\r\n"):
        assert out == value + "\r"  # bash keeps the carriage return; secretsafe drops it
    else:
        assert out == value


def test_both_set_is_one_problem_naming_both_with_every_other_problem(tmp_path: Path) -> None:
    f = write(tmp_path / "pw", FILE_VALUE)
    env = env_with_file(f)
    env["DATABASE__PASSWORD"] = STRONG_DB
    env["DATABASE__PORT"] = "not-a-port"
    del env["AUTH__JWT_SECRET_KEY"]
    with pytest.raises(SchemaValidationError) as info:
        secretsafe.load(Settings, environ=env)
    report = info.value.report
    assert sorted((p.variable, p.kind) for p in report.problems) == [
        ("AUTH__JWT_SECRET_KEY", "missing"),
        ("DATABASE__PASSWORD_FILE", "file"),
        ("DATABASE__PORT", "type"),
    ]
    (both,) = [p for p in report.problems if p.kind == "file"]
    assert "DATABASE__PASSWORD_FILE and DATABASE__PASSWORD are both set" in both.message
    assert "exclusive" in both.message
    assert FILE_VALUE not in str(info.value)
    assert STRONG_DB not in str(info.value)


def test_empty_file_variable_counts_as_not_set() -> None:
    env = valid_env()
    env["DATABASE__PASSWORD_FILE"] = ""
    assert check(Settings, env).ok  # as file_env: `[ "${!fileVar:-}" ]`
    del env["DATABASE__PASSWORD"]
    assert problems_of(Settings, env) == [("DATABASE__PASSWORD", "missing")]


def test_empty_variable_and_a_file_use_the_file(tmp_path: Path) -> None:
    f = write(tmp_path / "pw", FILE_VALUE)
    env = env_with_file(f)
    env["DATABASE__PASSWORD"] = ""
    s = secretsafe.load(Settings, environ=env)
    assert s.database.password.get_secret_value() == FILE_VALUE


def _fifo(tmp_path: Path) -> Path:
    p = tmp_path / "fifo"
    os.mkfifo(p)
    return p


def _big(tmp_path: Path) -> Path:
    p = tmp_path / "big"
    with p.open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    return p


def _latin1(tmp_path: Path) -> Path:
    p = tmp_path / "latin1"
    p.write_bytes(FILE_VALUE.encode() + b"\xe9\xff")
    return p


def _nul(tmp_path: Path) -> Path:
    p = tmp_path / "nul"
    p.write_bytes(FILE_VALUE.encode() + b"\x00")
    return p


UNREADABLE = {
    "missing": (lambda t: t / "nope", "no such file"),
    "directory": (lambda t: t, "is a directory"),
    "fifo (no hang)": (_fifo, "named pipe"),
    "too large": (_big, "too large"),
    "not UTF-8": (_latin1, "not valid UTF-8"),
    "NUL bytes": (_nul, "NUL"),
    "device": (lambda t: Path("/dev/zero"), "character device"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_file_is_one_problem_naming_the_variable(tmp_path: Path, case: str) -> None:
    make, reason = UNREADABLE[case]
    path = make(tmp_path)
    env = env_with_file(path)
    env["AUTH__JWT_SECRET_KEY"] = "short"  # reported in the same run
    report = check(Settings, env)
    assert sorted((p.variable, p.kind) for p in report.problems) == [
        ("AUTH__JWT_SECRET_KEY", "too_short"),
        ("DATABASE__PASSWORD_FILE", "file"),  # and no "missing" for DATABASE__PASSWORD
    ]
    (p,) = [p for p in report.problems if p.kind == "file"]
    assert p.field == "database.password"
    assert reason in p.message
    text = report.to_json() + report.to_text()
    assert FILE_VALUE not in text
    assert str(path) not in text  # nor the path: it could be a value pasted in the wrong place


def test_case_insensitive_names_and_env_prefix(tmp_path: Path) -> None:
    class Db(BaseModel):
        password: str  # a secret by name, not by type

    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__", env_prefix="APP_")
        db: Db

    f = write(tmp_path / "pw", FILE_VALUE + "\n")
    assert secretsafe.load(S, environ={"app_db__password_file": str(f)}).db.password == FILE_VALUE
    assert secretsafe.load(S, environ={"APP_DB__PASSWORD_FILE": str(f)}).db.password == FILE_VALUE
    # Without the prefix it is not the schema's variable.
    assert problems_of(S, {"DB__PASSWORD_FILE": str(f)}) == [("APP_DB__PASSWORD", "missing")]


def test_deeper_nesting(tmp_path: Path) -> None:
    class Creds(BaseModel):
        api_key: SecretStr

    class Upstream(BaseModel):
        creds: Creds

    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        upstream: Upstream

    f = write(tmp_path / "k", FILE_VALUE)
    s = secretsafe.load(S, environ={"UPSTREAM__CREDS__API_KEY_FILE": str(f)})
    assert s.upstream.creds.api_key.get_secret_value() == FILE_VALUE


def test_only_secret_fields_are_read(tmp_path: Path) -> None:
    f = write(tmp_path / "host", "db.internal")
    env = valid_env()
    env["DATABASE__HOST_FILE"] = str(f)
    report = check(Settings, env)
    assert [(p.variable, p.kind) for p in report.problems] == [("DATABASE__HOST_FILE", "unknown")]


def test_a_field_named_file_is_an_ordinary_field(tmp_path: Path) -> None:
    class S(BaseSettings):
        token: SecretStr = SecretStr("default-token-value")
        token_file: str = "unset"

    s = secretsafe.load(S, environ={"TOKEN_FILE": "/not/read"})
    assert s.token_file == "/not/read"
    assert s.token.get_secret_value() == "default-token-value"


def test_file_variable_from_env_files(tmp_path: Path) -> None:
    """A plaintext env file given to load(): the _FILE name is consumed, not an extra input
    (PlainSettings forbids extras)."""
    pw = write(tmp_path / "pw", FILE_VALUE + "\n")
    dotenv = tmp_path / "app.env"
    dotenv.write_text("".join(f"{k}={v}\n" for k, v in env_with_file(pw).items()), encoding="utf-8")
    s = secretsafe.load(PlainSettings, env_files=[dotenv], environ={})
    assert s.database.password.get_secret_value() == FILE_VALUE
    # The process environment's DATABASE__PASSWORD conflicts with the file's _FILE.
    with pytest.raises(SchemaValidationError) as info:
        secretsafe.load(
            PlainSettings, env_files=[dotenv], environ={"DATABASE__PASSWORD": STRONG_DB}
        )
    (p,) = info.value.report.problems
    assert (p.variable, p.kind, p.source) == ("DATABASE__PASSWORD_FILE", "file", str(dotenv))


def test_file_variable_from_an_encrypted_env_file(
    tmp_path: Path, age_key: object, sops_bin: Path, sops_env: dict[str, str]
) -> None:
    pw = write(tmp_path / "pw", FILE_VALUE)
    plain = tmp_path / "app.env"
    plain.write_text("".join(f"{k}={v}\n" for k, v in env_with_file(pw).items()), encoding="utf-8")
    enc = tmp_path / ".env.enc"
    enc.write_bytes(
        subprocess.run(
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
    )
    plain.unlink()
    s = secretsafe.load(Settings, env_files=[enc], environ={})
    assert s.database.password.get_secret_value() == FILE_VALUE


def test_models_with_their_own_sources(tmp_path: Path) -> None:
    """A model that customises its sources is built by pydantic-settings itself: the value
    from the file reaches it through the environment it reads."""

    class S(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        api_token: SecretStr

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

    f = write(tmp_path / "t", FILE_VALUE + "\n")
    assert secretsafe.load(S, environ={"API_TOKEN_FILE": str(f)}).api_token.get_secret_value() == (
        FILE_VALUE
    )


def test_check_without_reading_files_counts_the_field_as_set() -> None:
    env = env_with_file("/run/secrets/only-in-the-container")
    assert check(Settings, env, read_files=False).ok
    assert [p.kind for p in check(Settings, env).problems] == ["file"]


TOML = """
[schema]
name = "app"

[fields]
db_password = { type = "secret", min_length = 8, reject_weak = false }
smtp_host = { type = "str", default = "localhost" }

[sections.smtp]
pass = { type = "str", secret = true }
"""


def test_declarative_toml_schema(tmp_path: Path) -> None:
    schema = tmp_path / "app.toml"
    schema.write_text(TOML, encoding="utf-8")
    pw = write(tmp_path / "pw", FILE_VALUE + "\n")
    env = {"DB_PASSWORD_FILE": str(pw), "SMTP__PASS_FILE": str(pw)}
    assert check(str(schema), env).ok
    env["SMTP__PASS"] = "x"
    assert [(p.variable, p.kind) for p in check(str(schema), env).problems] == [
        ("SMTP__PASS_FILE", "file")
    ]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    schema = tmp_path / "app.toml"
    schema.write_text(TOML, encoding="utf-8")
    pw = write(tmp_path / "pw", FILE_VALUE + "\n")
    env_file = tmp_path / "app.env"
    env_file.write_text(f"DB_PASSWORD_FILE={pw}\nSMTP__PASS_FILE={pw}\n", encoding="utf-8")
    args = ["check", "--schema", str(schema), "-f", str(env_file), "--no-environ"]
    assert main([*args, "--format", fmt]) == 0
    capsys.readouterr()
    env_file.write_text(
        f"DB_PASSWORD_FILE={tmp_path / 'gone'}\nSMTP__PASS_FILE={pw}\nSMTP__PASS=x\n",
        encoding="utf-8",
    )
    assert main([*args, "--format", fmt]) == 3
    out, err = capsys.readouterr()
    assert FILE_VALUE not in out + err
    if fmt == "json":
        got = {(p["variable"], p["kind"]) for p in json.loads(out)["problems"]}
        assert got == {("DB_PASSWORD_FILE", "file"), ("SMTP__PASS_FILE", "file")}
    else:
        assert "DB_PASSWORD_FILE" in out + err
        assert "SMTP__PASS_FILE" in out + err


def test_jwt_from_file_is_validated_like_any_value(tmp_path: Path) -> None:
    short = write(tmp_path / "jwt", "short\n")
    env = valid_env()
    del env["AUTH__JWT_SECRET_KEY"]
    env["AUTH__JWT_SECRET_KEY_FILE"] = str(short)
    report = check(Settings, env)
    ((var, kind),) = [(p.variable, p.kind) for p in report.problems]
    assert (var, kind) == ("AUTH__JWT_SECRET_KEY", "too_short")
    write(short, STRONG_JWT + "\n")
    assert check(Settings, env).ok
