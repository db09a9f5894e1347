"""examples/node-vault: a Node app started by `secretsafe run --vault apps/api/prod --schema
schema.toml -- node server.js` against a real OpenBao dev server gets its values from Vault;
a value that fails the schema keeps it from starting. Without node on the machine a /bin/sh
app stands in (the secretsafe side is the same)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from secretsafe.sops import encrypt_values
from secretsafe.vault.dev import DevServer, free_port
from tests.conftest import AgeKey

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node-vault"
API_KEY = "Vq3xZ8pL2mT7wR4nK9sD6fH1jB5cY0gU"
DB_URL = "postgres://api@db.internal/api"
# Stands in for server.js when node is absent: prints what server.js answers.
SH_APP = ["/bin/sh", "-c", 'printf \'{"api_key_length": %s}\\n\' "${#API_KEY}"']


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "secretsafe", *args],
        env=env,
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def env(fresh_bao_server: DevServer, age_key: AgeKey) -> dict[str, str]:
    keep = ("PATH", "HOME", "SOPS_AGE_KEY_FILE", "LANG")
    base = {k: os.environ[k] for k in keep if k in os.environ}
    return {**base, "VAULT_ADDR": fresh_bao_server.addr, "VAULT_TOKEN": fresh_bao_server.token}


def push(values: dict[str, str], env: dict[str, str], tmp_path: Path, age_key: AgeKey) -> None:
    """The README's push: an encrypted file, sections layout."""
    enc = tmp_path / ".env.prod.enc"
    encrypt_values(values, enc, recipients=[age_key.recipient])
    proc = cli(
        "vault", "push", str(enc), "--path", "apps/api/prod", "--layout", "sections", env=env
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("app", ["node", "sh"])
def test_node_app_reads_its_values_from_vault(
    env: dict[str, str], tmp_path: Path, age_key: AgeKey, app: str
) -> None:
    push({"API_KEY": API_KEY, "DATABASE__URL": DB_URL}, env, tmp_path, age_key)
    run = [sys.executable, "-m", "secretsafe", "run", "--vault", "apps/api/prod"]
    run += ["--schema", "schema.toml", "--"]
    if app == "sh" or shutil.which("node") is None:
        proc = subprocess.run(
            [*run, *SH_APP],
            env=env,
            cwd=EXAMPLE,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == {"api_key_length": len(API_KEY)}
        return
    port = free_port()
    server = subprocess.Popen(
        [*run, "node", "server.js"],
        env={**env, "PORT": str(port)},
        cwd=EXAMPLE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(server.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=30)  # bounded: node prints "listening on PORT" once it listens
        got = line[0].strip() if line else ""
        assert got == f"listening on {port}", server.stderr.read()  # type: ignore[union-attr]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
            answer = json.loads(resp.read())
        assert answer == {"api_key_length": len(API_KEY), "database_host": "db.internal"}
    finally:
        server.terminate()  # node itself: run exec'd it, same pid
        server.wait(timeout=10)


def test_a_value_failing_the_schema_keeps_the_app_from_starting(
    env: dict[str, str], tmp_path: Path, age_key: AgeKey
) -> None:
    push({"API_KEY": "Qz9-tiny", "DATABASE__URL": "mysql://x/y"}, env, tmp_path, age_key)
    proc = cli("run", "--vault", "apps/api/prod", "--schema", "schema.toml", "--", *SH_APP, env=env)
    assert proc.returncode == 3, proc.stderr
    assert "API_KEY" in proc.stderr
    assert "DATABASE__URL" in proc.stderr
    assert proc.stdout == ""  # the app never ran
    assert "Qz9-tiny" not in proc.stderr
    assert "mysql://x/y" not in proc.stderr
