"""`run --watch --vault` against a real OpenBao dev server: a new KV version restarts the
command once per burst, an invalid value keeps the old one, and a value read from Vault is
redacted like a file's."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# -- review: a Vault that stops answering must not freeze the command's output --------------

TICKER = "import time\nfor i in range(160):\n    print(i, flush=True)\n    time.sleep(0.05)\n"


def test_a_silent_vault_holds_the_output_back_briefly() -> None:
    """Vault accepts connections but never answers (a hung node): each poll gives up after
    its short timeout (poll_timeout: 1 s here), so the command's output keeps flowing.
    With the client's defaults one poll held it back for ~40 s."""
    import json as _json
    import threading
    import time as _time

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
    from vault_hostile import RawServer, respond

    silent = threading.Event()

    def handler(srv: RawServer, conn: Any, request: bytes) -> None:
        if silent.is_set():
            srv.stopping.wait(60)
            return
        line = request.split(b"\r\n", 1)[0].decode()
        data: dict[str, Any] = (
            {"current_version": 1}
            if "/metadata/" in line
            else {"data": {"A": "value-7f3a9c21"}, "metadata": {"version": 1}}
        )
        respond(conn, 200, _json.dumps({"data": data}).encode())

    with RawServer(handler) as srv:
        env = {
            **os.environ,
            "VAULT_ADDR": srv.addr,
            "VAULT_TOKEN": "hvs.x",
            "SECRETSAFE_VAULT_POLL": "0.5",
        }
        command = [sys.executable, "-c", TICKER]
        proc = subprocess.Popen(
            [SECRETSAFE, "run", "--vault", "app", "--watch", "--redact", "--", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert proc.stdout is not None
            seen: list[float] = []
            for line in proc.stdout:
                seen.append(_time.monotonic())
                if line.strip() == b"20":
                    silent.set()
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert len(seen) == 160
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert max(gaps) < 5.0, max(gaps)  # the poll timeout (1 s) plus room for a loaded box
