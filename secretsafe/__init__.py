"""secretsafe: encrypted .env files (SOPS + age), Vault/OpenBao sync, startup validation.

``import secretsafe`` is cheap: the public names below are loaded on first use, and hvac,
requests, keyring and asyncio are never imported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from secretsafe.errors import (
    AuditFailed,
    BootstrapError,
    CommandError,
    CommandNotFound,
    ComposeError,
    ConfigError,
    DecryptionError,
    DotenvSyntaxError,
    DriftDetected,
    FileError,
    FormatError,
    InsecurePermissions,
    IntegrityError,
    KeyStoreError,
    NoIdentityError,
    SecretsafeError,
    SopsBinaryError,
    UnsupportedError,
    UsageError,
    ValidationFailed,
    VaultConflict,
    VaultError,
    VaultNotFound,
    VaultPermissionDenied,
    VaultSealed,
    VaultUnreachable,
)
from secretsafe.secret import Secret, SecretValues

__version__ = "0.1.0"

# Public names loaded on first access: name -> module.
_LAZY: dict[str, str] = {
    "decrypt_file": "secretsafe.envfile",
    "encrypt_file": "secretsafe.envfile",
    "load": "secretsafe.schemas.loader",
    "check": "secretsafe.schemas.loader",
    "Settings": "secretsafe.schemas.settings",
}

if TYPE_CHECKING:
    from secretsafe.envfile import decrypt_file, encrypt_file
    from secretsafe.schemas.loader import check, load
    from secretsafe.schemas.settings import Settings

__all__ = [
    "AuditFailed",
    "BootstrapError",
    "CommandError",
    "CommandNotFound",
    "ComposeError",
    "ConfigError",
    "DecryptionError",
    "DotenvSyntaxError",
    "DriftDetected",
    "FileError",
    "FormatError",
    "InsecurePermissions",
    "IntegrityError",
    "KeyStoreError",
    "NoIdentityError",
    "Secret",
    "SecretValues",
    "SecretsafeError",
    "Settings",
    "SopsBinaryError",
    "UnsupportedError",
    "UsageError",
    "ValidationFailed",
    "VaultConflict",
    "VaultError",
    "VaultNotFound",
    "VaultPermissionDenied",
    "VaultSealed",
    "VaultUnreachable",
    "__version__",
    "check",
    "decrypt_file",
    "encrypt_file",
    "load",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'secretsafe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
