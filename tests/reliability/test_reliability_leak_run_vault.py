"""Canary leak suite, ``secretsafe run --vault``: the values read from Vault, the token and the
AppRole secret id never reach stdout, stderr, logs or an exception text -- against a hostile
server echoing the request (token included) into every channel it has, and against a real
OpenBao dev server for each failure `run --vault` reports (bad token, bad secret id, denied
path, missing path, dead and sealed nodes, a schema failure over the values read). Every
failure is one error line with the exit code of its class."""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    CANARY,
    Tally,
    exception_texts,
    one_error_line,
    run_cli,
    run_cli_proc,
)

from secretsafe.errors import SecretsafeError
from secretsafe.sops import encrypt_values
from secretsafe.vault import sync
from secretsafe.vault.client import connect
from secretsafe.vault.reader import Session, current_versions, read_values

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
from test_reliability_leak_vault import CASES  # the echoing handlers, every status
from vault_hostile import RawServer, json_server

TOKEN = "hvs.TOKENcAnArY0123456789abcdef"
SECRET_ID = f"{CANARY}-secret-id"


def _leaks(texts: dict[str, str]) -> str | None:
    for channel, text in texts.items():
        for needle, what in ((CANARY, "a value or the secret id"), (TOKEN, "the token")):
            if needle in text:
                return f"{what} in {channel}"
    return None


def _check_cli(tally: Tally, case: str, args: list[str], code: int | None) -> None:
    result = run_cli(["run", *args, "--", "true"])
    texts = result.channels()
    for i, exc in enumerate(result.exceptions):
        texts[f"exception {i}"] = "\n".join(exception_texts(exc))
    problem = _leaks(texts)
    if problem is None and code != 3:  # a schema failure lists every problem, one a line
        problem = one_error_line(result)
    if problem is None and code is not None and result.code != code:
        problem = f"exit {result.code}, want {code}"
    tally.check(case, problem)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for name in ("VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_ADDR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_hostile_echo_server(tally: Tally, clean_env: pytest.MonkeyPatch) -> None:
    """Every echoing server of the Vault leak suite, with a token and with AppRole: one
    line, a Vault exit code, nothing echoed. (Retried statuses take the backoff: bounded.)"""
    for case, handler in CASES.items():
        with RawServer(handler) as srv:
            for auth in ("token", "approle"):
                with pytest.MonkeyPatch.context() as mp:
                    mp.setenv("VAULT_ADDR", srv.addr)
                    if auth == "token":
                        mp.setenv("VAULT_TOKEN", TOKEN)
                    else:
                        mp.setenv("VAULT_ROLE_ID", "role")
                        mp.setenv("VAULT_SECRET_ID", SECRET_ID)
                    result = run_cli(["run", "--vault", "app", "--", "true"])
                texts = result.channels()
                for i, exc in enumerate(result.exceptions):
                    texts[f"exception {i}"] = "\n".join(exception_texts(exc))
                problem = _leaks(texts) or one_error_line(result)
                if problem is None and not 30 <= result.code <= 35:
                    problem = f"exit {result.code}, not a Vault error"
                tally.check(f"{auth} {case}", problem)


def _kv(data: str) -> bytes:
    return ('{"data": {"data": ' + data + ', "metadata": {"version": 1}}}').encode()


#: Answers to the KV read that cannot become the child's environment, the canary in each.
HOSTILE_READS = {
    "an empty variable name": _kv(f'{{"": "{CANARY}"}}'),
    "a NUL in a value": _kv(f'{{"A": "x\\u0000{CANARY}"}}'),
    "'=' in a name": _kv(f'{{"B={CANARY}": "v"}}'),
    "nested 100,000 deep": _kv('{"E": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "a page with 200": f"<html>{CANARY} log in</html>".encode(),
}


def test_hostile_reads(tally: Tally, clean_env: pytest.MonkeyPatch) -> None:
    """A KV answer that cannot be passed on: one line, an exit code of the tree, no value
    (a real child process: were one to pass, it would exec)."""
    for case, body in HOSTILE_READS.items():
        with json_server(lambda _request, body=body: (200, body)) as srv:
            env = {**clean_env_dict(), "VAULT_ADDR": srv.addr, "VAULT_TOKEN": TOKEN}
            result = run_cli_proc(["run", "--vault", "app", "--", "true"], env=env)
        problem = _leaks(result.channels()) or one_error_line(result)
        if problem is None and result.code not in (13, 30, 31, 32, 33, 34, 35):
            problem = f"exit {result.code}"
        tally.check(f"hostile read: {case}", problem)


def clean_env_dict() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_real_server_failures(
    tally: Tally,
    bao_server: Any,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
    age_key: Any,
) -> None:
    path = f"leak/{uuid.uuid4().hex[:10]}"
    with connect(addr=bao_server.addr, token=bao_server.token) as admin:
        sync.push(admin, {"API_KEY": CANARY, "PORT": CANARY + "-port"}, path=path)
        _, doc = admin.request("GET", "sys/auth")
        if "approle/" not in (doc.get("data") or doc):
            admin.request("POST", "sys/auth/approle", body={"type": "approle"})
    schema = tmp_path / "schema.toml"
    schema.write_text('[fields.port]\ntype = "port"\n[fields.api_key]\ntype = "int"\n')
    dead = f"http://127.0.0.1:{_closed_port()}"
    creds = tmp_path / "creds.enc.env"
    encrypt_values(
        {"VAULT_ADDR": bao_server.addr, "VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": SECRET_ID},
        creds,
        recipients=[age_key.recipient],
    )
    mp = clean_env
    cases: list[tuple[str, dict[str, str], list[str], int]] = [
        ("bad token", {"VAULT_TOKEN": TOKEN}, ["--vault", path], 32),
        ("token with a newline", {"VAULT_TOKEN": TOKEN + "\n" + CANARY}, ["--vault", path], 2),
        (
            "bad secret id",
            {"VAULT_ROLE_ID": "nope", "VAULT_SECRET_ID": SECRET_ID},
            ["--vault", path],
            32,
        ),
        ("bad secret id from -f", {}, ["-f", str(creds), "--vault", path], 32),
        ("missing path", {"VAULT_TOKEN": bao_server.token}, ["--vault", path + "-no"], 33),
        (
            "all nodes dead",
            {"VAULT_TOKEN": TOKEN, "VAULT_ADDR": f"{dead},{dead}/"},
            ["--vault", path],
            30,
        ),
        (
            "schema over Vault values",
            {"VAULT_TOKEN": bao_server.token},
            ["--vault", path, "--schema", str(schema)],
            3,
        ),
        (
            "schema, node list",
            {"VAULT_TOKEN": bao_server.token, "VAULT_ADDR": f"{dead},{bao_server.addr}"},
            ["--vault", path, "--schema", str(schema)],
            3,
        ),
    ]
    for case, env, args, code in cases:
        with pytest.MonkeyPatch.context() as m:
            m.setenv("VAULT_ADDR", bao_server.addr)
            for name, value in env.items():
                m.setenv(name, value)
            _check_cli(tally, case, args, code)
    mp.delenv("VAULT_ADDR", raising=False)


def test_library_exceptions_and_reprs(tally: Tally, bao_server: Any) -> None:
    """Session / read_values / current_versions: exception texts and reprs are canary-free."""
    env = {"VAULT_ADDR": bao_server.addr, "VAULT_TOKEN": TOKEN}
    calls: dict[str, Callable[[Session], object]] = {
        "read_values": lambda s: read_values(s, "leak/x"),
        "current_versions": lambda s: current_versions(s, ["leak/x"]),
    }
    for name, fn in calls.items():
        problem: str | None = "no error raised"
        session = Session(environ=env, retries=0)
        try:
            fn(session)
        except SecretsafeError as exc:
            problem = _leaks({"exception": "\n".join(exception_texts(exc))})
        finally:
            session.close()
        tally.check(name, problem)
    approle_env = {
        "VAULT_ADDR": bao_server.addr,
        "VAULT_ROLE_ID": "r",
        "VAULT_SECRET_ID": SECRET_ID,
    }
    session = Session(environ=approle_env, retries=0)
    tally.check("repr", _leaks({"repr": repr(session) + str(session)}))
    try:
        read_values(session, "leak/x")
        tally.check("approle login", "no error raised")
    except SecretsafeError as exc:
        tally.check("approle login", _leaks({"exception": "\n".join(exception_texts(exc))}))
    finally:
        session.close()
