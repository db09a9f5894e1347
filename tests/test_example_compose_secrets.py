"""examples/compose-secrets: compose ``secrets:`` with an ``environment:`` source, fed from
``secretsafe run`` (the real docker compose v2 binary), and an app whose ``load()`` reads
``DATABASE__PASSWORD_FILE``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from secretsafe import envfile
from secretsafe.schemas.loader import read_env_file
from secretsafe.supervise.mount import Mount
from tests.compose.composeoracle import docker_compose
from tests.conftest import AgeKey

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "compose-secrets"
PASSWORD = "example-not-a-real-password"


def _app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(EXAMPLE, app)
    envfile.encrypt_file(app / "sample.env", app / ".env.enc")
    (app / "sample.env").unlink()  # only the encrypted file from here on
    return app


def _env(tmp_path: Path) -> dict[str, str]:
    """The test's environment (SOPS_AGE_KEY_FILE from the age_key fixture) without any
    variable of the example."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE__", "COMPOSE_"))}
    env["HOME"] = str(tmp_path)
    return env


def _run(app: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secretsafe", "run", "-f", ".env.enc", "--", *argv],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_config_through_secretsafe_run(tmp_path: Path, age_key: AgeKey) -> None:
    app = _app(tmp_path)
    env = _env(tmp_path)
    compose = docker_compose()

    r = _run(app, env, *compose, "config", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert PASSWORD not in r.stdout + r.stderr  # the value appears nowhere in the model
    doc = json.loads(r.stdout)
    assert doc["secrets"]["db_password"]["environment"] == "DATABASE__PASSWORD"
    services = doc["services"]
    for name, variable in (("db", "POSTGRES_PASSWORD_FILE"), ("app", "DATABASE__PASSWORD_FILE")):
        assert services[name]["secrets"] == [
            {"source": "db_password", "target": "/run/secrets/db_password"}
        ]
        assert services[name]["environment"][variable] == "/run/secrets/db_password"
        assert "DATABASE__PASSWORD" not in services[name]["environment"]

    # The secret's source is resolved from compose's own environment at `up`: secretsafe run
    # is what puts the decrypted value there (compose prints it only when asked to).
    fed = _run(app, env, *compose, "config", "--environment")
    assert fed.returncode == 0, fed.stderr
    assert f"DATABASE__PASSWORD={PASSWORD}" in fed.stdout.splitlines()
    bare = subprocess.run(
        [*compose, "config", "--environment"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bare.returncode == 0, bare.stderr
    assert not any(line.startswith("DATABASE__PASSWORD=") for line in bare.stdout.splitlines())


def _py(app: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_app_reads_the_password_file(tmp_path: Path, age_key: AgeKey) -> None:
    app = _app(tmp_path)
    env = {**_env(tmp_path), "DATABASE__USER": "app", "PYTHONPATH": str(app)}
    values = read_env_file(app / ".env.enc")
    with (
        tempfile.TemporaryDirectory(dir="/dev/shm") as shm,  # as compose's /run/secrets
        Mount(Path(shm) / "secrets", values, ["DATABASE__PASSWORD"]) as files,
    ):
        env.update(files)
        r = _py(app, env, "app.py")
        assert r.returncode == 0, r.stderr
        assert r.stdout == (
            f"connecting to localhost:5432 as app (password: {len(PASSWORD)} characters)\n"
        )
        check = ("-m", "secretsafe", "check", "--schema", "settings:Settings")
        ok = _py(app, env, *check)
        assert ok.returncode == 0, ok.stderr
        both = _py(app, {**env, "DATABASE__PASSWORD": PASSWORD}, *check)
        assert both.returncode == 3
        assert "DATABASE__PASSWORD_FILE and DATABASE__PASSWORD are both set" in both.stderr
        assert PASSWORD not in both.stdout + both.stderr


def test_readme_compose_block_is_what_the_example_does(tmp_path: Path) -> None:
    """The README's "Secrets as files" compose block is valid for docker compose and wires
    the same secret as the example."""
    readme = (EXAMPLE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Secrets as files\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "docker-compose.yml").write_text(block, encoding="utf-8")
    r = subprocess.run(
        [*docker_compose(), "config", "--format", "json"],
        cwd=tmp_path,
        env={**_env(tmp_path), "DATABASE__PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert PASSWORD not in r.stdout
    doc = json.loads(r.stdout)
    assert doc["secrets"]["db_password"]["environment"] == "DATABASE__PASSWORD"
    assert doc["services"]["db"]["environment"] == {
        "POSTGRES_PASSWORD_FILE": "/run/secrets/db_password"
    }
    assert doc["services"]["app"]["environment"] == {
        "DATABASE__PASSWORD_FILE": "/run/secrets/db_password"
    }
    assert "load(Settings)" in section  # and the load() line


def test_compose_check_counts_the_mounted_secret_as_set(tmp_path: Path) -> None:
    """``secretsafe check --compose``: DATABASE__PASSWORD_FILE names a file inside the
    container, so it provides the field without being read on the host."""
    env = {**_env(tmp_path), "PYTHONPATH": str(EXAMPLE)}
    args = ("--compose", "docker-compose.yml", "--service", "app", "--schema", "settings:Settings")
    r = _py(EXAMPLE, env, "-m", "secretsafe", "check", *args)
    assert r.returncode == 0, r.stdout + r.stderr
