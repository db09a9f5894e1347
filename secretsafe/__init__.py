"""secretsafe: encrypted .env files (SOPS + age), Vault/OpenBao sync, startup validation.

``import secretsafe`` is cheap: it imports no module at all; each public name below is loaded
on first use (``tests/test_public_api.py`` keeps it so).
"""

__version__ = "0.1.0"

# Public names loaded on first access (PEP 562): name -> module. `import secretsafe` itself
# imports nothing (an app pays for what it uses), and `secretsafe run` none of these.
# The error classes are every name of `secretsafe.errors.__all__` (looked up there, not
# listed a third time).
_LAZY: dict[str, str] = {
    "Secret": "secretsafe.secret",
    "SecretValues": "secretsafe.secret",
    "decrypt_file": "secretsafe.envfile",
    "encrypt_file": "secretsafe.envfile",
    "load": "secretsafe.schemas.loader",
    "check": "secretsafe.schemas.loader",
    "Settings": "secretsafe.schemas.settings",
}

TYPE_CHECKING = False
if TYPE_CHECKING:  # mypy reads this as true: the names keep their types
    from secretsafe.envfile import decrypt_file, encrypt_file
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
    from secretsafe.schemas.loader import check, load
    from secretsafe.schemas.settings import Settings
    from secretsafe.secret import Secret, SecretValues

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


def __getattr__(name: str) -> object:
    from importlib import import_module

    module = _LAZY.get(name)
    if module is None:
        errors = import_module("secretsafe.errors")
        if name not in errors.__all__:
            raise AttributeError(f"module 'secretsafe' has no attribute {name!r}")
        module = "secretsafe.errors"
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
