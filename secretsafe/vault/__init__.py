"""Vault / OpenBao: connection and auth, KV v2 push/pull/diff with check-and-set, a startup
settings source, and a local dev server.

``import secretsafe.vault`` is cheap: hvac and requests are imported inside the functions that
talk to a server. Public entry points live in the submodules:

- :mod:`secretsafe.vault.client` -- ``connect()``, ``VaultClient``, ``translate_errors()``
- :mod:`secretsafe.vault.kv` -- KV v2 read/write with CAS, metadata, splitting
- :mod:`secretsafe.vault.sync` -- push/pull/diff plans, many apps from a mapping file
- :mod:`secretsafe.vault.put` -- set one key with check-and-set (``vault put``)
- :mod:`secretsafe.vault.reader` -- ``run --vault``: read at start, keep a token valid
- :mod:`secretsafe.vault.source` -- ``VaultSource`` for ``secretsafe.load`` and pydantic-settings
- :mod:`secretsafe.vault.dev` -- start/stop a local OpenBao dev server
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secretsafe.vault.client import AppRole, VaultClient, connect, translate_errors
    from secretsafe.vault.source import VaultSource

__all__ = ["AppRole", "VaultClient", "VaultSource", "connect", "translate_errors"]

_LAZY = {
    "AppRole": "secretsafe.vault.client",
    "VaultClient": "secretsafe.vault.client",
    "connect": "secretsafe.vault.client",
    "translate_errors": "secretsafe.vault.client",
    "VaultSource": "secretsafe.vault.source",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'secretsafe.vault' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
