"""Hostile and private-CA servers on 127.0.0.1 for the Vault transport tests.

- :func:`make_tls` writes a private CA and a server certificate for 127.0.0.1 (made with
  ``cryptography``, nothing downloaded, nothing trusted system-wide).
- :class:`RawServer` accepts TCP (optionally TLS) connections and hands each to a function
  that writes whatever bytes it likes -- trickles, endless headers, huge or never-ending
  bodies, redirects. It records every request it read, so a test can tell whether anything
  (a token, a value) reached it. Stopped by :meth:`RawServer.close`, bounded.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def make_tls(directory: Path) -> TlsFiles:
    """A private CA and a server certificate for 127.0.0.1 / localhost, as PEM files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secretsafe test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    return files


def read_request(conn: socket.socket) -> bytes:
    """One HTTP request (headers and a Content-Length body) as raw bytes; b"" on EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return data
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return head + b"\r\n\r\n" + body


Handler = Callable[["RawServer", socket.socket, bytes], None]


class RawServer:
    """A listener on 127.0.0.1 whose ``handler(server, conn, request)`` answers each request
    (``request`` is what :func:`read_request` read). ``received`` holds every request; set
    ``stopping`` is what long-running handlers poll to end early."""

    def __init__(self, handler: Handler, *, tls: TlsFiles | None = None) -> None:
        self.handler = handler
        self.received: list[bytes] = []
        self.stopping = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._ctx: ssl.SSLContext | None = None
        if tls is not None:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(tls.cert, tls.key)
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def addr(self) -> str:
        return f"{'https' if self._ctx else 'http'}://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._one, args=(conn,), daemon=True)
            with self._lock:
                self._conns.append(conn)
                self._threads.append(t)
            t.start()

    def _one(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5.0)
            if self._ctx is not None:
                conn = self._ctx.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._conns.append(conn)
            while not self.stopping.is_set():
                request = read_request(conn)
                if not request:
                    return
                with self._lock:
                    self.received.append(request)
                self.handler(self, conn, request)
        except (OSError, ssl.SSLError):
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        self._accept.join(timeout=5)
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join(timeout=5)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def respond(conn: socket.socket, status: int, body: bytes = b"{}", **headers: str) -> None:
    """A complete HTTP/1.1 answer with a Content-Length."""
    lines = [f"HTTP/1.1 {status} X"] + [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def json_server(answer: Callable[[bytes], tuple[int, bytes]], **kw: object) -> RawServer:
    """A server answering every request with ``answer(request)`` -> (status, JSON bytes)."""

    def handler(_srv: RawServer, conn: socket.socket, request: bytes) -> None:
        status, body = answer(request)
        respond(conn, status, body, Content_Type="application/json")

    return RawServer(handler, **kw)  # type: ignore[arg-type]


def mutating_proxy(upstream: str, mutate: Callable[[str, str, Any], Any]) -> RawServer:
    """A plain-HTTP proxy in front of a real server: each answer's JSON goes through
    ``mutate(method, path, doc)``; a different object returned replaces the answer."""
    up = urllib.parse.urlsplit(upstream)

    def handler(_srv: RawServer, conn: socket.socket, request: bytes) -> None:
        head, _, body = request.partition(b"\r\n\r\n")
        first, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = first.split(" ", 2)
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            if name.strip().lower() not in ("host", "content-length", "connection"):
                headers[name.strip()] = value.strip()
        upstream_conn = http.client.HTTPConnection(up.hostname or "", up.port, timeout=30)
        try:
            upstream_conn.request(method, target, body=body or None, headers=headers)
            resp = upstream_conn.getresponse()
            data, status = resp.read(), resp.status
            keep = {k: v for k, v in resp.getheaders() if k.lower() == "content-type"}
        finally:
            upstream_conn.close()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        new = mutate(method, target.split("?")[0], doc)
        if new is not doc:
            data = json.dumps(new).encode()
        respond(conn, status, data, **{k.replace("-", "_"): v for k, v in keep.items()})

    return RawServer(handler)


def lossy_proxy(upstream: str, fate: Callable[[str, str], str]) -> RawServer:
    """A plain-HTTP proxy in front of a real server that can lose answers. For each request
    ``fate(method, path)`` says: ``"pass"`` (forward, return the answer), ``"lost"`` (forward,
    then answer 502 as if the answer died with the node), ``"refuse"`` (answer 502 without
    forwarding) or ``"drop"`` (close the connection without forwarding or answering)."""
    up = urllib.parse.urlsplit(upstream)

    def handler(_srv: RawServer, conn: socket.socket, request: bytes) -> None:
        head, _, body = request.partition(b"\r\n\r\n")
        first, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = first.split(" ", 2)
        what = fate(method, target.split("?")[0])
        if what == "drop":
            conn.shutdown(socket.SHUT_RDWR)
            return
        if what == "refuse":
            respond(conn, 502, b'{"errors": []}', Content_Type="application/json")
            return
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            if name.strip().lower() not in ("host", "content-length", "connection"):
                headers[name.strip()] = value.strip()
        upstream_conn = http.client.HTTPConnection(up.hostname or "", up.port, timeout=30)
        try:
            upstream_conn.request(method, target, body=body or None, headers=headers)
            resp = upstream_conn.getresponse()
            data, status = resp.read(), resp.status
        finally:
            upstream_conn.close()
        if what == "lost":
            respond(conn, 502, b'{"errors": []}', Content_Type="application/json")
            return
        respond(conn, status, data, Content_Type="application/json")

    return RawServer(handler)
