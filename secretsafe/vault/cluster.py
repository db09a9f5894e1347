"""Raft clusters: node status, the active node, joining, voters.

For any cluster: :func:`node_status` (one unauthenticated request per node),
:func:`find_leader`, :func:`wait_listening`, :func:`join`, :func:`raft_voters`,
:func:`wait_voters`, and :func:`connect_cluster`, a
:class:`~secretsafe.vault.client.VaultClient` over the node list that follows the active node
(the client does that itself whenever it is given several nodes; see "Clusters" in
:mod:`secretsafe.vault.client`).

The local test harness (``start_cluster``, ``RaftNode``, ...) lives in
:mod:`secretsafe.testing.raft`.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from secretsafe.errors import BootstrapError, UsageError, VaultError, VaultUnreachable
from secretsafe.vault.client import VaultClient, connect
from secretsafe.vault.transport import NETWORK_ERRORS, Transport

__all__ = [
    "FailoverClient",
    "NodeStatus",
    "connect_cluster",
    "find_leader",
    "join",
    "node_status",
    "raft_voters",
    "wait_listening",
    "wait_voters",
]

T = TypeVar("T")

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
    except NETWORK_ERRORS:
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
    body: dict[str, Any] = {"leader_api_addr": leader_api_addr}
    if ca_cert:
        # The joining node checks the leader's certificate with the same CA.
        body["leader_ca_cert"] = Path(ca_cert).read_text(encoding="utf-8")
    with VaultClient.anonymous(
        addr, verify=os.fspath(ca_cert) if ca_cert else True, timeout=timeout, deadline=timeout
    ) as client:
        _, doc = client.request(
            "POST", "sys/storage/raft/join", body=body, path="sys/storage/raft/join"
        )
    if isinstance(doc, dict) and doc.get("joined") is False:
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
    """A :class:`VaultClient` over several nodes, kept for callers of the name: every
    :class:`VaultClient` given several nodes now follows the active node itself (see
    "Clusters" in :mod:`secretsafe.vault.client`); ``failover_timeout`` is its ``failover``."""

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
            nodes=[a.rstrip("/") for a in addrs],
            failover=failover_timeout,
        )
        self.addrs = self.nodes
        self.failover_timeout = failover_timeout

    def __repr__(self) -> str:
        return f"FailoverClient(addr={self.addr!r}, addrs={list(self.addrs)!r}, token=<hidden>)"


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
        addr=start,
        token=token,
        timeout=timeout,
        retries=retries,
        nodes=clean,
        failover=failover_timeout,
        **kwargs,
    )
    return FailoverClient(inner, addrs=clean, failover_timeout=failover_timeout)
