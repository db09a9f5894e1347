"""Canary leak suite, Vault transport channels: a hostile server (or a proxy in front of
Vault) that echoes the request -- the pushed values and the X-Vault-Token -- back into its
error text, its headers, its redirect locations or a non-JSON body, for every status the
client handles. Neither the values nor the token may reach stdout, stderr, logs, or any
exception text, on the CLI and through the library (fast path and hvac)."""

from __future__ import annotations

import json
import socket
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reliability_support import CANARY, Tally, exception_texts, run_cli

from secretsafe.errors import SecretsafeError
from secretsafe.sops import encrypt_values
from secretsafe.vault import kv
from secretsafe.vault.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
from vault_hostile import RawServer, respond

TOKEN = "hvs.TOKENcAnArY0123456789abcdef"
STATUSES = [400, 401, 403, 404, 405, 412, 418, 429, 500, 502, 503, 504]


def _echo(request: bytes) -> str:
    return request.decode("latin-1")


def _errors_json(status: int) -> Callable[[RawServer, socket.socket, bytes], None]:
    def handler(_srv: RawServer, conn: socket.socket, request: bytes) -> None:
        echoed = _echo(request)
        body = json.dumps({"errors": [f"bad request: {echoed}", echoed[-300:]]}).encode()
        respond(conn, status, body, Content_Type="application/json")

    return handler


def _plain_body(status: int) -> Callable[[RawServer, socket.socket, bytes], None]:
    def handler(_srv: RawServer, conn: socket.socket, request: bytes) -> None:
        respond(conn, status, b"<html>" + request + b"</html>", Content_Type="text/html")

    return handler


def _echo_headers(status: int) -> Callable[[RawServer, socket.socket, bytes], None]:
    def handler(_srv: RawServer, conn: socket.socket, request: bytes) -> None:
        flat = urllib.parse.quote(_echo(request)[-400:], safe="")
        respond(conn, status, b"{}", X_Echo=flat, Warning=f'199 - "{flat}"')

    return handler


def _redirect_with(target: str) -> Callable[[RawServer, socket.socket, bytes], None]:
    def handler(_srv: RawServer, conn: socket.socket, request: bytes) -> None:
        echoed = urllib.parse.quote(_echo(request)[-400:], safe="")
        respond(conn, 307, b"", Location=f"{target}/v1/{echoed}?t={TOKEN}&v={CANARY}")

    return handler


CASES: dict[str, Callable[[RawServer, socket.socket, bytes], None]] = {}
for _status in STATUSES:
    CASES[f"errors json {_status}"] = _errors_json(_status)
    CASES[f"html body {_status}"] = _plain_body(_status)
    CASES[f"headers {_status}"] = _echo_headers(_status)
CASES["redirect to unlisted host"] = _redirect_with("http://198.51.100.7:8200")
CASES["redirect to self with echo"] = _redirect_with("")
CASES["redirect to non-http"] = _redirect_with("javascript:alert(1)//")


@pytest.fixture
def enc_file(tmp_path: Path, age_key: Any) -> Path:
    path = tmp_path / "app.env.enc"
    encrypt_values(
        {"DB_PASSWORD": CANARY, "API_KEY": CANARY + "-api"}, path, recipients=[age_key.recipient]
    )
    return path


@pytest.fixture
def vault_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return TOKEN


def _leaks(texts: dict[str, str]) -> str | None:
    for channel, text in texts.items():
        for needle, what in ((CANARY, "a pushed value"), (TOKEN, "the token")):
            if needle in text:
                return f"{what} in {channel}"
    return None


def test_hostile_echo_server_cli(tally: Tally, enc_file: Path, vault_token: str) -> None:
    """`vault push` / `vault diff` against every echoing server: one error line, exit code
    from the tree, nothing echoed."""
    for case, handler in CASES.items():
        with RawServer(handler) as srv:
            for command in ("push", "diff"):
                result = run_cli(
                    ["vault", command, str(enc_file), "--path", "app", "--addr", srv.addr,
                     "--retries", "0", "--timeout", "2"]
                )  # fmt: skip
                texts = result.channels()
                for i, exc in enumerate(result.exceptions):
                    texts[f"exception {i}"] = "\n".join(exception_texts(exc))
                problem = _leaks(texts)
                if problem is None and (result.exceptions or result.code in (0, 1)):
                    problem = f"exit {result.code}, {len(result.exceptions)} exception(s)"
                if problem is None and "internal error" in result.err:
                    problem = "internal error"
                tally.check(f"{command} {case}", problem)
    tally.assert_clean()


def test_hostile_echo_server_library(tally: Tally, vault_token: str) -> None:
    """The same servers through the library: kv writes (fast path) and an hvac call. Every
    exception text -- str, repr, args, hints, causes, tracebacks -- is canary-free."""
    for case, handler in CASES.items():
        with RawServer(handler) as srv:
            calls: dict[str, Callable[[Any], object]] = {
                "kv write": lambda c: kv.write_secret(c, "app", {"DB_PASSWORD": CANARY}, cas=0),
                "hvac write": lambda c: c.call(
                    lambda: c.hvac.secrets.kv.v2.create_or_update_secret(
                        path="app", secret={"DB_PASSWORD": CANARY}
                    )
                ),
            }
            for name, fn in calls.items():
                problem: str | None = "no error raised"
                with connect(addr=srv.addr, token=TOKEN, retries=0, timeout=2.0) as client:
                    try:
                        fn(client)
                    except SecretsafeError as exc:
                        problem = _leaks({"exception": "\n".join(exception_texts(exc))})
                    except Exception as exc:
                        problem = f"{type(exc).__name__} escaped the error tree"
                tally.check(f"{name} {case}", problem)
    tally.assert_clean()
