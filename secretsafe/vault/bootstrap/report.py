"""What the steps plan (:class:`Action`) and what a run reports (:class:`StepResult`,
:class:`BootstrapReport`, also as a JSON document).

Every text here names settings, variables, nodes, paths and files -- never a value, key share,
token or secret id: the steps build them from the config and from server metadata only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Action", "BootstrapReport", "OnStep", "Status", "StepResult"]

#: ``planned``: a change to make (done by ``apply``, or only shown in a dry run);
#: ``done``: a change made; ``unchanged``/``skipped``: nothing to do; ``differs``: the server
#: has other settings, changed only with ``force``.
Status = Literal["done", "unchanged", "planned", "differs", "skipped"]
STATUSES: tuple[Status, ...] = ("done", "planned", "unchanged", "differs", "skipped")


@dataclass(frozen=True)
class Action:
    """One item a step's ``plan()`` found. ``change`` says what the step's ``apply()`` would
    do about it (None: nothing to do, or nothing it may do); ``ref`` names the config item it
    is about (a node address, a mount, an app)."""

    step: str
    target: str
    status: Status
    detail: str = ""
    diff: tuple[str, ...] = ()
    change: str | None = None
    ref: str = ""


@dataclass(frozen=True)
class StepResult:
    """One action's outcome. ``detail`` and ``diff`` name settings and variables, never values.
    ``phase`` is the step module that produced it (``init``, ``unseal``, ``mounts``, ...)."""

    step: str
    target: str
    status: Status
    detail: str = ""
    diff: tuple[str, ...] = ()
    phase: str = ""

    def line(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        target = f" {self.target}" if self.target else ""
        return f"{self.status:>9}  {self.step}{target}{detail}"

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.step,
            "target": self.target,
            "status": self.status,
            "detail": self.detail,
            "diff": list(self.diff),
        }


OnStep = Callable[[StepResult], None]


@dataclass
class BootstrapReport:
    dry_run: bool
    steps: list[StepResult] = field(default_factory=list)
    nodes: tuple[str, ...] = ()
    #: name -> file path (the keys file, each app's credentials file)
    files: dict[str, str] = field(default_factory=dict)
    #: app name -> {"role", "policy", "mount", "path", "credentials_file"}
    apps: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def differences(self) -> list[StepResult]:
        return [s for s in self.steps if s.status == "differs"]

    @property
    def changed(self) -> list[StepResult]:
        return [s for s in self.steps if s.status == "done"]

    @property
    def noop(self) -> bool:
        return all(s.status in ("unchanged", "skipped") for s in self.steps)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.steps if r.status == s) for s in STATUSES}

    def as_dict(self) -> dict[str, object]:
        """The machine report of ``vault bootstrap --format json`` (see the README)."""
        groups: list[tuple[str, list[dict[str, object]]]] = []
        for r in self.steps:
            name = r.phase or r.step
            if not groups or groups[-1][0] != name:
                groups.append((name, []))
            groups[-1][1].append(r.as_dict())
        return {
            "command": "bootstrap",
            "dry_run": self.dry_run,
            "nodes": list(self.nodes),
            "summary": self.counts(),
            "steps": [{"step": n, "actions": a} for n, a in groups],
            "files": dict(self.files),
            "apps": {k: dict(v) for k, v in self.apps.items()},
        }
