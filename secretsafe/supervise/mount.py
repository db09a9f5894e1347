"""Secrets as files (``run --mount DIR``): each chosen value is written to ``DIR/NAME`` (mode
0400) for the lifetime of the child, which gets ``NAME_FILE=DIR/NAME`` in its environment, the
convention of the official postgres, mariadb and many other images.

Each file holds the value's UTF-8 bytes exactly, with no newline added (as compose
``secrets:`` do); ``load()`` strips one trailing newline from a ``_FILE``, so a value that
itself ends with a newline reads back one shorter there.

The directory must be on a RAM-backed filesystem (tmpfs or ramfs: ``/dev/shm``,
``$XDG_RUNTIME_DIR``, a container's ``/run/secrets``) unless ``allow_disk=True``. The type is
read with ``fstatfs(2)`` on the opened directory (its ``f_type`` magic number; ``os.statvfs``
does not report it), falling back to ``/proc/self/mounts`` where ``fstatfs`` is unavailable.

What removes the files, and what is guaranteed:

- the context manager exits (the child exited, an exception, SIGTERM handled by the caller):
  removed before ``__exit__`` returns;
- secretsafe is killed without running its cleanup (``kill -9``, the OOM killer): a small
  cleaner process forked on ``__enter__`` holds the read end of a pipe whose write end only
  secretsafe holds; the kernel closes it when secretsafe dies, however it dies, and the cleaner
  then removes the files (and the directory if it created it). ``PR_SET_PDEATHSIG`` is a
  second trigger, for the case where the write end leaked into another process (a fork that
  did not exec); it is set only when the mount is entered from the main thread, because the
  kernel sends it when the *thread* that forked the cleaner ends;
- secretsafe and the cleaner are killed together (``kill -9`` of both, a container's PID 1
  going down with everything, power loss): nothing can remove the files, but a tmpfs/ramfs
  never writes them to a disk and loses them when it is unmounted or the machine restarts
  (like any process memory, tmpfs pages can be swapped out);
- with ``allow_disk=True`` on a disk filesystem: the same removals, but after a crash of both
  processes the files stay on the disk, and deleted blocks may remain readable: not
  guaranteed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import NamedTuple

from secretsafe.errors import FileError, InsecurePermissions, UsageError

__all__ = ["Mount", "is_ram_backed"]

#: statfs f_type magic numbers (linux/magic.h) of filesystems that live in memory only.
_TMPFS_MAGIC = 0x01021994
_RAMFS_MAGIC = 0x858458F6
_RAM_MAGICS = frozenset({_TMPFS_MAGIC, _RAMFS_MAGIC})

_FILE_MODE = 0o400
_DIR_MODE = 0o700
_WRITE_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PR_SET_PDEATHSIG = 1

#: What a refusal tells the user to do instead.
_WHERE = "use a directory under /dev/shm or $XDG_RUNTIME_DIR, or pass --allow-disk"


def _fstatfs_type(fd: int) -> int | None:
    """``f_type`` of the filesystem holding ``fd`` (``fstatfs(2)``), None if it cannot be read."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        # struct statfs begins with f_type (__fsword_t, a C long on Linux); the rest is not
        # needed, and the buffer is larger than the struct on every architecture.
        buf = ctypes.create_string_buffer(512)
        if libc.fstatfs(fd, buf) != 0:
            return None
        return int(ctypes.c_ulong.from_buffer(buf).value) & 0xFFFFFFFF
    except (OSError, AttributeError, ImportError):
        return None


def is_ram_backed(fd: int, path: str) -> bool:
    """Whether the directory open as ``fd`` (at ``path``) is on tmpfs or ramfs."""
    magic = _fstatfs_type(fd)
    if magic is not None:
        return magic in _RAM_MAGICS
    from secretsafe.files import _RAM_FILESYSTEMS, _fs_type

    return _fs_type(os.path.realpath(path)) in _RAM_FILESYSTEMS


class Mount:
    """Write ``values`` (those in ``names``; all when None) as 0400 files in ``directory``
    while the ``with`` block runs; ``__enter__`` returns ``{NAME + "_FILE": path}`` for the
    child's environment. See the module docstring for the guarantees.

    ``directory`` is created (0700) when missing; an existing one must be an empty directory
    owned by this user that nobody else can write to (a symlink is refused), in a parent
    that only this user or root owns and others cannot write to unless it is sticky (as
    ``/dev/shm``): else they could swap the directory for their own. Once opened, the
    directory is used (and cleaned) through file descriptors, not its path. Errors are
    :class:`~secretsafe.errors.UsageError` (a directory that cannot be used, an unknown name),
    :class:`~secretsafe.errors.InsecurePermissions` and :class:`~secretsafe.errors.FileError`;
    none names a value, and a failed ``__enter__`` leaves no file behind.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        values: Mapping[str, str],
        names: Sequence[str] | None = None,
        *,
        allow_disk: bool = False,
    ) -> None:
        from secretsafe.dotenv import is_valid_name, shown_name

        self.directory = os.path.abspath(os.fspath(directory))
        chosen = list(values) if names is None else list(dict.fromkeys(names))
        for name in chosen:
            if name not in values:
                raise UsageError(
                    f"--mount-names: {shown_name(name)} is not one of the values",
                    hint="name variables that the env files (or Vault) set",
                )
            # A file name: no "/", no "." or "..", nothing a shell or an image would misread.
            if not is_valid_name(name):
                raise UsageError(
                    f"--mount: {shown_name(name)} cannot be a file name",
                    hint="choose the names with --mount-names",
                )
        self._items = [(name, values[name]) for name in chosen]
        self._allow_disk = allow_disk
        self._created = False
        self._written: list[str] = []
        self._cleaner: tuple[int, int] | None = None  # (pid, write end of its pipe)
        # Open while entered: every step after the checks acts through these, never through
        # the path, which someone could point elsewhere meanwhile.
        self._parent_fd: int | None = None
        self._dir_fd: int | None = None

    # -- the context manager ----------------------------------------------------------
    def __enter__(self) -> dict[str, str]:
        try:
            target = self._open_directory()
            if not self._allow_disk:
                _require_ram(target.dir_fd, self.directory)
            self._cleaner = _start_cleaner(target, [n for n, _ in self._items], self._created)
            for name, value in self._items:
                self._write(target.dir_fd, name, value)
        except BaseException:
            self._remove()
            raise
        return {f"{name}_FILE": os.path.join(self.directory, name) for name, _ in self._items}

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._remove()

    # -- steps ------------------------------------------------------------------------
    def _open_directory(self) -> _Target:
        """Open (creating it if missing) the directory, refusing one that others control
        (or that others could swap: a parent they can write to)."""
        d = self.directory
        parent, base = os.path.split(d)
        if not base:
            raise UsageError(f"--mount {d}: not a directory of its own", hint=_WHERE)
        try:
            self._parent_fd = pfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise UsageError(
                f"--mount {d}: the parent directory does not exist", hint=_WHERE
            ) from None
        except OSError as exc:
            raise UsageError(
                f"--mount {d}: cannot open its parent directory ({exc.strerror})", hint=_WHERE
            ) from None
        _check_parent(d, parent, pfd)
        try:
            os.mkdir(base, _DIR_MODE, dir_fd=pfd)
            self._created = True
        except FileExistsError:
            pass
        except FileNotFoundError:
            raise UsageError(
                f"--mount {d}: the parent directory does not exist", hint=_WHERE
            ) from None
        except OSError as exc:
            raise UsageError(
                f"--mount {d}: cannot create it ({exc.strerror})", hint=_WHERE
            ) from None
        try:
            self._dir_fd = dfd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
        except OSError as exc:
            try:
                mode = os.lstat(base, dir_fd=pfd).st_mode
            except OSError:
                mode = 0
            if stat.S_ISLNK(mode):
                raise UsageError(f"--mount {d}: is a symbolic link", hint=_WHERE) from None
            if not stat.S_ISDIR(mode):
                raise UsageError(f"--mount {d}: is not a directory", hint=_WHERE) from None
            raise UsageError(f"--mount {d}: cannot open it ({exc.strerror})") from None
        _check_directory(d, dfd, empty=not self._created)
        return _Target(pfd, base, dfd)

    def _write(self, dfd: int, name: str, value: str) -> None:
        path = os.path.join(self.directory, name)
        try:
            fd = os.open(name, _WRITE_FLAGS, _FILE_MODE, dir_fd=dfd)
        except FileExistsError:
            raise FileError(f"{path}: already exists", hint="pass an empty directory") from None
        except OSError as exc:
            raise FileError(f"{path}: cannot create ({exc.strerror})") from None
        self._written.append(name)
        try:
            os.fchmod(fd, _FILE_MODE)  # whatever the umask
            view = memoryview(value.encode("utf-8"))
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            # The value is not in the message; the partial file goes with the others.
            raise FileError(f"{path}: cannot write ({exc.strerror})") from None
        finally:
            os.close(fd)

    def _remove(self) -> None:
        """Remove what this mount wrote (and the directory if it made it), then stop the
        cleaner without letting it act, so that it cannot touch a later mount of the same
        path. If a file could not be removed here, the cleaner is let go and tries too."""
        left = False
        base = os.path.basename(self.directory)
        if self._parent_fd is not None and self._dir_fd is not None:
            target = _Target(self._parent_fd, base, self._dir_fd)
            left = not target.remove(self._written, created=self._created)
        elif self._created and self._parent_fd is not None:
            # Made but not opened (something else stands there now): only an empty
            # directory goes, and rmdir never follows a symlink.
            with contextlib.suppress(OSError):
                os.rmdir(base, dir_fd=self._parent_fd)
        self._written = []
        self._created = False
        for fd in (self._dir_fd, self._parent_fd):
            if fd is not None:
                os.close(fd)
        self._dir_fd = self._parent_fd = None
        if self._cleaner is not None:
            pid, write_end = self._cleaner
            self._cleaner = None
            if not left:
                with contextlib.suppress(OSError):
                    os.write(write_end, b"x")  # "done": exit without removing anything
            os.close(write_end)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


class _Target(NamedTuple):
    """Where the files are, as open file descriptors: the parent directory, the name of the
    mount directory in it, and the mount directory itself."""

    parent_fd: int
    base: str
    dir_fd: int

    def remove(self, names: Sequence[str], *, created: bool) -> bool:
        """Remove ``names`` from the directory, and (``created``) the directory itself if it
        is still the one at its name (moved away, it is left, emptied of our files); whether
        all is gone."""
        ok = True
        for name in names:
            try:
                os.unlink(name, dir_fd=self.dir_fd)
            except FileNotFoundError:
                pass
            except OSError:
                ok = False
        if created and self.in_place():
            from secretsafe.files import remove_tree

            remove_tree(self.base, dir_fd=self.parent_fd)
            ok = ok and not self.in_place()
        return ok

    def in_place(self) -> bool:
        """Whether the parent's entry ``base`` is still this directory (not a swapped one)."""
        try:
            st = os.lstat(self.base, dir_fd=self.parent_fd)
        except OSError:
            return False
        mine = os.fstat(self.dir_fd)
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _check_parent(d: str, parent: str, pfd: int) -> None:
    """Refuse a parent directory in which others could rename the mount directory and put
    their own (or a symlink) in its place: the child would read their files."""
    st = os.fstat(pfd)
    if st.st_uid not in (os.geteuid(), 0):
        raise InsecurePermissions(
            f"--mount {d}: its parent directory {parent} is owned by another user",
            hint=_WHERE,
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        raise InsecurePermissions(
            f"--mount {d}: its parent directory {parent} is writable by group or others "
            f"without the sticky bit (mode {stat.S_IMODE(st.st_mode):04o})",
            hint=f"run: chmod go-w {parent}, or {_WHERE}",
        )


def _require_ram(dfd: int, d: str) -> None:
    if not is_ram_backed(dfd, d):
        raise UsageError(
            f"--mount {d}: not on a RAM-backed filesystem (tmpfs or ramfs)", hint=_WHERE
        )


def _check_directory(d: str, dfd: int, *, empty: bool) -> None:
    """Refuse a directory others could tamper with, or (``empty``) one with files in it."""
    st = os.fstat(dfd)
    if st.st_uid != os.geteuid():
        raise InsecurePermissions(
            f"--mount {d}: owned by another user", hint="use a directory of your own"
        )
    # With the sticky bit others may add files (O_EXCL then refuses the name) but cannot
    # remove or replace ours.
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        raise InsecurePermissions(
            f"--mount {d}: writable by group or others without the sticky bit "
            f"(mode {stat.S_IMODE(st.st_mode):04o})",
            hint=f"run: chmod 700 {d}, or let secretsafe create the directory",
        )
    if empty and os.listdir(dfd):
        raise UsageError(
            f"--mount {d}: the directory is not empty",
            hint="pass an empty or missing directory (secretsafe creates it)",
        )


def _start_cleaner(target: _Target, names: list[str], created: bool) -> tuple[int, int] | None:
    """Fork the process that removes the files if this one dies without ``__exit__``; see
    the module docstring. Returns its pid and the write end of its pipe."""
    if not hasattr(os, "fork"):  # pragma: no cover - not POSIX
        return None
    # Imported before the fork: the child must not need the import machinery.
    import ctypes
    import select
    import shutil  # noqa: F401 - used by remove_tree
    import time  # noqa: F401 - used by remove_tree

    from secretsafe.files import _close_inherited, remove_tree  # noqa: F401 - see above

    main_thread = threading.current_thread() is threading.main_thread()
    parent = os.getpid()
    read_end, write_end = os.pipe()  # close-on-exec: the child command does not inherit it
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        raise FileError(f"--mount: cannot start the cleanup process ({exc.strerror})") from None
    if pid != 0:
        os.close(read_end)
        return pid, write_end
    # The cleaner (coverage cannot see forked children).
    try:  # pragma: no cover
        os.close(write_end)
        os.setsid()  # Ctrl-C in the terminal must not stop the cleaner first
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)  # do not hold the caller's pipes open
        # Nor its locks, sockets and other mounts' pipes; the directories stay open.
        _close_inherited(keep=(read_end, target.parent_fd, target.dir_fd))

        # The parent's death is seen two ways (EOF on the pipe; SIGTERM from PDEATHSIG, for a
        # forked child that still holds the write end), often both at once. The handler only
        # wakes the wait: raising from it could land after the wait, past any except clause,
        # and skip the cleanup.
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        done = False
        if main_thread:
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() == parent:  # else the parent died before prctl: clean now
            while True:
                ready, _, _ = select.select([read_end, wake_r], [], [])
                if read_end not in ready:
                    break  # SIGTERM
                chunk = os.read(read_end, 1)
                if chunk != b"x" and chunk:
                    continue
                done = chunk == b"x"
                break
        if not done:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            target.remove(names, created=created)
    finally:  # pragma: no cover
        os._exit(0)
