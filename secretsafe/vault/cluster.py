"""OpenBao raft clusters on 127.0.0.1, and a client that follows the active node.

Two halves:

- **A local harness** (:func:`start_cluster`, :class:`RaftNode`): N ``bao server`` processes
  with integrated (raft) storage, each with its own data dir, free API and cluster ports on
  127.0.0.1 and a private temp ``HOME``. Used by the test suite and the
  ``examples/vault-bootstrap`` script; nodes start uninitialised and sealed, which is what
  ``secretsafe vault bootstrap`` expects of a fresh server. Processes are started in their own
  session and stopped by pid.
- **Cluster helpers** for any cluster: :func:`node_status` (one unauthenticated request per
  node), :func:`find_leader`, :func:`join`, and :func:`connect_cluster`, a
  :class:`~secretsafe.vault.client.VaultClient` that, when its node dies or loses leadership,
  finds the new active node and retries -- bounded by ``failover_timeout``.

Raft timing: ``performance_multiplier = 1`` and ``autopilot_reconcile_interval = "1s"`` make a
leader election take a few seconds on loopback instead of ~15 (measured, see DESIGN.md).
OpenBao 2.7 refuses a reconcile interval shorter than ``autopilot_update_interval`` (default
2 s), so that is set to 500 ms; it ignores ``disable_mlock`` (warns "unsupported field"), so
the config leaves it out.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from secretsafe.errors import (
    BootstrapError,
    SecretsafeError,
    UsageError,
    VaultError,
    VaultSealed,
    VaultUnreachable,
)
from secretsafe.vault.client import VaultClient, connect
from secretsafe.vault.dev import bao_binary, free_port
from secretsafe.vault.transport import ConnectTimeout, Transport

__all__ = [
    "FailoverClient",
    "NodeStatus",
    "RaftCluster",
    "RaftNode",
    "connect_cluster",
    "find_leader",
    "join",
    "node_config",
    "node_status",
    "raft_voters",
    "start_cluster",
    "start_node",
    "wait_listening",
    "wait_voters",
]

T = TypeVar("T")

_START_ATTEMPTS = 3
_POLL = 0.05


# --- status of a node (no token needed) ----------------------------------------------------


@dataclass(frozen=True)
class NodeStatus:
    """What one node says about itself (``/sys/seal-status`` and ``/sys/leader``)."""

    addr: str
    reachable: bool
    initialized: bool = False
    sealed: bool = True
    threshold: int = 0
    shares: int = 0
    progress: int = 0
    is_self_leader: bool = False
    leader_address: str = ""
    ha_enabled: bool = False

    @property
    def active(self) -> bool:
        return self.reachable and not self.sealed and self.is_self_leader


def _get_json(url: str, *, timeout: float, ca_cert: str | os.PathLike[str] | None) -> Any:
    """GET ``url`` through the one Vault transport (same TLS and deadline rules as every
    other request); the JSON body whatever the status (health answers 429/501/503 with
    JSON), or None when nothing answered."""
    transport = Transport(
        verify=os.fspath(ca_cert) if ca_cert else True,
        timeout=timeout,
        deadline=timeout,
        nodes=(url,),
    )
    try:
        _, doc = transport.get_json(url)
    except VaultError:
        # A probe answer we refuse (oversized, a redirect elsewhere) is as good as none.
        return None
    except (OSError, http.client.HTTPException, ConnectTimeout):
        return None
    finally:
        transport.close()
    return doc if doc is not None else {}


def _field(doc: Mapping[str, Any], key: str, kind: type[T], default: T, url: str) -> T:
    """One field of a status answer, checked: a hostile or broken node gets a clear error."""
    value = doc.get(key, default)
    if value is None:
        return default
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 1_000_000:
            raise _bad_answer(url, key)
        return value  # type: ignore[return-value]
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise _bad_answer(url, key)


def _bad_answer(url: str, key: str) -> VaultError:
    return VaultError(
        f"unexpected answer from {url}: field {key!r} has the wrong type or range",
        hint="check that the address points at Vault / OpenBao",
    )


def node_status(
    addr: str, *, timeout: float = 2.0, ca_cert: str | os.PathLike[str] | None = None
) -> NodeStatus:
    """Seal and leader status of ``addr`` (unauthenticated endpoints; no retries). A node
    whose answers are not what Vault sends raises :class:`VaultError`."""
    addr = addr.rstrip("/")
    seal_url = f"{addr}/v1/sys/seal-status"
    seal = _get_json(seal_url, timeout=timeout, ca_cert=ca_cert)
    if seal is None:
        return NodeStatus(addr=addr, reachable=False)
    leader_url = f"{addr}/v1/sys/leader"
    leader = _get_json(leader_url, timeout=timeout, ca_cert=ca_cert) or {}
    if not isinstance(seal, dict):
        raise _bad_answer(seal_url, "(document)")
    if not isinstance(leader, dict):
        raise _bad_answer(leader_url, "(document)")
    return NodeStatus(
        addr=addr,
        reachable=True,
        initialized=_field(seal, "initialized", bool, False, seal_url),
        sealed=_field(seal, "sealed", bool, True, seal_url),
        threshold=_field(seal, "t", int, 0, seal_url),
        shares=_field(seal, "n", int, 0, seal_url),
        progress=_field(seal, "progress", int, 0, seal_url),
        is_self_leader=_field(leader, "is_self", bool, False, leader_url),
        leader_address=_field(leader, "leader_address", str, "", leader_url),
        ha_enabled=_field(leader, "ha_enabled", bool, False, leader_url),
    )


def wait_listening(
    addr: str,
    *,
    timeout: float = 15.0,
    process: subprocess.Popen[bytes] | None = None,
    ca_cert: str | os.PathLike[str] | None = None,
) -> None:
    """Wait until ``addr`` answers HTTP at all (sealed and uninitialised nodes included)."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise VaultError(f"the OpenBao server for {addr} exited (status {process.returncode})")
        if _get_json(f"{addr}/v1/sys/seal-status", timeout=1.0, ca_cert=ca_cert) is not None:
            return
        if time.monotonic() > deadline:
            raise VaultUnreachable(f"{addr} did not start listening in {timeout:.0f} s")
        time.sleep(_POLL)


def find_leader(
    addrs: Sequence[str],
    *,
    timeout: float = 0.0,
    exclude: Sequence[str] = (),
    ca_cert: str | os.PathLike[str] | None = None,
) -> str | None:
    """The API address of the active (leader, unsealed) node among ``addrs``; waits up to
    ``timeout`` seconds for one to appear. None if there is none."""
    deadline = time.monotonic() + timeout
    while True:
        for addr in addrs:
            if addr in exclude:
                continue
            try:
                st = node_status(addr, timeout=1.0, ca_cert=ca_cert)
            except VaultError:
                continue  # a node answering nonsense is not the leader
            if st.active:
                return st.addr
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def join(
    addr: str,
    leader_api_addr: str,
    *,
    timeout: float = 10.0,
    ca_cert: str | os.PathLike[str] | None = None,
) -> None:
    """Ask the node at ``addr`` (uninitialised, sealed) to join the raft cluster led by
    ``leader_api_addr`` (unauthenticated). It must be unsealed with the cluster's keys next."""
    from secretsafe.vault.client import translate_errors
    from secretsafe.vault.unseal import anonymous_client

    client = anonymous_client(addr, timeout=timeout, ca_cert=ca_cert)
    with translate_errors("sys/storage/raft/join", addr=addr):
        resp = client.sys.join_raft_cluster(
            leader_api_addr=leader_api_addr,
            # The joining node checks the leader's certificate with the same CA.
            leader_ca_cert=Path(ca_cert).read_text(encoding="utf-8") if ca_cert else None,
        )
    body = resp.json() if hasattr(resp, "json") else resp
    if isinstance(body, dict) and body.get("joined") is False:
        raise BootstrapError(
            f"{addr} could not join the raft cluster at {leader_api_addr}",
            hint="check that the leader is unsealed and reachable from that node",
        )


def raft_voters(client: VaultClient) -> dict[str, str]:
    """node id -> autopilot status (``leader``, ``voter``, ``non-voter``, ...)."""
    path = "sys/storage/raft/autopilot/state"
    _, body = client.request("GET", path, path=path)
    data = body.get("data") if isinstance(body, dict) else None
    servers = data.get("servers") if isinstance(data, dict) else None
    if servers is None:
        return {}
    if not isinstance(servers, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("status", ""), str) for v in servers.values()
    ):
        raise VaultError(
            f"unexpected answer from {client.addr} at {path}",
            hint="check that the address points at OpenBao / Vault with raft storage",
        )
    return {str(k): str(v.get("status") or "") for k, v in servers.items()}


def wait_voters(client: VaultClient, count: int, *, timeout: float = 60.0) -> dict[str, str]:
    """Wait until ``count`` raft servers vote (autopilot promotes a joined node once it is
    stable, a few seconds); a node that is not yet a voter does not count towards quorum."""
    deadline = time.monotonic() + timeout
    while True:
        state = raft_voters(client)
        if sum(1 for s in state.values() if s in ("leader", "voter")) >= count:
            return state
        if time.monotonic() > deadline:
            raise BootstrapError(
                f"only {sum(1 for s in state.values() if s in ('leader', 'voter'))} of {count} "
                f"raft nodes became voters in {timeout:.0f} s",
                hint="check the joined nodes' logs and that their cluster addresses are reachable",
            )
        time.sleep(0.2)


# --- following the active node -------------------------------------------------------------


class FailoverClient(VaultClient):
    """A :class:`VaultClient` over several nodes: when the current node cannot be reached, is
    sealed, or is a standby without an active node, it looks for the active node and retries
    the call there, for at most ``failover_timeout`` seconds per call. Both the fast path
    (:meth:`VaultClient.request`) and hvac calls go through :meth:`call`, so both follow.
    ``failovers`` counts switches. A write whose answer was lost with the old leader may have
    been applied: KV writes use check-and-set, so its retry fails with a conflict rather than
    applying twice."""

    def __init__(
        self,
        inner: VaultClient,
        *,
        addrs: Sequence[str],
        failover_timeout: float,
    ) -> None:
        # The same transport as ``inner`` (TLS, deadline, size cap), its redirects allowed to
        # every node of the cluster.
        super().__init__(
            addr=inner.addr,
            namespace=inner.namespace,
            retries=inner.retries,
            token_source=inner.token_source,
            token=inner._token,
            transport=inner.transport,
        )
        self.addrs = tuple(a.rstrip("/") for a in addrs)
        self.transport.allow(*self.addrs)
        self.failover_timeout = failover_timeout
        self.failovers = 0

    def __repr__(self) -> str:
        return f"FailoverClient(addr={self.addr!r}, addrs={list(self.addrs)!r}, token=<hidden>)"

    def _ca_cert(self) -> str | None:
        verify = self.transport.verify
        return verify if isinstance(verify, str) else None

    def switch_to(self, addr: str) -> None:
        self.addr = addr
        self.hvac.url = addr

    def call(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        path: str | None = None,
        idempotent: bool = True,
        **kwargs: Any,
    ) -> T:
        deadline = time.monotonic() + self.failover_timeout
        while True:
            try:
                return super().call(fn, *args, path=path, idempotent=idempotent, **kwargs)
            except VaultError as exc:
                if not _lost_leader(exc):
                    raise
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
                leader = find_leader(self.addrs, timeout=remaining, ca_cert=self._ca_cert())
                if leader is None:
                    raise type(exc)(
                        f"no active node among {', '.join(self.addrs)} after "
                        f"{self.failover_timeout:.0f} s",
                        hint="check that a majority of the nodes run and are unsealed",
                    ) from None
                if leader != self.addr:
                    self.failovers += 1
                    self.switch_to(leader)


def _lost_leader(exc: VaultError) -> bool:
    """Errors that mean "this node cannot serve now, another may": unreachable, sealed, or a
    standby that lost its active node (500 "active cluster node not found" during election)."""
    if isinstance(exc, VaultUnreachable | VaultSealed):
        return True
    text = exc.message.lower()
    return type(exc) is VaultError and (
        "active cluster node not found" in text or "node not active" in text
    )


def _reachable(addr: str, ca_cert: str | os.PathLike[str] | None) -> bool:
    try:
        return node_status(addr, timeout=1.0, ca_cert=ca_cert).reachable
    except VaultError:
        return False


def connect_cluster(
    addrs: Sequence[str],
    *,
    token: str | None = None,
    failover_timeout: float = 30.0,
    timeout: float = 5.0,
    retries: int = 1,
    **kwargs: Any,
) -> FailoverClient:
    """Connect to the active node of ``addrs`` (any reachable node if none is active yet) and
    follow leadership changes. Other keyword arguments go to :func:`connect`."""
    if not addrs:
        raise UsageError("no node addresses", hint="pass at least one address")
    clean = [a.rstrip("/") for a in addrs]
    ca_cert = kwargs.get("ca_cert")
    start = find_leader(clean, ca_cert=ca_cert) or next(
        (a for a in clean if _reachable(a, ca_cert)), clean[0]
    )
    inner = connect(
        addr=start, token=token, timeout=timeout, retries=retries, nodes=clean, **kwargs
    )
    return FailoverClient(inner, addrs=clean, failover_timeout=failover_timeout)


# --- local raft harness --------------------------------------------------------------------


def node_config(
    *,
    node_id: str,
    data_dir: Path,
    port: int,
    cluster_port: int,
    retry_join: Sequence[str] = (),
    tls: tuple[Path, Path] | None = None,
) -> str:
    """HCL for one raft node listening on 127.0.0.1 (local use only): without TLS, or with
    ``tls`` = (certificate, key) PEM files."""
    scheme = "https" if tls else "http"
    listener_tls = (
        f'tls_cert_file = "{tls[0]}"\n  tls_key_file = "{tls[1]}"' if tls else "tls_disable = true"
    )
    joins = "".join(
        f'\n  retry_join {{\n    leader_api_addr = "{addr}"\n  }}' for addr in retry_join
    )
    return f"""\
storage "raft" {{
  path = "{data_dir}"
  node_id = "{node_id}"
  performance_multiplier = 1
  autopilot_reconcile_interval = "1s"
  autopilot_update_interval = "500ms"{joins}
}}

listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  {listener_tls}
}}

api_addr = "{scheme}://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
ui = false
log_level = "info"
"""


@dataclass
class RaftNode:
    """One local ``bao server`` with raft storage. Its files live under ``home``."""

    node_id: str
    port: int
    cluster_port: int
    home: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    retry_join: tuple[str, ...] = ()
    bao: Path | None = field(default=None, repr=False)
    # (certificate, key) PEM files to serve HTTPS with, and the CA that signed them.
    tls: tuple[Path, Path] | None = None
    ca_cert: Path | None = None

    @property
    def addr(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_path(self) -> Path:
        return self.home / "config.hcl"

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def argv(self) -> list[str]:
        """The command line: binary, ``server`` and the config path, nothing secret."""
        binary = self.bao or bao_binary()
        return [str(binary), "server", f"-config={self.config_path}"]

    def start(self, *, timeout: float = 15.0) -> None:
        """Start the process (again, after :meth:`kill`) and wait until it answers HTTP."""
        if self.running():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.config_path.write_text(
            node_config(
                node_id=self.node_id,
                data_dir=self.data_dir,
                port=self.port,
                cluster_port=self.cluster_port,
                retry_join=self.retry_join,
                tls=self.tls,
            ),
            encoding="utf-8",
        )
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.process = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.home,
                start_new_session=True,
            )
        except OSError as exc:
            raise UsageError(f"cannot start bao: {exc.strerror}") from None
        finally:
            os.close(fd)
        try:
            wait_listening(self.addr, timeout=timeout, process=self.process, ca_cert=self.ca_cert)
        except SecretsafeError:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL our own process (a crash, as far as raft can tell) and reap it."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, *, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in ``timeout`` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class RaftCluster:
    """Local raft nodes; :meth:`close` stops them and removes their files if we made them."""

    nodes: list[RaftNode]
    base: Path
    _owns_base: bool = field(default=False, repr=False)

    @property
    def addrs(self) -> list[str]:
        return [n.addr for n in self.nodes]

    def node(self, addr: str) -> RaftNode:
        for n in self.nodes:
            if n.addr == addr.rstrip("/"):
                return n
        raise KeyError(addr)

    def leader(self, *, timeout: float = 0.0) -> RaftNode | None:
        addr = find_leader([n.addr for n in self.nodes if n.running()], timeout=timeout)
        return self.node(addr) if addr else None

    def close(self) -> None:
        for n in self.nodes:
            n.stop(timeout=3.0)
        if self._owns_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> RaftCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[RaftNode]:
        return iter(self.nodes)


def start_node(
    home: Path,
    *,
    node_id: str,
    retry_join: Sequence[str] = (),
    bao: str | os.PathLike[str] | None = None,
    timeout: float = 15.0,
    tls: tuple[Path, Path] | None = None,
    ca_cert: Path | None = None,
) -> RaftNode:
    """Start one raft node on free ports (retrying if a port is taken meanwhile); ``tls``:
    (certificate, key) to serve HTTPS with, ``ca_cert`` the CA that signed it."""
    last: SecretsafeError | None = None
    for _ in range(_START_ATTEMPTS):
        node = RaftNode(
            node_id=node_id,
            port=free_port(),
            cluster_port=free_port(),
            home=home,
            retry_join=tuple(retry_join),
            bao=Path(bao) if bao is not None else None,
            tls=tls,
            ca_cert=ca_cert,
        )
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            node.start(timeout=timeout)
        except VaultError as exc:
            last = exc
            continue
        return node
    assert last is not None  # noqa: S101 - the loop ran
    raise last


def start_cluster(
    size: int = 3,
    *,
    base: str | os.PathLike[str] | None = None,
    bao: str | os.PathLike[str] | None = None,
    timeout: float = 15.0,
) -> RaftCluster:
    """Start ``size`` fresh (uninitialised, sealed) raft nodes on 127.0.0.1. ``base=None``: a
    new private temp dir, removed by :meth:`RaftCluster.close`."""
    if size < 1:
        raise UsageError("a cluster needs at least one node")
    owns = base is None
    root = Path(tempfile.mkdtemp(prefix="secretsafe-raft-")) if base is None else Path(base)
    cluster = RaftCluster(nodes=[], base=root, _owns_base=owns)
    try:
        for i in range(size):
            cluster.nodes.append(
                start_node(root / f"node{i + 1}", node_id=f"node{i + 1}", bao=bao, timeout=timeout)
            )
    except BaseException:
        cluster.close()
        raise
    return cluster
