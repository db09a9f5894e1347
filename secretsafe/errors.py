"""The one error tree of secretsafe.

Every expected failure is a :class:`SecretsafeError`. Each subclass carries the exit code the
CLI uses and a message that says what happened and what to do next. No message ever holds a
secret value: errors name variables, files and line numbers, at most a fingerprint.
Errors raised while translating a third-party failure are raised ``from None`` whenever the
cause could hold a secret (subprocess stderr, JSON documents, hvac response bodies).

::

    SecretsafeError (1)
    ├── UsageError (2)                  bad arguments or options
    ├── ValidationFailed (3)            the environment does not match the schema
    ├── DriftDetected (4)               vault diff / check found a difference
    ├── AuditFailed (5)                 audit found problems
    ├── FileError (10)                  missing, unreadable, not a regular file
    │   └── InsecurePermissions (11)    a key or secret file readable by group/others
    ├── DotenvSyntaxError (12)          malformed .env line (line number, never the value)
    ├── FormatError (13)                not a sops file, already encrypted, unrepresentable value
    ├── ConfigError (14)                .sops.yaml, schema spec, bootstrap config
    ├── NoIdentityError (20)            no age identity found
    ├── DecryptionError (21)            no identity could decrypt the data key
    ├── IntegrityError (22)             MAC mismatch, tampered value or metadata
    ├── KeyStoreError (25)              keyring / key file could not be used
    ├── UnsupportedError (23)           a feature (KMS, PGP) this build cannot handle
    ├── SopsBinaryError (24)            the sops binary is missing or failed
    ├── VaultError (35)
    │   ├── VaultUnreachable (30)       connection refused, timeout, DNS
    │   ├── VaultSealed (31)            sealed or not initialised
    │   ├── VaultPermissionDenied (32)  bad/expired token, policy denial
    │   ├── VaultNotFound (33)          path or mount missing
    │   ├── VaultConflict (34)          check-and-set conflict
    │   └── BootstrapError (36)         server in a state bootstrap cannot fix safely
    ├── ComposeError (40)               invalid compose file, unknown service
    └── CommandError (126)              `run`: command not executable
        └── CommandNotFound (127)       `run`: command not found
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # mypy reads this as true; at run time typing is not imported
    from typing import ClassVar

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
    "SecretsafeError",
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
]


class SecretsafeError(Exception):
    """Base of every expected secretsafe failure.

    ``message`` says what happened; ``hint`` says what to do next. Both must be free of
    secret values: callers pass names, paths and line numbers only.
    """

    exit_code: ClassVar[int] = 1
    #: The message is a list, one problem per line (``check`` and config files report every
    #: problem at once): the CLI keeps its line breaks and escapes every other control character.
    multiline: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class UsageError(SecretsafeError):
    exit_code = 2


class ValidationFailed(SecretsafeError):
    """The environment does not satisfy the schema. ``schemas`` subclasses this."""

    exit_code = 3
    multiline = True


class DriftDetected(SecretsafeError):
    exit_code = 4


class AuditFailed(SecretsafeError):
    exit_code = 5


class FileError(SecretsafeError):
    exit_code = 10


class InsecurePermissions(FileError):
    exit_code = 11


class DotenvSyntaxError(SecretsafeError):
    """A malformed line in a .env file. Carries the path and line number, never the value."""

    exit_code = 12

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = f"{path or '<input>'}:{line}: " if line is not None else ""
        super().__init__(f"{where}{message}", hint=hint)
        self.path = path
        self.line = line


class FormatError(SecretsafeError):
    exit_code = 13


class ConfigError(SecretsafeError):
    exit_code = 14


class NoIdentityError(SecretsafeError):
    exit_code = 20


class DecryptionError(SecretsafeError):
    exit_code = 21


class IntegrityError(SecretsafeError):
    exit_code = 22


class UnsupportedError(SecretsafeError):
    exit_code = 23


class SopsBinaryError(SecretsafeError):
    exit_code = 24


class KeyStoreError(SecretsafeError):
    exit_code = 25


class VaultError(SecretsafeError):
    exit_code = 35


class VaultUnreachable(VaultError):
    exit_code = 30


class VaultSealed(VaultError):
    exit_code = 31


class VaultPermissionDenied(VaultError):
    exit_code = 32


class VaultNotFound(VaultError):
    exit_code = 33


class VaultConflict(VaultError):
    exit_code = 34


class BootstrapError(VaultError):
    exit_code = 36


class ComposeError(SecretsafeError):
    exit_code = 40


class CommandError(SecretsafeError):
    """`secretsafe run` could not start the command (126, as a shell says)."""

    exit_code = 126


class CommandNotFound(CommandError):
    """`secretsafe run` found no such command on PATH (127, as a shell says)."""

    exit_code = 127
