"""The supervised command: start it, pass signals on, stop it, and its exit code.

Process groups: under a pty the child leads its own session, with the pty as its
controlling terminal. Otherwise it gets its own process group, so that a signal the
terminal sends to secretsafe's group is not delivered twice (once by the kernel, once
forwarded); when secretsafe's stdin is the terminal and secretsafe is in the foreground, the
child's group is made the terminal's foreground group (as a shell does for a job), so that
it can read the terminal and Ctrl-C reaches it; secretsafe gives the terminal back to its
own group when the child is gone.

Parent death: the child gets SIGTERM from the kernel when secretsafe dies without stopping it
(``kill -9``, the OOM killer; ``PR_SET_PDEATHSIG``, set when the child is started from the
main thread, as the kernel ties it to the thread that forked), so that the command does not
run on unsupervised (with old values, its mounted files removed). What the command started
itself is not covered (under a pty, the terminal's hangup reaches its foreground group).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from secretsafe.errors import CommandError, CommandNotFound

__all__ = ["Child", "exit_code", "parent_death_preexec"]


def exit_code(returncode: int) -> int:
    """The shell's convention: the child's code, or 128 + N for a death by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _foreground_job() -> None:  # pragma: no cover - runs in the forked child
    # Between fork and exec: a group of its own, and the terminal's foreground. SIGTTOU is
    # ignored for the call (a background group may not take the terminal otherwise).
    os.setpgid(0, 0)
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.tcsetpgrp(0, os.getpgrp())
    signal.signal(signal.SIGTTOU, old)


def _pty_session() -> None:  # pragma: no cover - runs in the forked child
    from secretsafe.supervise.terminal import make_controlling_terminal

    make_controlling_terminal()


_PR_SET_PDEATHSIG = 1


def parent_death_preexec(then: Callable[[], None] | None = None) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when this process dies (Linux
    ``PR_SET_PDEATHSIG``; only from the main thread, as the kernel ties it to the thread that
    forked), then calling ``then``; None when there is nothing to do. libc is looked up
    before the fork."""
    import threading

    prctl: Any = None
    if sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread():
        try:
            import ctypes

            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            prctl = None
    if prctl is None:
        return then
    parent = os.getpid()

    def run() -> None:  # pragma: no cover - runs in the forked child
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: as if after it
            os._exit(128 + int(signal.SIGTERM))
        if then is not None:
            then()

    return run


class Child:
    """One run of the command. ``stdin``/``stdout``/``stderr``: file descriptors for the
    child (None: inherit secretsafe's), ``pty``: they include a pty slave, which becomes its
    controlling terminal. Raises :class:`CommandNotFound` / :class:`CommandError` as
    ``run`` does."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        stdin: int | None,
        stdout: int | None,
        stderr: int | None,
        pty: bool,
        take_terminal: bool,
    ) -> None:
        from secretsafe.run import _shown_command, refuse_unpassable

        refuse_unpassable(env)
        self._terminal = take_terminal
        command = argv[0]
        prepare = parent_death_preexec(
            _pty_session if pty else (_foreground_job if take_terminal else None)
        )
        try:
            self._proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                start_new_session=pty,
                process_group=None if pty or take_terminal else 0,
                preexec_fn=prepare,  # noqa: PLW1509 - single-threaded
                restore_signals=True,
            )
        except FileNotFoundError:
            raise CommandNotFound(f"{_shown_command(command)}: command not found") from None
        except PermissionError:
            raise CommandError(
                f"{_shown_command(command)}: permission denied (not executable)"
            ) from None
        except OSError as exc:
            raise CommandError(
                f"{_shown_command(command)}: cannot execute ({exc.strerror})"
            ) from None
        except subprocess.SubprocessError:
            raise CommandError(f"{_shown_command(command)}: cannot start it") from None
        self.pid = self._proc.pid

    def poll(self) -> int | None:
        """The return code once it exited (reaped), else None."""
        code = self._proc.poll()
        if code is not None and self._terminal:
            self._terminal = False
            _take_terminal_back()
        return code

    def send(self, signum: int) -> None:
        """Deliver ``signum`` to the child (nothing if it is already gone)."""
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL the child and what it started in its group or session."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.send(signal.SIGKILL)


def _take_terminal_back() -> None:
    with contextlib.suppress(OSError):
        old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        try:
            os.tcsetpgrp(0, os.getpgrp())
        finally:
            signal.signal(signal.SIGTTOU, old)
