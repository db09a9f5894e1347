"""Advisory locks for read-modify-write changes of one file.

``set``, ``unset``, ``rotate``, ``edit`` and ``recipients add|remove`` read an encrypted file,
change it in memory and write it back atomically. Two such commands on one file at once would
each write their own version and one change would be lost. :func:`locked` serialises them
with ``flock`` on the file itself; writes replace the file (a new inode), so after taking the
lock we check that the path still names the locked inode and retry on the new one if not.

The lock is released by the kernel when the process exits, even on ``kill -9``: a crash never
leaves a stale lock behind. Descriptors are close-on-exec, so an editor or sops child started
while the lock is held cannot keep it alive.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator
from typing import Concatenate, ParamSpec, TypeVar

from secretsafe.errors import FileError

__all__ = ["DEFAULT_TIMEOUT", "exclusive", "locked"]

#: Seconds to wait for another secretsafe process to finish with the file.
DEFAULT_TIMEOUT = 30.0

_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextlib.contextmanager
def locked(path: str | os.PathLike[str], *, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` for the duration of the block.

    Waits up to ``timeout`` seconds (default :data:`DEFAULT_TIMEOUT`, or
    ``$SECRETSAFE_LOCK_TIMEOUT``), then raises :class:`FileError`. Without ``fcntl`` (Windows)
    the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    wait = _timeout(timeout)
    deadline = time.monotonic() + wait
    delay = 0.002
    while True:
        fd = _open(path)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise FileError(
                            f"{path}: another process is changing this file "
                            f"(waited {wait:g} s for its lock)",
                            hint="wait for the other secretsafe command to finish, then retry",
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            if _same_file(fd, path):
                break
        except BaseException:
            os.close(fd)
            raise
        # Replaced while we waited: lock the file the path names now.
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)


def exclusive(
    func: Callable[Concatenate[str | os.PathLike[str], _P], _R],
) -> Callable[Concatenate[str | os.PathLike[str], _P], _R]:
    """Decorator: run ``func(path, ...)`` holding :func:`locked` on ``path``."""

    @functools.wraps(func)
    def wrapper(path: str | os.PathLike[str], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with locked(path):
            return func(path, *args, **kwargs)

    return wrapper


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    raw = os.environ.get("SECRETSAFE_LOCK_TIMEOUT", "").strip()
    if raw:
        with contextlib.suppress(ValueError):
            return max(0.0, float(raw))
    return DEFAULT_TIMEOUT


def _open(path: str | os.PathLike[str]) -> int:
    # The one non-blocking open of a user-given file: a named pipe must not hang here.
    from secretsafe.files import open_regular

    return open_regular(path)[0]


def _same_file(fd: int, path: str | os.PathLike[str]) -> bool:
    held = os.fstat(fd)
    try:
        now = os.stat(path)
    except FileNotFoundError:
        raise FileError(f"{path}: removed while waiting for its lock") from None
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)
