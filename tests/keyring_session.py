"""A real Secret Service for keyring tests: a private D-Bus session bus plus an unlocked
gnome-keyring-daemon, both started by the fixture with HOME in a temp dir and stopped by pid.

Import the fixture into a test module (``from keyring_session import secret_service``). It
fails, never skips, when the daemons are missing or do not come up: CI installs them
(scripts/_bootstrap.sh), so a missing keyring backend is a broken environment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# No <standard_session_servicedirs/>: nothing may be auto-started on this bus, so the only
# Secret Service is the daemon this fixture owns.
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

_READY_TIMEOUT = 20.0


@dataclass(frozen=True)
class SecretServiceSession:
    address: str  # DBUS_SESSION_BUS_ADDRESS
    env: dict[str, str]  # an environment for child processes that should see this keyring
    pids: tuple[int, int]  # dbus-daemon, gnome-keyring-daemon


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _service_ready() -> bool:
    import secretstorage

    try:
        conn = secretstorage.dbus_init()
    except Exception:
        return False
    try:
        return bool(secretstorage.check_service_availability(conn))
    finally:
        conn.close()


@pytest.fixture
def secret_service(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretServiceSession]:
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is not installed; the keyring tests need it "
                "(apt-get install gnome-keyring dbus dbus-bin, as scripts/_bootstrap.sh does)"
            )
    base = tmp_path_factory.mktemp("ss")
    home, runtime = base / "home", base / "run"
    home.mkdir(mode=0o700)
    runtime.mkdir(mode=0o700)
    config = base / "bus.conf"
    config.write_text(_BUS_CONFIG.format(socket=runtime / "bus"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "LANG": "C.UTF-8",
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        dbus = subprocess.Popen(
            ["dbus-daemon", "--config-file", str(config), "--nofork", "--print-address=1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        procs.append(dbus)
        assert dbus.stdout is not None
        address = dbus.stdout.readline().decode().strip()
        if not address:
            pytest.fail(f"dbus-daemon did not start (exit status {dbus.wait(timeout=5)})")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        keyring_daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        procs.append(keyring_daemon)
        assert keyring_daemon.stdin is not None
        keyring_daemon.stdin.write(b"test-password\n")  # --unlock reads the login password
        keyring_daemon.stdin.close()

        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        deadline = time.monotonic() + _READY_TIMEOUT
        while not _service_ready():
            if keyring_daemon.poll() is not None:
                pytest.fail(f"gnome-keyring-daemon exited with status {keyring_daemon.returncode}")
            if time.monotonic() > deadline:
                pytest.fail("gnome-keyring-daemon did not offer a Secret Service in time")
            time.sleep(0.02)

        _reselect_keyring_backend()
        child_env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
        yield SecretServiceSession(address, child_env, (dbus.pid, keyring_daemon.pid))
    finally:
        # Stop exactly the processes started here, first: nothing below may skip this.
        for proc in reversed(procs):
            _stop(proc)
            if proc.stdout is not None:
                proc.stdout.close()
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
        if "keyring.core" in sys.modules:
            _reselect_keyring_backend()


@pytest.fixture
def no_session_bus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No D-Bus session bus anywhere: the state of a container or a CI runner."""
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    runtime = tmp_path / "empty-runtime"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    if "keyring.core" in sys.modules:
        _reselect_keyring_backend()


def _reselect_keyring_backend() -> None:
    """keyring picks its backend once per process (and memoizes which ones are viable); a
    test that starts or stops a session bus must make it look again."""
    import keyring.backend
    import keyring.core

    with contextlib.suppress(KeyError):  # nothing memoized yet
        keyring.backend.get_all_keyring.reset()
    keyring.core.init_backend()
