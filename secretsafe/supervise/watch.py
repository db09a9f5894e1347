"""``run --watch``: notice that the sources of the values changed.

Files are polled, not watched with inotify: a ``stat`` of a few paths every
:data:`FILE_INTERVAL` seconds costs nothing, needs no dependency, and sees every way an
editor or ``sops`` replaces a file (in place, or a new inode renamed over the old one: the
signature is inode, size, mtime and ctime, so a same-size rewrite within one mtime tick is
still seen through ctime). A missing file counts as a change (and then as another when it
comes back).

Vault paths are polled every :data:`VAULT_INTERVAL` seconds (``SECRETSAFE_VAULT_POLL``
in the environment sets another, in seconds, at least :data:`MIN_VAULT_INTERVAL`) plus a
random jitter of up to :data:`VAULT_JITTER` of it (so that many replicas restarted together
do not poll in step),
asking only for the metadata: the current KV version of each path and section, no value.
A failed poll (Vault down, sealed) is not a change: the running command keeps its values.
The poll runs in the supervisor's loop: while a request is under way the command's output
waits, so a poll gets :func:`poll_timeout` seconds per request with no retry and no wait for an
election (a client's defaults, 10 s x 4 attempts, froze the output for 40 s per poll while
Vault accepted connections without answering); a poll that fails is not a change, and the
next one comes an interval later.

A change starts a quiet period: the restart happens once nothing changed for
:data:`DEBOUNCE` seconds, so a burst (an editor's several writes, a push of several
sections) restarts once.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from secretsafe.errors import SecretsafeError

if TYPE_CHECKING:
    from secretsafe.vault.reader import Session

__all__ = [
    "DEBOUNCE",
    "FILE_INTERVAL",
    "VAULT_INTERVAL",
    "VAULT_JITTER",
    "VaultVersions",
    "Watcher",
]

FILE_INTERVAL = 0.25
VAULT_INTERVAL = 10.0
MIN_VAULT_INTERVAL = 0.1
VAULT_JITTER = 0.2
DEBOUNCE = 0.5
#: At most this many seconds per request of a Vault poll (less for short intervals).
VAULT_POLL_TIMEOUT = 3.0

Signature = tuple[int, int, int, int, int] | None


def file_signature(path: str | os.PathLike[str]) -> Signature:
    """What changes when the file at ``path`` is written or replaced (None: missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def vault_interval() -> float:
    """:data:`VAULT_INTERVAL`, or ``SECRETSAFE_VAULT_POLL`` when it is a number."""
    try:
        return max(MIN_VAULT_INTERVAL, float(os.environ["SECRETSAFE_VAULT_POLL"]))
    except (KeyError, ValueError):
        return VAULT_INTERVAL


def poll_timeout() -> float:
    """Seconds one request of a Vault poll may take (module docstring)."""
    return min(VAULT_POLL_TIMEOUT, max(1.0, vault_interval() / 2))


class Watcher:
    """Polls the files and (when given) the Vault versions; :meth:`due` says when to reload.

    ``versions``: a callable returning the current version of every watched Vault path (a
    mapping to compare), or None. ``clock``: the monotonic clock, for tests.
    """

    def __init__(
        self,
        files: Sequence[str | os.PathLike[str]],
        *,
        versions: Callable[[], Mapping[str, int]] | None = None,
        clock: Callable[[], float],
    ) -> None:
        self._files = list(files)
        self._versions = versions
        self._clock = clock
        self._state = self._files_now()
        self._vault_state: Mapping[str, int] | None = None
        now = clock()
        self._next_file = now + FILE_INTERVAL
        self._next_vault = now + self._vault_delay()
        self._changed_at: float | None = None

    def _files_now(self) -> list[Signature]:
        return [file_signature(p) for p in self._files]

    @staticmethod
    def _vault_delay() -> float:
        return vault_interval() * (1 + random.uniform(0, VAULT_JITTER))  # noqa: S311 - jitter

    def mark(self) -> None:
        """Take the current state as the one the running values come from (call it just
        before reading the sources, so that a change made while reading is seen)."""
        self._state = self._files_now()
        if self._versions is not None:
            self._vault_state = self._read_versions() or self._vault_state
        self._changed_at = None

    def mark_versions(self) -> None:
        """Take the Vault versions now as those of the running values (after the first
        read: the credentials may come from the sources read first)."""
        if self._versions is not None:
            self._vault_state = self._read_versions() or self._vault_state

    def _read_versions(self) -> Mapping[str, int] | None:
        if self._versions is None:
            return None
        try:
            return dict(self._versions())
        except (SecretsafeError, OSError):
            return None  # unreachable or sealed: not a change

    def next_deadline(self) -> float:
        """When :meth:`poll` has something to do next."""
        times = [self._next_file]
        if self._versions is not None:
            times.append(self._next_vault)
        if self._changed_at is not None:
            times.append(self._changed_at + DEBOUNCE)
        return min(times)

    def poll(self) -> bool:
        """Look at the sources when their interval has passed; True when a change was
        followed by :data:`DEBOUNCE` seconds without another one (time to reload)."""
        now = self._clock()
        if now >= self._next_file:
            self._next_file = now + FILE_INTERVAL
            current = self._files_now()
            if current != self._state:
                self._state = current
                self._changed_at = now
        if self._versions is not None and now >= self._next_vault:
            self._next_vault = now + self._vault_delay()
            got = self._read_versions()
            if got is not None:
                if self._vault_state is not None and got != self._vault_state:
                    self._changed_at = now
                self._vault_state = got
        if self._changed_at is not None and now - self._changed_at >= DEBOUNCE:
            self._changed_at = None
            return True
        return False


class VaultVersions:
    """The current KV versions of ``paths`` (``(path, mount)`` pairs), for :class:`Watcher`.

    The session (:class:`secretsafe.vault.reader.Session`, which keeps the token valid) is
    opened on the first poll with the credentials in ``environ()``: what the command sees.
    """

    def __init__(
        self, paths: Sequence[tuple[str, str]], environ: Callable[[], Mapping[str, str]]
    ) -> None:
        self._paths = list(paths)
        self._environ = environ
        self._session: Session | None = None

    def __call__(self) -> dict[str, int]:
        from secretsafe.vault.reader import Session, current_versions

        if self._session is None:
            self._session = Session(
                environ=dict(self._environ()), timeout=poll_timeout(), retries=0, failover=0
            )
        out: dict[str, int] = {}
        for mount in dict.fromkeys(m for _, m in self._paths):
            wanted = [p for p, m in self._paths if m == mount]
            out.update(current_versions(self._session, wanted, mount=mount))
        return out

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
