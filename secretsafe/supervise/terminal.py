"""The pseudo-terminal a redacted child runs on, and the state of secretsafe's own terminal.

When secretsafe's stdout or stderr is a terminal, the child gets a pty so that it still sees
one (colours, prompts, ``isatty()``, window size, job control); secretsafe copies between the
real terminal and the pty, redacting the output. While that runs, the real terminal is put in
raw mode (the pty does the line editing and turns Ctrl-C into SIGINT for the child) and is
always restored, whatever ends the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import termios
import tty
from typing import Any

__all__ = ["RawMode", "copy_window_size", "make_controlling_terminal", "open_pty"]

_WINSIZE_BYTES = 8  # struct winsize: four unsigned shorts


def open_pty(*, size_from: int | None) -> tuple[int, int]:
    """A new pty as ``(master, slave)``, the window size copied from ``size_from``."""
    master, slave = os.openpty()
    os.set_inheritable(master, False)
    if size_from is not None:
        copy_window_size(size_from, master)
    return master, slave


def copy_window_size(source: int, target: int) -> None:
    """Give ``target`` (a pty) the window size of the terminal ``source``; the kernel then
    sends SIGWINCH to the pty's foreground process group."""
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * _WINSIZE_BYTES)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)


def make_controlling_terminal() -> None:
    """In the child, after ``setsid`` (``Popen(start_new_session=True)``): make its stdin,
    the pty slave, its controlling terminal (for /dev/tty, job control and Ctrl-C)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class RawMode:
    """Raw mode on the terminal ``fd`` (None: no terminal, nothing done) while in use;
    :meth:`suspend` gives the saved modes back (before secretsafe stops for job control),
    :meth:`resume` sets raw mode again (after SIGCONT)."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self._saved: list[Any] | None = None

    def __enter__(self) -> RawMode:
        if self.fd is not None:
            try:
                self._saved = termios.tcgetattr(self.fd)
            except termios.error:
                self._saved = None
            self.resume()
        return self

    def resume(self) -> None:
        if self.fd is not None and self._saved is not None:
            with contextlib.suppress(termios.error):
                tty.setraw(self.fd, termios.TCSANOW)

    def suspend(self) -> None:
        if self.fd is not None and self._saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def __exit__(self, *exc: object) -> None:
        self.suspend()
