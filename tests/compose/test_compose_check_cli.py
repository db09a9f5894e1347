"""`secretsafe check --compose ... --service ... --schema ...` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from stackdata import Stack

from secretsafe.cli import main


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


def prod_args(stack: Stack, *extra: str) -> list[str]:
    return [
        "check",
        "--compose",
        "docker-compose.yml",
        "--compose",
        "docker-compose.production.yml",
        "-f",
        "secrets.env.enc",
        "--no-environ",
        *extra,
    ]


@pytest.fixture
def in_stack(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.chdir(stack.root)
    return stack


def test_text_lists_every_problem_with_file_and_line(
    in_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(prod_args(in_stack, "--service", "api", "--schema", "stack_settings:ApiSettings"))
    out, err = capsys.readouterr()
    assert rc == 3
    prod = "docker-compose.production.yml"
    base = "docker-compose.yml"
    expected = [
        f"{prod}:{line_of(in_stack.overlay, 'DATABASE__NAME')}: error: schema.unknown: "
        "[service api] DATABASE__NAME:",
        "did you mean: DATABASE__DATABASE?",
        f"{prod}:{line_of(in_stack.overlay, 'api:')}: error: schema.missing: "
        "[service api] DATABASE__DATABASE:",
        f"{prod}:{line_of(in_stack.overlay, 'api:')}: error: schema.rule: [service api] "
        "VAULT__ENABLED:",
        f"{base}:{line_of(in_stack.base, 'ADMIN_PASSWORD:')}: error: hardcoded-secret: "
        "[service api] ADMIN_PASSWORD",
        # The rest of the stack in the same run (issue 12): every service's findings.
        f"{base}:{line_of(in_stack.base, 'OPENSEARCH_INITIAL_ADMIN_PASSWORD')}: error: "
        "hardcoded-secret: [service search] OPENSEARCH_INITIAL_ADMIN_PASSWORD",
        f"{prod}:{line_of(in_stack.overlay, 'NODE_TLS_REJECT_UNAUTHORIZED')}: error: "
        "tls-verify-disabled: [service worker]",
        f"{base}:{line_of(in_stack.base, 'source: /var/run/docker.sock')}: warning: "
        "docker-socket: [service dashboard]",
        f"{prod}:{line_of(in_stack.overlay, 'worker.production.env')}: error: "
        "missing-env-file: [service worker]",
        f"{base}:{line_of(in_stack.base, 'SENTRY_DSN')}: warning: undefined-variable: "
        "[service worker]",
        # Overlay overrides: one line, not a list.
        "note: overlays: 3 values of 2 services overridden (3 by docker-compose.production.yml)"
        "; ordinary overrides, not findings",
        "failed: 7 services, schema: api (stack_settings:ApiSettings): 7 errors, 2 warnings, "
        "0 notes",
    ]
    for text in expected:
        assert text in out, text
    assert "conflicting-value" not in out
    assert err.strip().splitlines() == [
        "secretsafe: error: check: 7 errors in docker-compose.yml, "
        "docker-compose.production.yml (each is listed above with its file and line)"
    ]


def test_schema_alone_checks_the_services_of_its_namespace(
    in_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(prod_args(in_stack, "--schema", "stack_settings:ApiSettings"))
    out = capsys.readouterr().out
    assert rc == 3
    assert "failed: 7 services, schema: api (stack_settings:ApiSettings): 7 errors" in out


def test_json_report(in_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(prod_args(in_stack, "--all", "--format", "json"))
    assert rc == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == 1
    assert doc["ok"] is False
    assert doc["services"] == [{"name": "api", "schema": "stack_settings:ApiSettings"}]
    assert doc["counts"] == {"error": 7, "warning": 2, "note": 0}
    assert len(doc["overrides"]) == 3
    unknown = next(f for f in doc["findings"] if f["rule"] == "schema.unknown")
    assert unknown == {
        "rule": "schema.unknown",
        "severity": "error",
        "file": "docker-compose.production.yml",
        "line": line_of(in_stack.overlay, "DATABASE__NAME"),
        "service": "api",
        "variable": "DATABASE__NAME",
        "message": unknown["message"],
        "hint": unknown["hint"],
        "suggestions": ["DATABASE__DATABASE"],
        "fingerprint": None,
        "fixed": False,
    }


def test_all_services_without_schema_and_sarif(
    in_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(prod_args(in_stack, "--format", "sarif"))
    assert rc == 3
    log = json.loads(capsys.readouterr().out)
    results = log["runs"][0]["results"]
    rules = {r["ruleId"] for r in results}
    assert rules == {
        "hardcoded-secret",
        "undefined-variable",
        "docker-socket",
        "missing-env-file",
        "tls-verify-disabled",
        # every service is checked; the labelled API against its schema too
        "schema.unknown",
        "schema.missing",
        "schema.rule",
    }
    tls = next(r for r in results if r["ruleId"] == "tls-verify-disabled")
    loc = tls["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "docker-compose.production.yml"
    assert loc["region"]["startLine"] == line_of(in_stack.overlay, "NODE_TLS_REJECT_UNAUTHORIZED")


def test_clean_stack_passes(
    clean_stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(clean_stack.root)
    rc = main(prod_args(clean_stack, "--service", "api", "--schema", "stack_settings:ApiSettings"))
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "ok: 6 services, schema: api (stack_settings:ApiSettings): 0 errors, 0 warnings" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["check", "--service", "api", "--schema", "x:Y"], 2, "need --compose FILE"),
        (["check"], 2, "missing option --schema"),
        (["check", "--schema", "x:Y", "--profile", "p"], 2, "need --compose FILE"),
        (["check", "--compose", "docker-compose.yml", "--service", "web"], 40, "no service 'web'"),
        (
            ["check", "--compose", "missing.yml", "--service", "api"],
            10,
            "missing.yml: no such file",
        ),
        (
            ["check", "--compose", "docker-compose.yml", "--all", "--schema", "a:B"],
            2,
            "--all checks each service against its own",
        ),
    ],
)
def test_usage_errors(
    in_stack: Stack,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    assert main(args) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_real_process_exit_code_and_streams(in_stack: Stack) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "secretsafe", *prod_args(in_stack, "--all")],
        capture_output=True,
        text=True,
        cwd=in_stack.root,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 3
    assert "schema.unknown" in proc.stdout
    assert proc.stderr.startswith("secretsafe: error: check: 7 errors")
