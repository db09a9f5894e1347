"""File discipline shared by every layer: bounded reads with clear errors, permission checks,
and atomic writes (temp file in the same directory, fsync, rename, mode kept).

A reader never sees a half-written file, and a crash leaves either the old or the new file.
"""

from __future__ import annotations

import errno
import os
import stat

from secretsafe.errors import FileError, InsecurePermissions

__all__ = [
    "MAX_FILE_BYTES",
    "atomic_write",
    "check_private",
    "open_regular",
    "private_tempdir",
    "read_bytes",
    "read_text",
    "remove_if_killed",
    "remove_tree",
]

#: Refuse inputs larger than this: an env file is small; a huge one is a mistake or an attack.
MAX_FILE_BYTES = 16 * 1024 * 1024

SECRET_MODE = 0o600


#: Open flags for reading a user-given path: O_NONBLOCK so that a named pipe cannot block
#: open() (it has no effect on regular files); O_NOCTTY so a terminal never becomes ours.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)

_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)


def _require_regular(p: str, mode: int, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((text for test, text in _KINDS if test(mode)), "is not a regular file")
    raise FileError(f"{p}: {kind}", hint=f"pass the path of a {what}")


def open_regular(path: str | os.PathLike[str], *, what: str = "file") -> tuple[int, os.stat_result]:
    """Open a user-given path for reading, refusing anything but a regular file without ever
    blocking: a named pipe, a device, a socket or a directory is a :class:`FileError`.

    The path is stat'ed before the open (opening a device can have effects of its own) and
    the descriptor fstat'ed after it (the path may have been swapped in between). Returns the
    descriptor (close-on-exec; the caller closes it) and its ``fstat``.
    """
    p = os.fspath(path)
    try:
        _require_regular(p, os.stat(p).st_mode, what)
        fd = os.open(p, _READ_FLAGS)
    except OSError as exc:
        raise _read_error(p, exc, what) from None
    try:
        st = os.fstat(fd)
        _require_regular(p, st.st_mode, what)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _read_error(p: str, exc: OSError, what: str) -> FileError:
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return FileError(f"{p}: no such file", hint="check the path")
    if isinstance(exc, PermissionError):
        return FileError(
            f"{p}: permission denied", hint="run as the file's owner or fix its permissions"
        )
    return FileError(f"{p}: cannot read ({exc.strerror})", hint=f"pass the path of a {what}")


def read_bytes(path: str | os.PathLike[str], *, what: str = "file") -> bytes:
    """Read a regular file, translating OS errors into one clear :class:`FileError`."""
    # os-level calls, not pathlib: this runs on `secretsafe run`'s start-up path.
    p = os.fspath(path)
    fd, st = open_regular(p, what=what)
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > MAX_FILE_BYTES:
            raise FileError(
                f"{p}: {st.st_size} bytes is too large for a {what}",
                hint=f"the limit is {MAX_FILE_BYTES} bytes",
            )
        try:
            return fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise _read_error(p, exc, what) from None


def read_text(path: str | os.PathLike[str], *, what: str = "file", keep_bom: bool = False) -> str:
    """Read a UTF-8 text file (a BOM is dropped unless ``keep_bom``: in a sops file it is part
    of the first key); invalid UTF-8 is a :class:`FileError`."""
    data = read_bytes(path, what=what)
    if b"\x00" in data:
        raise FileError(f"{path}: contains NUL bytes, not a text {what}")
    if not keep_bom and data.startswith(b"\xef\xbb\xbf"):
        # What the "utf-8-sig" codec does (error offsets included), without importing it on
        # `run`'s path (key files are read there).
        data = data[3:]
    try:
        return data.decode("utf-8")
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
    _require_regular(os.fspath(path), mode, what)  # a pipe's mode says nothing: refuse it first
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InsecurePermissions(
            f"{path}: {what} is accessible by group or others (mode {stat.S_IMODE(mode):04o})",
            hint=f"run: chmod 600 {path}",
        )


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    mode: int | None = None,
    overwrite: bool = True,
) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new whole file.

    ``mode``: the new file's permissions; by default an existing file keeps its mode and a new
    one gets 0600 (everything secretsafe writes may hold secrets or keys).
    ``overwrite=False``: create only; should anything exist at ``path`` by the time the file
    is published (another process created it, a symlink was planted), it is left alone and
    this is a :class:`FileError` (the final step is a ``link``, which never replaces).
    """
    import contextlib  # here, not at the top: `secretsafe run` reads files, never writes
    import tempfile

    p = os.fspath(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(p).st_mode)
        except FileNotFoundError:
            mode = SECRET_MODE
        except OSError as exc:
            raise FileError(f"{p}: cannot stat ({exc.strerror})") from None
    directory, name = os.path.split(p)
    directory = directory or "."
    tmp: str | None = None
    try:
        # Linux: the bytes go to an unnamed file first, so a crash (kill -9) while writing or
        # syncing leaves nothing behind; only the link and the rename remain as a tiny window.
        tmp = _write_unnamed(directory, name, payload, mode)
        if tmp is None:
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            except PermissionError:
                raise FileError(f"{directory}: permission denied, cannot write {name}") from None
            except FileNotFoundError:
                raise FileError(f"{directory}: no such directory") from None
            # mkstemp creates 0600; set the final mode before any byte is written.
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, p)
        else:
            try:
                os.link(tmp, p, follow_symlinks=False)
            except FileExistsError:
                raise FileError(
                    f"{p}: created by something else meanwhile; left as it is",
                    hint="run the command again to change the file that is there now",
                ) from None
            os.unlink(tmp)
            tmp = None
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror
            raise FileError(f"{p}: cannot write ({reason})") from None
        raise
    _fsync_dir(directory)


def _write_unnamed(directory: str, name: str, payload: bytes, mode: int) -> str | None:
    """Write and fsync ``payload`` into an unnamed file in ``directory`` (``O_TMPFILE``), then
    link it under a temp name and return that path; None where the OS or the filesystem
    cannot, and the caller uses a named temp file instead."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return None
    try:
        fd = os.open(directory, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(fd)
        return None
    try:
        os.fchmod(fd, mode)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        tmp_name = f".{name}.{os.urandom(6).hex()}.tmp"
        try:
            # dst_dir_fd makes Python call linkat(AT_SYMLINK_FOLLOW): /proc/self/fd/N is the
            # unnamed file itself, not the link.
            os.link(f"/proc/self/fd/{fd}", tmp_name, dst_dir_fd=dfd, follow_symlinks=True)
        except FileNotFoundError:
            return None  # no /proc
    finally:
        os.close(fd)
        os.close(dfd)
    return os.path.join(directory, tmp_name)


def _fsync_dir(directory: str) -> None:
    # Makes the rename durable; not all filesystems allow opening a directory.
    import contextlib

    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


#: Filesystems whose files live in memory only: nothing written there reaches a disk.
_RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})


def private_tempdir(prefix: str) -> tuple[str, bool]:
    """A fresh 0700 directory for plaintext that has to touch a filesystem, and whether it is
    RAM-backed. Tried in order: ``$XDG_RUNTIME_DIR`` (per user, 0700 by spec), ``/dev/shm``,
    each only if it is a tmpfs/ramfs directory that is safe to create in; else ``TMPDIR``.

    In RAM, a copy that no cleanup could remove (the process and its watchdog killed together,
    as PID 1 of a container) is never written to a disk filesystem and is gone at the latest
    when the tmpfs is (container removal, reboot). Like any process memory, tmpfs pages can
    still be swapped out.
    """
    import tempfile

    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    # /dev/shm is world-writable: _safe_ram_dir checks it, and mkdtemp's name is random, 0700.
    for base in (runtime, "/dev/shm"):  # noqa: S108
        if base and os.path.isabs(base) and _safe_ram_dir(base):
            try:
                return tempfile.mkdtemp(prefix=prefix, dir=base), True
            except OSError:
                continue  # full, or read-only after all: try the next one
    return tempfile.mkdtemp(prefix=prefix), False


def _safe_ram_dir(path: str) -> bool:
    """``path`` is a directory on tmpfs/ramfs that we can create in and that nobody else can
    tamper with: ours or root's, and writable by others only with the sticky bit (then
    mkdtemp's random 0700 name cannot be taken over or removed by them)."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (os.geteuid(), 0):
        return False
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        return False
    if not os.access(real, os.W_OK | os.X_OK):
        return False
    return _fs_type(real) in _RAM_FILESYSTEMS


def _fs_type(real: str) -> str | None:
    """The filesystem type of the mount holding ``real`` (a resolved path), from
    /proc/self/mounts: the longest mount point that contains it."""
    import re  # not at module level: `run` imports this module on its start-up path

    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None  # no /proc: cannot tell, so not RAM
    best, kind = -1, None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        # Mount points escape space, tab, newline and backslash as octal (\040 ...).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= best:  # later mounts over the same point win
            best, kind = len(point), fields[2]
    return kind


class _Watchdog:
    """Handle of :func:`remove_if_killed`; :meth:`close` when the directory is removed."""

    def __init__(self, pid: int | None, fd: int | None) -> None:
        self._pid = pid
        self._fd = fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._pid is not None:
            import contextlib

            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = None


def remove_if_killed(directory: str | os.PathLike[str]) -> _Watchdog:
    """Remove ``directory`` even if this process dies without running its ``finally``
    blocks (``kill -9``, OOM killer): a forked watchdog waits on a pipe whose write end only
    this process holds; the kernel closes it on any exit, and the watchdog then removes the
    directory. For plaintext that has to touch the disk (``edit``). Call ``close()`` after
    removing the directory normally. Without ``fork`` this does nothing.
    """
    target = os.fspath(directory)
    if not hasattr(os, "fork"):  # pragma: no cover - not POSIX
        return _Watchdog(None, None)
    read_end, write_end = os.pipe()  # close-on-exec: an editor child does not inherit it
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return _Watchdog(None, None)
    if pid == 0:  # pragma: no cover - the watchdog (coverage cannot see forked children)
        try:
            os.close(write_end)
            os.setsid()  # Ctrl-C in the terminal must not stop the watchdog first
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)  # do not hold the caller's pipes open
            _close_inherited(keep=read_end)  # nor its locks and sockets
            while os.read(read_end, 1):
                pass
            remove_tree(target)
        finally:
            os._exit(0)
    os.close(read_end)
    return _Watchdog(pid, write_end)


def remove_tree(
    directory: str | os.PathLike[str], *, attempts: int = 100, dir_fd: int | None = None
) -> None:
    """Remove ``directory`` and everything in it, again while something still writes into it.

    A process left running after the owner died (an orphaned editor saving) can create a file
    between rmtree's unlinks and its final rmdir, which then fails and leaves the file. Once
    the directory itself is gone, nothing can be created in it: so repeat until it is
    (bounded: ``attempts`` rounds, 10 ms apart). ``dir_fd``: ``directory`` is a name in
    that open directory (a symlink there is not followed).
    """
    import shutil
    import time

    target = os.fspath(directory)
    for _ in range(attempts):
        shutil.rmtree(target, ignore_errors=True, dir_fd=dir_fd)
        try:
            os.lstat(target, dir_fd=dir_fd)
        except OSError:
            return
        time.sleep(0.01)


def _close_inherited(*, keep: int | tuple[int, ...]) -> None:
    import contextlib

    kept = (keep,) if isinstance(keep, int) else keep
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # pragma: no cover - no /proc
        fds = list(range(3, 256))
    for fd in fds:
        if fd > 2 and fd not in kept:
            with contextlib.suppress(OSError):
                os.close(fd)
