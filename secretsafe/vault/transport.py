"""The one HTTP transport every request to Vault / OpenBao goes through.

:class:`Transport` owns what must be the same for every call -- the KV fast path of
:class:`~secretsafe.vault.client.VaultClient`, hvac calls (through :meth:`Transport.adapter`,
a ``requests`` adapter), the unauthenticated init/unseal/join calls and the node probes of
:mod:`~secretsafe.vault.cluster` and :mod:`~secretsafe.vault.dev`:

- **TLS**: verification always on; ``verify`` may name a CA bundle to trust.
- **Timeouts**: ``timeout`` bounds each connect, send and receive.
- **Overall deadline**: every operation (connect + send + read + redirects, and in
  :meth:`VaultClient.call` every retry and backoff) ends within ``deadline`` seconds. A
  server trickling a byte a second defeats a per-read timeout; here each read waits at most
  for what is left of the deadline, then the operation fails with
  :class:`~secretsafe.errors.VaultUnreachable` (30).
- **Size cap**: answers larger than :data:`MAX_RESPONSE_BYTES` (32 MiB) are refused with
  :class:`~secretsafe.errors.VaultError` (35) without being read whole. 32 MiB is Vault's and
  OpenBao's default listener ``max_request_size``: no secret written through a default
  listener can be larger, and a KV read answers the data plus a little metadata. A hostile or
  broken server can therefore cost at most ~2x that in memory.
- **Redirects** (a standby answers 307 to the active node): followed at most
  :data:`MAX_REDIRECTS` times, method and body kept, and only to a host:port of the
  configured node list, never from ``https`` to ``http`` (the Vault Go client refuses
  downgrades too). Anything else is refused (:class:`~secretsafe.errors.VaultError`, 35)
  before a byte -- token or body -- is sent to the new location.
- **Header values** are checked before use: a control character (a token pasted with its
  newline) is refused with :class:`~secretsafe.errors.UsageError` naming the header, never
  its value.
- **Proxies**: ``HTTP(S)_PROXY`` / ``NO_PROXY`` are honoured (an HTTP proxy, or a CONNECT
  tunnel for https), through the same code.

Connection-level failures are raised as the standard exceptions (``OSError``,
``ssl.SSLError``, ``http.client.HTTPException``); ``client._classify`` maps them into the
error tree, so retries stay a decision of the caller.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from secretsafe.errors import UsageError, VaultError, VaultUnreachable

if TYPE_CHECKING:
    import requests

__all__ = [
    "MAX_REDIRECTS",
    "MAX_RESPONSE_BYTES",
    "NETWORK_ERRORS",
    "Answer",
    "ConnectTimeout",
    "DnsError",
    "HTTPException",
    "RedirectRefused",
    "Transport",
    "check_header",
    "netloc",
]

MAX_RESPONSE_BYTES = 32 * 1024 * 1024
MAX_REDIRECTS = 3
_REDIRECTS = (301, 302, 307, 308)
_READ = 64 * 1024

# The deadline and per-read timeout of the operation running on this thread: the reader
# under http.client's response consults them before every receive.
_op = threading.local()


def _requests() -> Any:
    """requests (hvac's HTTP library, from the ``vault`` extra), or a UsageError saying how
    to install it."""
    try:
        import requests
    except ImportError:
        raise UsageError(
            "this command needs hvac and requests, which are not installed",
            hint="pip install 'secretsafe[vault]'",
        ) from None
    return requests


class Answer(NamedTuple):
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    url: str


class RedirectRefused(VaultError):
    """A redirect this transport will not follow: nothing was sent to its target (exit 35)."""


class DeadlineExceeded(Exception):
    """The operation's overall deadline passed (internal; becomes VaultUnreachable)."""


def netloc(url: str) -> str:
    """``host:port`` of ``url`` (default port filled in), lower-cased."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # not a number, or out of range: matches no node
        return ""
    return f"{(parts.hostname or '').lower()}:{port}"


def check_header(name: str, value: str) -> None:
    """Refuse header values http.client would reject or that would split the request:
    control characters, non-Latin-1. The message names the header only."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F or ord(c) > 0xFF for c in value):
        raise UsageError(
            f"the {name} header would hold a control or non-Latin-1 character "
            "(a line break pasted with a token?); nothing was sent",
            hint="remove the stray character (re-copy the token, check the file it comes from)",
        )


def _remaining() -> float:
    deadline: float | None = getattr(_op, "deadline", None)
    return float("inf") if deadline is None else deadline - time.monotonic()


def _step_timeout(timeout: float) -> float:
    """What one blocking socket step may wait: the timeout, or less near the deadline."""
    remaining = _remaining()
    if remaining <= 0:
        raise DeadlineExceeded
    return min(timeout, remaining)


class _DeadlineReader(io.RawIOBase):
    """The socket reader of a response, each receive bounded by the operation's deadline.
    It wraps the ``makefile()`` reader, which keeps the socket open after http.client closes
    the connection of a close-delimited answer."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(_step_timeout(getattr(_op, "timeout", 10.0)))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Response(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        raw = self.fp.detach()  # detach, not close: that would drop the socket's reference
        self.fp = io.BufferedReader(_DeadlineReader(raw, sock), _READ)


class _OneWrite:
    """Send the request line, headers and a bytes body in one write (http.client sends the
    body separately: a second segment and wake-up per request, measurable on a sync of
    hundreds of paths)."""

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        buffer: list[bytes] = self._buffer  # type: ignore[attr-defined]
        if isinstance(message_body, bytes):
            buffer.extend((b"", b""))
            msg = b"\r\n".join(buffer) + message_body
            del buffer[:]
            self.send(msg)  # type: ignore[attr-defined]
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _HTTPConnection(_OneWrite, http.client.HTTPConnection):
    response_class = _Response


class _HTTPSConnection(_OneWrite, http.client.HTTPSConnection):
    response_class = _Response


class ConnectTimeout(Exception):
    """The TCP/TLS connection could not be set up in time: nothing was sent."""


# The transport's failure types, for callers that classify them (the client's error mapping,
# node probes): nothing outside this module imports http.client or socket for Vault.
HTTPException = http.client.HTTPException
DnsError = socket.gaierror
NETWORK_ERRORS: tuple[type[BaseException], ...] = (OSError, HTTPException, ConnectTimeout)


class Transport:
    """Connections and policy shared by every request to one Vault deployment (see the
    module docstring). Thread-safe: each thread keeps its own keep-alive connections."""

    def __init__(
        self,
        *,
        verify: bool | str = True,
        timeout: float,
        deadline: float,
        nodes: Iterable[str] = (),
        max_body: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.verify = verify
        self.timeout = float(timeout)
        self.deadline = float(deadline)
        self.max_body = max_body
        self.allowed: set[str] = set()
        self.allow(*nodes)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[http.client.HTTPConnection] = []
        self._ssl: ssl.SSLContext | None = None
        self._proxies: dict[str, tuple[str, int] | None] = {}

    def allow(self, *addrs: str) -> None:
        """Add node addresses that redirects may lead to."""
        self.allowed.update(netloc(a) for a in addrs)

    # --- the operation deadline --------------------------------------------------------------

    @contextlib.contextmanager
    def operation(self) -> Iterator[None]:
        """Run the block under one overall deadline (nested blocks share the outer one)."""
        if getattr(_op, "deadline", None) is not None:
            yield
            return
        _op.deadline = time.monotonic() + self.deadline
        try:
            yield
        finally:
            _op.deadline = None

    @staticmethod
    def remaining() -> float:
        """Seconds left in the current operation (infinite outside one)."""
        return _remaining()

    def deadline_error(self, server: str) -> VaultUnreachable:
        return VaultUnreachable(
            f"no complete answer from {server} within the {self.deadline:g} s deadline",
            hint="check the server and the network, or raise --timeout / --deadline",
        )

    # --- requests ------------------------------------------------------------------------------

    def exchange(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: Mapping[str, str],
        *,
        timeout: float | None = None,
        follow: bool = True,
    ) -> Answer:
        """One request to ``url`` (absolute), following allowed redirects (``follow=False``:
        none; the redirect is the answer); the answer of whatever status. ``timeout``: bound
        each step by this instead of the transport's timeout (a quick probe). Raises
        connection errors as such, policy violations as VaultError."""
        for name, value in headers.items():
            check_header(name, value)
        parts = urllib.parse.urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        with self.operation():
            try:
                for hop in range(MAX_REDIRECTS + 1):
                    status, body, hdrs = self._http(
                        base, method, target, data, headers, timeout=timeout
                    )
                    location = next((v for k, v in hdrs if k.lower() == "location"), None)
                    if not follow:
                        return Answer(status, body, hdrs, base + target)
                    if status in _REDIRECTS and location and hop < MAX_REDIRECTS:
                        base, target = self._redirect(base, target, location)
                        continue
                    if status in _REDIRECTS and location:
                        raise RedirectRefused(
                            f"{base} kept redirecting (more than {MAX_REDIRECTS} hops)",
                            hint="point --addr at the active node",
                        )
                    return Answer(status, body, hdrs, base + target)
            except DeadlineExceeded:
                raise self.deadline_error(base) from None
            except TimeoutError:
                if _remaining() <= 0:
                    raise self.deadline_error(base) from None
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _redirect(self, base: str, target: str, location: str) -> tuple[str, str]:
        try:
            moved = urllib.parse.urlsplit(urllib.parse.urljoin(base + target, location))
        except ValueError:
            moved = urllib.parse.urlsplit("invalid:")
        new_base = f"{moved.scheme}://{moved.netloc}"
        # The location is server-provided: the messages name only our own address.
        if moved.scheme not in ("http", "https"):
            raise RedirectRefused(f"{base} redirected to a non-HTTP address; refused")
        if base.startswith("https:") and moved.scheme != "https":
            raise RedirectRefused(
                f"{base} redirected to a plain http:// address; refused (the token and the "
                "values would travel unencrypted)",
                hint="check the server's api_addr and any proxy in front of it",
            )
        if not netloc(new_base) or netloc(new_base) not in self.allowed:
            raise RedirectRefused(
                f"{base} redirected to a host that is not one of the configured nodes; refused",
                hint="point --addr at the active node, or list every node of the cluster",
            )
        return new_base, moved.path + (f"?{moved.query}" if moved.query else "")

    def _http(
        self,
        base: str,
        method: str,
        target: str,
        data: bytes | None,
        headers: Mapping[str, str],
        *,
        timeout: float | None = None,
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        step = self.timeout if timeout is None else timeout
        _op.timeout = step
        proxy = self._proxy(base)
        if proxy is not None and base.startswith("http:"):
            target = base + target  # a plain-HTTP proxy takes the absolute URL
        for attempt in range(2):
            conn = self._connection(base, fresh=attempt > 0)
            reused = conn.sock is not None
            if not reused:
                conn.timeout = _step_timeout(step)
                try:
                    conn.connect()
                    # Small request/response pairs: do not let Nagle hold a segment back.
                    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except TimeoutError:
                    conn.close()
                    if _remaining() <= 0:
                        raise DeadlineExceeded from None
                    raise ConnectTimeout from None
                except BaseException:
                    conn.close()
                    raise
            try:
                conn.sock.settimeout(_step_timeout(step))
                conn.request(method, target, body=data, headers=dict(headers))
                resp = conn.getresponse()
                body = self._read_body(resp, base)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                # A kept-alive connection the server closed while idle: the request never
                # reached it, so sending once more on a new connection is safe.
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if resp.will_close:
                conn.close()
            return resp.status, body, resp.getheaders()
        raise ConnectionError("connection closed")  # pragma: no cover - loop returns or raises

    def _read_body(self, resp: http.client.HTTPResponse, base: str) -> bytes:
        length = resp.getheader("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_body:
            raise self._too_large(base)
        chunks: list[bytes] = []
        total = 0
        while True:
            piece = resp.read(_READ)
            if not piece:
                return b"".join(chunks)
            total += len(piece)
            if total > self.max_body:
                raise self._too_large(base)
            chunks.append(piece)

    def _too_large(self, base: str) -> VaultError:
        return VaultError(
            f"the answer from {base} is larger than {self.max_body // (1024 * 1024)} MiB; "
            "refused without reading it",
            hint="check that --addr points at Vault / OpenBao and not at another service",
        )

    def _proxy(self, base: str) -> tuple[str, int] | None:
        if base not in self._proxies:
            found: tuple[str, int] | None = None
            if any(k.lower().endswith("_proxy") for k in os.environ):
                import urllib.request

                parts = urllib.parse.urlsplit(base)
                proxy = urllib.request.getproxies().get(parts.scheme)
                if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
                    pp = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
                    found = (pp.hostname or "127.0.0.1", pp.port or 80)
            self._proxies[base] = found
        return self._proxies[base]

    def _connection(self, base: str, *, fresh: bool = False) -> http.client.HTTPConnection:
        conns: dict[str, http.client.HTTPConnection] | None = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(base)
        if conn is not None and not fresh:
            return conn
        if conn is not None:
            conn.close()
        parts = urllib.parse.urlsplit(base)
        host = parts.hostname or "127.0.0.1"
        port = parts.port
        proxy = self._proxy(base)
        if parts.scheme == "https":
            if proxy is not None:
                conn = _HTTPSConnection(*proxy, timeout=self.timeout, context=self._context())
                conn.set_tunnel(host, port)
            else:
                conn = _HTTPSConnection(host, port, timeout=self.timeout, context=self._context())
        elif proxy is not None:
            conn = _HTTPConnection(*proxy, timeout=self.timeout)
        else:
            conn = _HTTPConnection(host, port, timeout=self.timeout)
        conns[base] = conn
        with self._lock:
            self._conns.append(conn)
        return conn

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            cafile = self.verify if isinstance(self.verify, str) else None
            # Verification is always on; a CA bundle only adds what to trust.
            self._ssl = ssl.create_default_context(cafile=cafile)
        return self._ssl

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()

    # --- the same transport under hvac / requests ------------------------------------------

    def session(self) -> requests.Session:
        """A ``requests`` session whose every request goes through this transport (hvac
        takes it as ``session=``): same TLS, deadline, size cap and redirect policy."""
        _requests()
        import requests

        session = requests.Session()
        session.trust_env = False  # proxies are this transport's business
        session.max_redirects = 0  # redirects were followed (or refused) by exchange()
        adapter = self.adapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def adapter(self) -> requests.adapters.BaseAdapter:
        _requests()
        from requests.adapters import BaseAdapter
        from requests.models import Response
        from requests.structures import CaseInsensitiveDict

        transport = self

        class _Adapter(BaseAdapter):
            def send(  # type: ignore[override]
                self, request: requests.PreparedRequest, **kwargs: Any
            ) -> Response:
                body = request.body
                data = body.encode("utf-8") if isinstance(body, str) else body
                # http.client asks for identity encoding itself; we never decompress.
                headers = {
                    k: v
                    for k, v in request.headers.items()
                    if k.lower() not in ("accept-encoding", "connection")
                }
                answer = transport.exchange(
                    request.method or "GET",
                    request.url or "",
                    data if isinstance(data, bytes) else None,
                    headers,
                )
                resp = Response()
                resp.status_code = answer.status
                resp._content = answer.body
                resp.headers = CaseInsensitiveDict(dict(answer.headers))
                resp.url = answer.url
                resp.request = request
                resp.encoding = "utf-8"
                return resp

            def close(self) -> None:
                transport.close()

        return _Adapter()

    def get_json(self, url: str) -> tuple[int, Any]:
        """GET ``url``: (status, the JSON body or None). For unauthenticated probes; raises
        what :meth:`exchange` raises."""
        answer = self.exchange("GET", url, None, {"Accept": "application/json"})
        try:
            return answer.status, json.loads(answer.body) if answer.body else None
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            return answer.status, None
