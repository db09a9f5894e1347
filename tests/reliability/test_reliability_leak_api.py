"""Leak suite, public API: every public function and class of ``secretsafe`` and its
sub-packages, driven into failure with the canary in its input, and every text it can produce
searched: the whole exception chain (``str``, ``repr``, ``args``, hints, causes, traceback), the
``repr``/``str`` of what it returns, and the JSON/SARIF/text renderings of reports.

The table is checked for completeness: a public name added to an ``__all__`` without a case here
fails ``test_every_public_name_has_a_case``, so no entry point escapes the canary.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reliability_support import CANARY, Tally, exception_texts, files_containing, private_tmpdir

from secretsafe.errors import SecretsafeError

pytestmark = pytest.mark.reliability

#: Sub-packages whose ``__all__`` is public API.
PUBLIC_MODULES = (
    "secretsafe",
    "secretsafe.schemas",
    "secretsafe.compose",
    "secretsafe.audit",
    "secretsafe.sops",
    "secretsafe.vault",
)

#: Public names that hold no value to leak (data holders, constants, type factories that are
#: exercised through ``load``/``check`` below).
NO_INPUT = {
    "secretsafe.compose.RULES",
    "secretsafe.compose.Loc",
    "secretsafe.compose.Variable",
    "secretsafe.compose.Finding",
    "secretsafe.schemas.Problem",
    "secretsafe.schemas.Port",  # a type, exercised through load/check
    "secretsafe.schemas.rules",
    "secretsafe.sops.BACKENDS",
    "secretsafe.sops.Backend",
    "secretsafe.__version__",
}

SETTINGS_MODULE = """
from pydantic import BaseModel, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

import secretsafe
from secretsafe.schemas import Auth, Database, SecretString, Url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    port: int
    api_key: SecretString(min_bytes=64)
    callback: Url(schemes=["https"], secret=True)
    database: Database
    auth: Auth


class Derived(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    api_key: SecretStr

    @field_validator("api_key", mode="before")
    @classmethod
    def quote(cls, v: str) -> str:
        raise ValueError(f"bad key {v.strip()!r}")


class ModelLevel(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    token: str = ""

    @model_validator(mode="before")
    @classmethod
    def whole(cls, data: object) -> object:
        raise ValueError(f"rejected {data!r}")


class Section(BaseModel):
    host: str = "db"
    password: str = "__CANARY__"
    smtp_pass: str = "__CANARY__"


class Plain(secretsafe.Settings):
    secret_key: str = "__CANARY__"
    jwt_secret_key: str = "__CANARY__"
    aws_secret_access_key: str = "__CANARY__"
    database: Section = Section()
"""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, age_key: Any, other_age_key: Any) -> Path:
    from secretsafe import envfile

    work = tmp_path / "work"
    work.mkdir()
    private_tmpdir(tmp_path / "tmpdir", monkeypatch)
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend(str(work))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("CANARY_VAR", CANARY)
    (work / ".env").write_text(f"API_KEY={CANARY}\nPORT=5432\n", encoding="utf-8")
    envfile.encrypt_file(work / ".env", work / ".env.enc", recipients=[age_key.recipient])
    envfile.encrypt_file(
        work / ".env", work / "foreign.env.enc", recipients=[other_age_key.recipient]
    )
    text = (work / ".env.enc").read_text(encoding="utf-8")
    (work / "tampered.env.enc").write_text(
        text.replace("API_KEY=ENC[AES256_GCM,data:", "API_KEY=ENC[AES256_GCM,data:A", 1),
        encoding="utf-8",
    )
    (work / "bad.env").write_text(f"API_KEY={CANARY}\nBROKEN {CANARY}\n", encoding="utf-8")
    (work / "settings_api.py").write_text(
        SETTINGS_MODULE.replace("__CANARY__", CANARY), encoding="utf-8"
    )
    (work / "compose.yml").write_text(
        "services:\n"
        "  app:\n"
        "    image: example/app:1\n"
        '    env_file: ["${CANARY_VAR}", .env.enc]\n'
        f"    environment:\n      DB_PASSWORD: {CANARY}\n"
        '    labels:\n      secretsafe.schema: "${CANARY_VAR}"\n'
        '  other:\n    extends: {file: "${CANARY_VAR}.yml", service: app}\n',
        encoding="utf-8",
    )
    (work / "broken.yml").write_text(
        f"services:\n  app:\n    environment:\n      K: {CANARY}\n     bad: [{CANARY}\n",
        encoding="utf-8",
    )
    return work


def _cases(work: Path) -> list[tuple[str, str, Callable[[], object]]]:
    """(public name, case label, call). Each call either raises or returns a value whose
    texts are searched."""
    import secretsafe
    from secretsafe import audit, compose, schemas, sops, vault
    from secretsafe.audit import report as audit_report

    w = str(work)
    env_bad = {
        "PORT": CANARY,
        "API_KEY": CANARY,
        "CALLBACK": f"http://user:{CANARY}@host/",
        "DATABASE__PASSWORD": CANARY[:3],
        "DATABASE__HOST": CANARY,
        "DATABASE__PORT": CANARY,
        "AUTH__JWT_SECRET_KEY": "short",
        f"{CANARY}": CANARY,
        "DATABSE__HOST": CANARY,
    }

    def settings(name: str) -> Any:
        return getattr(importlib.import_module("settings_api"), name)

    def audit_all() -> object:
        report = audit.audit(w, history=False)
        return [
            audit_report.to_sarif(report.findings),
            audit_report.to_json(report.to_dict()),
            audit_report.to_text(report.findings, notes=report.notes),
        ]

    def compose_all() -> object:
        project = compose.load_project([work / "compose.yml"], environ=dict(os.environ))
        return [
            compose.compose_findings(project, decrypt=True),
            compose.check_compose(project, services=["app"]).to_dict(),
        ]

    def vault_read(**kw: Any) -> object:
        return vault.VaultSource(path="apps/x", timeout=1, retries=0, **kw).read()

    return [
        # secretsafe
        ("secretsafe.Secret", "repr/str/format", lambda: secretsafe.Secret(CANARY)),
        (
            "secretsafe.SecretValues",
            "repr/str",
            lambda: secretsafe.SecretValues({"API_KEY": CANARY}),
        ),
        (
            "secretsafe.Settings",
            "plain-string secrets in repr",
            lambda: settings("Plain")(),  # noqa: PLW0108 - resolved when called
        ),
        (
            "secretsafe.load",
            "invalid values",
            lambda: secretsafe.load(settings("Settings"), environ=env_bad),
        ),
        (
            "secretsafe.load",
            "derived value in a validator",
            lambda: secretsafe.load(settings("Derived"), environ={"API_KEY": f"  {CANARY}  "}),
        ),
        (
            "secretsafe.load",
            "model validator",
            lambda: secretsafe.load(settings("ModelLevel"), environ={"TOKEN": CANARY}),
        ),
        (
            "secretsafe.load",
            "tampered file",
            lambda: secretsafe.load(settings("Settings"), env_files=[work / "tampered.env.enc"]),
        ),
        (
            "secretsafe.load",
            "broken plaintext file",
            lambda: secretsafe.load(settings("Settings"), env_files=[work / "bad.env"]),
        ),
        (
            "secretsafe.check",
            "invalid values",
            lambda: secretsafe.check(settings("Settings"), env_bad),
        ),
        (
            "secretsafe.check",
            "derived value",
            lambda: secretsafe.check(settings("Derived"), {"API_KEY": f" {CANARY} "}),
        ),
        (
            "secretsafe.check",
            "model validator",
            lambda: secretsafe.check(settings("ModelLevel"), {"TOKEN": CANARY}),
        ),
        (
            "secretsafe.decrypt_file",
            "tampered",
            lambda: secretsafe.decrypt_file(work / "tampered.env.enc"),
        ),
        (
            "secretsafe.decrypt_file",
            "no key",
            lambda: secretsafe.decrypt_file(work / "foreign.env.enc"),
        ),
        ("secretsafe.decrypt_file", "plaintext", lambda: secretsafe.decrypt_file(work / ".env")),
        ("secretsafe.decrypt_file", "ok", lambda: secretsafe.decrypt_file(work / ".env.enc")),
        (
            "secretsafe.encrypt_file",
            "broken line",
            lambda: secretsafe.encrypt_file(work / "bad.env", work / "x.enc"),
        ),
        (
            "secretsafe.encrypt_file",
            "target exists",
            lambda: secretsafe.encrypt_file(work / ".env", work / ".env.enc"),
        ),
        # secretsafe.schemas
        (
            "secretsafe.schemas.load",
            "invalid values",
            lambda: schemas.load(settings("Settings"), environ=env_bad),
        ),
        (
            "secretsafe.schemas.check",
            "invalid values",
            lambda: schemas.check(settings("Settings"), env_bad),
        ),
        (
            "secretsafe.schemas.load_spec",
            "missing class",
            lambda: schemas.load_spec("settings_api:Nope"),
        ),
        (
            "secretsafe.schemas.CheckReport",
            "raise_for_problems",
            lambda: schemas.check(settings("Settings"), env_bad).raise_for_problems(),
        ),
        (
            "secretsafe.schemas.SchemaValidationError",
            "from load",
            lambda: schemas.load(settings("Derived"), environ={"API_KEY": CANARY}),
        ),
        (
            "secretsafe.schemas.SecretString",
            "too short",
            lambda: secretsafe.load(settings("Settings"), environ={**env_bad, "API_KEY": CANARY}),
        ),
        (
            "secretsafe.schemas.Url",
            "password in url",
            lambda: secretsafe.check(settings("Settings"), env_bad),
        ),
        (
            "secretsafe.schemas.Database",
            "section",
            lambda: schemas.Database(host="h", user="u", password=CANARY, database="d"),
        ),  # type: ignore[call-arg]
        ("secretsafe.schemas.Auth", "section", lambda: schemas.Auth(jwt_secret_key=CANARY * 2)),  # type: ignore[call-arg]
        (
            "secretsafe.schemas.Redis",
            "section",
            lambda: schemas.Redis(url=f"redis://:{CANARY}@h:6379/0"),
        ),  # type: ignore[call-arg]
        (
            "secretsafe.schemas.SMTP",
            "section",
            lambda: schemas.SMTP(host="h", password=CANARY, from_address="a@b.c"),
        ),  # type: ignore[call-arg]
        (
            "secretsafe.schemas.Vault",
            "section",
            lambda: schemas.Vault(role_id="r", secret_id=CANARY),
        ),  # type: ignore[call-arg]
        (
            "secretsafe.schemas.Settings",
            "plain-string secrets in repr",
            lambda: settings("Plain")(),  # noqa: PLW0108 - resolved when called
        ),
        # secretsafe.compose
        (
            "secretsafe.compose.load_project",
            "broken yaml",
            lambda: compose.load_project([work / "broken.yml"]),
        ),
        (
            "secretsafe.compose.load_project",
            "interpolated paths",
            lambda: compose.load_project([work / "compose.yml"], environ=dict(os.environ)),
        ),
        (
            "secretsafe.compose.Project",
            "repr",
            lambda: compose.load_project([work / "compose.yml"], environ=dict(os.environ)),
        ),
        ("secretsafe.compose.compose_findings", "interpolated paths", compose_all),
        ("secretsafe.compose.check_compose", "interpolated paths", compose_all),
        ("secretsafe.compose.ComposeReport", "to_dict", compose_all),
        (
            "secretsafe.compose.service_environment",
            "interpolated env_file",
            lambda: compose.service_environment(
                compose.load_project([work / "compose.yml"], environ=dict(os.environ)), "app"
            ),
        ),
        (
            "secretsafe.compose.Service",
            "repr",
            lambda: compose.load_project([work / "compose.yml"], environ=dict(os.environ)).services,
        ),
        (
            "secretsafe.compose.ServiceEnvironment",
            "repr",
            lambda: compose.service_environment(
                compose.load_project([work / "compose.yml"], environ={}), "app"
            ),
        ),
        # secretsafe.audit
        ("secretsafe.audit.audit", "reports", audit_all),
        ("secretsafe.audit.AuditReport", "reports", audit_all),
        (
            "secretsafe.audit.check_files",
            "plaintext env",
            lambda: audit.check_files([work / ".env", work / "bad.env"]).to_dict(),
        ),
        # secretsafe.sops
        (
            "secretsafe.sops.decrypt_text",
            "tampered",
            lambda: sops.decrypt_text((work / "tampered.env.enc").read_text()),
        ),
        (
            "secretsafe.sops.decrypt_text",
            "plaintext",
            lambda: sops.decrypt_text((work / "bad.env").read_text()),
        ),
        (
            "secretsafe.sops.decrypt_file",
            "tampered",
            lambda: sops.decrypt_file(work / "tampered.env.enc"),
        ),
        (
            "secretsafe.sops.encrypt_values",
            "bad name",
            lambda: sops.encrypt_values({f"{CANARY}=x": CANARY}, work / "y.enc"),
        ),
        (
            "secretsafe.sops.encrypt_values",
            "no recipients",
            lambda: sops.encrypt_values({"K": CANARY}, work / "y.enc", recipients=[CANARY]),
        ),
        (
            "secretsafe.sops.encrypt_items",
            "bad recipient",
            lambda: sops.encrypt_items([], recipients=[f"AGE-SECRET-KEY-1{CANARY.upper()}"]),
        ),
        (
            "secretsafe.sops.is_encrypted",
            "plaintext",
            lambda: sops.is_encrypted(f"API_KEY={CANARY}\n"),
        ),
        ("secretsafe.sops.resolve_backend", "unknown", lambda: sops.resolve_backend("nope")),
        # secretsafe.vault: nothing listens on port 9 of loopback
        (
            "secretsafe.vault.connect",
            "token with a newline",
            lambda: vault.connect(
                addr="http://127.0.0.1:9", token=f"{CANARY}\nX-Evil: 1", retries=0, timeout=1
            ),
        ),
        (
            "secretsafe.vault.connect",
            "unreachable",
            lambda: vault.connect(addr="http://127.0.0.1:9", token=CANARY, retries=0, timeout=1),
        ),
        (
            "secretsafe.vault.VaultClient",
            "repr",
            lambda: vault.VaultClient(
                addr="http://127.0.0.1:9",
                namespace=None,
                retries=0,
                token_source="test",
                token=CANARY,
            ),
        ),
        (
            "secretsafe.vault.AppRole",
            "repr",
            lambda: vault.AppRole(role_id=CANARY, secret_id=CANARY),
        ),
        (
            "secretsafe.vault.VaultSource",
            "unreachable",
            lambda: vault_read(addr="http://127.0.0.1:9", token=CANARY),
        ),
        (
            "secretsafe.vault.translate_errors",
            "server text",
            lambda: _translate(vault.translate_errors),
        ),
    ]


def _translate(translate_errors: Callable[..., Any]) -> None:
    import hvac.exceptions

    with translate_errors("secret/data/x", addr="http://127.0.0.1:9"):
        raise hvac.exceptions.InvalidRequest(
            f"echo of the request: {{'data': {{'API_KEY': '{CANARY}'}}}}", errors=[CANARY]
        )


def _public_names() -> set[str]:
    names = set()
    for mod_name in PUBLIC_MODULES:
        mod = importlib.import_module(mod_name)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue  # error classes are checked through the calls that raise them
            names.add(f"{mod_name}.{name}")
    return names - NO_INPUT


def test_every_public_name_has_a_case(work: Path, tally: Tally) -> None:
    covered = {name for name, _, _ in _cases(work)}
    for name in sorted(_public_names()):
        tally.check(f"{name} covered", None if name in covered else "no canary case")


def test_public_api_never_shows_the_canary(work: Path, tally: Tally) -> None:
    from secretsafe.secret import SecretValues

    tmp = Path(os.environ["TMPDIR"])
    for name, label, call in _cases(work):
        case = f"{name}: {label}"
        try:
            result = call()
        except SecretsafeError as exc:
            leaked = any(CANARY in t for t in exception_texts(exc))
            tally.check(case, "canary in the exception chain" if leaked else None, note="raised")
            continue
        except Exception as exc:
            leaked = any(CANARY in t for t in exception_texts(exc))
            tally.fail(case, f"not a SecretsafeError: {type(exc).__name__}, leak={leaked}")
            continue
        texts = [repr(result), str(result), f"{result}"]
        items = result if isinstance(result, list) else [result]
        for item in items:
            texts += [repr(item), str(item)]
            to_dict = getattr(item, "to_dict", None)
            if callable(to_dict):
                texts.append(json.dumps(to_dict(), default=str))
            if isinstance(item, SecretValues):
                texts.append(repr(list(item)))  # names are shown; values must not be
        leaked = any(CANARY in t for t in texts)
        tally.check(case, "canary in what it returned" if leaked else None, note="returned")
    hits = files_containing(tmp, CANARY)
    tally.check("TMPDIR after every call", f"plaintext in TMPDIR: {hits}" if hits else None)
