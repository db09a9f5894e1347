"""The one Vault transport: redirect policy (no TLS downgrade, configured nodes only), overall
deadline, response size cap, header checks, and validation of every parsed server answer --
against real local servers (TLS with a private CA where it matters), never mocks."""

from __future__ import annotations

import json
import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vault_hostile import RawServer, TlsFiles, json_server, make_tls, respond

from secretsafe.errors import SecretsafeError, UsageError, VaultError, VaultUnreachable
from secretsafe.vault import kv
from secretsafe.vault.client import VaultClient, connect
from secretsafe.vault.cluster import node_status, raft_voters
from secretsafe.vault.transport import MAX_RESPONSE_BYTES, Transport
from secretsafe.vault.unseal import _seal_status, anonymous_client

TOKEN = "hvs.transport-test-token-0123456789"
VALUE = "pushed-value-7c1e-NEVER-SEND-IN-CLEAR"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def recorder() -> Iterator[RawServer]:
    """A plain-HTTP listener that records whatever reaches it and answers 200."""

    def handler(_srv: RawServer, conn: socket.socket, _req: bytes) -> None:
        respond(conn, 200, b'{"data": {"version": 1}}')

    with RawServer(handler) as srv:
        yield srv


def _redirecting(to: str, tls: TlsFiles | None) -> RawServer:
    """A node that says it is active (sys/health 200) and redirects everything else."""

    def handler(_srv: RawServer, conn: socket.socket, request: bytes) -> None:
        path = request.split(b" ", 2)[1].decode()
        if path.startswith("/v1/sys/health"):
            respond(conn, 200, b"{}")
            return
        respond(conn, 307, b"", Location=to + path)

    return RawServer(handler, tls=tls)


# --- item 8: redirects ---------------------------------------------------------------------


def test_tls_redirect_to_plain_http_is_refused_before_sending(
    tls: TlsFiles, recorder: RawServer
) -> None:
    """A TLS node answering 307 to http:// must not get the token and values sent in clear,
    on the fast path and on hvac's path -- even when the target is a configured node."""
    with _redirecting(recorder.addr, tls) as node:
        with connect(
            addr=node.addr, token=TOKEN, ca_cert=tls.ca, retries=0, nodes=[recorder.addr]
        ) as client:
            with pytest.raises(VaultError, match="plain http") as info:
                kv.write_secret(client, "app", {"PASSWORD": VALUE}, cas=0)
            assert TOKEN not in str(info.value)
            with pytest.raises(VaultError, match="plain http"):
                client.call(
                    lambda: client.hvac.secrets.kv.v2.create_or_update_secret(
                        path="app", secret={"PASSWORD": VALUE}
                    )
                )
        # The TLS node got both requests (and the cluster client's unauthenticated health
        # probes, looking for the active node)...
        sent = [r for r in node.received if b"/v1/sys/health" not in r.split(b"\r\n", 1)[0]]
        assert len(sent) == 2
    assert recorder.received == []  # ...and nothing reached the cleartext listener


def test_redirect_to_an_unlisted_host_is_refused(tls: TlsFiles) -> None:
    with (
        _redirecting("https://localhost:1", tls) as node,
        connect(addr=node.addr, token=TOKEN, ca_cert=tls.ca, retries=0) as client,
        pytest.raises(VaultError, match="not one of the configured nodes"),
    ):
        kv.read_secret(client, "app")


# The whole redirect policy, as a table: (current base, Location, configured nodes) -> allowed.
_BASE = "https://10.0.0.1:8200"
REDIRECTS = [
    ("/v1/secret/data/x", [], True),  # same node, relative
    ("https://10.0.0.1:8200/v1/x", [], True),
    ("https://10.0.0.2:8200/v1/x", ["https://10.0.0.2:8200"], True),
    ("https://10.0.0.2:8200/v1/x", [], False),  # not a configured node
    ("https://10.0.0.1:8201/v1/x", [], False),  # another port is another service
    ("http://10.0.0.1:8200/v1/x", [], False),  # downgrade, same host
    ("http://10.0.0.2:8200/v1/x", ["http://10.0.0.2:8200"], False),  # downgrade, listed
    ("//10.0.0.3:8200/v1/x", [], False),  # scheme-relative to an unlisted host
    ("https://10.0.0.1:8200@evil.example/v1/x", [], False),  # userinfo trick
    ("ftp://10.0.0.1:8200/x", [], False),
    ("file:///etc/passwd", [], False),
    ("HTTPS://10.0.0.2:8200/v1/x", ["https://10.0.0.2:8200"], True),  # case-insensitive
]


@pytest.mark.parametrize(("location", "nodes", "allowed"), REDIRECTS)
def test_redirect_policy_table(location: str, nodes: list[str], allowed: bool) -> None:
    transport = Transport(timeout=1, deadline=1, nodes=[_BASE, *nodes])
    if allowed:
        base, _ = transport._redirect(_BASE, "/v1/a", location)
        assert base.lower().startswith("https://")
    else:
        with pytest.raises(VaultError) as info:
            transport._redirect(_BASE, "/v1/a", location)
        assert "evil" not in str(info.value)
        assert "passwd" not in str(info.value)


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.sampled_from(["http", "https", "HTTPS", "ftp", ""]),
    host=st.sampled_from(["10.0.0.1", "10.0.0.2", "evil.example", "[::1]", ""]),
    port=st.sampled_from(["", ":8200", ":80", ":443", ":0"]),
    rest=st.text(alphabet="/?#@:.a%", max_size=12),
)
def test_redirect_policy_fuzz(scheme: str, host: str, port: str, rest: str) -> None:
    """Whatever the Location, a followed redirect from https stays https and on a listed
    host:port; everything else is a VaultError (never another exception)."""
    location = f"{scheme}://{host}{port}{rest}" if scheme else f"{host}{port}{rest}"
    transport = Transport(timeout=1, deadline=1, nodes=[_BASE])
    try:
        base, _ = transport._redirect(_BASE, "/v1/a", location)
    except VaultError:
        return
    except ValueError:
        pytest.fail("a malformed Location escaped as ValueError")
    assert base.lower().startswith("https://10.0.0.1:8200")


# --- item 12: overall deadline and size cap -------------------------------------------------


def _trickle_body(srv: RawServer, conn: socket.socket, _req: bytes) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9999\r\n\r\n"
    )
    while not srv.stopping.wait(0.2):
        conn.sendall(b" ")


def _trickle_headers(srv: RawServer, conn: socket.socket, _req: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not srv.stopping.wait(0.2):
        conn.sendall(b"a")


def _endless_headers(srv: RawServer, conn: socket.socket, _req: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for i in range(100_000):
        if srv.stopping.is_set():
            return
        conn.sendall(b"X-Junk-%d: y\r\n" % i)


def _endless_chunked(srv: RawServer, conn: socket.socket, _req: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))
    while not srv.stopping.is_set():
        conn.sendall(chunk)


def _huge_declared(_srv: RawServer, conn: socket.socket, _req: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 268435456\r\n\r\n" + b" " * 65536)


def _huge_unannounced(srv: RawServer, conn: socket.socket, _req: bytes) -> None:
    # No length: the body ends when the connection closes (256 MiB if read whole).
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    block = b" " * (1 << 20)
    for _ in range(256):
        if srv.stopping.is_set():
            return
        conn.sendall(block)


def _silent(srv: RawServer, _conn: socket.socket, _req: bytes) -> None:
    srv.stopping.wait(30)


HOSTILE: dict[str, tuple[Callable[[RawServer, socket.socket, bytes], None], type[Exception], str]]
HOSTILE = {
    "trickled body": (_trickle_body, VaultUnreachable, "deadline"),
    "trickled header": (_trickle_headers, VaultUnreachable, "deadline"),
    "endless headers": (_endless_headers, VaultError, "not valid HTTP"),
    "endless chunked body": (_endless_chunked, VaultError, "larger than 32 MiB"),
    "256 MiB declared": (_huge_declared, VaultError, "larger than 32 MiB"),
    "256 MiB unannounced": (_huge_unannounced, VaultError, "larger than 32 MiB"),
    "silent": (_silent, VaultUnreachable, "timed out|deadline"),
}

# How each path under test reaches the server.
CALLERS: dict[str, Callable[[str], object]] = {
    "kv fast path": lambda addr: _with_client(addr, lambda c: kv.read_secret(c, "app")),
    "hvac": lambda addr: _with_client(
        addr,
        lambda c: c.call(
            lambda: c.hvac.secrets.kv.v2.read_secret_version(
                path="app", raise_on_deleted_version=True
            )
        ),
    ),
    "unseal probe": lambda addr: _seal_status(anonymous_client(addr, timeout=1.0), addr),
}


def _with_client(addr: str, fn: Callable[[VaultClient], object]) -> object:
    with connect(addr=addr, token=TOKEN, timeout=1.0, retries=0) as client:
        return fn(client)


@pytest.mark.parametrize("caller", sorted(CALLERS))
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_server_is_bounded_in_time_and_memory(case: str, caller: str) -> None:
    handler, error, match = HOSTILE[case]
    with RawServer(handler) as srv:
        tracemalloc.start()
        start = time.monotonic()
        try:
            with pytest.raises(error, match=match):
                CALLERS[caller](srv.addr)
        finally:
            elapsed = time.monotonic() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    # timeout 1 s, retries 0: the deadline is 1 s; allow for a loaded 2-core box.
    assert elapsed < 6.0, f"{case} via {caller} took {elapsed:.1f} s"
    assert peak < 2.5 * MAX_RESPONSE_BYTES, f"{case} via {caller} peaked at {peak >> 20} MiB"


def test_deadline_covers_retries() -> None:
    """--timeout 3 --retries 2 against a trickling server: the whole operation ends near its
    deadline (3 x 3 s + 2 x 2 s backoff), never after three full trickles."""
    with RawServer(_trickle_body) as srv:
        start = time.monotonic()
        with (
            connect(addr=srv.addr, token=TOKEN, timeout=1.0, retries=5, deadline=2.0) as c,
            pytest.raises(VaultUnreachable, match="2 s deadline"),
        ):
            kv.read_secret(c, "app")
        assert time.monotonic() - start < 6.0


def test_cli_timeout_3_retries_0_against_trickle(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The issue's reproduction: `--timeout 3 --retries 0` now ends in about 3 s, exit 30."""
    from secretsafe.cli import main

    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    with RawServer(_trickle_body) as srv:
        start = time.monotonic()
        code = main(
            ["vault", "pull", "--path", "app", "--addr", srv.addr, "--timeout", "3",
             "--retries", "0", "-o", str(tmp_path / "out.env.enc"), "--recipient",
             "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
        )  # fmt: skip
        elapsed = time.monotonic() - start
    _, err = capfd.readouterr()
    assert code == VaultUnreachable.exit_code, err
    assert "deadline" in err
    assert elapsed < 8.0


# --- item 4c: tokens and header values ------------------------------------------------------

CONTROL = [chr(c) for c in (*range(0x20), 0x7F)]


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    prefix=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
    bad=st.sampled_from([*CONTROL, " ", "\u00e9", "\u2028", "\ufeff"]),
    suffix=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
    source=st.sampled_from(["argument", "VAULT_TOKEN", "BAO_TOKEN"]),
)
def test_tokens_with_bad_characters_are_refused_without_echo(
    prefix: str, bad: str, suffix: str, source: str
) -> None:
    token = f"hvs.{prefix}{bad}{suffix}Zq9"
    env = {"VAULT_ADDR": "http://127.0.0.1:1"}
    if source != "argument":
        env[source] = token
    # Env tokens are stripped of surrounding whitespace; an inner bad character remains.
    with pytest.raises(UsageError, match="token") as info:
        connect(token=token if source == "argument" else None, environ=env, retries=0)
    exc = info.value
    texts = [str(exc), repr(exc), exc.message, exc.hint or "", *map(str, exc.args)]
    assert all(token.strip() not in t for t in texts)
    assert exc.__cause__ is None


def test_token_with_newline_cli_exit_code(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: http.client's ValueError quoted the token and the CLI said "internal error"."""
    from secretsafe.cli import main

    secret = "hvs.CAnARY-token-5d2\nsecond-line"
    monkeypatch.setenv("VAULT_TOKEN", secret)
    with json_server(lambda _req: (200, b"{}")) as srv:
        code = main(["vault", "pull", "--path", "app", "--addr", srv.addr, "-o", "x.enc"])
        assert srv.received == []  # refused before anything was sent
    out, err = capfd.readouterr()
    assert code == UsageError.exit_code
    assert "CAnARY" not in out + err
    assert "second-line" not in out + err
    assert "internal error" not in err


def test_header_values_are_checked_on_every_path() -> None:
    transport = Transport(timeout=1, deadline=1)
    with pytest.raises(UsageError, match="X-Vault-Namespace") as info:
        transport.exchange("GET", "http://127.0.0.1:1/v1/x", None, {"X-Vault-Namespace": "a\r\nb"})
    assert "a\r\nb" not in str(info.value)


# --- item 14b: every parsed field of every answer ------------------------------------------

JUNK: list[Any] = [
    "abc", None, [], {}, [1, 2], {"a": {"b": {"c": []}}}, True, -1, 2**70, 1.5, "1e400",
    float("inf"), "", {"version": "x"}, [None], "\u0000",
]  # fmt: skip


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *head, last = dotted.split(".")
    for k in head:
        doc = doc[k]
    if value == "<missing>":
        del doc[last]
    else:
        doc[last] = value


def _read_doc() -> dict[str, Any]:
    return {
        "data": {
            "data": {"A": "1"},
            "metadata": {"version": 3, "custom_metadata": {"x": "y"}},
        }
    }


# (name, a good answer, the fields to spoil, how the client reads it)
PARSED: list[tuple[str, Callable[[], Any], list[str], Callable[[VaultClient, str], Any]]] = [
    (
        "kv read",
        _read_doc,
        ["", "data", "data.data", "data.metadata", "data.metadata.version",
         "data.metadata.custom_metadata", "data.metadata.custom_metadata.x"],
        lambda c, _a: kv.read_secret(c, "app"),
    ),
    (
        "kv write",
        lambda: {"data": {"version": 4}},
        ["", "data", "data.version"],
        lambda c, _a: kv.write_secret(c, "app", {"A": "1"}, cas=3),
    ),
    (
        "kv list",
        lambda: {"data": {"keys": ["a", "b/"]}},
        ["", "data", "data.keys"],
        lambda c, _a: kv.list_keys(c, "app"),
    ),
    (
        "token lookup",
        lambda: {"data": {"ttl": 60}},
        ["", "data", "data.ttl"],
        lambda c, _a: c.token_ttl(),
    ),
    (
        "raft autopilot",
        lambda: {"data": {"servers": {"n1": {"status": "leader"}}}},
        ["", "data", "data.servers", "data.servers.n1", "data.servers.n1.status"],
        lambda c, _a: raft_voters(c),
    ),
    (
        "seal status",
        lambda: {"initialized": True, "sealed": True, "t": 2, "n": 3, "progress": 0},
        ["", "initialized", "sealed", "t", "n", "progress"],
        lambda _c, a: node_status(a, timeout=1.0),
    ),
    (
        "unseal seal-status",
        lambda: {"initialized": True, "sealed": True, "t": 2, "progress": 0},
        ["", "initialized", "sealed", "t", "progress"],
        lambda _c, a: _seal_status(anonymous_client(a, timeout=1.0), a),
    ),
]  # fmt: skip

PARSED_CASES = [(name, good, spot, fn) for name, good, spots, fn in PARSED for spot in spots]


@pytest.mark.parametrize(
    ("name", "good", "spot", "fn"),
    PARSED_CASES,
    ids=[f"{c[0]}:{c[2] or 'doc'}" for c in PARSED_CASES],
)
def test_hostile_answers_give_vault_errors(
    name: str, good: Callable[[], Any], spot: str, fn: Callable[[VaultClient, str], Any]
) -> None:
    """Every field the client parses, replaced by every kind of junk (and the field removed):
    either a valid result or a VaultError -- never ValueError/TypeError (exit 1)."""
    answers: list[bytes] = []
    for junk in [*JUNK, "<missing>"]:
        doc = good()
        if spot == "":
            answers.append(json.dumps(junk).encode() if junk != "<missing>" else b"")
            continue
        _set(doc, spot, junk)
        answers.append(json.dumps(doc).encode())
    queue = list(answers)
    with json_server(lambda _req: (200, queue[0])) as srv:
        for body in answers:
            queue[0] = body
            with connect(addr=srv.addr, token=TOKEN, timeout=2.0, retries=0) as client:
                try:
                    fn(client, srv.addr)
                except VaultError:
                    pass
                except SecretsafeError as exc:  # pragma: no cover - reported below
                    pytest.fail(f"{name}: {spot}={body[:60]!r} gave {type(exc).__name__}")
                except Exception as exc:
                    pytest.fail(f"{name}: {spot}={body[:60]!r} gave {type(exc).__name__}")


def test_version_abc_is_a_vault_error_not_internal() -> None:
    """The issue's reproduction: metadata.version "abc" gave ValueError -> internal error."""
    doc = _read_doc()
    doc["data"]["metadata"]["version"] = "abc"
    with (
        json_server(lambda _req: (200, json.dumps(doc).encode())) as srv,
        connect(addr=srv.addr, token=TOKEN, retries=0) as client,
        pytest.raises(VaultError, match="unexpected answer"),
    ):
        kv.read_secret(client, "app")


def test_private_ca_tls_reaches_node_probes(tls: TlsFiles) -> None:
    """Node probes use the transport: with the CA they reach a TLS node, without it they
    report the node unreachable (verification stays on)."""
    seal = {"initialized": False, "sealed": True, "t": 0, "n": 0, "progress": 0}
    with json_server(lambda _req: (200, json.dumps(seal).encode()), tls=tls) as srv:
        assert node_status(srv.addr, ca_cert=tls.ca).reachable
        assert not node_status(srv.addr).reachable


# --- item 4d: server text selects the error, never appears in it -----------------------------

ECHO = "echoed-request-body-9d1f"
SERVER_TEXT = [
    (400, "check-and-set parameter did not match the current version", "VaultConflict", ""),
    (400, f"invalid request: {ECHO}", "VaultError", ""),
    (403, f"permission denied {ECHO}", "VaultPermissionDenied", ""),
    (404, f"no handler for route 'x/{ECHO}'", "VaultNotFound", "no secrets engine"),
    (
        500,
        f"local node not active but active cluster node not found {ECHO}",
        "VaultError",
        "active cluster node not found",
    ),
    (503, f"Vault is sealed {ECHO}", "VaultSealed", "sealed"),
    (502, ECHO * 20, "VaultError", "(502)"),
    (418, ECHO, "VaultError", "(418)"),
]


@pytest.mark.parametrize(("status", "text", "kind", "shown"), SERVER_TEXT)
def test_server_error_text_is_never_quoted(status: int, text: str, kind: str, shown: str) -> None:
    body = json.dumps({"errors": [text]}).encode()
    with (
        json_server(lambda _req: (status, body)) as srv,
        connect(addr=srv.addr, token=TOKEN, retries=0) as client,
        pytest.raises(VaultError) as info,
    ):
        kv.write_secret(client, "app", {"A": "1"}, cas=0)
    assert type(info.value).__name__ == kind
    assert ECHO not in str(info.value)
    assert shown in str(info.value)


def _connect_proxy(srv: RawServer, conn: socket.socket, request: bytes) -> None:
    """A CONNECT proxy: tunnels the bytes, sees only TLS."""
    import select

    host, _, port = request.split(b" ", 2)[1].decode().partition(":")
    with socket.create_connection((host, int(port)), timeout=5) as upstream:
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        while not srv.stopping.is_set():
            ready, _, _ = select.select([conn, upstream], [], [], 0.2)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is conn else conn).sendall(data)


def test_https_through_a_connect_proxy_keeps_tls_and_policy(
    tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _read_doc()
    with (
        json_server(lambda _req: (200, json.dumps(doc).encode()), tls=tls) as node,
        RawServer(_connect_proxy) as proxy,
    ):
        monkeypatch.setenv("HTTPS_PROXY", proxy.addr)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with connect(addr=node.addr, token=TOKEN, ca_cert=tls.ca, retries=0) as client:
            assert kv.read_secret(client, "app").version == 3
        assert proxy.received[0].startswith(b"CONNECT 127.0.0.1:")
        assert TOKEN.encode() not in b"".join(proxy.received)  # the proxy saw only TLS
        assert any(TOKEN.encode() in r for r in node.received)
