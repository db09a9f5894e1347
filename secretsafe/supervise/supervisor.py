"""The supervisor loop of ``run --redact / --watch / --mount``: one child at a time.

secretsafe stays the parent of the command:

- **output** (``--redact``): the child's stdout and stderr are read (a pty when secretsafe's
  own stdout/stderr is a terminal, pipes otherwise, kept apart) in chunks of
  :data:`CHUNK` bytes and written out redacted (:mod:`secretsafe.supervise.redact`), so
  memory stays bounded whatever the child prints. Output is shown as soon as a read finds
  nothing more waiting, except a tail that could start a value, which waits for the next
  bytes, :data:`IDLE_FLUSH` seconds of quiet (when shorter than 3 bytes) or :data:`HOLD_MAX`.
  Without ``--redact`` the child writes to secretsafe's stdout/stderr directly.
- **stdin**: inherited by the child, except under a pty when secretsafe's stdin is the
  terminal: then it is copied to the pty (raw mode on the real terminal while the child runs).
- **signals**: INT, TERM, HUP, QUIT, USR1, USR2 and WINCH are passed on to the child (under a
  pty, WINCH becomes the pty's new window size). When the child stops (Ctrl-Z), secretsafe
  gives the terminal back and stops too; ``fg`` resumes both.
- **exit code**: the child's, or 128 + N when a signal N killed it.
- **--watch** (:mod:`secretsafe.supervise.watch`): on a change the sources are read and
  validated again *before* the running child is touched; when that fails, one line on
  stderr says why (names, never values) and the child keeps running. Otherwise the child
  gets SIGTERM, then SIGKILL after ``stop_timeout`` seconds, and the new one starts only once
  the old one has been reaped: never two at once. INT/TERM/HUP to secretsafe end the
  supervision (no restart after them).
- **--mount** (:mod:`secretsafe.supervise.mount`): the files exist while a child runs; they
  are rewritten between two children on a restart and removed when the child is gone,
  including after SIGTERM/INT/HUP to secretsafe (passed on to the child, whose exit ends the
  run).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import selectors
import signal
import sys
import termios
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, NamedTuple

from secretsafe.errors import SecretsafeError
from secretsafe.supervise.child import Child, exit_code
from secretsafe.supervise.redact import Redactor
from secretsafe.supervise.terminal import RawMode, copy_window_size, open_pty
from secretsafe.supervise.watch import Watcher

if TYPE_CHECKING:
    from secretsafe.supervise.mount import Mount

__all__ = ["Loaded", "Options", "supervise"]

#: Bytes read from the child at a time (the most held in memory per stream, with the
#: redactor's carry-over).
CHUNK = 65536
#: Seconds of quiet after which a stream's held-back tail is shown (see redact.py).
IDLE_FLUSH = 0.03
#: Seconds of quiet after which even a tail that could start a secret is shown.
HOLD_MAX = 0.5
#: Once the child is gone, seconds without output after which its streams count as done
#: (a grandchild may keep them open forever).
DRAIN_IDLE = 0.2

FORWARDED = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)
#: Signals after which the supervision ends with the child (no restart).
_ENDING = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


@dataclass(frozen=True)
class Options:
    """What ``run`` asked for. ``redact``: None, ``"values"`` or ``"names"``."""

    redact: str | None = None
    watch: bool = False
    stop_timeout: float = 10.0
    mount: str | None = None
    mount_names: Sequence[str] | None = None
    allow_disk: bool = False


class Loaded(NamedTuple):
    """What reading the sources gives: the child's environment, and the values that came
    from the sources (``-f``, ``--vault``) by name: the ones to redact and mount."""

    env: dict[str, str]
    secrets: dict[str, str]


def supervise(
    command: Sequence[str],
    *,
    load: Callable[[], Loaded],
    options: Options,
    watch_files: Sequence[str | os.PathLike[str]] = (),
    watch_versions: Callable[[], Mapping[str, int]] | None = None,
) -> int:
    """Run ``command`` under supervision; returns its exit code (see the module docstring).
    ``load`` reads and validates the sources (raising :class:`SecretsafeError`); it is called
    once at start and again on each change with ``options.watch``."""
    return _Supervisor(command, load, options, watch_files, watch_versions).run()


class _Stream:
    """One output of the child: read from ``src``, redacted, written to ``dst``."""

    def __init__(self, src: int, dst: int, redactor: Redactor | None) -> None:
        self.src = src
        self.dst = dst
        self.redactor = redactor
        self.open = True
        self.last = time.monotonic()


class _Supervisor:
    def __init__(
        self,
        command: Sequence[str],
        load: Callable[[], Loaded],
        options: Options,
        watch_files: Sequence[str | os.PathLike[str]],
        watch_versions: Callable[[], Mapping[str, int]] | None,
    ) -> None:
        self.command = list(command)
        self.load = load
        self.options = options
        self.watch_files = watch_files
        self.watch_versions = watch_versions
        # (name, value) of every value seen: old ones too, they may still be printed.
        self.secrets: dict[tuple[str, str], None] = {}
        out_tty, err_tty = _isatty(1), _isatty(2)
        self.stdin_tty = _isatty(0)
        # A pty only matters when output is redacted (else the child writes to ours).
        self.use_pty = options.redact is not None and (out_tty or err_tty)
        self.out_tty, self.err_tty = out_tty, err_tty
        self.tty_fd = 1 if out_tty else 2
        # Outside a pty, the child is made the terminal's foreground job when we are it.
        self.take_terminal = not self.use_pty and self.stdin_tty and _in_foreground()
        self.sel = selectors.DefaultSelector()
        self.streams: list[_Stream] = []
        self.master: int | None = None
        self.stdin_pending = b""
        # Typed input goes to the pty; not from the background (the terminal would stop us).
        self.stdin_open = self.use_pty and self.stdin_tty and _in_foreground()
        self.child: Child | None = None
        self.code: int | None = None
        self.exited_at = 0.0
        self.next_load: Loaded | None = None
        self.kill_at: float | None = None
        self.ending = False
        self.pending: list[int] = []
        self.unsent: list[int] = []
        self.raw = RawMode(0 if self.stdin_open else None)
        self.mount: Mount | None = None

    # -- the run -------------------------------------------------------------------------
    def run(self) -> int:
        watcher = None
        if self.options.watch:
            # Files as they are before the first read: a change while reading is seen.
            watcher = Watcher(self.watch_files, versions=self.watch_versions, clock=time.monotonic)
        first = self.load()
        if watcher is not None:
            watcher.mark_versions()
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        self.sel.register(wake_r, selectors.EVENT_READ, "wake")
        saved = self._install_signals(wake_w)
        try:
            with self.raw:
                self._start(first)
                return self._loop(wake_r, watcher)
        finally:
            self._cleanup()
            signal.set_wakeup_fd(-1)
            for signum, handler in saved.items():
                signal.signal(signum, handler)
            os.close(wake_r)
            os.close(wake_w)
            self.sel.close()

    def _install_signals(self, wake_w: int) -> dict[int, signal._HANDLER]:
        saved: dict[int, signal._HANDLER] = {}
        for signum in (*FORWARDED, signal.SIGCHLD):
            saved[signum] = signal.signal(signum, self._on_signal)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        return saved

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Passed on at once (a blocked write to a slow stdout must not delay a SIGTERM).
        if signum == signal.SIGCHLD:
            return
        self.pending.append(signum)
        if signum in _ENDING:
            self.ending = True
        if signum == signal.SIGWINCH and self.use_pty:
            return
        if self.child is not None:
            self.child.send(signum)
        else:  # between two children (a restart): for the next one
            self.unsent.append(signum)

    def _loop(self, wake_r: int, watcher: Watcher | None) -> int:
        while True:
            now = time.monotonic()
            for key, mask in self.sel.select(self._timeout(now, watcher)):
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        while os.read(wake_r, 512):
                            pass
                elif key.data == "stdin":
                    self._copy_stdin()
                else:
                    stream: _Stream = key.data
                    if mask & selectors.EVENT_WRITE:
                        self._flush_stdin()
                    if mask & selectors.EVENT_READ and stream.open:
                        self._pump(stream)
            now = time.monotonic()
            self._handle_signals()
            self._idle_flush(now)
            if self.child is not None:
                if self.code is None:
                    self._check_stopped()
                    self.code = self.child.poll()
                    if self.code is not None:
                        self.exited_at = now
                if self.code is not None and self._drained(now):
                    self._finish_child()
                    if self.next_load is not None and not self.ending:
                        loaded, self.next_load = self.next_load, None
                        self._start(loaded)
                        continue
                    return exit_code(self.code)
                if self.kill_at is not None and now >= self.kill_at and self.code is None:
                    self.child.kill()
                    self.kill_at = None
            if watcher is not None and not self.ending and watcher.poll():
                self._reload(watcher)

    def _timeout(self, now: float, watcher: Watcher | None) -> float:
        deadlines = [now + 1.0]
        for s in self.streams:
            if s.open and s.redactor is not None and s.redactor.pending:
                deadlines.append(s.last + IDLE_FLUSH)
        if self.code is not None:
            deadlines.append(now + 0.02)
        if self.kill_at is not None:
            deadlines.append(self.kill_at)
        if watcher is not None:
            deadlines.append(watcher.next_deadline())
        return max(0.0, min(deadlines) - now)

    # -- a child -------------------------------------------------------------------------
    def _start(self, loaded: Loaded) -> None:
        self.secrets.update(dict.fromkeys(loaded.secrets.items()))
        env = dict(loaded.env)
        if self.options.mount is not None:
            self.mount = self._new_mount(loaded.secrets)
            files = self.mount.__enter__()
            # The value travels as a file only: an image (or load()) given both NAME and
            # NAME_FILE refuses to start, and the point is to keep it out of the environment.
            for name in files:
                env.pop(name.removesuffix("_FILE"), None)
            env.update(files)
        redact = self.options.redact
        make = (lambda: Redactor(list(self.secrets), names=redact == "names")) if redact else None
        close_after: list[int] = []
        stdin = stdout = stderr = None
        if self.use_pty:
            master, slave = open_pty(size_from=self.tty_fd)
            close_after.append(slave)
            self.master = master
            os.set_blocking(master, False)
            if self.stdin_tty:
                stdin = slave
            if self.out_tty:
                stdout = slave
            if self.err_tty:
                stderr = slave
            self._add_stream(master, self.tty_fd, make() if make else None)
        if redact and stdout is None:
            stdout = self._pipe(1, make, close_after)
        if redact and stderr is None:
            stderr = self._pipe(2, make, close_after)
        try:
            self.child = Child(
                self.command,
                env,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                pty=self.use_pty,
                take_terminal=self.take_terminal,
            )
        finally:
            for fd in close_after:
                os.close(fd)
        self.code = None
        self.kill_at = None
        unsent, self.unsent = self.unsent, []
        for signum in unsent:  # arrived while no child ran
            self.child.send(signum)
        if self.stdin_open and self.master is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.register(0, selectors.EVENT_READ, "stdin")

    def _pipe(self, dst: int, make: Callable[[], Redactor] | None, close_after: list[int]) -> int:
        r, w = os.pipe()
        close_after.append(w)
        self._add_stream(r, dst, make() if make else None)
        return w

    def _add_stream(self, src: int, dst: int, redactor: Redactor | None) -> None:
        stream = _Stream(src, dst, redactor)
        self.streams.append(stream)
        self.sel.register(src, selectors.EVENT_READ, stream)

    def _new_mount(self, values: Mapping[str, str]) -> Mount:
        from secretsafe.supervise.mount import Mount

        return Mount(
            self.options.mount or "",
            values,
            self.options.mount_names,
            allow_disk=self.options.allow_disk,
        )

    def _drained(self, now: float) -> bool:
        live = [s for s in self.streams if s.open]
        return not live or all(now - max(s.last, self.exited_at) >= DRAIN_IDLE for s in live)

    def _finish_child(self) -> None:
        for stream in self.streams:
            self._close_stream(stream)
        self.streams = []
        if self.master is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(0)
            self.master = None
        self.stdin_pending = b""
        self.child = None
        if self.mount is not None:
            mount, self.mount = self.mount, None
            mount.__exit__(None, None, None)

    def _cleanup(self) -> None:
        """On the way out (normal or not): no child left behind, no file left mounted."""
        if self.child is not None and self.child.poll() is None:
            self.child.kill()
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.child.pid, 0)
        for stream in self.streams:
            self._close_stream(stream)
        self.streams = []
        if self.mount is not None:
            mount, self.mount = self.mount, None
            mount.__exit__(None, None, None)

    # -- watch ---------------------------------------------------------------------------
    def _reload(self, watcher: Watcher) -> None:
        watcher.mark()
        try:
            loaded = self.load()
            if self.options.mount is not None:
                self._new_mount(loaded.secrets)  # names checked before the child is touched
        except SecretsafeError as err:
            why = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
            _say(f"--watch: the sources changed but cannot be used ({why}); keeping the command")
            return
        self.next_load = loaded
        _say("--watch: the sources changed; restarting the command")
        if self.child is not None and self.code is None and self.kill_at is None:
            self.child.send(signal.SIGTERM)
            self.kill_at = time.monotonic() + self.options.stop_timeout

    # -- signals and job control ---------------------------------------------------------
    def _handle_signals(self) -> None:
        pending, self.pending = self.pending, []
        for signum in pending:
            if signum == signal.SIGWINCH and self.use_pty and self.master is not None:
                copy_window_size(self.tty_fd, self.master)

    def _check_stopped(self) -> None:
        """When the child stopped (Ctrl-Z, SIGTSTP), stop too, so that the shell sees the
        job stopped; on ``fg`` continue it."""
        if self.child is None:
            return
        try:
            info = os.waitid(os.P_PID, self.child.pid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_code != os.CLD_STOPPED:
            return
        # Consume the stop report (WNOWAIT left it), then stop ourselves.
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PID, self.child.pid, os.WSTOPPED | os.WNOHANG)
        self._suspend()

    def _suspend(self) -> None:
        """Stop secretsafe (the child is stopped already); on continue, continue it."""
        if self.child is None:
            return
        self.raw.suspend()
        if self.take_terminal:
            from secretsafe.supervise.child import _take_terminal_back

            _take_terminal_back()
        os.kill(os.getpid(), signal.SIGSTOP)
        # Continued (fg / bg / SIGCONT).
        self.raw.resume()
        if self.use_pty and self.master is not None:
            copy_window_size(self.tty_fd, self.master)
        if self.take_terminal and _in_foreground():
            with contextlib.suppress(OSError):
                old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
                try:
                    os.tcsetpgrp(0, self.child.pid)
                finally:
                    signal.signal(signal.SIGTTOU, old)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.child.pid, signal.SIGCONT)

    # -- data ----------------------------------------------------------------------------
    def _pump(self, stream: _Stream) -> None:
        try:
            data = os.read(stream.src, CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: the pty's last slave closed (end of output)
                raise
            data = b""
        if not data:
            self._close_stream(stream)
            return
        stream.last = time.monotonic()
        if stream.redactor is None:
            self._write(stream, data)
            return
        out = stream.redactor.feed(data)
        if len(data) < CHUNK:  # nothing more waiting: show all but a possible start of a value
            out += stream.redactor.flush_idle(min_hold=1)
        self._write(stream, out)

    def _idle_flush(self, now: float) -> None:
        for s in self.streams:
            if s.open and s.redactor is not None and s.redactor.pending:
                quiet = now - s.last
                if quiet >= IDLE_FLUSH:
                    self._write(s, s.redactor.flush_idle(force=quiet >= HOLD_MAX))

    def _close_stream(self, stream: _Stream) -> None:
        if not stream.open:
            return
        stream.open = False
        if stream.redactor is not None:
            self._write(stream, stream.redactor.close())
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(stream.src)
        os.close(stream.src)

    def _write(self, stream: _Stream, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(stream.dst, view) :]
            except BlockingIOError:
                select.select([], [stream.dst], [])
            except BrokenPipeError:
                # Nobody reads our output any more: the child's next write fails as it
                # would have without secretsafe in between.
                if stream.open:
                    stream.open = False
                    with contextlib.suppress(KeyError, ValueError):
                        self.sel.unregister(stream.src)
                    os.close(stream.src)
                return

    def _copy_stdin(self) -> None:
        try:
            data = os.read(0, CHUNK)
        except OSError:
            data = b""
        if not data:
            self.stdin_open = False
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(0)
            return
        suspend = self._suspend_char()
        if suspend is not None and suspend in data:
            # The pty's session is orphaned (its parent is in another session), so the kernel
            # does not stop it on Ctrl-Z: do what the terminal would, and stop too.
            data = data[: data.index(suspend)]
            self.stdin_pending += data
            self._flush_stdin()
            if self.child is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.child.pid, signal.SIGSTOP)
                self._suspend()
            return
        self.stdin_pending += data
        self._flush_stdin()

    def _suspend_char(self) -> bytes | None:
        """The pty's suspend character (Ctrl-Z) while the pty turns it into SIGTSTP."""
        if self.master is None:
            return None
        try:
            attrs = termios.tcgetattr(self.master)
        except termios.error:
            return None
        char = attrs[6][termios.VSUSP]
        if not attrs[3] & termios.ISIG or char in (b"\0", 0):
            return None
        return char if isinstance(char, bytes) else bytes([char])

    def _flush_stdin(self) -> None:
        """Write what was typed to the pty without ever blocking (a child that does not read
        its input must not stop its output from being copied)."""
        master = self.master
        if master is None:
            return
        with contextlib.suppress(BlockingIOError):
            while self.stdin_pending:
                n = os.write(master, self.stdin_pending)
                self.stdin_pending = self.stdin_pending[n:]
        stream = next((s for s in self.streams if s.src == master), None)
        if stream is None or not stream.open:
            return
        # While input waits, listen for the pty to become writable, and stop reading stdin.
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.stdin_pending else 0)
        self.sel.modify(master, events, stream)
        if self.stdin_open:
            with contextlib.suppress(KeyError, ValueError):
                if self.stdin_pending:
                    self.sel.unregister(0)
                else:
                    self.sel.register(0, selectors.EVENT_READ, "stdin")


def _say(line: str) -> None:
    sys.stderr.write(f"secretsafe run: {line}\n")
    sys.stderr.flush()


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _in_foreground() -> bool:
    """Whether secretsafe may use the terminal on stdin: it is in the foreground, or the
    terminal is not its controlling terminal (then job control does not apply to it)."""
    try:
        return os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return True
