"""A local OpenBao raft cluster for tests, examples and benchmarks (not product code).

:func:`start_cluster` starts N ``bao server`` processes (:class:`RaftNode`) with integrated
(raft) storage, each with its own data dir, free API and cluster ports on 127.0.0.1 and a
private temp ``HOME``; they start uninitialised and sealed, which is what ``secretsafe vault
bootstrap`` expects of a fresh server. Processes are started in their own session and stopped
(or killed, to simulate a crash) by pid. :func:`init_cluster` makes them one unsealed cluster
with kv-v2 at ``secret/`` when a test needs a ready cluster without bootstrap.

Raft timing: ``performance_multiplier = 1`` and ``autopilot_reconcile_interval = "1s"`` make a
leader election take a few seconds on loopback instead of ~15 (measured, see DESIGN.md).
OpenBao 2.7 refuses a reconcile interval shorter than ``autopilot_update_interval`` (default
2 s), so that is set to 500 ms; it ignores ``disable_mlock`` (warns "unsupported field"), so
the config leaves it out.

Every request goes through :class:`~secretsafe.vault.client.VaultClient` (the one transport).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from secretsafe.errors import SecretsafeError, UsageError, VaultError
from secretsafe.vault.client import VaultClient, connect
from secretsafe.vault.cluster import find_leader, join, wait_listening, wait_voters
from secretsafe.vault.dev import bao_binary, free_port

__all__ = [
    "ClusterKeys",
    "RaftCluster",
    "RaftNode",
    "init_cluster",
    "node_config",
    "start_cluster",
    "start_node",
    "unseal_node",
    "wait_member",
]

_START_ATTEMPTS = 3


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


@dataclass(frozen=True)
class ClusterKeys:
    """What :func:`init_cluster` got back (test credentials; hidden from repr)."""

    root_token: str = field(repr=False)
    unseal_key: str = field(repr=False)


def unseal_node(addr: str, key: str, *, timeout: float = 10.0) -> None:
    """Submit the (single) unseal key to the node at ``addr``."""
    with VaultClient.anonymous(addr, timeout=timeout, retries=2) as client:
        client.request("PUT", "sys/unseal", body={"key": key}, idempotent=False)


def init_cluster(cluster: RaftCluster, *, timeout: float = 60.0) -> ClusterKeys:
    """Initialise the first node (one unseal key share), join and unseal the others, wait
    until every node votes, and enable kv-v2 at ``secret/`` (1,000 versions kept, so a
    test can read back every version it wrote)."""
    first, *others = cluster.nodes
    with VaultClient.anonymous(first.addr, timeout=timeout) as client:
        _, doc = client.request(
            "PUT",
            "sys/init",
            body={"secret_shares": 1, "secret_threshold": 1},
            idempotent=False,
        )
    keys = ClusterKeys(
        root_token=doc["root_token"], unseal_key=(doc.get("keys_base64") or doc["keys"])[0]
    )
    unseal_node(first.addr, keys.unseal_key)
    if find_leader([first.addr], timeout=timeout) is None:
        raise VaultError(f"{first.addr} did not become active in {timeout:.0f} s")
    for node in others:
        join(node.addr, first.addr)
        unseal_node(node.addr, keys.unseal_key)
    with connect(
        addr=cluster.addrs, token=keys.root_token, retries=3, deadline=timeout, environ={}
    ) as client:
        wait_voters(client, len(cluster.nodes), timeout=timeout)
        client.request(
            "POST", "sys/mounts/secret", body={"type": "kv", "options": {"version": "2"}}
        )
        # A new kv-v2 mount refuses its config for a moment while it upgrades: bounded retry.
        ends = time.monotonic() + timeout
        while True:
            try:
                client.request("POST", "secret/config", body={"max_versions": 1000})
                break
            except VaultError:
                if time.monotonic() > ends:
                    raise
                time.sleep(0.1)
    return keys


def wait_member(node: RaftNode, *, timeout: float = 30.0) -> None:
    """Wait until ``node`` answers ``sys/health`` as an unsealed member (active or standby)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            VaultClient.anonymous(node.addr, timeout=2.0) as client,
            contextlib.suppress(SecretsafeError),
        ):
            status, _ = client.request(
                "GET", "sys/health", params={"standbyok": "true"}, accept=(429, 473)
            )
            if status in (200, 429, 473):
                return
        time.sleep(0.1)
    raise VaultError(f"{node.addr} did not rejoin as an unsealed member in {timeout:.0f} s")
