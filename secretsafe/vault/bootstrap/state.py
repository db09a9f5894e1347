"""What a bootstrap run knows so far: the config, the options, what the nodes said, the keys
file, the admin client, and the results reported. Each step's ``plan()`` reads it (and adds
what it read), ``apply()`` acts on it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from secretsafe.vault.bootstrap.config import BootstrapConfig
from secretsafe.vault.bootstrap.report import StepResult

if TYPE_CHECKING:
    from secretsafe.secret import Secret
    from secretsafe.vault.cluster import FailoverClient, NodeStatus
    from secretsafe.vault.unseal import KeysFile

__all__ = ["State"]

T = TypeVar("T")


@dataclass
class State:
    config: BootstrapConfig
    dry_run: bool = False
    force: bool = False
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 10.0
    failover_timeout: float = 30.0
    #: node address -> what it said in the ``check`` step (before any change)
    statuses: dict[str, NodeStatus] = field(default_factory=dict)
    #: the decrypted keys file, once read or written (masked repr)
    keys: KeysFile | None = None
    #: the token ``client`` uses (masked type)
    root: Secret | None = field(default=None, repr=False)
    #: an admin client following the active node; None before ``connect`` and in a dry run
    #: of a fresh or sealed cluster (nothing to inspect: steps plan from the config alone)
    client: FailoverClient | None = None
    #: True when this run (or its plan) initialises the cluster
    fresh: bool = False
    joined: int = 0
    leader: str | None = None
    results: list[StepResult] = field(default_factory=list)

    @property
    def server(self) -> FailoverClient:
        """The admin client (server steps run only once it is connected)."""
        if self.client is None:
            raise RuntimeError("bootstrap step run before connect")  # a bug, never user input
        return self.client

    def call(self, fn: Callable[..., T], *args: Any, path: str, **kw: Any) -> T:
        """``fn(*args, **kw)`` through the admin client (error map, failover; ``path`` labels
        errors)."""
        return self.server.call(fn, *args, path=path, **kw)

    def exists(self, step: str, target: str) -> bool:
        """Whether ``step target`` exists on the server now (reported, and not just planned)."""
        return any(
            r.step == step and r.target == target and r.status != "planned" for r in self.results
        )
