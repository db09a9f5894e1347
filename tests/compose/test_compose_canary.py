"""Canary: no value from any compose file or env file appears in any output of check or
audit, in any format, on stdout or stderr, nor in reprs of the compose model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from stackdata import CANARIES, Stack
from stackgen import BigStack

from secretsafe.cli import main
from secretsafe.compose import load_project, service_environment

FORMATS = ("text", "json", "sarif")


def assert_clean(blob: str, canaries: list[str]) -> None:
    for canary in canaries:
        assert canary not in blob, canary
        assert canary[-12:] not in blob, canary


def run_all(args: list[str], capfd: pytest.CaptureFixture[str]) -> str:
    outputs = []
    for fmt in FORMATS:
        main([*args, "--format", fmt])
        out, err = capfd.readouterr()
        outputs.append(out + err)
    return "\n".join(outputs)


def test_check_outputs_hold_no_value(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(stack.root)
    # Give a schema problem a canary value too: a too-short JWT key read from the env file.
    base = [
        "check",
        "--compose",
        "docker-compose.yml",
        "--compose",
        "docker-compose.production.yml",
    ]
    blob = run_all([*base, "-f", "secrets.env.enc", "--all"], capfd)
    blob += run_all([*base, "-f", "secrets.env.enc"], capfd)
    blob += run_all([*base, "--service", "api", "--schema", "stack_settings:ApiSettings"], capfd)
    assert "hardcoded-secret" in blob
    assert "schema.unknown" in blob
    proc = subprocess.run(
        [sys.executable, "-m", "secretsafe", *base, "-f", "secrets.env.enc", "--all"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "SECRETSAFE_DEBUG": "1"},
    )
    assert proc.returncode == 3
    assert_clean(blob + proc.stdout + proc.stderr, CANARIES)


def test_weak_secret_from_compose_is_not_echoed(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(stack.root)
    weak = "cAnArY-short"
    monkeypatch.setenv("JWT_SECRET_KEY", weak)
    monkeypatch.setenv("POSTGRES_PASSWORD", "cAnArY-pg-env-Mx83Qw")
    blob = run_all(
        [
            "check",
            "--compose",
            "docker-compose.yml",
            "--service",
            "api",
            "--schema",
            "stack_settings:ApiSettings",
        ],
        capfd,
    )
    assert "AUTH__JWT_SECRET_KEY" in blob
    assert_clean(blob, [weak, "cAnArY-pg-env-Mx83Qw", *CANARIES])


def test_big_stack_outputs_hold_no_value(
    big_stack: BigStack, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(big_stack.root)
    blob = run_all(
        ["check", "--compose", "compose.yml", "--compose", "compose.production.yml"], capfd
    )
    assert "svc-07" in blob
    assert_clean(blob, big_stack.canaries)
    blob = run_all(["audit", str(big_stack.root)], capfd)
    assert "hardcoded-secret" in blob
    assert_clean(blob, big_stack.canaries)


def test_model_reprs_hold_no_value(stack: Stack) -> None:
    from secretsafe.schemas.loader import read_env_file

    project = load_project(
        [stack.base, stack.overlay],
        environ={},
        env_values=[("s", read_env_file(stack.secrets))],
    )
    texts = [repr(project), repr(project.services), str(project.environ.keys())]
    for name in project.services:
        env = service_environment(project, name)
        texts += [repr(env), repr(env.values()), repr(list(env.variables.values()))]
        texts += [repr(s) for s in project.services[name].environment.values()]
        texts.append(repr(project.services[name].config))
    assert_clean("\n".join(texts), CANARIES)


def test_bad_env_file_line_is_not_quoted(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.env").write_text('OK=1\nBROKEN="cAnArY-broken-Qz81\n', encoding="utf-8")
    (tmp_path / "compose.yml").write_text(
        "services:\n  app:\n    image: x\n    env_file: app.env\n", encoding="utf-8"
    )
    rc = main(["check", "--compose", str(tmp_path / "compose.yml"), "--service", "app"])
    out, err = capfd.readouterr()
    assert rc == 12
    assert "app.env:2" in err
    assert_clean(out + err, ["cAnArY-broken-Qz81"])
