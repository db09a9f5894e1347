"""Findings on realistic stacks: every planted problem with its file and line, and nothing on
the clean stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from stackdata import Stack
from stackgen import BigStack

from secretsafe.compose import check_compose, compose_findings, load_project
from secretsafe.compose.findings import is_secret_name, literal_secret_reason, tls_disabled
from secretsafe.secret import SecretValues


def located(findings):  # type: ignore[no-untyped-def]
    return {(f.rule, Path(f.file).name, f.line, f.service, f.variable) for f in findings}


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def production(stack: Stack):  # type: ignore[no-untyped-def]
    from secretsafe.schemas.loader import read_env_file

    return load_project(
        [stack.base, stack.overlay],
        environ={},
        env_values=[("secrets.env.enc", read_env_file(stack.secrets))],
    )


def test_every_compose_finding_of_the_production_stack(stack: Stack) -> None:
    findings = compose_findings(production(stack), decrypt=True)
    base, prod = stack.base, stack.overlay
    assert located(findings) == {
        ("hardcoded-secret", base.name, line_of(base, "ADMIN_PASSWORD:"), "api", "ADMIN_PASSWORD"),
        (
            "hardcoded-secret",
            base.name,
            line_of(base, "OPENSEARCH_INITIAL_ADMIN_PASSWORD="),
            "search",
            "OPENSEARCH_INITIAL_ADMIN_PASSWORD",
        ),
        ("undefined-variable", base.name, line_of(base, "SENTRY_DSN="), "worker", "SENTRY_DSN"),
        (
            "docker-socket",
            base.name,
            line_of(base, "source: /var/run/docker.sock"),
            "dashboard",
            None,
        ),
        ("missing-env-file", prod.name, line_of(prod, "worker.production.env"), "worker", None),
        (
            "tls-verify-disabled",
            prod.name,
            line_of(prod, "NODE_TLS_REJECT_UNAUTHORIZED"),
            "worker",
            "NODE_TLS_REJECT_UNAUTHORIZED",
        ),
    }
    socket = next(f for f in findings if f.rule == "docker-socket")
    assert "read-only does not help" in socket.message
    # Overlay overrides are ordinary: not findings unless asked for.
    conflicts = compose_findings(production(stack), rules=["conflicting-value"])
    conflict = next(f for f in conflicts if f.variable == "LOG_LEVEL")
    assert conflict.severity == "note"
    assert f"{base}:{line_of(base, 'LOG_LEVEL')}" in conflict.message
    assert f"{prod.name} wins" in conflict.message


def test_schema_check_of_the_api_names_file_line_and_suggestion(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(stack.root)  # the schema module sits next to the compose files
    report = check_compose(production(stack), services=["api"], spec="stack_settings:ApiSettings")
    prod = stack.overlay
    schema = {f for f in located(report.findings) if f[0].startswith("schema.")}
    api_line = line_of(prod, "api:")
    assert schema == {
        ("schema.unknown", prod.name, line_of(prod, "DATABASE__NAME"), "api", "DATABASE__NAME"),
        ("schema.missing", prod.name, api_line, "api", "DATABASE__DATABASE"),
        ("schema.rule", prod.name, api_line, "api", "VAULT__ENABLED"),
    }
    unknown = next(f for f in report.findings if f.rule == "schema.unknown")
    assert unknown.suggestions == ("DATABASE__DATABASE",)
    assert not report.ok
    # The whole stack's compose findings come with the API's schema check (issue 12).
    assert {f.service for f in report.findings} == {"api", "worker", "dashboard", "search"}
    assert {(o.service, o.variable) for o in report.overrides} == {
        ("api", "ENVIRONMENT"),
        ("api", "LOG_LEVEL"),
        ("worker", "ENVIRONMENT"),
    }
    assert report.overrides_line() == (
        f"overlays: 3 values of 2 services overridden (3 by {prod}); "
        "ordinary overrides, not findings"
    )


def test_schema_alone_applies_to_the_services_of_its_namespace(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretsafe.compose.findings import namespace_services

    monkeypatch.chdir(stack.root)
    assert namespace_services(production(stack), "stack_settings:ApiSettings") == ["api"]


def test_required_variable_when_nothing_provides_it(stack: Stack) -> None:
    project = load_project([stack.base, stack.overlay], environ={})
    findings = compose_findings(project, services=["postgres"])
    required = [f for f in findings if f.rule == "required-variable"]
    assert located(required) == {
        (
            "required-variable",
            stack.base.name,
            line_of(stack.base, "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?"),
            "postgres",
            "POSTGRES_PASSWORD",
        ),
    }
    # The x- anchor's ${POSTGRES_PASSWORD} belongs to no single service: reported; the
    # API's ${JWT_SECRET_KEY} is not (only postgres is checked).
    undefined = {(f.variable, f.line) for f in findings if f.rule == "undefined-variable"}
    assert undefined == {("POSTGRES_PASSWORD", line_of(stack.base, "DATABASE__PASSWORD:"))}


def test_clean_stack_has_no_error_or_warning(
    clean_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretsafe.schemas.loader import read_env_file

    monkeypatch.chdir(clean_stack.root)
    project = load_project(
        [clean_stack.base, clean_stack.overlay],
        environ={},
        env_values=[("secrets.env.enc", read_env_file(clean_stack.secrets))],
    )
    report = check_compose(project, services=list(project.services), spec=None)
    assert report.schemas == {"api": "stack_settings:ApiSettings"}
    assert report.findings == []
    assert report.ok
    # Intended overrides are counted, not reported.
    assert len(report.overrides) == 4


def test_clean_stack_base_alone_has_no_finding(clean_stack: Stack) -> None:
    from secretsafe.schemas.loader import read_env_file

    project = load_project(
        [clean_stack.base],
        environ={},
        env_values=[("secrets.env.enc", read_env_file(clean_stack.secrets))],
    )
    assert compose_findings(project, decrypt=True) == []


def test_ignore_comment_suppresses_only_the_named_rule(tmp_path: Path) -> None:
    f = tmp_path / "compose.yml"
    f.write_text(
        """\
services:
  a:
    image: x
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock  # secretsafe: ignore[docker-socket]
      - /run/podman/podman.sock:/var/run/docker.sock:ro  # secretsafe: ignore[tls-verify-disabled]
    environment:
      API_TOKEN: abcdefgh12345678  # secretsafe: ignore
""",
        encoding="utf-8",
    )
    findings = compose_findings(load_project([f], environ={}))
    assert [(x.rule, x.line) for x in findings] == [("docker-socket", 6)]


def test_fifty_service_stack_every_planted_finding(big_stack: BigStack) -> None:
    project = load_project([big_stack.base, big_stack.overlay], environ={})
    assert len(project.services) == 50
    assert sum(1 for s in project.services.values() if s.env_files) == 21
    findings = compose_findings(project)
    assert located(findings) == big_stack.expected
    env = {n: len(project.services[n].environment) for n in project.services}
    assert min(env.values()) >= 7  # merge keys gave every service the common variables


def test_fifty_service_stack_environment_sources(big_stack: BigStack) -> None:
    from secretsafe.compose import service_environment

    project = load_project([big_stack.base, big_stack.overlay], environ={})
    env = service_environment(project, "svc-05")
    assert env.variables["SVC05_OPTION_3"].loc.file == os.path.join(
        str(big_stack.root), "env", "svc-05.env"
    )
    assert env.variables["SVC05_OPTION_3"].loc.line == 5
    assert env.variables["TZ"].loc.line == 6  # the x-common-env anchor
    assert env.variables["REPLICA_COUNT"].loc.file == str(big_stack.overlay)
    assert project.services["svc-05"].config["image"] == "ghcr.io/example/svc-05:1.5.0"
    assert isinstance(env.values(), SecretValues)
    assert "value-5-3" not in repr(env) + repr(env.values()) + repr(env.variables)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("POSTGRES_PASSWORD", True),
        ("AUTH__JWT_SECRET_KEY", True),
        ("JWT_SECRET", True),
        ("STRIPE_API_KEY", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("GITHUB_TOKEN", True),
        ("SMTP_PASS", True),
        ("SENTRY_DSN", True),
        ("DB_PASSWORD_FILE", False),
        ("TOKEN_TTL", False),
        ("SECRET_KEY_LENGTH", False),
        ("PASSWORD_RESET_URL", False),
        ("PASSWORD_MIN_LENGTH", False),
        ("AUTH__JWT_ALGORITHM", False),
        ("PWD", False),
        ("PASSTHROUGH", False),
        ("LOG_LEVEL", False),
        ("KEYCLOAK_CLIENT_ID", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("name", "raw", "templated", "flagged"),
    [
        ("ADMIN_PASSWORD", "hunter2hunter2", False, True),
        ("ADMIN_PASSWORD", "${ADMIN_PASSWORD}", True, False),
        ("ADMIN_PASSWORD", "", False, False),
        ("REDIS_PASSWORD_ENABLED", "true", False, False),
        ("API_TOKEN", "true", False, False),
        ("API_TOKEN", "vault://secret/data/api#token", False, False),
        ("DB_PASSWORD", "/run/secrets/db", False, False),
        ("DATABASE_URL", "postgres://app:s3cr3t@db/app", False, True),
        ("DATABASE_URL", "postgres://app:${PW}@db/app", True, False),
        ("DATABASE_URL", "postgres://db/app", False, False),
        ("ANYTHING", "AKIAABCDEFGHIJKLMNOP", False, True),
        ("ANYTHING", "ghp_" + "a" * 36, False, True),
        ("ANYTHING", "plain words", False, False),
        ("HTPASSWD", "user:$$apr1$$abc", False, False),
    ],
)
def test_literal_secret(name: str, raw: str, templated: bool, flagged: bool) -> None:
    assert (literal_secret_reason(name, raw, templated=templated) is not None) is flagged


@pytest.mark.parametrize(
    ("name", "value", "off"),
    [
        ("NODE_TLS_REJECT_UNAUTHORIZED", "0", True),
        ("NODE_TLS_REJECT_UNAUTHORIZED", "1", False),
        ("PYTHONHTTPSVERIFY", "0", True),
        ("GIT_SSL_NO_VERIFY", "true", True),
        ("GIT_SSL_NO_VERIFY", "1", True),
        ("GIT_SSL_NO_VERIFY", "false", False),
        ("CURL_INSECURE", "1", True),
        ("ELASTIC_SSL_VERIFY", "false", True),
        ("ELASTIC_SSL_VERIFY", "true", False),
        ("VERIFY_SSL", "False", True),
        ("VAULT_SKIP_VERIFY", "true", True),
        ("VAULT_SKIP_VERIFY", "false", False),
        ("VAULT__VERIFY_TLS", "false", True),
        ("REQUESTS_CA_BUNDLE", "", True),
        ("REQUESTS_CA_BUNDLE", "/etc/ssl/ca.pem", False),
        ("NPM_CONFIG_STRICT_SSL", "false", True),
        ("EMAIL_VERIFY", "false", False),
        ("TRAEFIK_API_INSECURE", "true", False),
    ],
)
def test_tls_disabled(name: str, value: str, off: bool) -> None:
    assert tls_disabled(name, value) is off
