"""The bootstrap steps, one module each, in the order the runner walks them.

Every module has ``NAME``, ``READS_ANSWERS`` (its server answers are parsed: a malformed one
ends the step with one clear error), ``plan(state) -> list[Action]`` (reads the server and
files, changes nothing) and ``apply(state, action) -> str`` (makes one planned change and
says what it did). Node steps run before the admin client exists, server steps after.
"""

from __future__ import annotations

from typing import Protocol

from secretsafe.vault.bootstrap.report import Action
from secretsafe.vault.bootstrap.state import State

__all__ = ["NODE_STEPS", "SERVER_STEPS", "Step"]


class Step(Protocol):
    NAME: str
    READS_ANSWERS: bool

    def plan(self, state: State) -> list[Action]: ...

    def apply(self, state: State, action: Action) -> str: ...


def _steps() -> tuple[tuple[Step, ...], tuple[Step, ...]]:
    from secretsafe.vault.bootstrap.steps import (
        approle,
        credentials,
        init,
        join,
        mounts,
        policies,
        raft,
        root_token,
        secrets,
        unseal,
    )

    return (init, unseal, join), (
        raft,
        mounts,
        policies,
        approle,
        credentials,
        secrets,
        root_token,
    )


NODE_STEPS, SERVER_STEPS = _steps()
