"""Canary leak suite, ``secretsafe vault put PATH KEY``: the value (stdin) and the token never
reach stdout (text or ``--format json``), stderr, logs or an exception text -- against a
hostile server that echoes the write request (value and token) into every channel it has, for
every status, and against a real OpenBao dev server for each outcome put reports (written, up
to date, conflict, bad token, dead node). A KEY that is really a value is never echoed."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from reliability_support import CANARY, Tally, exception_texts, one_error_line, run_cli

from secretsafe.errors import SecretsafeError
from secretsafe.secret import Secret
from secretsafe.vault import kv
from secretsafe.vault.client import connect
from secretsafe.vault.dev import free_port
from secretsafe.vault.put import put_value

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
from test_reliability_leak_vault import CASES, TOKEN  # the echoing handlers, every status
from vault_hostile import RawServer, respond

pytestmark = pytest.mark.reliability


def _leaks(texts: dict[str, str]) -> str | None:
    for channel, text in texts.items():
        for needle, what in ((CANARY, "the value"), (TOKEN, "the token")):
            if needle in text:
                return f"{what} in {channel}"
    return None


def _check(tally: Tally, case: str, args: list[str], code: int, stdin: str = CANARY) -> None:
    result = run_cli(["vault", "put", *args], stdin=stdin)
    texts = result.channels()
    for i, exc in enumerate(result.exceptions):
        texts[f"exception {i}"] = "\n".join(exception_texts(exc))
    problem = _leaks(texts)
    if problem is None and code != 0:
        problem = one_error_line(result)
    if problem is None and result.code != code:
        problem = f"exit {result.code}, want {code}"
    tally.check(case, problem)


def _nothing_stored_then(handler: Any) -> Any:
    """Reads find nothing stored; the write (which carries the value) gets ``handler``."""

    def serve(srv: RawServer, conn: socket.socket, request: bytes) -> None:
        if request.startswith(b"GET "):
            respond(conn, 404, b'{"errors": []}', Content_Type="application/json")
        else:
            handler(srv, conn, request)

    return serve


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for name in ("VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_ADDR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_hostile_echo_server(tally: Tally, clean_env: pytest.MonkeyPatch) -> None:
    # A write known not to have happened is sent again until the deadline: keep it short.
    # JSON only: its stdout report comes on top of the same stderr line as the text format.
    fast = ["--retries", "0", "--timeout", "1", "--deadline", "0.5", "--format", "json"]
    for case, handler in CASES.items():
        with RawServer(_nothing_stored_then(handler)) as srv:
            clean_env.setenv("VAULT_ADDR", srv.addr)
            clean_env.setenv("VAULT_TOKEN", TOKEN)
            result = run_cli(["vault", "put", "app", "K", *fast], stdin=CANARY)
            texts = result.channels()
            for i, exc in enumerate(result.exceptions):
                texts[f"exception {i}"] = "\n".join(exception_texts(exc))
            problem = _leaks(texts) or one_error_line(result)
            if problem is None and not 30 <= result.code <= 35:
                problem = f"exit {result.code}, want a Vault error (30-35)"
            tally.check(case, problem)
    tally.assert_clean()


def test_real_server_outcomes(
    tally: Tally, clean_env: pytest.MonkeyPatch, bao_server: Any, tmp_path: Path
) -> None:
    path = f"leak-put/{tmp_path.name}"
    clean_env.setenv("VAULT_ADDR", bao_server.addr)
    clean_env.setenv("VAULT_TOKEN", bao_server.token)
    with connect(addr=bao_server.addr, token=bao_server.token) as admin:
        kv.write_secret(admin, path, {"OTHER": f"{CANARY}-other"}, cas=0)
    for fmt in ("text", "json"):
        _check(tally, f"written ({fmt})", [path, f"K_{fmt}", "--format", fmt], 0)
        _check(tally, f"up to date ({fmt})", [path, f"K_{fmt}", "--format", fmt], 0)
        _check(tally, f"cas conflict ({fmt})", [path, "K", "--cas", "1", "--format", fmt], 34)
    dead = f"http://127.0.0.1:{free_port()}"
    _check(tally, "dead node", [path, "K", "--addr", dead, "--retries", "0"], 30)
    _check(tally, "key is a value", [path, f"hvs.{CANARY}0123456789abcdefXYZ"], 2)
    _check(tally, "key=value", [path, f"K={CANARY}"], 2)
    _check(tally, "a third argument", [path, "K", CANARY], 2)
    clean_env.setenv("VAULT_TOKEN", TOKEN)
    _check(tally, "bad token", [path, "K"], 32)
    tally.assert_clean()


def test_library_exceptions_and_results(tally: Tally, bao_server: Any, tmp_path: Path) -> None:
    path = f"leak-put-lib/{tmp_path.name}"
    with connect(addr=bao_server.addr, token=bao_server.token) as client:
        result = put_value(client, path, "K", Secret(CANARY))
        tally.check("result repr", _leaks({"repr": repr(result), "str": str(result)}))
        try:
            put_value(client, path, "K", Secret(CANARY + "2"), cas=99)
        except SecretsafeError as exc:
            tally.check("conflict", _leaks({"exception": "\n".join(exception_texts(exc))}))
        else:
            tally.check("conflict", "no conflict raised")
    tally.assert_clean()
