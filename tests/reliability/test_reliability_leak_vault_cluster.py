"""Canary leak suite, Vault cluster client and honest write outcomes (issue 15): the
read-back after a lost or refused write (digests compared in memory), the outcome reports of
`vault push` (text and ``--format json``), the JSON of `pull` and `diff`, and a cluster
client whose node list includes a hostile node echoing every request. Neither the pushed
values nor the token may reach stdout, stderr, logs, exception texts or reprs."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reliability_support import CANARY, Tally, exception_texts, run_cli

from secretsafe.errors import SecretsafeError
from secretsafe.sops import encrypt_values
from secretsafe.vault import kv, sync
from secretsafe.vault.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
from vault_hostile import RawServer, lossy_proxy, respond

# (first write, later writes, reads after the first write): lost answers, refused and
# dropped requests, an unreachable server afterwards.
FATES = [
    ("lost", "pass", "pass"),
    ("refuse", "pass", "pass"),
    ("refuse", "refuse", "pass"),
    ("drop", "drop", "pass"),
    ("lost", "drop", "drop"),
    ("refuse", "drop", "drop"),
]


def _fate(path: str, first: str, later: str, reads: str) -> Callable[[str, str], str]:
    state = {"writes": 0}
    lock = threading.Lock()

    def fate(method: str, target: str) -> str:
        with lock:
            if method in ("POST", "PATCH") and target == f"/v1/secret/data/{path}":
                state["writes"] += 1
                return first if state["writes"] == 1 else later
            return reads if state["writes"] and target.startswith("/v1/secret/") else "pass"

    return fate


def _leaks(texts: dict[str, str], token: str) -> str | None:
    for channel, text in texts.items():
        for needle, what in ((CANARY, "a pushed value"), (token, "the token")):
            if needle in text:
                return f"{what} in {channel}"
    return None


@pytest.fixture
def enc_file(tmp_path: Path, age_key: Any) -> Path:
    path = tmp_path / "app.env.enc"
    encrypt_values(
        {"DB_PASSWORD": CANARY, "API_KEY": CANARY + "-api"}, path, recipients=[age_key.recipient]
    )
    return path


def _seed(server: Any, path: str) -> None:
    with connect(addr=server.addr, token=server.token, environ={}) as client:
        kv.write_secret(client, path, {"DB_PASSWORD": "old", "API_KEY": "old"}, cas=0)


def test_push_outcomes_cli(
    tally: Tally,
    bao_server: Any,
    enc_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    for n, (first, later, reads) in enumerate(FATES):
        for fmt in ("text", "json"):
            path = f"leak-cluster/cli-{fmt}-{n}-{enc_file.parent.name}"
            _seed(bao_server, path)
            with lossy_proxy(bao_server.addr, _fate(path, first, later, reads)) as proxy:
                result = run_cli(
                    ["vault", "push", str(enc_file), "--path", path, "--format", fmt,
                     "--addr", proxy.addr, "--retries", "0", "--deadline", "1"]
                )  # fmt: skip
            texts = result.channels()
            for i, exc in enumerate(result.exceptions):
                texts[f"exception {i}"] = "\n".join(exception_texts(exc))
            problem = _leaks(texts, bao_server.token)
            if problem is None and result.exceptions:
                problem = f"{len(result.exceptions)} exception(s) escaped"
            if problem is None and fmt == "json":
                doc = json.loads(result.out)
                if doc.get("outcome") not in ("written", "not written", "unknown"):
                    problem = f"no outcome in the JSON report: {doc.get('outcome')!r}"
            tally.check(f"push {fmt} {first}/{later}/{reads}", problem)
    tally.assert_clean()


def test_push_outcomes_library(tally: Tally, bao_server: Any) -> None:
    for n, (first, later, reads) in enumerate(FATES):
        path = f"leak-cluster/lib-{n}-{id(tally)}"
        _seed(bao_server, path)
        with (
            lossy_proxy(bao_server.addr, _fate(path, first, later, reads)) as proxy,
            connect(
                addr=proxy.addr, token=bao_server.token, retries=0, deadline=1.0, environ={}
            ) as client,
        ):
            problem: str | None = None
            try:
                result = sync.push(client, {"DB_PASSWORD": CANARY}, path=path)
                problem = _leaks({"result": repr(result)}, bao_server.token)
            except SecretsafeError as exc:
                texts = {
                    "exception": "\n".join(exception_texts(exc)),
                    "failure": repr(sync.failure_of(exc)),
                }
                problem = _leaks(texts, bao_server.token)
            except Exception as exc:
                problem = f"{type(exc).__name__} escaped the error tree"
            texts = {"client": repr(client)}
            problem = problem or _leaks(texts, bao_server.token)
        tally.check(f"library push {first}/{later}/{reads}", problem)
    tally.assert_clean()


def _echo_everything(_srv: RawServer, conn: socket.socket, request: bytes) -> None:
    echoed = request.decode("latin-1")
    body = json.dumps({"errors": [echoed], "standby": echoed}).encode()
    echo = echoed[-200:].replace("\r\n", " ")
    respond(conn, 500, body, Content_Type="application/json", X_Echo=echo)


def test_hostile_node_in_the_list(
    *,
    tally: Tally,
    bao_server: Any,
    enc_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    age_key: Any,
) -> None:
    """A node that echoes every request (probes included) listed first: push, diff and pull
    (text and JSON) go to the real node and print nothing of the echo."""
    monkeypatch.setenv("VAULT_TOKEN", bao_server.token)
    path = f"leak-cluster/hostile-{tmp_path.name}"
    with RawServer(_echo_everything) as hostile:
        monkeypatch.setenv("VAULT_ADDR", f"{hostile.addr},{bao_server.addr}")
        out = tmp_path / "pulled.env.enc"
        commands = {
            "push": ["vault", "push", str(enc_file), "--path", path],
            "diff": ["vault", "diff", str(enc_file), "--path", path],
            "pull": ["vault", "pull", "--path", path, "-o", str(out), "--recipient",
                     age_key.recipient],
        }  # fmt: skip
        for name, args in commands.items():
            for fmt in ("text", "json"):
                result = run_cli([*args, "--format", fmt])
                texts = result.channels()
                for i, exc in enumerate(result.exceptions):
                    texts[f"exception {i}"] = "\n".join(exception_texts(exc))
                problem = _leaks(texts, bao_server.token)
                if problem is None and result.code != 0:
                    problem = f"exit {result.code}: {result.err.strip()[:200]}"
                tally.check(f"{name} {fmt} with a hostile node first", problem)
    tally.assert_clean()
