"""File discipline shared by every layer: bounded reads with clear errors, permission checks,
and atomic writes (temp file in the same directory, fsync, rename, mode kept).

A reader never sees a half-written file, and a crash leaves either the old or the new file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from secretsafe.errors import FileError, InsecurePermissions

__all__ = [
    "MAX_FILE_BYTES",
    "atomic_write",
    "check_private",
    "read_bytes",
    "read_text",
]

#: Refuse inputs larger than this: an env file is small; a huge one is a mistake or an attack.
MAX_FILE_BYTES = 16 * 1024 * 1024

SECRET_MODE = 0o600


def read_bytes(path: str | os.PathLike[str], *, what: str = "file") -> bytes:
    """Read a regular file, translating OS errors into one clear :class:`FileError`."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise FileError(f"{p}: not a regular file", hint=f"pass the path of a {what}")
            if st.st_size > MAX_FILE_BYTES:
                raise FileError(
                    f"{p}: {st.st_size} bytes is too large for a {what}",
                    hint=f"the limit is {MAX_FILE_BYTES} bytes",
                )
            return fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise FileError(f"{p}: no such file", hint="check the path") from None
    except IsADirectoryError:
        raise FileError(f"{p}: is a directory", hint=f"pass the path of a {what}") from None
    except PermissionError:
        raise FileError(
            f"{p}: permission denied", hint="run as the file's owner or fix its permissions"
        ) from None
    except OSError as exc:
        raise FileError(f"{p}: cannot read ({exc.strerror})") from None


def read_text(path: str | os.PathLike[str], *, what: str = "file") -> str:
    """Read a UTF-8 text file (a BOM is dropped); invalid UTF-8 is a :class:`FileError`."""
    data = read_bytes(path, what=what)
    if b"\x00" in data:
        raise FileError(f"{path}: contains NUL bytes, not a text {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # The offset is safe to show; the bytes are not.
        raise FileError(
            f"{path}: not valid UTF-8 (byte {exc.start})", hint=f"save the {what} as UTF-8"
        ) from None


def check_private(path: str | os.PathLike[str], *, what: str = "key file") -> None:
    """Refuse a secret-bearing file that group or others can read or write."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileError(f"{path}: no such file", hint="check the path") from None
    except OSError as exc:
        raise FileError(f"{path}: cannot stat ({exc.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InsecurePermissions(
            f"{path}: {what} is accessible by group or others (mode {stat.S_IMODE(mode):04o})",
            hint=f"run: chmod 600 {path}",
        )


def atomic_write(
    path: str | os.PathLike[str], data: bytes | str, *, mode: int | None = None
) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new whole file.

    ``mode``: the new file's permissions; by default an existing file keeps its mode and a new
    one gets 0600 (everything secretsafe writes may hold secrets or keys).
    """
    p = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(p).st_mode)
        except FileNotFoundError:
            mode = SECRET_MODE
        except OSError as exc:
            raise FileError(f"{p}: cannot stat ({exc.strerror})") from None
    directory = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=directory)
    except PermissionError:
        raise FileError(f"{directory}: permission denied, cannot write {p.name}") from None
    except FileNotFoundError:
        raise FileError(f"{directory}: no such directory") from None
    try:
        # mkstemp creates 0600; set the final mode before any byte is written.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
            raise FileError(f"{p}: cannot write ({reason})") from None
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename durable; not all filesystems allow opening a directory.
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
