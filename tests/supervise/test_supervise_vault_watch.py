"""`run --watch --vault` against a real OpenBao dev server: a new KV version restarts the
command once per burst, an invalid value keeps the old one, and a value read from Vault is
redacted like a file's."""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from secretsafe.vault.client import VaultClient, connect
from secretsafe.vault.dev import DevServer, start_dev_server
from secretsafe.vault.sync import push
from tests.supervise.conftest import SECRETSAFE, child_env, read_until, wait_for

pytestmark = pytest.mark.vault


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    srv = start_dev_server()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client(server: DevServer) -> Iterator[VaultClient]:
    with connect(addr=server.addr, token=server.token, retries=1) as c:
        yield c


def test_vault_version_change_restarts_once_and_invalid_keeps(
    server: DevServer, client: VaultClient, tmp_path: Path
) -> None:
    path = f"tests/{uuid.uuid4().hex[:12]}"
    push(client, {"VERSION": "1", "DB_TOKEN": "vault-token-canary-1"}, path=path)
    schema = tmp_path / "schema.toml"
    schema.write_text('[fields.version]\ntype = "int"\n')
    log = tmp_path / "log"
    env = {
        **child_env(),
        "VAULT_ADDR": server.addr,
        "VAULT_TOKEN": server.token,
        "SECRETSAFE_VAULT_POLL": "0.2",
    }
    script = 'echo "$VERSION" >> "$1"; echo "token=$DB_TOKEN"; exec sleep 600'
    proc = subprocess.Popen(
        [
            SECRETSAFE,
            "run",
            "--watch",
            "--redact",
            "--vault",
            path,
            "--schema",
            str(schema),
            "--",
            "sh",
            "-c",
            script,
            "sh",
            str(log),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        out = read_until(proc.stdout.fileno(), b"token=***")
        # A burst of two versions: one restart, with the last one. secretsafe is stopped
        # meanwhile so that a loaded machine cannot stretch the burst past the debounce.
        proc.send_signal(signal.SIGSTOP)
        push(client, {"VERSION": "2", "DB_TOKEN": "vault-token-canary-2"}, path=path)
        push(client, {"VERSION": "3", "DB_TOKEN": "vault-token-canary-3"}, path=path)
        proc.send_signal(signal.SIGCONT)
        wait_for(lambda: log.read_text().split() == ["1", "3"], what="one restart")
        out += read_until(proc.stdout.fileno(), b"token=***")
        # Invalid: refused, the running command stays.
        push(client, {"VERSION": "x", "DB_TOKEN": "vault-token-canary-4"}, path=path)
        err = read_until(proc.stderr.fileno(), b"keeping the command")
        assert log.read_text().split() == ["1", "3"]
        proc.send_signal(signal.SIGTERM)
        more, err2 = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM
    for data in (out, more, err, err2):
        assert b"vault-token-canary" not in data
