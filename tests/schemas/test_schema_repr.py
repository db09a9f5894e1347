"""``secretsafe.Settings`` and the building blocks mask, in ``repr``/``str``, every value
whose name ``is_secret_name`` calls secret, at every depth; the name rule itself."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, SecretStr

import secretsafe
from secretsafe.schemas import SMTP, Auth, Database, Vault
from secretsafe.schemas.masking import MaskedRepr
from secretsafe.secret import is_secret_name


class Nested(BaseModel):
    host: str = "db.internal"
    password: str = "nested-pw-Leak-1"


class Plain(secretsafe.Settings):
    secret_key: str = "sk-Leak-0001"
    jwt_secret_key: str = "jwt-Leak-0002"
    aws_secret_access_key: str = "aws-Leak-0003"
    db: Nested = Nested()
    debug: bool = True


def test_settings_repr_masks_plain_string_secrets() -> None:
    s = Plain()
    text = repr(s) + str(s) + f"{s}"
    for leaked in ("sk-Leak-0001", "jwt-Leak-0002", "aws-Leak-0003", "nested-pw-Leak-1"):
        assert leaked not in text
    assert "db.internal" in text  # not a secret: still shown
    assert "debug=True" in text


class OwnSection(MaskedRepr):
    user: str = "app"
    api_token: str = "own-section-Leak-4"


def test_sections_built_on_maskedrepr_mask_on_their_own() -> None:
    assert "own-section-Leak-4" not in repr(OwnSection()) + str(OwnSection())
    assert "user='app'" in repr(OwnSection())


def test_blocks_mask_every_secret() -> None:
    values = {
        "db": "blk-db-password-Leak-5",
        "jwt": "blk-jwt-secret-key-Leak-6-xxxxxxxxxxxx",
        "sid": "blk-vault-secret-id-Leak-7",
        "smtp": "blk-smtp-pw-Leak-8",
    }
    blocks = [
        Database(host="h", user="u", password=values["db"], database="d"),  # type: ignore[arg-type]
        Auth(jwt_secret_key=values["jwt"]),  # type: ignore[arg-type]
        Vault(secret_id=values["sid"]),  # type: ignore[arg-type]
        SMTP(host="h", password=values["smtp"], from_address="a@b"),  # type: ignore[arg-type]
    ]
    text = "".join(repr(b) + str(b) for b in blocks)
    for v in values.values():
        assert v not in text


MUST_MATCH = [
    "secret_key",
    "jwt_secret_key",
    "aws_secret_access_key",
    "AUTH__JWT_SECRET_KEY",
    "password",
    "db_pass",
    "DB_PASSWD",
    "passphrase",
    "client_secret",
    "refresh_token",
    "api_key",
    "apikey",
    "x-api-key",
    "private_key",
    "ssh_private_key",
    "encryption_key",
    "signing_key",
    "sentry_dsn",
    "github_token",
    "jwt_key",
    "hmac_key",
    "ssh_key",
    "sops_age_key",
    "client_key",
    "tls_key",
    "unseal_keys",
    "api_keys",
    "passwords",
    "tokens",
    "slack_webhook_url",
    "database.password",
    "smtp-password",
]
MUST_NOT_MATCH = [
    "host",
    "port",
    "username",
    "user",
    "debug",
    "db_password_file",
    "token_ttl",
    "secret_key_length",
    "jwt_secret_key_min_length",
    "password_reset_url",
    "jwt_algorithm",
    "access_key_id",
    "ssh_key_path",
    "tls_key_file",
    "client_key_id",
    "keys",
    "vault_role_id",
    "keycloak_client_id",
    "PWD",
    "PASSTHROUGH",
    "token_max_age",
    "log_level",
    "",
]


@pytest.mark.parametrize("name", MUST_MATCH)
def test_secret_names_match(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", MUST_NOT_MATCH)
def test_names_about_secrets_do_not_match(name: str) -> None:
    assert not is_secret_name(name)


def test_secretstr_fields_still_show_their_own_mask() -> None:
    class S(secretsafe.Settings):
        token: SecretStr = SecretStr("ss-Leak-9")

    assert "SecretStr('**********')" in repr(S()) or "'**********'" in repr(S())
    assert "ss-Leak-9" not in repr(S())


@pytest.mark.parametrize(
    "url",
    [
        "redis://:url-pw-Leak-10@cache:6379/0",
        "postgres://app:url-pw-Leak-10@db/app?sslmode=require",
        "https://user:url-pw-Leak-10@[::1]:8443/x",
    ],
)
def test_a_urls_password_is_masked_whatever_the_field_name(url: str) -> None:
    class S(secretsafe.Settings):
        database_url: str = url
        nested: dict[str, str] = Field(default_factory=lambda: {"primary": url})

    text = repr(S()) + str(S())
    assert "url-pw-Leak-10" not in text
    assert "**********@" in text
